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

import load
from scenario import ARTIFACTS, LAB_VAULT, Scenario, container_ip, docker_running, master_key, on, task_block

ROOT = pathlib.Path(__file__).resolve().parents[2]
S = Scenario("default")
EVIDENCE = S.evidence
GATEWAY = "hx-api-server"
PINNED = yaml.safe_load((ROOT / "roles/hx_litellm_proxy/defaults/main.yml").read_text())["hx_litellm_proxy_version"]

pytestmark = pytest.mark.skipif(not docker_running(), reason="needs a running Docker engine (tests/bootstrap.sh starts one)")


def molecule(step):
    return S.molecule(step)


def playbook(name, *extra, label=None):
    return S.playbook(name, *extra, label=label)


def recap(output, host=GATEWAY):
    from scenario import recap as _recap
    return _recap(output, host)


def on_gateway(command):
    return on(GATEWAY, command)


@pytest.fixture(scope="module", autouse=True)
def hosts():
    if os.environ.get("HX_REUSE_HOSTS") == "1":
        yield
        return
    shutil.rmtree(EVIDENCE, ignore_errors=True)
    molecule("destroy")
    # molecule create runs its create_sequence: create, then prepare (the stand-in backends).
    assert molecule("create").returncode == 0, "molecule create failed (output above)"
    yield
    if os.environ.get("HX_KEEP_HOSTS") != "1":
        molecule("destroy")
    S.write_timings()


def require(label):
    # HX_REUSE_HOSTS=1 (development only): run single tests against hosts kept by HX_KEEP_HOSTS=1.
    if not S.succeeded(label) and os.environ.get("HX_REUSE_HOSTS") != "1":
        pytest.skip("needs a successful %s" % label)


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
    # The pin probe found the venv complete, so pip (5 s of listing the venv) did not run.
    pip_task = task_block(proc.stdout, "Install the pinned LiteLLM into the venv")
    assert "\nskipping: [%s]" % GATEWAY in pip_task, "pip ran although the venv holds every pin"
    # The playbook's own wall time (ansible.posix.timer), without molecule's start-up around it.
    took = re.search(r"Playbook run took (\d+) days, (\d+) hours, (\d+) minutes, (\d+) seconds", proc.stdout)
    assert took, "the timer callback reported no run time (output above)"
    seconds = ((int(took[1]) * 24 + int(took[2])) * 60 + int(took[3])) * 60 + int(took[4])
    print("idempotent rerun: playbook %ds, %d tasks ran (issue 6 target: under 20 s)" % (
        seconds, recap(proc.stdout)["ok"] + recap(proc.stdout)["failed"]))
    S.extra_timings["idempotent-playbook"] = seconds


def test_check_mode_on_a_converged_host_reports_no_change():
    require("converge")
    proc = molecule("check")
    rc = proc.returncode
    assert rc == 0, "--check --diff failed on the converged host (output above)"
    counters = recap(proc.stdout)
    assert counters["changed"] == 0 and counters["failed"] == 0, counters


def test_a_rerun_repairs_a_venv_broken_by_hand():
    """The pin probe lets pip skip a complete venv; a pinned package removed by hand is reinstalled."""
    require("converge")
    pip = "/opt/litellm/venvs/%s/bin/pip" % PINNED
    assert on_gateway(pip + " uninstall -y -q prisma").returncode == 0
    assert on_gateway(pip + " show -q prisma").returncode != 0
    proc = playbook("litellm_enforce", label="venv-drift")
    assert proc.returncode == 0, "the rerun after a broken venv failed (output above)"
    pip_task = task_block(proc.stdout, "Install the pinned LiteLLM into the venv")
    assert "\nchanged: [%s]" % GATEWAY in pip_task, "pip did not run on a venv missing a pinned package"
    assert on_gateway(pip + " show -q prisma").returncode == 0
    assert status("/v1/models", master_key()) == 200


def test_verify_the_gateway_from_outside_and_inside():
    require("converge")
    proc = molecule("verify")
    rc = proc.returncode
    assert rc == 0, "verify failed (output above)"
    assert re.search(r"\d+ passed", proc.stdout)


