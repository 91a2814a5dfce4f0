"""The gates around a change: the read-only preflight (Go/No-Go), its phase 2 baseline when
asked, the smoke acceptance test, and the evidence bundles both write beside the inventory."""

import json
import re
import time

import pytest

from default_gateway import BACKENDS, GATEWAY, PINNED
from scenario import master_key, on


def latest_bundle(gw, gate):
    runs = sorted((gw.S.evidence / gate).glob("*/%s" % GATEWAY))
    assert runs, "no %s bundle written" % gate
    return runs[-1]


def smoke(gw, *extra, label=None):
    # The control node calls the gateway over the network, as a client would. The route sweep the
    # smoke gate also runs has its own test (test_surface.py).
    return gw.playbook("litellm_smoke", "-e", "hx_litellm_smoke_base_url=http://%s:4000" % gw.ip(),
                       "-e", "hx_litellm_smoke_surface=false", *extra, label=label)


@pytest.fixture
def broken_backends():
    """hx-llm02 down and/or hx-llm01 without one mapped model; restored afterwards."""
    def apply(stop_llm02=True, drop_model_on_llm01=False):
        if stop_llm02:
            on("hx-llm02", "systemctl stop stub-ollama")
        if drop_model_on_llm01:
            on("hx-llm01", "curl -s -XPOST -d '{\"models\": [\"phi3:3.8b-mini-128k-instruct-q8_0\"]}' "
                           "http://127.0.0.1:11434/_stub/models")
    yield apply
    on("hx-llm02", "systemctl start stub-ollama")
    on("hx-llm01", "systemctl restart stub-ollama")
    for host in BACKENDS:
        for _ in range(30):
            if on(host, "curl -sf http://127.0.0.1:11434/api/tags >/dev/null").returncode == 0:
                break
            time.sleep(1)


def test_preflight_says_go_on_the_converged_lab_and_writes_a_bundle(gateway):
    run = gateway.playbook("litellm_preflight")
    assert run.returncode == 0, "preflight NO-GO on a good lab (output above)"
    assert run.recap(GATEWAY)["changed"] == 0, "the preflight changed the host"
    bundle = latest_bundle(gateway, "litellm_preflight")
    summary = json.loads((bundle / "summary.json").read_text())
    assert summary["result"] == "GO"
    statuses = {row["check"]: row["status"] for row in summary["checks"]}
    assert statuses["python"] == statuses["port"] == statuses["disk"] == "PASS"
    assert [r["status"] for r in summary["checks"] if r["check"] == "backend"] == ["PASS", "PASS"]
    assert all(r["detail"] for r in summary["checks"] if r["status"] == "SKIP"), "a SKIP without its reason"
    for name in ("summary.md", "transcript.json", "config.yaml", "litellm.service", "systemctl-status.txt", "journal.txt"):
        assert (bundle / name).stat().st_size > 0, name
    assert "| PASS | port |" in (bundle / "summary.md").read_text()


def test_preflight_says_no_go_on_a_down_backend_and_a_missing_model_and_changes_nothing(gateway, broken_backends):
    broken_backends(stop_llm02=True, drop_model_on_llm01=True)
    before = gateway.host_state()
    run = gateway.playbook("litellm_preflight", label="preflight-broken")
    assert run.returncode != 0
    summary = json.loads((latest_bundle(gateway, "litellm_preflight") / "summary.json").read_text())
    assert summary["result"] == "NO-GO" and summary["counts"]["fail"] == 2
    failed = {r["target"] if "target" in r else json.dumps(r): r for r in summary["checks"] if r["status"] == "FAIL"}
    details = " ".join(r["detail"] for r in failed.values())
    assert "unreachable" in details and "missing: llama3:8b-instruct-q8_0" in details, details
    text = " ".join(run.messages(GATEWAY))
    assert "NO-GO on hx-api-server: 2 check(s) failed" in text
    assert "fix: ollama pull llama3:8b-instruct-q8_0 on hx-llm01" in text
    checked = gateway.playbook("litellm_preflight", "--check", label="preflight-broken-check")
    assert checked.recap(GATEWAY)["changed"] == 0
    assert gateway.host_state() == before, "preflight changed the gateway"


