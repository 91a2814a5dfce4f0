#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hx.litellm contributors
# Apache License 2.0 (see LICENSE)
"""Acceptance probe of a LiteLLM gateway (read-only: it only sends requests)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: gateway_probe
short_description: Acceptance checks of a LiteLLM proxy over its OpenAI-compatible API
version_added: 0.1.0
author: hx.litellm contributors (!UNKNOWN)
description:
  - Sends read-only requests to a LiteLLM proxy and reports one check per line with PASS or FAIL,
    plus a transcript of every request (status, serving backend, latency, error class, retry-after,
    correlation id). Never records a response body or the key.
  - Checks readiness, C(/v1/models) without the key (401) and with it (exactly the expected aliases),
    a completion and a streaming completion per alias, and a fan-out of concurrent requests per alias
    whose distribution across backends comes from the C(x-litellm-model-api-base) header.
  - The module never fails on a failed check; it returns C(failed_checks) so the caller can write its
    evidence before it stops.
options:
  base_url:
    description: Proxy base URL, e.g. C(http://gateway:4000).
    type: str
    required: true
  api_key:
    description: Master key (or a virtual key) sent as a Bearer token.
    type: str
    required: true
  aliases:
    description: Aliases the proxy must serve, exactly.
    type: list
    elements: str
    required: true
  backends:
    description: Per alias, the backend C(api_base) URLs that must each receive traffic in the fan-out.
    type: dict
    default: {}
  fanout_requests:
    description: Concurrent requests per alias in the fan-out check; 0 skips it.
    type: int
    default: 10
  concurrency:
    description: Requests in flight at once during the fan-out.
    type: int
    default: 5
  expected_version:
    description: LiteLLM version the C(x-litellm-version) header must carry; empty to skip.
    type: str
    default: ""
  timeout:
    description: Seconds to wait for one response.
    type: float
    default: 60
  ca_pem:
    description:
      - PEM of the CA an HTTPS gateway's certificate is verified with, as clients verify it (host name
        included), besides the system trust store; empty uses the system trust store alone.
    type: str
    default: ""
"""

EXAMPLES = r"""
- name: Probe the gateway
  hx.litellm.gateway_probe:
    base_url: http://127.0.0.1:4000
    api_key: "{{ hx_litellm_proxy_master_key }}"
    aliases: [llama3-8b]
    backends: {llama3-8b: [http://ollama-1:11434, http://ollama-2:11434]}
    fanout_requests: 20
"""

RETURN = r"""
checks:
  description: One entry per check (name, alias, status PASS/FAIL, detail, measured values).
  type: list
  returned: always
requests:
  description: Transcript of every request (no bodies, no key).
  type: list
  returned: always
failed_checks:
  description: Number of checks that did not pass.
  type: int
  returned: always
"""

import json
import os
import ssl
import tempfile
import time
import urllib.error
from concurrent.futures import ThreadPoolExecutor

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.urls import open_url


class Probe:
    def __init__(self, base_url, key, timeout, ca_path=None):
        self.base_url = base_url.rstrip("/")
        self.key = key
        self.timeout = timeout
        self.ca_path = ca_path
        self.transcript = []

    def call(self, label, alias, method, path, body=None, auth=True, stream=False):
        """One request; returns (status, headers, parsed JSON or SSE events) and logs it."""
        headers = {"Content-Type": "application/json", "X-Correlation-Id": "hx-smoke-%d" % len(self.transcript)}
        if auth:
            headers["Authorization"] = "Bearer " + self.key
        data = json.dumps(body).encode() if body is not None else None
        started = time.monotonic()
        status, resp_headers, payload, error_class, error_detail = 0, {}, None, None, None
        try:
            # use_netrc=False: a ~/.netrc entry for the gateway must not replace the Bearer header.
            with open_url(self.base_url + path, data=data, headers=headers, method=method,
                          timeout=self.timeout, use_netrc=False, validate_certs=True, ca_path=self.ca_path) as resp:
                status, resp_headers = resp.status, dict(resp.headers)
                raw = resp.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as err:
            status, resp_headers = err.code, dict(err.headers or {})
            raw = err.read().decode("utf-8", "replace")
        except Exception as err:  # connection refused, timeout, DNS, a certificate not trusted: "no answer"
            raw, error_class = "", type(getattr(err, "reason", err)).__name__
            # Why there was no answer, e.g. the certificate verify failure, for the operator.
            error_detail = str(getattr(err, "reason", err))[:300]
        latency_ms = round((time.monotonic() - started) * 1000, 1)
        if stream and status == 200:
            payload = [line[6:] for line in raw.splitlines() if line.startswith("data: ")]
        else:
            try:
                payload = json.loads(raw) if raw else None
            except ValueError:
                payload = None
        if status and status != 200 and error_class is None:
            err = (payload or {}).get("error") if isinstance(payload, dict) else None
            error_class = (err or {}).get("type") if isinstance(err, dict) else None
            error_class = error_class or "HTTP%d" % status
        lower = {k.lower(): v for k, v in resp_headers.items()}
        self.transcript.append({
            "check": label, "alias": alias, "method": method, "path": path, "status": status,
            "latency_ms": latency_ms, "backend": lower.get("x-litellm-model-api-base"),
            "litellm_version": lower.get("x-litellm-version"),
            "error_class": error_class, "error_detail": error_detail, "retry_after": lower.get("retry-after"),
            "correlation_id": lower.get("x-litellm-call-id"),
        })
        return status, lower, payload


def _percentile(values, pct):
    ordered = sorted(values)
    if not ordered:
        return None
    index = min(len(ordered) - 1, int(round(pct / 100.0 * (len(ordered) - 1))))
    return ordered[index]