# Bad inputs: (extra vars, what the operator must read). Each names the variable, the bad
# value (never a secret's) and the fix; the play must stop before the host changes.
BAD_INPUTS = {
    "master key missing": ({"hx_litellm_proxy_master_key": None}, "hx_litellm_proxy_master_key is not set"),
    "master key without sk-": ({"hx_litellm_proxy_master_key": "pk-0123456789abcdefghijkl"},
                               "hx_litellm_proxy_master_key does not start with 'sk-'"),
    "master key too short": ({"hx_litellm_proxy_master_key": "sk-0123456789"},
                             "hx_litellm_proxy_master_key is shorter than 20 characters"),
    "master key a known default": ({"hx_litellm_proxy_master_key": "sk-1234"},
                                   "hx_litellm_proxy_master_key is a well-known placeholder key"),
    "no aliases": ({"hx_litellm_proxy_models": []}, "hx_litellm_proxy_models is empty; fix:"),
    "no backends": ({"hx_litellm_proxy_backends": []}, "hx_litellm_proxy_backends is empty; fix:"),
    "alias mapped twice": ({"hx_litellm_proxy_models": [{"name": "a", "model": "x"}, {"name": "a", "model": "y"}]},
                           "hx_litellm_proxy_models: alias 'a' is defined twice; fix:"),
    "backend not http(s)://host:port": ({"hx_litellm_proxy_backends": ["hx-llm01:11434"]},
                                        "hx_litellm_proxy_backends: backend 'hx-llm01:11434' is not a URL of the form "
                                        "http(s)://host:port; fix:"),
    "port out of range": ({"hx_litellm_proxy_port": 70000}, "hx_litellm_proxy_port 70000 is out of range; fix:"),
    "unknown routing strategy": ({"hx_litellm_proxy_routing_strategy": "round-robin"},
                                 "value of hx_litellm_proxy_routing_strategy must be one of: least-busy, simple-shuffle, "
                                 "latency-based-routing, usage-based-routing-v2, cost-based-routing, got: round-robin"),
    "unknown provider": ({"hx_litellm_proxy_models": [{"name": "a", "model": "x", "provider": "bedrock"}]},
                         "value of provider must be one of: ollama_chat, ollama, hosted_vllm, openai, got: bedrock "
                         "found in hx_litellm_proxy_models"),
    "version not an exact pin": ({"hx_litellm_proxy_version": ">=1.106"},
                                 "hx_litellm_proxy_version '>=1.106' is not an exact release; fix:"),
    "negative timeout": ({"hx_litellm_proxy_timeout": -1}, "hx_litellm_proxy_timeout is -1; fix:"),
    "negative stream timeout": ({"hx_litellm_proxy_stream_timeout": -5}, "hx_litellm_proxy_stream_timeout is -5; fix:"),
    "negative retries": ({"hx_litellm_proxy_num_retries": -2}, "hx_litellm_proxy_num_retries is -2; fix:"),
    "fallback to an unknown alias": ({"hx_litellm_proxy_fallbacks": {"phi3-3.8b": ["gpt-4"]}},
                                     "hx_litellm_proxy_fallbacks names 'gpt-4', which is not a defined alias"),
    "redis password systemd would alter": ({"hx_litellm_proxy_redis_password": 'pw"with\\quotes'},
                                           "hx_litellm_proxy_redis_password contains characters other than"),
    "install dir under /home": ({"hx_litellm_proxy_install_dir": "/home/litellm"},
                                "hx_litellm_proxy_install_dir '/home/litellm' must be an absolute path outside /home"),
    "listen address not an address": ({"hx_litellm_proxy_host": "not an address"},
                                      "hx_litellm_proxy_host 'not an address' is not an address or a host name; fix:"),
    "CA bundle missing": ({"hx_litellm_proxy_ca_bundle": "/nonexistent/ca.pem"},
                          "hx_litellm_proxy_ca_bundle '/nonexistent/ca.pem' is not an existing file on the control node"),
    "wheelhouse missing": ({"hx_litellm_proxy_wheelhouse": "/nonexistent/litellm.tar"},
                           "hx_litellm_proxy_wheelhouse '/nonexistent/litellm.tar' is not an existing file on the control node"),
    "peer that is not an address": ({"hx_litellm_proxy_ip_allow": ["10.0.0.0/8", "999.1.1.1"]},
                                    "hx_litellm_proxy_ip_allow has ['999.1.1.1'], which are not IP addresses or CIDRs; fix:"),
    "proxy URL with credentials": ({"hx_litellm_proxy_environment": {"HTTPS_PROXY": "http://u:pw@proxy:3128"}},
                                   "hx_litellm_proxy_environment ['HTTPS_PROXY'] holds credentials in a URL"),
}
BAD_RESULTS = {}


