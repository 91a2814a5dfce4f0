"""Changes that must never leave a gateway down: key rotation by vault edit, the rollback
playbook, changes that cannot start (rolled back as soon as the unit fails, with the time it
took), a rollback that fails too, a gateway stopped by hand, a version missing from the index."""

import json
import os
import re
import shutil
import subprocess
import time

import pytest

from default_gateway import GATEWAY, PINNED
from scenario import ARTIFACTS, LAB_VAULT, VAULT_PASSWORD, master_key

SNAPSHOT = r"\d{8}T\d{6}Z"
TIME_TO_ROLLBACK = {}


def rotate(gw, tmp_path):
    """ansible-vault edit of a copy of the lab vault with a new key, then the rerun: (dry run, run, new key)."""
    new = "sk-rotated-" + os.urandom(16).hex()
    vault = tmp_path / "vault.yml"
    shutil.copy(LAB_VAULT, vault)
    # A real `ansible-vault edit`, with a non-interactive editor that swaps the key.
    editor = tmp_path / "editor.sh"
    editor.write_text("#!/bin/sh\nsed -i 's/^vault_hx_litellm_proxy_master_key: .*/vault_hx_litellm_proxy_master_key: \"%s\"/' \"$1\"\n" % new)
    editor.chmod(0o755)
    edit = subprocess.run(["ansible-vault", "edit", "--vault-password-file", str(VAULT_PASSWORD), str(vault)],
                          env=dict(os.environ, EDITOR=str(editor)), capture_output=True, text=True)
    assert edit.returncode == 0, edit.stderr
    assert new not in vault.read_text() and vault.read_text().startswith("$ANSIBLE_VAULT")
    dry = gw.playbook("litellm_enforce", "-e", "@%s" % vault, "--check", "--diff", label="rotate-check")
    real = gw.playbook("litellm_enforce", "-e", "@%s" % vault, "--diff", label="rotate")
    return dry, real, new


@pytest.fixture(scope="module")
def rotated(lab_state, tmp_path_factory):
    """The lab gateway after a key rotation (vault edit + rerun): (dry run, run, new key, start time before)."""
    import default_gateway as gw
    gw.put_back(lab_state)
    started = gw.started_at()
    dry, real, new = rotate(gw, tmp_path_factory.mktemp("rotation"))
    return dry, real, new, started


def test_key_rotation_by_vault_edit_and_rerun_restarts_once_and_swaps_the_key(rotated):
    import default_gateway as gw
    dry, real, new, started = rotated
    old = master_key()
    try:
        assert dry.returncode == 0 and dry.recap(GATEWAY)["changed"] >= 1
        assert real.returncode == 0, "rotation run failed (.artifacts/ has the log)"
        restarts = [t for t in real.on(GATEWAY, status="changed") if t["action"] == "ansible.builtin.systemd_service"]
        assert len(restarts) == 1, "the rotation restarted litellm %d times" % len(restarts)
        assert gw.started_at() != started
        assert gw.serves(new)
        # Without a database LiteLLM answers an unknown key with 400 "No connected db".
        assert gw.status("/v1/models", old) in (400, 401)
        assert new in gw.on_gateway("cat /etc/litellm/litellm.env").stdout
        assert new not in gw.on_gateway("journalctl --no-pager -o cat; cat /etc/litellm/config.yaml").stdout
    finally:
        gw.no_secret_in(dict(gw.S.results), [new])


def test_after_a_rotation_the_rollback_playbook_steps_back_one_known_good_state(rotated):
    """litellm_rollback restores the repository's key; a further step back is only proposed by a dry run."""
    import default_gateway as gw
    _dry, real, new, _started = rotated
    old = master_key()
    assert real.returncode == 0 and gw.serves(new), "the gateway does not run the rotated state this test starts from"
    started = gw.started_at()
    dry = gw.playbook("litellm_rollback", "--check", "--diff", label="rollback-check")
    assert dry.returncode == 0 and dry.recap(GATEWAY)["changed"] >= 1
    assert "/etc/litellm/litellm.env (snapshot" in dry.stdout and "(content hidden" in dry.stdout
    assert gw.started_at() == started, "the dry run restarted litellm"
    back = gw.playbook("litellm_rollback", "--diff", label="rollback")
    assert back.returncode == 0, "rollback failed (output above)"
    assert gw.started_at() != started
    assert gw.serves(old) and gw.status("/v1/models", new) in (400, 401)
    # The restored state is exactly what the repository describes: enforcing it changes nothing.
    again = gw.enforce(label="enforce-after-rollback")
    assert again.returncode == 0 and again.recap(GATEWAY)["changed"] == 0, "enforce after rollback changed something"
    # One step back per run, never forth: a further step is a dry run here and changes nothing.
    before = gw.live_files()
    further = gw.playbook("litellm_rollback", "--check", "--diff", label="rollback-further-check")
    assert further.returncode == 0 or "there is no earlier known-good state to roll back to" in " ".join(
        further.messages(GATEWAY))
    assert gw.live_files() == before and gw.serves(old)
    gw.no_secret_in(dict(gw.S.results), [new, old])


