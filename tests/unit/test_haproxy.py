"""The HAProxy runtime API as the rolling change uses it: what `show stat` and `show servers state`
say about the gateways, and a wait that ends when every gateway is drained or back up."""

import os
import socket
import threading

from ansible_collections.hx.litellm.plugins.module_utils import haproxy

STAT = """# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,check_status
litellm,FRONTEND,,,3,5,9985,10,0,0,0,0,0,,,,,OPEN,,
litellm,mh-gw01,0,0,2,4,,7,0,0,,0,,0,0,0,0,DRAIN,1,L7OK
litellm,mh-gw02,0,0,0,3,,3,0,0,,0,,0,0,0,0,DOWN,1,L4CON
litellm,BACKEND,0,0,2,5,,10,0,0,0,0,,0,0,0,0,UP,2,
other,mh-gw01,0,0,9,9,,9,0,0,,0,,0,0,0,0,UP,1,L7OK
"""

STATE = """1
# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port
3 litellm 1 mh-gw01 10.0.0.2 2 8 1 1 4 15 3 3 6 0 0 0 - 4000 - 0 0 - - 0
3 litellm 2 mh-gw02 10.0.0.3 0 0 1 1 1 15 3 3 6 0 0 0 - 4443 - 1 0 - - 0
4 other 1 mh-gw01 10.0.0.2 2 1 1 1 9 15 3 3 6 0 0 0 - 4000 - 0 0 - - 0
"""


def test_show_stat_gives_each_gateway_its_health_and_requests_in_flight():
    assert haproxy.parse_stat(STAT, "litellm") == {
        "mh-gw01": {"status": "DRAIN", "in_flight": 2, "check": "L7OK"},
        "mh-gw02": {"status": "DOWN", "in_flight": 0, "check": "L4CON"},
    }


def test_the_state_set_on_a_server_is_read_apart_from_its_health():
    # A drained gateway that is restarting shows DOWN in `show stat`; only the admin bits say it is drained.
    assert haproxy.parse_admin(STATE, "litellm") == {"mh-gw01": {"state": "drain", "port": 4000, "tls": False},
                                                     "mh-gw02": {"state": "ready", "port": 4443, "tls": True}}
    assert haproxy.parse_admin(STATE, "other") == {"mh-gw01": {"state": "maint", "port": 4000, "tls": False}}


def test_a_wait_ends_when_every_server_is_done_or_at_the_timeout(monkeypatch):
    answers = iter([{"a": {"in_flight": 2}, "b": {"in_flight": 0}}, {"a": {"in_flight": 0}, "b": {"in_flight": 0}}])
    monkeypatch.setattr(haproxy, "servers", lambda path, backend: next(answers))
    clock = iter(range(100))
    ok, seconds, last = haproxy.wait("/s", "litellm", ["a", "b"], lambda s: s["in_flight"] == 0, 60,
                                     clock=lambda: next(clock), sleep=lambda _: None)
    assert ok and last == {"a": {"in_flight": 0}, "b": {"in_flight": 0}}
    monkeypatch.setattr(haproxy, "servers", lambda path, backend: {"a": {"in_flight": 1}})
    clock = iter(range(100))
    ok, seconds, last = haproxy.wait("/s", "litellm", ["a"], lambda s: s["in_flight"] == 0, 5,
                                     clock=lambda: next(clock), sleep=lambda _: None)
    assert not ok and seconds >= 5 and last == {"a": {"in_flight": 1}}


def test_commands_go_in_one_call_in_their_order(tmp_path):
    path = str(tmp_path / "admin.sock")
    server = socket.socket(socket.AF_UNIX)
    server.bind(path)
    server.listen(1)
    received = []

    def answer():
        conn, _ = server.accept()
        received.append(conn.recv(4096).decode())
        conn.sendall(b"\n\n")
        conn.close()

    thread = threading.Thread(target=answer)
    thread.start()
    swap = [haproxy.set_state("mh-gw01", "litellm", "ready"), haproxy.set_state("mh-gw02", "litellm", "drain")]
    assert haproxy.send(path, swap) == "\n\n"
    thread.join(5)
    server.close()
    os.unlink(path)
    assert received == ["set server litellm/mh-gw01 state ready; set server litellm/mh-gw02 state drain\n"]