def full_host_state():
    """Everything a run could change: files, packages, users, groups, venvs, snapshots, the service."""
    return host_state() + on_gateway(
        "getent group | sha256sum; find /opt/litellm /var/backups/litellm /etc/litellm -maxdepth 2 | sort | sha256sum; "
        "systemctl show litellm -p MainPID").stdout


def wait_until_serving(seconds=120):
    """A steady service to compare against: active, ready, and the same main PID twice in a row."""
    deadline, last = time.monotonic() + seconds, None
    while time.monotonic() < deadline:
        pid = on_gateway("systemctl is-active -q litellm && curl -sf http://127.0.0.1:4000/health/readiness >/dev/null"
                         " && systemctl show -p MainPID --value litellm").stdout.strip()
        if pid and pid != "0" and pid == last:
            return
        last = pid
        time.sleep(3)
    raise AssertionError("litellm is not serving steadily: " + on_gateway("journalctl -u litellm -n 30 --no-pager").stdout)


@pytest.fixture(scope="module")
def bad_input_runs():
    """Every bad input against the converged gateway, three plays at a time."""
    import concurrent.futures
    if not BAD_RESULTS:
        wait_until_serving()
        before = full_host_state()
        with concurrent.futures.ThreadPoolExecutor(3) as pool:
            runs = {name: pool.submit(playbook, "litellm_enforce", "-e", json.dumps(extra), label="bad-input")
                    for name, (extra, _) in BAD_INPUTS.items()}
            for name, future in runs.items():
                BAD_RESULTS[name] = future.result()
        BAD_RESULTS["__state__"] = (before, full_host_state())
    return BAD_RESULTS


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_fails_with_a_message_naming_it_and_changes_nothing(case, bad_input_runs):
    require("converge")
    extra, message = BAD_INPUTS[case]
    proc = bad_input_runs[case]
    # The callback folds long messages and doubles quotes: compare on normalised text.
    said = re.sub(r"\s+", " ", proc.stdout).replace("''", "'")
    assert proc.returncode != 0, "%s was accepted" % case
    assert message in said, "%s: expected %r in the output (.artifacts/ has the log)" % (case, message)
    assert recap(proc.stdout)["changed"] == 0
    assert "TASK [hx.litellm.hx_litellm_proxy : Install the Python runtime" not in proc.stdout
    for name in ("hx_litellm_proxy_master_key", "hx_litellm_proxy_redis_password"):
        if extra.get(name):
            assert extra[name] not in proc.stdout, "the bad value of %s was printed" % name
    assert "u:pw@" not in proc.stdout, "the proxy credentials were printed"
    before, after = bad_input_runs["__state__"]
    assert after == before, "a rejected input changed the gateway"


def latest_bundle(gate):
    runs = sorted((EVIDENCE / gate).glob("*/%s" % GATEWAY))
    assert runs, "no %s bundle written" % gate
    return runs[-1]


def gateway_ip():
    return container_ip(GATEWAY)


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
    group = ["-e", "hx_litellm_baseline_admin_group=hx-linux-admins"]
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


# Router resilience: stand-in backends told to fail. phi3-3.8b runs on both stand-ins,
# and falls back to llama3-8b, which runs on a third stand-in (hx-llm01:11435).
RESILIENT = {
    "hx_litellm_proxy_models": [
        {"name": "phi3-3.8b", "model": "phi3:3.8b-mini-128k-instruct-q8_0", "max_input_tokens": 4096,
         "rpm": 100000, "tpm": 10000000, "backends": ["http://hx-llm01:11434", "http://hx-llm02:11434"]},
        {"name": "llama3-8b", "model": "llama3:8b-instruct-q8_0", "max_input_tokens": 8192,
         "backends": ["http://hx-llm01:11435"]},
    ],
    "hx_litellm_proxy_fallbacks": {"phi3-3.8b": ["llama3-8b"]},
    "hx_litellm_proxy_context_window_fallbacks": {"phi3-3.8b": ["llama3-8b"]},
    "hx_litellm_proxy_timeout": 3,
    "hx_litellm_proxy_stream_timeout": 3,
    "hx_litellm_proxy_num_retries": 2,
    "hx_litellm_proxy_allowed_fails": 1,
    "hx_litellm_proxy_cooldown_time": 10,
}
RESILIENCE = {}