def run(params, ca_path=None):
    probe = Probe(params["base_url"], params["api_key"], params["timeout"], ca_path)
    checks = []

    def check(name, ok, detail, alias=None, **values):
        entry = {"check": name, "alias": alias, "status": "PASS" if ok else "FAIL", "detail": detail}
        entry.update(values)
        checks.append(entry)

    status, _headers, payload = probe.call("readiness", None, "GET", "/health/readiness", auth=False)
    healthy = status == 200 and isinstance(payload, dict) and payload.get("status") == "healthy"
    check("readiness", healthy, "GET /health/readiness -> %s %s" % (
        status, (payload or {}).get("status") if isinstance(payload, dict) else probe.transcript[-1]["error_detail"] or ""))

    status, _headers, _payload = probe.call("models_without_key", None, "GET", "/v1/models", auth=False)
    check("models_without_key", status == 401, "GET /v1/models without key -> %s (want 401)" % status)

    status, _headers, payload = probe.call("models_with_key", None, "GET", "/v1/models")
    served = sorted(m.get("id") for m in (payload or {}).get("data", [])) if isinstance(payload, dict) else []
    want = sorted(params["aliases"])
    check("models_with_key", status == 200 and served == want,
          "GET /v1/models -> %s, serves %s, configured %s" % (status, served, want), served=served)

    versions = set()
    for alias in want:
        msg = {"model": alias, "messages": [{"role": "user", "content": "ping"}], "max_tokens": 16}
        status, headers, payload = probe.call("completion", alias, "POST", "/v1/chat/completions", msg)
        content = None
        if status == 200 and isinstance(payload, dict):
            choices = payload.get("choices") or [{}]
            content = (choices[0].get("message") or {}).get("content")
            versions.add(headers.get("x-litellm-version"))
        check("completion", status == 200 and bool(content), "non-streaming completion -> %s" % status,
              alias=alias, backend=headers.get("x-litellm-model-api-base"),
              latency_ms=probe.transcript[-1]["latency_ms"])

        status, headers, events = probe.call("stream", alias, "POST", "/v1/chat/completions",
                                             dict(msg, stream=True), stream=True)
        chunks = [e for e in (events or []) if e != "[DONE]"] if isinstance(events, list) else []
        done = isinstance(events, list) and bool(events) and events[-1] == "[DONE]"
        check("stream", status == 200 and done and len(chunks) > 0,
              "streaming completion -> %s, %d chunks, %s" % (status, len(chunks), "[DONE]" if done else "no [DONE]"),
              alias=alias, backend=headers.get("x-litellm-model-api-base"),
              latency_ms=probe.transcript[-1]["latency_ms"])

        count = params["fanout_requests"]
        if count > 0:
            first = len(probe.transcript)
            with ThreadPoolExecutor(max_workers=max(1, params["concurrency"])) as pool:
                list(pool.map(lambda _request: probe.call("fanout", alias, "POST", "/v1/chat/completions", msg),
                              range(count)))
            batch = probe.transcript[first:]
            ok_batch = [r for r in batch if r["status"] == 200]
            required = params["backends"].get(alias) or []
            spread = {}
            for r in ok_batch:
                spread[r["backend"]] = spread.get(r["backend"], 0) + 1
            for backend in required:
                spread.setdefault(backend, 0)
            starved = sorted(b for b in required if spread.get(b, 0) == 0)
            latencies = [r["latency_ms"] for r in batch]
            check("fanout", len(ok_batch) == count and not starved,
                  "%d/%d answered 200; distribution %s%s" % (
                      len(ok_batch), count, json.dumps(spread, sort_keys=True),
                      "; no traffic to " + ", ".join(starved) if starved else ""),
                  alias=alias, distribution=spread,
                  p50_ms=_percentile(latencies, 50), p95_ms=_percentile(latencies, 95), max_ms=max(latencies))

    if params["expected_version"]:
        check("version", versions == {params["expected_version"]},
              "x-litellm-version %s, expected %s" % (sorted(v for v in versions if v) or "none", params["expected_version"]))

    return checks, probe.transcript


def main():
    module = AnsibleModule(
        argument_spec=dict(
            base_url=dict(type="str", required=True),
            api_key=dict(type="str", required=True, no_log=True),
            aliases=dict(type="list", elements="str", required=True),
            backends=dict(type="dict", default={}),
            fanout_requests=dict(type="int", default=10),
            concurrency=dict(type="int", default=5),
            expected_version=dict(type="str", default=""),
            timeout=dict(type="float", default=60),
            ca_pem=dict(type="str", default=""),
        ),
        supports_check_mode=True,
    )
    ca_path = None
    if module.params["ca_pem"]:
        # open_url reads CAs from one file, which replaces the system store: a private temporary file
        # with the gateway's CA and the system's, so a load balancer with a public certificate in front
        # (hx_litellm_smoke_base_url) is trusted too. Removed when the module exits.
        handle, ca_path = tempfile.mkstemp(prefix="hx-litellm-ca-", suffix=".pem")
        system = ssl.get_default_verify_paths().cafile
        with os.fdopen(handle, "w") as out:
            out.write(module.params["ca_pem"].strip() + "\n")
            if system and os.path.isfile(system):
                with open(system) as bundle:
                    out.write(bundle.read())
        module.add_cleanup_file(ca_path)
    checks, transcript = run(module.params, ca_path)
    module.exit_json(changed=False, checks=checks, requests=transcript,
                     failed_checks=sum(1 for c in checks if c["status"] != "PASS"))


if __name__ == "__main__":
    main()
