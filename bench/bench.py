"""LiteLLM gateway benchmark, run ON a gateway host with the deployed venv's Python
(bench/run.sh copies it there). It never touches the deployed service: it starts its
own zero-latency stand-in backend and its own proxy instances on spare ports, all from
the deployed venv and config, measures them interleaved, and stops them.

Variants (each an own `litellm` process, same config, same zero-latency backend):
  default   LiteLLM's defaults: one worker, default logging (LITELLM_LOG unset)
  tuned     what the role renders: the unit's --num_workers and flags, its environment
  + one variant per tuned setting alone on top of default (what each setting buys)
Plus `direct`: the stand-in backend called without a proxy (the overhead baseline).
An HTTPS gateway's `tuned` serves HTTPS with the deployed certificate, verified with its CA as clients
do (--ca, --tls-name), and `tuned, plain HTTP` is the same without TLS: their ratio is what TLS costs.

Output: a table on stdout and JSON (path given with --json)."""

import argparse
import asyncio
import json
import os
import re
import signal
import ssl
import statistics
import subprocess
import sys
import time

import aiohttp
import yaml

STUB_PORT = 11500
MODEL = "bench-model"
ALIAS = "bench"
# The listener's TLS flags: one setting, never benchmarked apart from each other.
TLS_FLAGS = ("--ssl_certfile_path", "--ssl_keyfile_path")


def deployed(unit_path, config_path):
    """The tuned settings: the deployed unit's ExecStart flags and environment, the config's router settings."""
    unit = open(unit_path).read()
    execstart = re.search(r"^ExecStart=(.*)$", unit, re.M).group(1).split()
    # From the litellm executable on: with JSON logs the venv's python runs it through a wrapper.
    execstart = execstart[[os.path.basename(word) for word in execstart].index("litellm"):]
    flags = {}
    for i, word in enumerate(execstart):
        if word.startswith("--") and word not in ("--config", "--host", "--port"):
            value = execstart[i + 1] if i + 1 < len(execstart) and not execstart[i + 1].startswith("--") else ""
            flags[word] = value
    env = dict(re.findall(r'^Environment="?([A-Z_]+)=([^"\n]*)"?$', unit, re.M))
    config = yaml.safe_load(open(config_path))
    tls = {flag: flags.pop(flag) for flag in TLS_FLAGS if flag in flags}
    return execstart[0], flags, tls, env, config


# litellm_settings the role adds for speed; the `default` variant runs without them (and without
# the role's model_info: token prices spare LiteLLM a failing cost-map lookup per request).
ROLE_TUNING = ("disable_end_user_cost_tracking", "turn_off_message_logging")


def bench_config(config, tuned=True):
    """The deployed config, with the model list replaced by one alias on the zero-latency stand-in.
    tuned=False drops the role's speed settings: litellm_settings in ROLE_TUNING and the
    deployments' model_info (token prices), which leaves LiteLLM's defaults."""
    out = {key: value for key, value in config.items() if key != "model_list"}
    if not tuned:
        out["litellm_settings"] = {k: v for k, v in (out.get("litellm_settings") or {}).items() if k not in ROLE_TUNING}
    router = dict(out.get("router_settings") or {})
    for key in ("redis_host", "redis_port", "redis_password"):
        router.pop(key, None)
    out["router_settings"] = router
    entry = {"model_name": ALIAS, "litellm_params": {
        "model": "ollama_chat/" + MODEL, "api_base": "http://127.0.0.1:%d" % STUB_PORT, "timeout": 30}}
    if tuned:
        # The role's per-deployment model_info (mode, token prices), taken from the deployed config.
        deployed_info = (config.get("model_list") or [{}])[0].get("model_info") or {}
        info = {k: v for k, v in deployed_info.items() if k == "mode" or k.endswith("_cost_per_token")}
        if info:
            entry["model_info"] = info
    out["model_list"] = [entry]
    return out


def variants(flags, env, tls=None):
    base_env = {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_MODE": "PRODUCTION"}
    tuned_env = {k: v for k, v in env.items() if k not in ("HOME", "XDG_CACHE_HOME", "OLLAMA_API_BASE")}
    out = {"default": ({}, base_env), "tuned": (dict(flags, **(tls or {})), dict(base_env, **tuned_env))}
    if tls:
        out["tuned, plain HTTP"] = (flags, dict(base_env, **tuned_env))
    for flag, value in flags.items():
        if flag == "--num_workers" and value == "1":
            continue
        out["default + %s %s" % (flag, value)] = ({flag: value}, base_env)
    for name in ("LITELLM_LOG",):
        if name in tuned_env:
            out["default + %s=%s" % (name, tuned_env[name])] = ({}, dict(base_env, **{name: tuned_env[name]}))
    return out


def start(binary, config_file, port, flags, env, key):
    cmd = [binary, "--config", config_file, "--host", "127.0.0.1", "--port", str(port)]
    for flag, value in flags.items():
        cmd += [flag] + ([value] if value else [])
    environment = dict(os.environ, LITELLM_MASTER_KEY=key, OLLAMA_API_BASE="http://127.0.0.1:%d" % STUB_PORT, **env)
    return subprocess.Popen(cmd, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)


async def wait_ready(url, tls, deadline=300):
    async with aiohttp.ClientSession() as session:
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            try:
                async with session.get(url + "/health/readiness", **tls) as reply:
                    if reply.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.5)
    raise RuntimeError("proxy on %s did not become ready" % url)


