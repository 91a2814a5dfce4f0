"""Unit tests of the release rules: lock files, venv comparison and the release floor
(module_utils/release.py, filters lock_pins and release_refusals, module gateway_venv)."""

import json
import pathlib
import subprocess
import sys

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.hx.litellm.plugins.filter.gateway import gateway
from ansible_collections.hx.litellm.plugins.filter.lock_pins import lock_pins
from ansible_collections.hx.litellm.plugins.filter.release_refusals import release_refusals
from ansible_collections.hx.litellm.plugins.module_utils.release import compare, digest
from ansible_collections.hx.litellm.plugins.modules import gateway_venv

ROOT = pathlib.Path(__file__).resolve().parents[2]
LOCKS = ROOT / "roles/hx_litellm_proxy/files/locks"
ADVISORIES = yaml.safe_load((ROOT / "roles/hx_litellm_proxy/vars/releases.yml").read_text())["_hx_litellm_proxy_advisories"]
DEFAULT_VERSION = yaml.safe_load((ROOT / "roles/hx_litellm_proxy/defaults/main.yml").read_text())["hx_litellm_proxy_version"]

LOCK = """# made by a tool
Foo_Bar==1.2.3 \\
    --hash=sha256:aa \\
    --hash=sha256:bb
    # via litellm
litellm[proxy]==1.106.2 \\
    --hash=sha256:cc
async-timeout==5.0.1 ; python_full_version < '3.11.3' \\
    --hash=sha256:dd
"""


def test_a_lock_gives_every_package_its_exact_version_by_normalised_name():
    assert lock_pins(LOCK) == {"foo-bar": "1.2.3", "litellm": "1.106.2", "async-timeout": "5.0.1"}


@pytest.mark.parametrize("text, why", [
    ("foo>=1.0 \\\n    --hash=sha256:aa\n", "not pinned"),
    ("foo==1.0\nbar==2.0 \\\n    --hash=sha256:aa\n", "no --hash for foo"),
    ("-e git+https://example.org/x.git\n", "option"),
    ("--index-url https://example.org\nfoo==1.0 --hash=sha256:aa\n", "option"),
    ("# only comments\n", "no requirement"),
])
def test_a_file_pip_could_not_install_with_require_hashes_is_no_lock(text, why):
    with pytest.raises(AnsibleFilterError, match=why):
        lock_pins(text)


def test_a_venv_that_lacks_a_pin_or_holds_another_version_has_drifted():
    pins = {"foo-bar": "1.2.3", "litellm": "1.106.2"}
    assert compare(pins, {"Foo.Bar": "1.2.3", "litellm": "1.106.2", "pip": "24.0"}) == {
        "missing": [], "differ": [], "extra": ["pip"], "matches": True}
    drifted = compare(pins, {"foo_bar": "1.2.4"})
    assert drifted["matches"] is False
    assert drifted["missing"] == ["litellm"]
    assert drifted["differ"] == ["foo-bar 1.2.4 (lock 1.2.3)"]


def test_the_digest_names_the_package_set_whatever_the_order_or_spelling():
    assert digest({"Foo_Bar": "1", "b": "2"}) == digest({"b": "2", "foo-bar": "1"})
    assert digest({"foo": "1"}) != digest({"foo": "2"})
    assert digest({}).startswith("sha256:")


@pytest.mark.parametrize("version, advisory", [
    ("1.82.7", "BerriAI/litellm#24518"),
    ("1.82.8", "BerriAI/litellm#24518"),
    ("1.83.6", "CVE-2026-42208"),
    ("1.83.6", "CVE-2026-42271"),
    ("1.40.0", "CVE-2026-42208"),
])
def test_releases_below_the_floor_or_malicious_are_refused_naming_the_advisory_and_the_first_safe_release(version, advisory):
    reasons = release_refusals(version, ADVISORIES)
    assert any(advisory in reason for reason in reasons), reasons
    assert reasons[-1] == "the first release past every advisory is 1.83.7"


@pytest.mark.parametrize("version", ["1.83.7", "1.106.2", "1.108.7", "2.0.0"])
def test_releases_at_or_above_the_floor_may_run(version):
    assert release_refusals(version, ADVISORIES) == []


def test_the_default_release_is_past_the_floor_and_ships_a_lock_for_python_3_11():
    assert release_refusals(DEFAULT_VERSION, ADVISORIES) == []
    assert (LOCKS / ("litellm-%s-py3.11.txt" % DEFAULT_VERSION)).is_file()


@pytest.mark.parametrize("path", sorted(LOCKS.glob("*.txt")), ids=lambda p: p.name)
def test_every_shipped_lock_is_complete_hashed_and_named_after_its_release(path):
    version = path.name[len("litellm-"):].split("-py")[0]
    python = path.name.split("-py")[1][:-len(".txt")]
    pins = lock_pins(path.read_text())
    assert pins["litellm"] == version
    assert "prisma" in pins and "fastapi" in pins and "uvicorn" in pins
    assert release_refusals(version, ADVISORIES) == []
    # The header names the command that makes it again, as of a fixed time.
    header = path.read_text().splitlines()[:3]
    assert any("hx.litellm.litellm_lock -e hx_litellm_proxy_version=%s -e hx_litellm_proxy_python=python%s"
               % (version, python) in line and "hx_litellm_lock_exclude_newer=" in line for line in header), header
    # Python 3.11 before 3.11.3 needs async-timeout (redis); 3.13 does not.
    assert ("async-timeout" in pins) == (python == "3.11")