def stub(host, path, body=None, port=11434):
    data = "" if body is None else " -XPOST -d '%s'" % json.dumps(body)
    return json.loads(on_backend(host, "curl -s%s http://127.0.0.1:%d%s" % (data, port, path)).stdout or "{}")


def inference_count(host, port=11434):
    paths = stub(host, "/_stub/stats", port=port).get("paths", {})
    return sum(v for k, v in paths.items() if k in ("POST /api/chat", "POST /api/generate"))


def reset_backends():
    on_backend("hx-llm02", "systemctl start stub-ollama")
    for host in ("hx-llm01", "hx-llm02"):
        stub(host, "/_stub/reset", {})
    stub("hx-llm01", "/_stub/reset", {}, port=11435)
    # Cooldowns live in the router's memory: a restart starts each case from a clean router.
    on_gateway("systemctl restart litellm")
    for _ in range(60):
        if on_gateway("curl -sf http://127.0.0.1:4000/health/readiness").returncode == 0:
            return
        time.sleep(1)
    raise AssertionError("litellm did not come back: " + on_gateway("journalctl -u litellm -n 30 --no-pager").stdout)


@pytest.fixture(scope="class")
def resilient_gateway():
    require("converge")
    on_backend("hx-llm01", "systemd-run --unit stub-fallback /usr/bin/python3 /usr/local/bin/stub_ollama.py "
                           "--host 0.0.0.0 --port 11435 --name hx-llm01-fallback --delay 0.2")
    proc = playbook("litellm_enforce", "-e", json.dumps(RESILIENT), label="resilient-config")
    assert proc.returncode == 0, "applying the router settings failed (output above)"
    config = yaml.safe_load(on_gateway("cat /etc/litellm/config.yaml").stdout)
    router = config["router_settings"]
    # Rendered where LiteLLM reads them; the template's validate already loaded them with LiteLLM.
    assert router["fallbacks"] == [{"phi3-3.8b": ["llama3-8b"]}]
    assert router["context_window_fallbacks"] == [{"phi3-3.8b": ["llama3-8b"]}]
    phi3 = [e for e in config["model_list"] if e["model_name"] == "phi3-3.8b"]
    assert [(e["litellm_params"]["rpm"], e["model_info"]["max_input_tokens"]) for e in phi3] == [(100000, 4096)] * 2
    assert (router["allowed_fails"], router["cooldown_time"], router["num_retries"]) == (1, 10, 2)
    yield "http://%s:4000" % gateway_ip()
    on_backend("hx-llm01", "systemctl stop stub-fallback")
    on_backend("hx-llm02", "systemctl start stub-ollama")
    for host in ("hx-llm01", "hx-llm02"):
        stub(host, "/_stub/reset", {})
    back = playbook("litellm_enforce", label="resilient-restore")
    assert back.returncode == 0
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "resilience-default.json").write_text(json.dumps(RESILIENCE, indent=2))


def record(case, summary):
    RESILIENCE[case] = summary
    print("\n" + load.line(case, summary))


class TestRouterResilience:
    """The router settings apply for these tests only: the class-scoped fixture restores the
    repository's config right after them, before the rotation and rollback tests."""

    @pytest.mark.parametrize("fault", ["error500", "hang", "refused"])
    def test_one_failing_backend_is_routed_around_without_client_errors(self, resilient_gateway, fault):
        reset_backends()
        if fault == "refused":
            on_backend("hx-llm02", "systemctl stop stub-ollama")
        else:
            stub("hx-llm02", "/_stub/mode", {"mode": fault, "seconds": 60})
        summary = load.run(resilient_gateway, master_key(), "phi3-3.8b", requests_total=200, concurrency=50, timeout=60)
        record("one backend %s, 200 requests" % fault, summary)
        assert summary["ok"] == 200, "clients saw errors: %s" % summary["errors"]
        if fault == "hang":
            # Failed over within the configured timeout (3 s) plus one healthy answer, not after the 60 s hang.
            assert summary["max_ms"] < (RESILIENT["hx_litellm_proxy_timeout"] + 3) * 1000, summary
        # Within the cooldown the failing backend gets no more traffic.
        before = inference_count("hx-llm02") if fault != "refused" else 0
        again = load.run(resilient_gateway, master_key(), "phi3-3.8b", requests_total=40, concurrency=20, timeout=60)
        record("one backend %s, next 40 (cooldown)" % fault, again)
        assert again["ok"] == 40
        assert set(again["backends"]) == {"http://hx-llm01:11434"}, again["backends"]
        if fault != "refused":
            assert inference_count("hx-llm02") == before, "the failing backend still got traffic during its cooldown"

    def test_every_backend_of_an_alias_down_is_served_by_its_fallback_alias(self, resilient_gateway):
        reset_backends()
        for host in ("hx-llm01", "hx-llm02"):
            stub(host, "/_stub/mode", {"mode": "error500"})
        summary = load.run(resilient_gateway, master_key(), "phi3-3.8b", requests_total=100, concurrency=25, timeout=60)
        record("every phi3 backend error500, 100 requests", summary)
        assert summary["ok"] == 100, "clients saw errors: %s" % summary["errors"]
        assert set(summary["backends"]) == {"http://hx-llm01:11435"}, summary["backends"]


