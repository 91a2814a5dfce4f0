"""The router under failing backends: stand-ins told to fail, load through the proxy, and
what clients see. phi3-3.8b runs on both stand-ins and falls back to llama3-8b, which runs
on a third stand-in (hx-llm01:11435). Time bounds are relative to the same run's healthy load."""

import json

import pytest

import default_gateway as gw
import load
from scenario import ARTIFACTS, master_key, on

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
HANG_SECONDS = 60
RESILIENCE = {}


def stub(host, path, body=None, port=11434):
    data = "" if body is None else " -XPOST -d '%s'" % json.dumps(body)
    return json.loads(on(host, "curl -s%s http://127.0.0.1:%d%s" % (data, port, path)).stdout or "{}")


def inference_count(host, port=11434):
    paths = stub(host, "/_stub/stats", port=port).get("paths", {})
    return sum(v for k, v in paths.items() if k in ("POST /api/chat", "POST /api/generate"))


def reset_backends():
    on("hx-llm02", "systemctl start stub-ollama")
    for host in ("hx-llm01", "hx-llm02"):
        stub(host, "/_stub/reset", {})
    stub("hx-llm01", "/_stub/reset", {}, port=11435)
    # Cooldowns live in the router's memory: a restart starts each case from a clean router.
    gw.on_gateway("systemctl restart litellm")
    gw.wait_until_serving()


def record(case, summary):
    RESILIENCE[case] = summary
    print("\n" + load.line(case, summary))


@pytest.fixture(scope="module")
def resilient_gateway(lab_state):
    """The router settings above, for this module only; the lab's state is put back afterwards."""
    gw.put_back(lab_state)
    on("hx-llm01", "systemd-run --unit stub-fallback /usr/bin/python3 /usr/local/bin/stub_ollama.py "
                   "--host 0.0.0.0 --port 11435 --name hx-llm01-fallback --delay 0.2")
    run = gw.enforce(label="resilient-config", **RESILIENT)
    assert run.returncode == 0, "applying the router settings failed (output above)"
    config = gw.config()
    router = config["router_settings"]
    # Rendered where LiteLLM reads them; the template's validate already loaded them with LiteLLM.
    assert router["fallbacks"] == [{"phi3-3.8b": ["llama3-8b"]}]
    assert router["context_window_fallbacks"] == [{"phi3-3.8b": ["llama3-8b"]}]
    phi3 = [e for e in config["model_list"] if e["model_name"] == "phi3-3.8b"]
    assert [(e["litellm_params"]["rpm"], e["model_info"]["max_input_tokens"]) for e in phi3] == [(100000, 4096)] * 2
    assert (router["allowed_fails"], router["cooldown_time"], router["num_retries"]) == (1, 10, 2)
    url = "http://%s:4000" % gw.ip()
    reset_backends()
    healthy = load.run(url, master_key(), "phi3-3.8b", requests_total=200, concurrency=50, timeout=60)
    record("both backends healthy, 200 requests (the reference)", healthy)
    assert healthy["ok"] == 200, healthy["errors"]
    yield url, healthy
    on("hx-llm01", "systemctl stop stub-fallback")
    on("hx-llm02", "systemctl start stub-ollama")
    for host in ("hx-llm01", "hx-llm02"):
        stub(host, "/_stub/reset", {})
    gw.put_back(lab_state)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "resilience-default.json").write_text(json.dumps(RESILIENCE, indent=2))


@pytest.mark.parametrize("fault", ["error500", "hang", "refused"])
def test_one_failing_backend_is_routed_around_without_client_errors(resilient_gateway, fault):
    url, healthy = resilient_gateway
    reset_backends()
    if fault == "refused":
        on("hx-llm02", "systemctl stop stub-ollama")
    else:
        stub("hx-llm02", "/_stub/mode", {"mode": fault, "seconds": HANG_SECONDS})
    summary = load.run(url, master_key(), "phi3-3.8b", requests_total=200, concurrency=50, timeout=HANG_SECONDS + 30)
    record("one backend %s, 200 requests" % fault, summary)
    assert summary["ok"] == 200, "clients saw errors: %s" % summary["errors"]
    if fault == "hang":
        # Failed over after the configured timeout, on top of what a healthy request took in this
        # run (twice, for a retry queued behind others), never after the backend's 60 s hang.
        bound = RESILIENT["hx_litellm_proxy_timeout"] * 1000 * 2 + 2 * healthy["max_ms"]
        print("hang: max %.0f ms against %.0f ms (2 x timeout + 2 x the healthy max %.0f ms)"
              % (summary["max_ms"], bound, healthy["max_ms"]))
        assert summary["max_ms"] < min(bound, HANG_SECONDS * 1000 / 2), summary
    # Within the cooldown the failing backend gets no more traffic.
    before = inference_count("hx-llm02") if fault != "refused" else 0
    again = load.run(url, master_key(), "phi3-3.8b", requests_total=40, concurrency=20, timeout=HANG_SECONDS + 30)
    record("one backend %s, next 40 (cooldown)" % fault, again)
    assert again["ok"] == 40
    assert set(again["backends"]) == {"http://hx-llm01:11434"}, again["backends"]
    if fault != "refused":
        assert inference_count("hx-llm02") == before, "the failing backend still got traffic during its cooldown"


def test_every_backend_of_an_alias_down_is_served_by_its_fallback_alias(resilient_gateway):
    url, _healthy = resilient_gateway
    reset_backends()
    for host in ("hx-llm01", "hx-llm02"):
        stub(host, "/_stub/mode", {"mode": "error500"})
    summary = load.run(url, master_key(), "phi3-3.8b", requests_total=100, concurrency=25, timeout=60)
    record("every phi3 backend error500, 100 requests", summary)
    assert summary["ok"] == 100, "clients saw errors: %s" % summary["errors"]
    assert set(summary["backends"]) == {"http://hx-llm01:11435"}, summary["backends"]
