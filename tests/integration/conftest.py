"""Fixtures of the end-to-end tests: one molecule `default` scenario for the whole session,
its lifecycle (fresh check, converge, idempotence, converged check, verify) run once, and a
`gateway` fixture that hands each test the converged gateway in the lab's state, whatever
the tests before it did."""

import os
import shutil
import subprocess

import pytest

import default_gateway as gw
from diagnostics import SERVICE_PROCESSES, machine_load
from scenario import docker_running, master_key, on

REUSE = os.environ.get("HX_REUSE_HOSTS") == "1"  # development only: hosts kept by HX_KEEP_HOSTS=1


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, "rep_" + report.when, report)
    return report


GATEWAY_HOSTS = ("hx-api-server", "mh-gw01", "mh-gw02")


@pytest.fixture(autouse=True)
def journal_on_failure(request):
    """A failing test prints litellm's journal of every gateway container that runs."""
    yield
    report = getattr(request.node, "rep_call", None)
    if report is None or not report.failed:
        return
    running = subprocess.run(["docker", "ps", "--format", "{{.Names}}"], capture_output=True, text=True).stdout.split()
    for host in GATEWAY_HOSTS:
        if host in running:
            tail = on(host, "journalctl -u litellm -n 60 --no-pager -o cat").stdout
            print("\n--- %s: journalctl -u litellm (last 60 lines) ---\n%s" % (host, tail))
            print("--- %s: litellm's processes ---\n%s" % (host, on(host, SERVICE_PROCESSES).stdout))
    print("--- this machine: load, memory, disk ---\n%s" % machine_load())


@pytest.fixture(scope="session")
def default_hosts():
    if not docker_running():
        pytest.skip("needs a running Docker engine (tests/bootstrap.sh starts one)")
    if REUSE:
        yield gw.S
        return
    shutil.rmtree(gw.S.evidence, ignore_errors=True)
    gw.S.molecule("destroy")
    # molecule create runs its create_sequence: create, then prepare (the stand-in backends).
    assert gw.S.molecule("create").returncode == 0, "molecule create failed (output above)"
    yield gw.S
    if os.environ.get("HX_KEEP_HOSTS") != "1":
        gw.S.molecule("destroy")
    gw.S.write_timings()


UNTOUCHED = ("test ! -e /etc/litellm && test ! -e /opt/litellm && test ! -e /etc/systemd/system/litellm.service"
             " && ! getent passwd litellm && ! dpkg -s python3.11-venv >/dev/null 2>&1 && echo untouched")


@pytest.fixture(scope="session")
def lifecycle(default_hosts):
    """What an operator does on a new gateway, in order, once: each step's run by name."""
    runs = {}
    if REUSE:
        return runs
    runs["check-fresh"] = gw.S.molecule("check")
    runs["fresh-after-check"] = gw.on_gateway(UNTOUCHED).stdout.strip()
    runs["converge"] = gw.S.molecule("converge")
    if runs["converge"].returncode == 0:
        runs["idempotence"] = gw.S.molecule("idempotence")
        runs["check-converged"] = gw.S.molecule("check")
        runs["verify"] = gw.S.molecule("verify")
    return runs


@pytest.fixture(scope="session")
def lab_state(lifecycle):
    """The live files of the converged lab: what every test starts from."""
    if not REUSE and lifecycle["converge"].returncode != 0:
        pytest.fail("converge failed, so the gateway tests cannot run (see the converge test)")
    gw.wait_until_serving()
    return gw.live_files()


@pytest.fixture
def gateway(request, lab_state):
    """The converged gateway serving the lab's state; put back first if an earlier test left it elsewhere.
    No run made during the test may show the master key."""
    gw.put_back(lab_state)
    seen = set(gw.S.results)
    yield gw
    gw.no_secret_in({k: v for k, v in gw.S.results.items() if k not in seen}, [master_key()])