def test_preflight_phase2_enforces_the_baseline_only_when_asked(gateway):
    # An SSH server to harden, as on a real gateway (the test image has none).
    gateway.on_gateway("apt-get install -y -qq openssh-server >/dev/null 2>&1")
    group = ["-e", "hx_litellm_baseline_admin_group=hx-linux-admins"]
    plain = gateway.playbook("litellm_preflight", *group, label="preflight-no-phase2")
    assert plain.returncode == 0 and plain.recap(GATEWAY)["changed"] == 0
    # Ansible tags a role's argument check `always`; that read-only check is all of the baseline that may run.
    ran = [t["action"] for t in plain.on(GATEWAY, role="hx.litellm.hx_litellm_baseline")]
    assert set(ran) <= {"ansible.builtin.validate_argument_spec"}, "the baseline role ran without its tag: %s" % ran
    assert gateway.on_gateway("test -e /etc/sudoers.d/50-hx-admins").returncode != 0
    first = gateway.playbook("litellm_preflight", "-t", "phase2", *group, label="preflight-phase2")
    assert first.returncode == 0, "phase 2 failed (output above)"
    changed = first.on(GATEWAY, role="hx.litellm.hx_litellm_baseline", status="changed")
    assert len(changed) >= 2 and first.recap(GATEWAY)["changed"] == len(changed), "phase 2 changed more than the baseline"
    sudoers = gateway.on_gateway("stat -c '%U:%G %a' /etc/sudoers.d/50-hx-admins; cat /etc/sudoers.d/50-hx-admins; visudo -c")
    assert "root:root 440" in sudoers.stdout and "%hx-linux-admins ALL=(ALL:ALL) ALL" in sudoers.stdout
    assert gateway.on_gateway("sshd -T | grep -i '^permitrootlogin'").stdout.strip().lower() == "permitrootlogin no"
    again = gateway.playbook("litellm_preflight", "-t", "phase2", *group, label="preflight-phase2-again")
    assert again.returncode == 0 and again.recap(GATEWAY)["changed"] == 0


def test_smoke_accepts_the_converged_gateway(gateway):
    run = smoke(gateway, "-e", "hx_litellm_smoke_fanout_requests=12")
    assert run.returncode == 0, "smoke rejected a good gateway (output above)"
    summary = json.loads((latest_bundle(gateway, "litellm_smoke") / "summary.json").read_text())
    assert summary["result"] == "GO"
    fanout = [r for r in summary["checks"] if r["check"] == "fanout"]
    assert len(fanout) == 2 and all(sum(r["distribution"].values()) == 12 for r in fanout)
    assert all(min(r["distribution"].values()) > 0 for r in fanout)
    assert summary["measured"]["litellm_versions"] == [PINNED]
    # The venv serving is exactly the release's lock, and the evidence names its package set.
    venv = [r for r in summary["checks"] if r["check"] == "venv_matches_lock"]
    assert [r["status"] for r in venv] == ["PASS"], venv
    assert summary["measured"]["venv_lock"] == "litellm-%s-py3.11.txt" % PINNED
    assert summary["measured"]["venv_packages"]["litellm"] == PINNED
    assert summary["measured"]["venv_digest"].startswith("sha256:")


def test_smoke_rejects_a_gateway_with_a_backend_down_alias_by_alias(gateway, broken_backends):
    broken_backends(stop_llm02=True)
    run = smoke(gateway, label="smoke-broken")
    assert run.returncode != 0
    summary = json.loads((latest_bundle(gateway, "litellm_smoke") / "summary.json").read_text())
    assert summary["result"] == "NO-GO"
    fanout = {r.get("alias"): r for r in summary["checks"] if r["check"] == "fanout"}
    for alias in ("phi3-3.8b", "llama3-8b"):
        assert fanout[alias]["status"] == "FAIL", fanout
        assert "no traffic to http://hx-llm02:11434" in fanout[alias]["detail"]
    assert "Evidence: " in " ".join(run.messages(GATEWAY))


def test_evidence_bundles_never_contain_the_master_key(gateway):
    run = gateway.playbook("litellm_preflight", label="preflight-for-evidence")
    assert run.returncode == 0
    files = [p for p in gateway.S.evidence.rglob("*") if p.is_file()]
    assert files, "no evidence written"
    for path in files:
        assert master_key() not in path.read_text(errors="replace"), path