ROTATED = {}


def test_key_rotation_by_vault_edit_and_rerun_restarts_once_and_swaps_the_key(tmp_path):
    """ansible-vault edit + rerun: the new key works, the old one stops working, nothing shows it."""
    require("converge")
    import requests

    old = master_key()
    new = "sk-rotated-" + os.urandom(16).hex()
    ROTATED["key"] = new
    vault = tmp_path / "vault.yml"
    shutil.copy(LAB_VAULT, vault)
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
    ROTATED["done"] = True


def live_files():
    return on_gateway("sha256sum /etc/litellm/config.yaml /etc/litellm/litellm.env /etc/systemd/system/litellm.service").stdout


def status(path, key=None, port=4000):
    import requests
    headers = {"Authorization": "Bearer " + key} if key else {}
    return requests.get("http://%s:%d%s" % (gateway_ip(), port, path), headers=headers, timeout=10).status_code


def test_rollback_playbook_restores_the_previous_known_good_state():
    """After the rotation, litellm_rollback.yml steps back to the repository's key."""
    if not ROTATED.get("done"):
        pytest.skip("needs the key rotation")
    old, new = master_key(), ROTATED["key"]
    started_before = on_gateway("systemctl show -p ActiveEnterTimestamp --value litellm").stdout
    dry = playbook("litellm_rollback", "--check", "--diff", label="rollback-check")
    assert dry.returncode == 0 and recap(dry.stdout)["changed"] >= 1
    assert "/etc/litellm/litellm.env (snapshot" in dry.stdout and "(content hidden" in dry.stdout
    assert on_gateway("systemctl show -p ActiveEnterTimestamp --value litellm").stdout == started_before
    real = playbook("litellm_rollback", "--diff", label="rollback")
    rc = real.returncode
    assert rc == 0, "rollback failed (output above)"
    assert on_gateway("systemctl show -p ActiveEnterTimestamp --value litellm").stdout != started_before
    assert status("/v1/models", old) == 200
    assert status("/v1/models", new) in (400, 401)
    # The restored state is exactly what the repository describes: enforcing it changes nothing.
    again = playbook("litellm_enforce", label="enforce-after-rollback")
    assert again.returncode == 0 and recap(again.stdout)["changed"] == 0, "enforce after rollback changed something"
    # One step back per run, never forth: the rotated state was set aside, so a further step
    # would go to the state before the repository's (here: the resilience tests' config), or
    # say there is none. Dry run only: it must propose that and change nothing.
    before = live_files()
    further = playbook("litellm_rollback", "--check", "--diff", label="rollback-further-check")
    if further.returncode == 0:
        assert "/etc/litellm/config.yaml (snapshot" in further.stdout
    else:
        assert "there is no earlier known-good state to roll back to" in further.stdout
    assert ROTATED["key"] not in further.stdout
    assert live_files() == before
    assert status("/v1/models", old) == 200


@pytest.fixture
def port_squatter():
    """Something else listening on port 4001 of the gateway, as a forgotten service would."""
    on_gateway("systemd-run --unit hx-squatter python3 -c \"import socket; s=socket.socket(); "
               "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('0.0.0.0', 4001)); s.listen(); "
               "exec('while True: s.accept()[0].close()')\"")
    time.sleep(1)
    yield
    on_gateway("systemctl stop hx-squatter")


