"""A small load driver for the resilience tests: N chat completions through the proxy,
C at a time, with what an operator would graph: error rate, latency percentiles and
which backend served each request (LiteLLM's x-litellm-model-api-base header)."""

import collections
import concurrent.futures
import time

import requests


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))] if ordered else None


def one(session, url, key, alias, timeout):
    started = time.monotonic()
    try:
        reply = session.post(url, headers={"Authorization": "Bearer " + key}, timeout=timeout,
                             json={"model": alias, "max_tokens": 8, "messages": [{"role": "user", "content": "ping"}]})
        status, backend = reply.status_code, reply.headers.get("x-litellm-model-api-base", "?")
        model = reply.json().get("model", "?") if status == 200 else None
    except requests.RequestException as error:
        status, backend, model = type(error).__name__, None, None
    return {"status": status, "backend": backend, "model": model, "ms": round((time.monotonic() - started) * 1000, 1)}


def run(base_url, key, alias, requests_total=200, concurrency=50, timeout=60.0):
    """Fire the requests and return a summary dict (no key in it)."""
    url = base_url.rstrip("/") + "/v1/chat/completions"
    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=concurrency))
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(lambda _: one(session, url, key, alias, timeout), range(requests_total)))
    wall = time.monotonic() - started
    latencies = [r["ms"] for r in results]
    errors = collections.Counter(str(r["status"]) for r in results if r["status"] != 200)
    return {
        "alias": alias, "requests": requests_total, "concurrency": concurrency,
        "ok": sum(1 for r in results if r["status"] == 200), "errors": dict(errors),
        "error_rate": round(sum(errors.values()) / requests_total, 4),
        "p50_ms": percentile(latencies, 0.50), "p95_ms": percentile(latencies, 0.95),
        "max_ms": max(latencies), "wall_s": round(wall, 2),
        "backends": dict(collections.Counter(r["backend"] for r in results if r["status"] == 200)),
    }


def line(case, summary):
    return ("%-34s %4d/%d ok, error rate %.1f%%, p50 %s ms, p95 %s ms, max %s ms, served by %s"
            % (case, summary["ok"], summary["requests"], 100 * summary["error_rate"], summary["p50_ms"],
               summary["p95_ms"], summary["max_ms"], summary["backends"]))