async def load(url, body, headers, concurrency, seconds, stream, tls):
    """Closed loop: `concurrency` clients send back to back for `seconds`."""
    latencies, overheads, errors = [], [], 0
    end = time.monotonic() + seconds
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:
        async def client():
            nonlocal errors
            while time.monotonic() < end:
                started = time.monotonic()
                try:
                    async with session.post(url, json=body, headers=headers, **tls) as reply:
                        await reply.read()
                        if reply.status != 200:
                            errors += 1
                            continue
                        overhead = reply.headers.get("x-litellm-overhead-duration-ms")
                        if overhead:
                            overheads.append(float(overhead))
                except (aiohttp.ClientError, asyncio.TimeoutError):
                    errors += 1
                    continue
                latencies.append((time.monotonic() - started) * 1000)
        began = time.monotonic()
        await asyncio.gather(*(client() for _ in range(concurrency)))
        wall = time.monotonic() - began
    return latencies, overheads, errors, wall


def pct(values, q):
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--unit", default="/etc/systemd/system/litellm.service")
    parser.add_argument("--config", default="/etc/litellm/config.yaml")
    parser.add_argument("--stub", default="/var/tmp/hx-bench/stub_ollama.py")
    parser.add_argument("--duration", type=float, default=8.0, help="seconds per cell")
    parser.add_argument("--concurrency", default="1,16,64")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of unmeasured load per target first")
    parser.add_argument("--json", required=True)
    parser.add_argument("--ca", default="/etc/litellm/tls-ca.crt", help="CA an HTTPS gateway is verified with")
    parser.add_argument("--tls-name", default="", help="name the deployed certificate covers (HTTPS gateways)")
    parser.add_argument("--extra", default="{}", help='more variants: {"name": {"flags": {}, "env": {}, '
                        '"litellm_settings": {}, "base": "default"|"tuned"}}, each on top of default unless '
                        'base is tuned (for trying a setting)')
    args = parser.parse_args()
    levels = [int(c) for c in args.concurrency.split(",")]

    binary, flags, tls_flags, env, config = deployed(args.unit, args.config)
    # HTTPS is verified as clients verify it: the deployed CA, and the name the certificate covers.
    tls = {"ssl": ssl.create_default_context(cafile=args.ca), "server_hostname": args.tls_name} if tls_flags else {}
    if tls_flags and not args.tls_name:
        parser.error("the deployed unit serves HTTPS: --tls-name (a name its certificate covers) is needed")
    workdir = os.path.dirname(args.json)
    config_file = os.path.join(workdir, "bench-config.yaml")
    with open(config_file, "w") as handle:
        yaml.safe_dump(bench_config(config), handle)
    default_file = os.path.join(workdir, "bench-config-default.yaml")
    with open(default_file, "w") as handle:
        yaml.safe_dump(bench_config(config, tuned=False), handle)
    key = "sk-bench-" + os.urandom(12).hex()
    procs = [subprocess.Popen([sys.executable, args.stub, "--host", "127.0.0.1", "--port", str(STUB_PORT),
                               "--name", "bench", "--delay", "0"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)]
    plan = variants(flags, env, tls_flags)
    # Only `tuned` runs the role's litellm_settings; `default` and each one-setting variant run without.
    configs = {name: (config_file if name == "tuned" else default_file) for name in plan}
    if bench_config(config) != bench_config(config, tuned=False):
        plan["default + role config (litellm_settings, prices)"] = plan["default"]
        configs["default + role config (litellm_settings, prices)"] = config_file
    for name, extra in json.loads(args.extra).items():
        # On top of default, or with "base": "tuned" on top of what the role deploys.
        on_tuned = extra.get("base") == "tuned"
        base_flags, base_env = plan["tuned" if on_tuned else "default"]
        plan[name] = (dict(base_flags, **extra.get("flags", {})), dict(base_env, **extra.get("env", {})))
        configs[name] = config_file if on_tuned else default_file
        if extra.get("litellm_settings"):
            own = bench_config(config, tuned=on_tuned)
            own["litellm_settings"] = dict(own.get("litellm_settings") or {}, **extra["litellm_settings"])
            configs[name] = os.path.join(workdir, "bench-config-%d.yaml" % len(configs))
            with open(configs[name], "w") as handle:
                yaml.safe_dump(own, handle)
    ports = {name: 4100 + i for i, name in enumerate(plan)}
    try:
        for name, (vflags, venv) in plan.items():
            procs.append(start(binary, configs[name], ports[name], vflags, venv, key))
        bases = {name: ("https" if TLS_FLAGS[0] in plan[name][0] else "http", "127.0.0.1:%d" % port)
                 for name, port in ports.items()}
        for name, (scheme, where) in bases.items():
            await wait_ready("%s://%s" % (scheme, where), tls if scheme == "https" else {})
        chat = {"model": ALIAS, "max_tokens": 16, "messages": [{"role": "user", "content": "ping"}]}
        auth = {"Authorization": "Bearer " + key}
        targets = {"direct": ("http://127.0.0.1:%d/api/chat" % STUB_PORT, {}, {"model": MODEL}, {})}
        for name, (scheme, where) in bases.items():
            targets[name] = ("%s://%s/v1/chat/completions" % (scheme, where), auth, {"model": ALIAS},
                             tls if scheme == "https" else {})
        # Warm-up, not measured: a proxy's first requests pay for lazy imports and connection pools.
        for name, (url, headers, override, via) in targets.items():
            for stream in (False, True):
                await load(url, dict(chat, stream=stream, **override), headers, 8, args.warmup, stream, via)
        cells = []
        # Interleaved: every target runs each cell before any target runs the next one.
        for stream in (False, True):
            for concurrency in levels:
                for name, (url, headers, override, via) in targets.items():
                    body = dict(chat, stream=stream, **override)
                    lat, over, errors, wall = await load(url, body, headers, concurrency, args.duration, stream, via)
                    cells.append({"target": name, "stream": stream, "concurrency": concurrency,
                                  "requests": len(lat), "errors": errors, "rps": round(len(lat) / wall, 1),
                                  "p50_ms": pct(lat, 0.50), "p95_ms": pct(lat, 0.95), "p99_ms": pct(lat, 0.99),
                                  "litellm_overhead_ms_median": round(statistics.median(over), 1) if over else None})
                    print("  measured %-32s stream=%-5s c=%-3d %7.1f req/s  errors %d"
                          % (name, stream, concurrency, cells[-1]["rps"], errors), flush=True)
    finally:
        for proc in procs:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)

    direct = {(c["stream"], c["concurrency"]): c for c in cells if c["target"] == "direct"}
    for cell in cells:
        base = direct[(cell["stream"], cell["concurrency"])]
        if cell["target"] != "direct" and cell["p50_ms"] is not None and base["p50_ms"] is not None:
            cell["overhead_p50_ms"] = round(cell["p50_ms"] - base["p50_ms"], 1)
            cell["overhead_p95_ms"] = round(cell["p95_ms"] - base["p95_ms"], 1)
            cell["overhead_p99_ms"] = round(cell["p99_ms"] - base["p99_ms"], 1)
    by = {(c["target"], c["stream"], c["concurrency"]): c for c in cells}
    top = max(levels)
    ratios = {}
    for stream in (False, True):
        tuned, default = by[("tuned", stream, top)], by[("default", stream, top)]
        ratios["stream" if stream else "non-stream"] = round(tuned["rps"] / default["rps"], 2) if default["rps"] else None
    if tls_flags:  # what TLS costs: the deployed HTTPS listener over the same settings in plain HTTP
        for stream in (False, True):
            plain = by[("tuned, plain HTTP", stream, top)]["rps"]
            ratios["https/plain " + ("stream" if stream else "non-stream")] = (
                round(by[("tuned", stream, top)]["rps"] / plain, 2) if plain else None)
    ablation = {name: round(by[(name, False, top)]["rps"] / by[("default", False, top)]["rps"], 2)
                for name in plan if name != "default" and by[("default", False, top)]["rps"]}
    result = {"host": os.uname().nodename, "cpus": os.cpu_count(), "duration_per_cell_s": args.duration,
              "tls": bool(tls_flags),
              "tuned_settings": {"flags": dict(flags, **tls_flags), "environment": {k: v for k, v in env.items() if "KEY" not in k}},
              "variants": {name: {"flags": f, "environment": e, "config": os.path.basename(configs[name])}
                           for name, (f, e) in plan.items()},
              "cells": cells, "tuned_over_default_at_c%d" % top: ratios, "ablation_rps_ratio_at_c%d_non_stream" % top: ablation}
    with open(args.json, "w") as handle:
        json.dump(result, handle, indent=2)

    print("\n%-34s %-6s %4s %8s %6s %8s %8s %8s %10s %12s" % (
        "target", "stream", "c", "req/s", "errors", "p50 ms", "p95 ms", "p99 ms", "overhead", "litellm ms"))
    for c in cells:
        print("%-34s %-6s %4d %8.1f %6d %8s %8s %8s %10s %12s" % (
            c["target"], c["stream"], c["concurrency"], c["rps"], c["errors"], c["p50_ms"], c["p95_ms"], c["p99_ms"],
            c.get("overhead_p50_ms", "-"), c["litellm_overhead_ms_median"] or "-"))
    print("\ntuned / default throughput at c=%d: %s" % (top, ratios))
    print("each setting alone over default (non-stream, c=%d): %s" % (top, ablation))


if __name__ == "__main__":
    asyncio.run(main())