def test_a_change_that_fails_at_start_is_rolled_back_and_the_old_state_serves(port_squatter):
    """Port 4001 passes validation, but another process holds it: the proxy never gets ready."""
    require("converge")
    before = live_files()
    proc = playbook("litellm_enforce", "-e", "hx_litellm_proxy_port=4001", "-e", "hx_litellm_proxy_ready_timeout=20",
                    label="bad-port")
    assert proc.returncode != 0, "a change that cannot start was reported as a success"
    assert "The change failed at: Fail with the journal tail" in proc.stdout
    assert "litellm did not become ready on http://127.0.0.1:4001" in proc.stdout
    assert re.search(r"Rolled back to known-good snapshot \d{8}T\d{6}Z", proc.stdout)
    assert "restored /etc/systemd/system/litellm.service" in proc.stdout
    assert "litellm serves again on port 4000" in proc.stdout
    assert live_files() == before, "the rollback did not restore the files exactly"
    assert status("/health/readiness") == 200 and status("/v1/models", master_key()) == 200
    assert on_gateway("systemctl is-active litellm").stdout.strip() == "active"


def test_a_rollback_that_fails_too_still_names_the_first_failure(port_squatter):
    """The same bad port, but 1 s for any start to be ready (LiteLLM needs ~10): the rollback fails as well."""
    require("converge")
    import requests
    before = live_files()
    proc = playbook("litellm_enforce", "-e", "hx_litellm_proxy_port=4001", "-e", "hx_litellm_proxy_ready_timeout=1",
                    label="bad-rollback")
    assert proc.returncode != 0
    assert "The change failed at: Fail with the journal tail" in proc.stdout
    assert "litellm did not become ready on http://127.0.0.1:4001" in proc.stdout
    assert re.search(r"The rollback to known-good snapshot \d{8}T\d{6}Z failed too,\s+at: Fail with the journal tail",
                     proc.stdout), "the rollback's own failure is not named"
    assert "litellm did not become ready on http://127.0.0.1:4000" in proc.stdout
    assert re.search(r"playbooks/litellm_rollback\.yml\s+-l %s -e hx_litellm_proxy_rollback_to=\d{8}T\d{6}Z" % GATEWAY,
                     proc.stdout), "no command to restore by hand"
    # The restored files are in place, so the service, restarted on them, serves once it is up.
    assert live_files() == before
    deadline, code = time.time() + 120, None
    while time.time() < deadline and code != 200:
        try:
            code = status("/v1/models", master_key())
        except requests.RequestException:
            time.sleep(2)
    assert code == 200, "the restored state never came up"


def test_an_upgrade_to_a_version_missing_from_the_index_leaves_the_service_untouched():
    require("converge")
    before = live_files()
    started_before = on_gateway("systemctl show -p ActiveEnterTimestamp --value litellm").stdout
    proc = playbook("litellm_enforce", "-e", "hx_litellm_proxy_version=1.106.999", label="bad-version")
    assert proc.returncode != 0
    assert "The change failed at: Install the pinned LiteLLM into the venv, version 1.106.999" in proc.stdout
    assert "restored nothing (no live file had changed yet)" in proc.stdout
    assert live_files() == before
    # Never restarted: the running version kept serving throughout.
    assert on_gateway("systemctl show -p ActiveEnterTimestamp --value litellm").stdout == started_before
    assert status("/v1/models", master_key()) == 200
    # The next good run removes the half-built venv no known-good state refers to.
    good = playbook("litellm_enforce", label="enforce-after-bad-version")
    assert good.returncode == 0
    assert on_gateway("test -e /opt/litellm/venvs/1.106.999").returncode != 0, "the failed venv was not pruned"
    assert on_gateway("test -x /opt/litellm/venvs/%s/bin/litellm" % PINNED).returncode == 0


def test_evidence_bundles_never_contain_the_master_key():
    keys = [master_key()] + ([ROTATED["key"]] if ROTATED else [])
    files = [p for p in EVIDENCE.rglob("*") if p.is_file()]
    assert files, "no evidence written"
    for path in files:
        text = path.read_text(errors="replace")
        assert not any(key in text for key in keys), path


def test_no_play_output_or_diff_shows_the_master_key():
    keys = [master_key()] + ([ROTATED["key"]] if ROTATED else [])
    assert S.results, "no molecule step ran"
    for name, proc in S.results.items():
        assert not any(key in proc.stdout for key in keys), "a master key appears in the output of %s" % name
    # The environment file did change in converge: it must say so without showing it.
    converge = [p for n, p in S.results.items() if n.endswith("-converge")]
    assert converge and "Render the environment file that carries the master key" in converge[-1].stdout
