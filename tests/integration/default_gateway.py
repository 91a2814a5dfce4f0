"""The molecule scenario `default` (one gateway, two stand-in backends) and what tests read
from its hosts. Fixtures built on it are in conftest.py."""

import json
import time

import requests
import yaml

from scenario import ROOT, Scenario, container_ip, master_key, on

S = Scenario("default")
GATEWAY = "hx-api-server"
BACKENDS = ("hx-llm01", "hx-llm02")
PINNED = yaml.safe_load((ROOT / "roles/hx_litellm_proxy/defaults/main.yml").read_text())["hx_litellm_proxy_version"]
LIVE = "/etc/litellm/config.yaml /etc/litellm/litellm.env /etc/systemd/system/litellm.service"


def on_gateway(command):
    return on(GATEWAY, command)


def journal(lines=60):
    return on_gateway("journalctl -u litellm -n %d --no-pager -o cat" % lines).stdout


def playbook(name, *extra, label=None):
    return S.playbook(name, *extra, label=label)


def enforce(*extra, label="enforce", **variables):
    """litellm_enforce with extra variables given as keywords (JSON, so types survive)."""
    args = list(extra) + (["-e", json.dumps(variables)] if variables else [])
    return S.playbook("litellm_enforce", *args, label=label)


def live_files():
    return on_gateway("sha256sum %s" % LIVE).stdout


def host_state():
    """What a change would alter on the gateway: files, packages, users, the service's start."""
    return on_gateway(
        "sha256sum /etc/litellm/* /etc/systemd/system/litellm.service 2>&1; dpkg -l | sha256sum; "
        "getent passwd | sha256sum; systemctl show litellm -p ActiveEnterTimestamp -p NRestarts").stdout


def full_host_state():
    """Everything a run could change: files, packages, accounts, venvs, snapshots, the process."""
    return host_state() + on_gateway(
        "getent group | sha256sum; find /opt/litellm /var/backups/litellm /etc/litellm -maxdepth 2 | sort | sha256sum; "
        "systemctl show litellm -p MainPID").stdout


def started_at():
    return on_gateway("systemctl show -p ActiveEnterTimestampMonotonic --value litellm").stdout.strip()


def ip():
    return container_ip(GATEWAY)


def status(path, key=None, port=4000):
    headers = {"Authorization": "Bearer " + key} if key else {}
    return requests.get("http://%s:%d%s" % (ip(), port, path), headers=headers, timeout=10).status_code


def serves(key=None):
    """The gateway answers /v1/models with the master key, from the network as a client would."""
    try:
        return status("/v1/models", key or master_key()) == 200
    except requests.RequestException:
        return False


def config():
    return yaml.safe_load(on_gateway("cat /etc/litellm/config.yaml").stdout)


def wait_until_serving(seconds=180):
    """A steady service to compare against: active, ready, and the same main PID twice in a row."""
    deadline, last = time.monotonic() + seconds, None
    while time.monotonic() < deadline:
        pid = on_gateway("systemctl is-active -q litellm && curl -sf http://127.0.0.1:4000/health/readiness >/dev/null"
                         " && systemctl show -p MainPID --value litellm").stdout.strip()
        if pid and pid != "0" and pid == last:
            return
        last = pid
        time.sleep(2)
    raise AssertionError("litellm is not serving steadily; journal:\n" + journal(40))


def put_back(lab_state):
    """Bring the gateway back to the lab's state if a test left it elsewhere or not serving."""
    if live_files() != lab_state or not serves():
        back = enforce(label="back-to-lab-state")
        assert back.returncode == 0, "could not put the lab's state back; journal:\n" + journal()
    wait_until_serving()
    assert live_files() == lab_state, "enforce did not bring back the lab's files"


def gateway_failure(run):
    """The message of the task that failed the gateway's run (the rescue's final report)."""
    failed = run.failures(GATEWAY)
    assert failed, "the run did not fail on %s (rc=%s)" % (GATEWAY, run.returncode)
    return str(failed[-1]["result"].get("msg", ""))


def readiness_waits(run):
    """The results of every readiness wait (module gateway_ready) of the gateway, in order."""
    return [t for t in run.on(GATEWAY, action="hx.litellm.gateway_ready")]


def no_secret_in(runs, secrets):
    for name, run in runs.items():
        for secret in secrets:
            assert secret not in run.stdout, "a secret appears in the output of %s" % name
