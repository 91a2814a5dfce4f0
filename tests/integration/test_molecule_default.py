"""End to end on real systemd hosts: drives the molecule scenario `default` step by
step (fresh check mode, converge, idempotence, converged check mode, verify) and
checks what an operator would see in each step's output."""

import json
import os
import pathlib
import re
import shutil
import subprocess
import time

import pytest
import yaml
from ansible.parsing.vault import VaultLib, VaultSecret

ROOT = pathlib.Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / ".artifacts"
EVIDENCE = ARTIFACTS / "evidence"
# A fixed ephemeral directory, so the gates can be run with molecule's inventory as plain
# ansible-playbook commands, the way ops run them.
EPHEMERAL = ARTIFACTS / ("molecule-%s" % "default")
os.environ["MOLECULE_EPHEMERAL_DIRECTORY"] = str(EPHEMERAL)
SCENARIO = "default"
GATEWAY = "hx-api-server"
PINNED = yaml.safe_load((ROOT / "roles/hx_litellm_proxy/defaults/main.yml").read_text())["hx_litellm_proxy_version"]
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
    shutil.rmtree(EVIDENCE, ignore_errors=True)
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
    counters = recap(proc.stdout)
    assert counters["changed"] == 0 and counters["failed"] == 0, counters


def test_verify_the_gateway_from_outside_and_inside():
    require("converge")
    proc = molecule("verify")
    rc = proc.returncode
    assert rc == 0, "verify failed (output above)"
    assert re.search(r"\d+ passed", proc.stdout)


