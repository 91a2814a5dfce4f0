"""End to end on real systemd hosts: drives the molecule scenario `default` step by
step (fresh check mode, converge, idempotence, converged check mode, verify) and
checks what an operator would see in each step's output."""

import json
import os
import pathlib
import re
import subprocess
import time

import pytest
import yaml
from ansible.parsing.vault import VaultLib, VaultSecret

ROOT = pathlib.Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / ".artifacts"
SCENARIO = "default"
GATEWAY = "hx-api-server"
RESULTS = {}
TIMINGS = {}

pytestmark = pytest.mark.skipif(
    subprocess.run(["docker", "info"], capture_output=True).returncode != 0,
    reason="needs a running Docker engine (tests/bootstrap.sh starts one)",
)


def master_key():
    secret = VaultSecret((ROOT / "tests/lab/vault-password").read_bytes().strip())
    plain = VaultLib([("default", secret)]).decrypt((ROOT / "group_vars/all/vault.yml").read_bytes())
    return yaml.safe_load(plain)["vault_hx_litellm_proxy_master_key"]


def molecule(step):
    """Run one molecule step; keep its output in .artifacts/ and in RESULTS."""
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", NO_COLOR="1",
               PY_COLORS="0", MOLECULE_COMMAND_BORDERS="false", COLUMNS="200")
    started = time.monotonic()
    proc = subprocess.run(["molecule", step, "-s", SCENARIO], cwd=ROOT, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    elapsed = round(time.monotonic() - started, 1)
    ARTIFACTS.mkdir(exist_ok=True)
    name = "%s-%d-%s" % (SCENARIO, len(TIMINGS) + 1, step)
    (ARTIFACTS / ("molecule-%s.log" % name)).write_text(proc.stdout)
    TIMINGS[name] = elapsed
    RESULTS[name] = proc
    print("molecule %s: rc=%d in %.1fs (log: .artifacts/molecule-%s.log)" % (step, proc.returncode, elapsed, name))
    if proc.returncode != 0:
        print(proc.stdout[-6000:])
    return proc


def recap(output, host=GATEWAY):
    """The PLAY RECAP counters of one host, from the last recap in the output."""
    found = re.findall(r"^\s*%s\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)" % re.escape(host),
                       output, re.M)
    assert found, "no PLAY RECAP line for %s" % host
    ok, changed, unreachable, failed = map(int, found[-1])
    return {"ok": ok, "changed": changed, "unreachable": unreachable, "failed": failed}


def on_gateway(command):
    return subprocess.run(["docker", "exec", GATEWAY, "sh", "-c", command], capture_output=True, text=True)


@pytest.fixture(scope="module", autouse=True)
def hosts():
    molecule("destroy")
    # molecule create runs its create_sequence: create, then prepare (the stand-in backends).
    for step in ("create",):
        rc = molecule(step).returncode
        assert rc == 0, "molecule %s failed (output above)" % step
    yield
    if os.environ.get("HX_KEEP_HOSTS") != "1":
        molecule("destroy")
    (ARTIFACTS / ("timings-%s.json" % SCENARIO)).write_text(json.dumps(TIMINGS, indent=2))
    print("\nmolecule timings (s): %s" % json.dumps(TIMINGS))


def require(prefix):
    done = [p for n, p in RESULTS.items() if n.split("-", 2)[2] == prefix]
    if not done or done[-1].returncode != 0:
        pytest.skip("needs a successful molecule %s" % prefix)


def test_check_mode_on_a_fresh_host_reports_changes_and_changes_nothing():
    proc = molecule("check")
    rc = proc.returncode
    assert rc == 0, "--check --diff failed on a fresh host (output above)"
    counters = recap(proc.stdout)
    assert counters["failed"] == 0 and counters["changed"] > 0
    untouched = on_gateway(
        "test ! -e /etc/litellm && test ! -e /opt/litellm && test ! -e /etc/systemd/system/litellm.service"
        " && ! getent passwd litellm && ! dpkg -s python3.11-venv >/dev/null 2>&1 && echo untouched")
    assert untouched.stdout.strip() == "untouched", untouched.stdout + untouched.stderr


def test_converge_applies_the_role_and_waits_for_readiness():
    proc = molecule("converge")
    rc = proc.returncode
    assert rc == 0, "converge failed (output above)"
    assert recap(proc.stdout)["failed"] == 0
    assert "Wait for /health/readiness" in proc.stdout


def test_second_apply_changes_nothing():
    require("converge")
    proc = molecule("idempotence")
    rc = proc.returncode
    assert rc == 0, "the second apply changed something (output above)"
    assert recap(proc.stdout)["changed"] == 0


def test_check_mode_on_a_converged_host_reports_no_change():
    require("converge")
    proc = molecule("check")
    rc = proc.returncode
    assert rc == 0, "--check --diff failed on the converged host (output above)"
    assert recap(proc.stdout) == dict(recap(proc.stdout), changed=0, failed=0)


def test_verify_the_gateway_from_outside_and_inside():
    require("converge")
    proc = molecule("verify")
    rc = proc.returncode
    assert rc == 0, "verify failed (output above)"
    assert re.search(r"\d+ passed", proc.stdout)


def test_no_play_output_or_diff_shows_the_master_key():
    key = master_key()
    assert RESULTS, "no molecule step ran"
    for name, proc in RESULTS.items():
        assert key not in proc.stdout, "the master key appears in the output of %s" % name
    # The environment file did change in converge: it must say so without showing it.
    converge = [p for n, p in RESULTS.items() if n.endswith("-converge")]
    assert converge and "Render the environment file that carries the master key" in converge[-1].stdout