@pytest.fixture
def port_squatter(gateway):
    """Something else listening on port 4001 of the gateway, as a forgotten service would."""
    gateway.on_gateway("systemd-run --unit hx-squatter python3 -c \"import socket; s=socket.socket(); "
                       "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('0.0.0.0', 4001)); s.listen(); "
                       "exec('while True: s.accept()[0].close()')\"")
    for _ in range(20):
        if gateway.on_gateway("ss -ltn | grep -q ':4001 '").returncode == 0:
            break
        time.sleep(0.5)
    yield
    gateway.on_gateway("systemctl stop hx-squatter")


# Changes that pass validation but cannot start: (extra vars, what the journal tail must show).
START_FAILURES = {
    "port taken by another process": ({"hx_litellm_proxy_port": 4001}, "address already in use"),
    "database LiteLLM cannot reach": ({"hx_litellm_proxy_environment": {"DATABASE_URL": "postgresql://127.0.0.1:1/db"}},
                                      None),
}


@pytest.mark.parametrize("case", list(START_FAILURES))
def test_a_change_that_cannot_start_is_rolled_back_as_soon_as_the_unit_fails(case, gateway, request):
    if "port" in case:
        request.getfixturevalue("port_squatter")
    extra, journal_says = START_FAILURES[case]
    timeout = 120
    before = gateway.live_files()
    run = gateway.enforce(label="start-failure", hx_litellm_proxy_ready_timeout=timeout, **extra)
    assert run.returncode != 0, "a change that cannot start was reported as a success"
    waits = gateway.readiness_waits(run)
    failed = [w for w in waits if w["status"] == "failed"]
    assert failed, "no readiness wait failed: %s" % [w["status"] for w in waits]
    first = failed[0]["result"]
    assert first["reason"] != "timeout", "the failed start was only noticed at the timeout"
    restored = [w for w in waits if w["status"] == "ok" and w["result"].get("ready")]
    assert restored, "the restored state was not waited for"
    message = gateway.gateway_failure(run)
    assert "The change failed at:" in message
    assert re.search(r"Rolled back to known-good snapshot %s" % SNAPSHOT, message)
    assert "restored /etc/systemd/system/litellm.service" in message or "restored /etc/litellm" in message
    assert "litellm serves again on http://127.0.0.1:4000 (port 4000)" in message
    if journal_says:
        assert journal_says in message.lower() or journal_says in gateway.journal(200).lower()
    assert gateway.live_files() == before, "the rollback did not restore the files exactly"
    assert gateway.status("/health/readiness") == 200 and gateway.serves()
    TIME_TO_ROLLBACK[case] = {"failure_detected_s": first["elapsed"], "reason": first["reason"],
                              "restored_ready_s": restored[-1]["result"]["elapsed"], "run_s": run.seconds,
                              "ready_timeout_s": timeout}
    print("%s: failure detected after %.1fs (%s), restored state ready after %.1fs, whole run %.1fs (timeout %ds)"
          % (case, first["elapsed"], first["reason"], restored[-1]["result"]["elapsed"], run.seconds, timeout))
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "time-to-rollback.json").write_text(json.dumps(TIME_TO_ROLLBACK, indent=2))
    # Detected when the unit failed, not after the configured wait.
    assert first["elapsed"] < timeout / 2