def playbook(name, *extra, label=None):
    """Run one of the collection's playbooks against the molecule hosts, as ops would."""
    env = dict(os.environ, ANSIBLE_CONFIG=str(EPHEMERAL / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_VAULT_PASSWORD_FILE=str(ROOT / "tests/lab/vault-password"))
    cmd = ["ansible-playbook", "-i", str(EPHEMERAL / "inventory"), "playbooks/%s.yml" % name,
           "-e", "hx_litellm_evidence_dir=%s" % EVIDENCE, *extra]
    started = time.monotonic()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    key = "%s-%d-%s" % (SCENARIO, len(TIMINGS) + 1, label or name)
    TIMINGS[key] = round(time.monotonic() - started, 1)
    RESULTS[key] = proc
    (ARTIFACTS / ("playbook-%s.log" % key)).write_text(proc.stdout)
    print("%s: rc=%d in %.1fs" % (" ".join(cmd[3:4] + list(extra)), proc.returncode, TIMINGS[key]))
    return proc


def latest_bundle(gate):
    runs = sorted((EVIDENCE / gate).glob("*/%s" % GATEWAY))
    assert runs, "no %s bundle written" % gate
    return runs[-1]


def gateway_ip():
    out = subprocess.run(["docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", GATEWAY],
                         capture_output=True, text=True).stdout.strip()
    assert out, "no IP for %s" % GATEWAY
    return out


def smoke(*extra, label=None):
    # The control node calls the gateway over the network, as a client would.
    return playbook("litellm_smoke", "-e", "hx_litellm_smoke_base_url=http://%s:4000" % gateway_ip(), *extra,
                    label=label)


def host_state():
    """What a change would alter on the gateway: files, packages, users, the service's start time."""
    return on_gateway(
        "sha256sum /etc/litellm/* /etc/systemd/system/litellm.service 2>&1; dpkg -l | sha256sum; "
        "getent passwd | sha256sum; systemctl show litellm -p ActiveEnterTimestamp -p NRestarts").stdout


def on_backend(host, command):
    return subprocess.run(["docker", "exec", host, "sh", "-c", command], capture_output=True, text=True)


@pytest.fixture
def broken_backends():
    """hx-llm02 down, hx-llm01 without one mapped model; restored afterwards."""
    def apply(stop_llm02=True, drop_model_on_llm01=None):
        if stop_llm02:
            on_backend("hx-llm02", "systemctl stop stub-ollama")
        if drop_model_on_llm01:
            on_backend("hx-llm01", "curl -s -XPOST -d '{\"models\": [\"phi3:3.8b-mini-128k-instruct-q8_0\"]}' "
                                   "http://127.0.0.1:11434/_stub/models")
    yield apply
    on_backend("hx-llm02", "systemctl start stub-ollama")
    on_backend("hx-llm01", "systemctl restart stub-ollama")
    time.sleep(2)


def test_preflight_passes_on_the_converged_lab_and_writes_a_bundle():
    require("converge")
    proc = playbook("litellm_preflight")
    rc = proc.returncode
    assert rc == 0, "preflight NO-GO on a good lab (output above)"
    bundle = latest_bundle("litellm_preflight")
    summary = json.loads((bundle / "summary.json").read_text())
    assert summary["result"] == "GO"
    statuses = {row["check"]: row["status"] for row in summary["checks"]}
    assert statuses["python"] == statuses["port"] == statuses["disk"] == "PASS"
    assert [r["status"] for r in summary["checks"] if r["check"] == "backend"] == ["PASS", "PASS"]
    assert all(r["detail"] for r in summary["checks"] if r["status"] == "SKIP"), "a SKIP without its reason"
    for name in ("summary.md", "transcript.json", "config.yaml", "litellm.service", "systemctl-status.txt", "journal.txt"):
        assert (bundle / name).stat().st_size > 0, name
    assert "| PASS | port |" in (bundle / "summary.md").read_text()


def test_preflight_fails_on_a_down_backend_and_a_missing_model_and_changes_nothing(broken_backends):
    require("converge")
    broken_backends(stop_llm02=True, drop_model_on_llm01=True)
    before = host_state()
    proc = playbook("litellm_preflight", label="preflight-broken")
    assert proc.returncode != 0
    assert "NO-GO on hx-api-server: 2 check(s) failed" in proc.stdout
    assert re.search(r"FAIL backend \[http://hx-llm02:11434\]: unreachable", proc.stdout)
    assert re.search(r"FAIL backend \[http://hx-llm01:11434\]: .*missing: llama3:8b-instruct-q8_0", proc.stdout)
    assert "fix: ollama pull llama3:8b-instruct-q8_0 on hx-llm01" in proc.stdout
    checked = playbook("litellm_preflight", "--check", label="preflight-broken-check")
    assert recap(checked.stdout)["changed"] == 0
    assert host_state() == before, "preflight changed the gateway"
    summary = json.loads((latest_bundle("litellm_preflight") / "summary.json").read_text())
    assert summary["result"] == "NO-GO" and summary["counts"]["fail"] == 2


def test_preflight_phase2_enforces_the_baseline_only_when_asked():
    require("converge")
    # An SSH server to harden, as on a real gateway (the test image has none).
    on_gateway("apt-get install -y -qq openssh-server >/dev/null 2>&1")
    group = ["-e", "hx_litellm_preflight_admin_group=hx-linux-admins"]
    plain = playbook("litellm_preflight", *group, label="preflight-no-phase2")
    assert plain.returncode == 0
    assert on_gateway("test -e /etc/sudoers.d/50-hx-admins").returncode != 0, "phase 2 ran without its tag"
    first = playbook("litellm_preflight", "-t", "phase2", *group, label="preflight-phase2")
    rc = first.returncode
    assert rc == 0, "phase 2 failed (output above)"
    assert recap(first.stdout)["changed"] >= 2
    sudoers = on_gateway("stat -c '%U:%G %a' /etc/sudoers.d/50-hx-admins; cat /etc/sudoers.d/50-hx-admins; visudo -c")
    assert "root:root 440" in sudoers.stdout and "%hx-linux-admins ALL=(ALL:ALL) ALL" in sudoers.stdout
    assert on_gateway("sshd -T | grep -i '^permitrootlogin'").stdout.strip().lower() == "permitrootlogin no"
    again = playbook("litellm_preflight", "-t", "phase2", *group, label="preflight-phase2-again")
    assert again.returncode == 0 and recap(again.stdout)["changed"] == 0


def test_smoke_accepts_the_converged_gateway():
    require("converge")
    proc = smoke("-e", "hx_litellm_smoke_fanout_requests=12")
    rc = proc.returncode
    assert rc == 0, "smoke rejected a good gateway (output above)"
    summary = json.loads((latest_bundle("litellm_smoke") / "summary.json").read_text())
    assert summary["result"] == "GO"
    fanout = [r for r in summary["checks"] if r["check"] == "fanout"]
    assert len(fanout) == 2 and all(sum(r["distribution"].values()) == 12 for r in fanout)
    assert all(min(r["distribution"].values()) > 0 for r in fanout)
    assert summary["measured"]["litellm_versions"] == [PINNED]


def test_smoke_fails_with_a_per_alias_summary_when_a_backend_is_down(broken_backends):
    require("converge")
    broken_backends(stop_llm02=True)
    proc = smoke(label="smoke-broken")
    assert proc.returncode != 0
    assert "REJECTED hx-api-server" in proc.stdout
    for alias in ("phi3-3.8b", "llama3-8b"):
        assert re.search(r"FAIL fanout alias=%s: .*no traffic to http://hx-llm02:11434" % re.escape(alias), proc.stdout)
    assert "Evidence: " in proc.stdout


ROTATED = {}


def test_key_rotation_by_vault_edit_and_rerun_restarts_once_and_swaps_the_key(tmp_path):
    """ansible-vault edit + rerun: the new key works, the old one stops working, nothing shows it."""
    require("converge")
    import requests

    old = master_key()
    new = "sk-rotated-" + os.urandom(16).hex()
    ROTATED["key"] = new
    vault = tmp_path / "vault.yml"
    shutil.copy(ROOT / "group_vars/all/vault.yml", vault)
    # A real `ansible-vault edit`, with a non-interactive editor that swaps the key.
    editor = tmp_path / "editor.sh"
    editor.write_text("#!/bin/sh\nsed -i 's/^vault_hx_litellm_proxy_master_key: .*/vault_hx_litellm_proxy_master_key: \"%s\"/' \"$1\"\n" % new)
    editor.chmod(0o755)
    edit = subprocess.run(["ansible-vault", "edit", "--vault-password-file", str(ROOT / "tests/lab/vault-password"), str(vault)],
                          env=dict(os.environ, EDITOR=str(editor)), capture_output=True, text=True)
    assert edit.returncode == 0, edit.stderr
    assert new not in vault.read_text() and vault.read_text().startswith("$ANSIBLE_VAULT")

    started_before = on_gateway("systemctl show -p ActiveEnterTimestamp --value litellm").stdout
    dry = playbook("litellm_enforce", "-e", "@%s" % vault, "--check", "--diff", label="rotate-check")
    assert dry.returncode == 0 and recap(dry.stdout)["changed"] >= 1
    assert on_gateway("systemctl show -p ActiveEnterTimestamp --value litellm").stdout == started_before
    real = playbook("litellm_enforce", "-e", "@%s" % vault, "--diff", label="rotate")
    rc = real.returncode
    assert rc == 0, "rotation run failed (output above)"
    assert real.stdout.count("RUNNING HANDLER [hx.litellm.hx_litellm_proxy : Restart litellm]") == 1
    assert on_gateway("systemctl show -p ActiveEnterTimestamp --value litellm").stdout != started_before
    url = "http://%s:4000/v1/models" % gateway_ip()
    assert requests.get(url, headers={"Authorization": "Bearer " + new}, timeout=10).status_code == 200
    # Without a database LiteLLM answers an unknown key with 400 "No connected db".
    assert requests.get(url, headers={"Authorization": "Bearer " + old}, timeout=10).status_code in (400, 401)
    assert new in on_gateway("cat /etc/litellm/litellm.env").stdout
    assert new not in on_gateway("journalctl --no-pager -o cat; cat /etc/litellm/config.yaml").stdout
    # Back to the repository's key for whatever runs next.
    back = playbook("litellm_enforce", label="rotate-back")
    assert back.returncode == 0
    assert requests.get(url, headers={"Authorization": "Bearer " + old}, timeout=10).status_code == 200


def test_evidence_bundles_never_contain_the_master_key():
    keys = [master_key()] + ([ROTATED["key"]] if ROTATED else [])
    files = [p for p in EVIDENCE.rglob("*") if p.is_file()]
    assert files, "no evidence written"
    for path in files:
        text = path.read_text(errors="replace")
        assert not any(key in text for key in keys), path


def test_no_play_output_or_diff_shows_the_master_key():
    keys = [master_key()] + ([ROTATED["key"]] if ROTATED else [])
    assert RESULTS, "no molecule step ran"
    for name, proc in RESULTS.items():
        assert not any(key in proc.stdout for key in keys), "a master key appears in the output of %s" % name
    # The environment file did change in converge: it must say so without showing it.
    converge = [p for n, p in RESULTS.items() if n.endswith("-converge")]
    assert converge and "Render the environment file that carries the master key" in converge[-1].stdout
