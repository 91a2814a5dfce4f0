"""When the readiness wait stops early: the unit's own state says its process is not coming up."""

from ansible_collections.hx.litellm.plugins.modules.gateway_ready import exit_of, failure


def test_a_unit_still_starting_is_waited_for():
    assert failure({"ActiveState": "active", "SubState": "running", "NRestarts": "0"}, 0) is None
    assert failure({"ActiveState": "activating", "SubState": "start", "NRestarts": "2"}, 2) is None


def test_a_failed_unit_stops_the_wait():
    assert failure({"ActiveState": "failed", "SubState": "failed", "NRestarts": "0"}, 0) == "unit failed"


def test_a_restart_by_restart_always_during_the_wait_is_a_failed_start():
    assert failure({"ActiveState": "active", "SubState": "running", "NRestarts": "1"}, 0) == "unit restarted"
    assert failure({"ActiveState": "activating", "SubState": "auto-restart", "NRestarts": "0"}, 0) == "unit restarted"


def test_the_message_says_how_the_process_ended():
    assert exit_of({"ExecMainCode": "1", "ExecMainStatus": "2"}) == " (its process exited with status 2)"
    assert exit_of({"ExecMainCode": "2", "ExecMainStatus": "9"}) == " (its process was killed by signal 9)"
    assert exit_of({"ExecMainCode": "0", "ExecMainStatus": "0"}) == ""