@pytest.fixture
def unit_that_cannot_start(gateway):
    """A drop-in that makes every start of litellm fail (a host fault): the change and its rollback both fail."""
    gateway.on_gateway("mkdir -p /etc/systemd/system/litellm.service.d && printf '[Service]\\nExecStartPre=/bin/false\\n'"
                       " > /etc/systemd/system/litellm.service.d/zz-hx-test-broken.conf && systemctl daemon-reload")
    yield
    gateway.on_gateway("rm -f /etc/systemd/system/litellm.service.d/zz-hx-test-broken.conf; systemctl daemon-reload; "
                       "systemctl reset-failed litellm; systemctl restart litellm")
    gateway.wait_until_serving()


def test_a_rollback_that_fails_too_names_both_failures_and_how_to_restore(gateway, unit_that_cannot_start):
    before = gateway.live_files()
    run = gateway.enforce(label="rollback-fails-too", hx_litellm_proxy_timeout=45)
    assert run.returncode != 0
    # systemd fails both starts at once (the control process exits): the change's restart, then the rollback's.
    failed = [(t["file"], t["action"], t["handler"]) for t in run.failures(GATEWAY)]
    starts = [f for f in failed if f[1] in ("ansible.builtin.systemd_service", "hx.litellm.gateway_ready")]
    assert len(starts) == 2, "expected the change's and the rollback's start to fail: %s" % failed
    assert starts[1][0] == "rollback.yml", failed
    assert all(w["result"]["reason"] != "timeout" for w in gateway.readiness_waits(run) if w["status"] == "failed")
    message = gateway.gateway_failure(run)
    assert "The change failed at:" in message
    assert re.search(r"The rollback to known-good snapshot %s failed too,\s+at:" % SNAPSHOT, message)
    assert re.search(r"hx\.litellm\.litellm_rollback\s+-l %s -e hx_litellm_proxy_rollback_to=%s" % (GATEWAY, SNAPSHOT),
                     message), "no command to restore by hand"
    # The restored files are in place: once the host fault is gone, the service serves on them.
    assert gateway.live_files() == before


def test_a_gateway_stopped_by_hand_comes_back_on_its_last_known_good_state_after_a_bad_change(gateway, lab_state):
    # Every successful run keeps what it verified as known-good, so the newest snapshot is the lab's state.
    gateway.on_gateway("systemctl stop litellm")
    assert not gateway.serves()
    run = gateway.enforce(label="bad-change-while-stopped",
                          hx_litellm_proxy_environment={"DATABASE_URL": "postgresql://127.0.0.1:1/db"})
    assert run.returncode != 0
    message = gateway.gateway_failure(run)
    assert "litellm did not serve before this change: rolled back to the newest known-good snapshot" in message
    assert re.search(r"Rolled back to known-good snapshot %s" % SNAPSHOT, message)
    assert gateway.live_files() == lab_state
    assert gateway.serves()


def test_an_upgrade_to_a_version_missing_from_the_index_leaves_the_service_untouched(gateway, tmp_path):
    # A site lock for a release the index does not have: validate lets it through, pip fails on the host.
    # (The lab serves metrics, so a lock must name prometheus-client to pass validate.)
    (tmp_path / "litellm-1.106.999-py3.11.txt").write_text(
        "".join("%s \\\n    --hash=sha256:%s\n" % (pin, "0" * 64) for pin in ("litellm==1.106.999", "prometheus-client==0.26.0")))
    before = gateway.live_files()
    started = gateway.started_at()
    run = gateway.enforce(label="bad-version", hx_litellm_proxy_version="1.106.999", hx_litellm_proxy_lock_dir=str(tmp_path))
    assert run.returncode != 0
    pip = run.on(GATEWAY, action="ansible.builtin.pip")
    assert [t["status"] for t in pip] == ["failed"], "the change did not fail at pip"
    message = gateway.gateway_failure(run)
    assert "restored nothing (no live file had changed yet)" in message
    assert "(from versions: ...)" in message or "1.106.999" in message
    assert gateway.live_files() == before
    # Never restarted: the running version kept serving throughout.
    assert gateway.started_at() == started and gateway.serves()
    # The next good run removes the half-built venv no known-good state refers to.
    good = gateway.enforce(label="enforce-after-bad-version")
    assert good.returncode == 0
    assert gateway.on_gateway("test -e /opt/litellm/venvs/1.106.999").returncode != 0, "the failed venv was not pruned"
    assert gateway.on_gateway("test -x /opt/litellm/venvs/%s/bin/litellm" % PINNED).returncode == 0