def test_the_description_names_the_lock_of_its_release_and_python():
    g = gateway({"version": "1.108.7", "python": "python3.13", "user": "litellm", "group": "litellm",
                 "install_dir": "/opt/litellm", "config_dir": "/etc/litellm", "backup_dir": "/var/backups/litellm",
                 "host": "0.0.0.0", "port": 4000, "backends": ["http://b:11434"], "client_host": "gw",
                 "models": [{"name": "a", "model": "m"}]})
    assert g["lock_name"] == "litellm-1.108.7-py3.13.txt"
    assert g["paths"]["lock_file"] == "/opt/litellm/locks/litellm-1.108.7-py3.13.txt"


def _venv(tmp_path, packages):
    site = tmp_path / "venv/lib/python3.11/site-packages"
    for name, version in packages.items():
        meta = site / ("%s-%s.dist-info" % (name, version))
        meta.mkdir(parents=True)
        (meta / "METADATA").write_text("Metadata-Version: 2.1\nName: %s\nVersion: %s\n\nName: not-this\n" % (name, version))
    return tmp_path / "venv"


def _run_module(args):
    env_path = str(ROOT / "collections")
    proc = subprocess.run([sys.executable, "-c", "from ansible_collections.hx.litellm.plugins.modules.gateway_venv import main; main()"],
                          input=json.dumps({"ANSIBLE_MODULE_ARGS": args}), capture_output=True, text=True,
                          env={"PYTHONPATH": env_path}, check=False)
    return json.loads(proc.stdout)


def test_the_module_reads_a_venvs_packages_from_their_metadata(tmp_path):
    venv = _venv(tmp_path, {"Foo_Bar": "1.2.3", "litellm": "1.106.2", "pip": "24.0"})
    assert gateway_venv.installed(str(venv)) == {"foo-bar": "1.2.3", "litellm": "1.106.2", "pip": "24.0"}
    result = _run_module({"venv": str(venv), "pins": {"foo-bar": "1.2.3", "litellm": "1.106.2"}})
    assert result["matches"] is True and result["changed"] is False
    assert result["extra"] == ["pip"] and result["count"] == 3
    # pip is no pin: the digest is that of the locked packages as installed.
    assert result["digest"] == digest({"foo-bar": "1.2.3", "litellm": "1.106.2"})


def test_the_module_reports_a_missing_venv_as_not_matching_without_failing(tmp_path):
    result = _run_module({"venv": str(tmp_path / "nothing"), "pins": {"litellm": "1.106.2"}})
    assert result.get("failed") is not True
    assert result["exists"] is False and result["matches"] is False and result["missing"] == ["litellm"]


# The role's own platform data, so the test follows what ships.
_VARS = yaml.safe_load((ROOT / "roles/hx_litellm_proxy/vars/main.yml").read_text())
PLATFORMS = _VARS["_hx_litellm_proxy_platforms"]
RANGE = _VARS["_hx_litellm_proxy_python_range"]


def facts(distribution, version, python=None):
    found = {"distribution": distribution, "distribution_version": version,
             "distribution_major_version": version.split(".")[0]}
    if python:
        major, minor = python.split(".")
        found["python"] = {"version": {"major": int(major), "minor": int(minor), "micro": 0}}
    return found


@pytest.mark.parametrize("platform, expected", [
    (facts("Debian", "12.12"), "python3.11"),
    (facts("Debian", "13.2"), "python3.13"),
    (facts("Ubuntu", "22.04"), "python3.11"),
    (facts("Ubuntu", "24.04"), "python3.12"),
    # Not in the table: the Python 3 Ansible found there decides.
    (facts("Debian", "14.0", python="3.14"), "python3.14"),
    (facts("Fedora", "43", python="3.11"), "python3.11"),
])
def test_the_interpreter_is_python_3_11_where_shipped_else_the_distributions_own(platform, expected):
    from ansible_collections.hx.litellm.plugins.filter.platform_python import platform_python
    chosen = platform_python(platform, PLATFORMS, RANGE)
    assert chosen["python"] == expected
    assert platform["distribution"] in chosen["why"]


@pytest.mark.parametrize("platform", [facts("Debian", "11.11", python="3.9"), facts("Debian", "15.0", python="3.15"),
                                      facts("Plan9", "4")])
def test_a_platform_without_a_supported_python_gets_none_and_the_reason(platform):
    from ansible_collections.hx.litellm.plugins.filter.platform_python import platform_python
    chosen = platform_python(platform, PLATFORMS, RANGE)
    assert chosen["python"] == ""
    assert "outside 3.10-3.14" in chosen["why"] and "ships no Python 3.11" in chosen["why"]


@pytest.mark.parametrize("python, ok", [("python3.10", True), ("python3.14", True), ("python3.9", False),
                                        ("python3.15", False), ("python", False), ("/usr/bin/python3", False)])
def test_an_explicit_interpreter_must_lie_in_the_supported_range(python, ok):
    from ansible_collections.hx.litellm.plugins.filter.platform_python import python_supported
    assert python_supported(python, RANGE) is ok
