"""A new gateway's life as an operator runs it: --check --diff on the fresh host changes
nothing, converge serves, a rerun changes nothing and skips pip, --check on the converged
host reports no change, verify passes from outside and inside, a hand-broken venv is repaired."""

import re

from default_gateway import GATEWAY, PINNED
from scenario import master_key


def test_check_mode_on_a_fresh_host_reports_changes_and_changes_nothing(lifecycle):
    run = lifecycle["check-fresh"]
    assert run.returncode == 0, "--check --diff failed on a fresh host (.artifacts/ has the log)"
    counters = run.recap(GATEWAY)
    assert counters["failures"] == 0 and counters["changed"] > 0
    assert lifecycle["fresh-after-check"] == "untouched"


def test_converge_applies_the_role_and_waits_for_readiness(lifecycle):
    run = lifecycle["converge"]
    assert run.returncode == 0, "converge failed (output above)"
    assert run.recap(GATEWAY)["failures"] == 0
    waits = [t for t in run.on(GATEWAY, action="hx.litellm.gateway_ready") if t["status"] != "skipped"]
    assert waits and waits[-1]["result"]["ready"] is True, "converge did not wait for readiness"
    assert waits[-1]["result"]["reason"] == "ready"


def test_second_apply_changes_nothing_and_skips_pip(lifecycle):
    run = lifecycle["idempotence"]
    assert run.returncode == 0, "the second apply changed something (output above)"
    assert run.recap(GATEWAY)["changed"] == 0
    # The pin probe found the venv complete, so pip did not run.
    pip = run.on(GATEWAY, action="ansible.builtin.pip")
    assert pip and all(t["status"] == "skipped" for t in pip), "pip ran although the venv holds every pin"
    took = re.search(r"Playbook run took (\d+) days, (\d+) hours, (\d+) minutes, (\d+) seconds", run.stdout)
    if took:
        seconds = ((int(took[1]) * 24 + int(took[2])) * 60 + int(took[3])) * 60 + int(took[4])
        print("idempotent rerun: playbook %ds, %d tasks" % (seconds, len(run.on(GATEWAY))))


def test_check_mode_on_a_converged_host_reports_no_change(lifecycle):
    run = lifecycle["check-converged"]
    assert run.returncode == 0, "--check --diff failed on the converged host (output above)"
    counters = run.recap(GATEWAY)
    assert counters["changed"] == 0 and counters["failures"] == 0, counters


def test_verify_the_gateway_from_outside_and_inside(lifecycle):
    run = lifecycle["verify"]
    assert run.returncode == 0, "verify failed (output above)"
    assert re.search(r"\d+ passed", run.stdout) and not re.search(r"\d+ failed", run.stdout)


def test_no_lifecycle_output_or_diff_shows_the_master_key(lifecycle):
    key = master_key()
    for name, run in lifecycle.items():
        if hasattr(run, "stdout"):
            assert key not in run.stdout, "the master key appears in the output of %s" % name
    # The environment file did change in converge: it is reported changed, its content hidden.
    env = [t for t in lifecycle["converge"].on(GATEWAY, status="changed") if t["file"] == "configure.yml"
           and t["result"].get("censored")]
    assert env, "no hidden change of the environment file in converge"


def test_a_rerun_repairs_a_venv_broken_by_hand(gateway):
    """The pin probe lets pip skip a complete venv; a pinned package removed by hand is reinstalled."""
    pip = "/opt/litellm/venvs/%s/bin/pip" % PINNED
    assert gateway.on_gateway(pip + " uninstall -y -q prisma").returncode == 0
    assert gateway.on_gateway(pip + " show -q prisma").returncode != 0
    run = gateway.enforce(label="venv-drift")
    assert run.returncode == 0, "the rerun after a broken venv failed (output above)"
    assert [t["status"] for t in run.on(GATEWAY, action="ansible.builtin.pip")] == ["changed"]
    assert gateway.on_gateway(pip + " show -q prisma").returncode == 0
    assert gateway.serves()
