"""Bounded memory: the unit carries MemoryMax=/MemoryHigh= as the role derives them from the host's
memory and the worker count, the kernel enforces MemoryMax= (cgroup v1: memory.limit_in_bytes), and
under a few minutes of steady load each worker's memory levels off.

What the soak measures and why the bound (docs/performance.md, "Memory"): after a restart, WARM_UP
seconds of load bring each worker to its working set (LiteLLM fills caches on its first requests:
~310 -> ~360 MiB, measured), then MEASURE seconds of the same load follow, sampled every SAMPLE
seconds. The growth that matters is the slope of a worker's RSS against the requests it served in
that second phase (least squares, so one allocator step does not decide). Worker recycling
(hx_litellm_proxy_max_requests_before_restart, 10000 in the lab) replaces a worker after that many
requests; the test fails if a worker growing at its measured slope would leave the per-worker budget
the default MemoryMax= is built from (_hx_litellm_proxy_memory_worker_budget_mb, 768 MiB: twice the
measured working set) before it is recycled: RSS after warm-up + slope x limit > budget, a slope
above ~41 KiB per request. Measured on this lab: 2.8 KiB per request (one step of 3.6 MiB in both
workers a minute into the load, flat otherwise), a projection of 392 MiB. Time and requests are both
capped (about three minutes with the restart, at most MAX_REQUESTS); the samples go to
.artifacts/soak-rss.json, which bench/soak_plot.py draws."""

import concurrent.futures
import json
import threading
import time

import requests
import yaml

from default_gateway import ROOT, on_gateway, wait_until_serving
from scenario import ARTIFACTS, master_key

WARM_UP = 30
MEASURE = 120
SAMPLE = 5
CONCURRENCY = 6
MAX_REQUESTS = 9000
MIB = 1024 * 1024
VARS = yaml.safe_load((ROOT / "roles/hx_litellm_proxy/vars/main.yml").read_text())
# Every process of the service with its parent and RSS (KiB).
PROCESSES = "ps -o pid=,ppid=,rss=,args= -u litellm"


def processes():
    rows = {}
    for line in on_gateway(PROCESSES).stdout.splitlines():
        pid, ppid, rss, args = line.split(None, 3)
        rows[pid] = {"ppid": ppid, "rss_kib": int(rss), "args": args}
    return rows


def workers(rows):
    return sorted(pid for pid, row in rows.items() if "multiprocessing.spawn" in row["args"])


def slope(xs, ys):
    """Least-squares slope of ys over xs."""
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    var = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / var if var else 0.0


def cgroup_memory(pid):
    """The service's memory limits as the kernel holds them: cgroup v1's memory controller or v2's files."""
    lines = on_gateway("cat /proc/%s/cgroup" % pid).stdout.splitlines()
    v1 = [line.split(":", 2)[2] for line in lines if line.split(":")[1] == "memory"]
    if v1:
        base = "/sys/fs/cgroup/memory" + v1[0]
        names = {"max": "memory.limit_in_bytes", "peak": "memory.max_usage_in_bytes", "oom": "memory.oom_control"}
    else:
        base = "/sys/fs/cgroup" + [line.split(":", 2)[2] for line in lines if line.startswith("0::")][0]
        names = {"max": "memory.max", "high": "memory.high", "peak": "memory.peak", "oom": "memory.events"}
    out = {"version": 1 if v1 else 2}
    for name, file in names.items():
        out[name] = on_gateway("cat %s/%s" % (base, file)).stdout.strip()
    return out


def expected_limits(workers_count):
    """MemoryMax= and MemoryHigh= (MiB) as vars/main.yml derives them for this host."""
    memtotal_mb = int(on_gateway("awk '/MemTotal/ {print $2}' /proc/meminfo").stdout) // 1024
    base, worker, budget = (VARS["_hx_litellm_proxy_memory_%s_mb" % n] for n in ("base", "worker", "worker_budget"))
    floor = base + workers_count * worker
    high_cap = memtotal_mb * 3 // 4
    top = max(min(base + workers_count * budget, high_cap), floor)
    return top, (floor + (top - floor) * 3 // 4) if top > floor else 0


def test_the_unit_limits_memory_and_workers_level_off_under_steady_load(gateway):
    execstart = on_gateway("systemctl show -p ExecStart --value litellm").stdout
    argv = execstart.split("argv[]=")[1].split(" ;")[0].split()
    num_workers = int(argv[argv.index("--num_workers") + 1])
    recycle_after = int(argv[argv.index("--max_requests_before_restart") + 1])
    budget_mib = VARS["_hx_litellm_proxy_memory_worker_budget_mb"]

    # The limits in the unit, as the role derives them for this host and worker count.
    shown = dict(line.split("=", 1) for line in on_gateway(
        "systemctl show litellm -p MemoryMax -p MemoryHigh -p OOMPolicy").stdout.split())
    top, high = expected_limits(num_workers)
    assert shown == {"MemoryMax": str(top * MIB), "MemoryHigh": str(high * MIB), "OOMPolicy": "continue"}, shown

    assert on_gateway("systemctl restart litellm").returncode == 0
    wait_until_serving()
    main_pid = on_gateway("systemctl show -p MainPID --value litellm").stdout.strip()
    # What the kernel enforces: MemoryMax= on v1 and v2, MemoryHigh= on v2 only.
    kernel = cgroup_memory(main_pid)
    assert int(kernel["max"]) == top * MIB, kernel
    if kernel["version"] == 2:
        assert int(kernel["high"]) == high * MIB, kernel
    at_start = processes()
    pids = workers(at_start)
    assert len(pids) == num_workers, at_start

    alias = yaml.safe_load((ROOT / "tests/lab/group_vars/all/main.yml").read_text())["hx_litellm_proxy_models"][0]["name"]
    url, key = "http://%s:4000/v1/chat/completions" % gateway.ip(), master_key()
    sent, failed, lock, stop = [0], [], threading.Lock(), threading.Event()

    def load():
        while not stop.is_set():
            with lock:
                if sent[0] >= MAX_REQUESTS:
                    return
                sent[0] += 1
            try:
                # A new connection each time, so the kernel spreads the requests over the workers.
                answer = requests.post(url, headers={"Authorization": "Bearer " + key, "Connection": "close"}, timeout=60,
                                       json={"model": alias, "max_tokens": 4, "messages": [{"role": "user", "content": "soak"}]})
                if answer.status_code != 200:
                    failed.append(answer.status_code)
            except requests.RequestException as error:
                failed.append(repr(error))

    samples = []
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(CONCURRENCY) as pool:
        for _ in range(CONCURRENCY):
            pool.submit(load)
        try:
            while time.monotonic() - started < WARM_UP + MEASURE and sent[0] < MAX_REQUESTS:
                time.sleep(SAMPLE)
                rows = processes()
                samples.append({"t": round(time.monotonic() - started, 1), "requests": sent[0],
                                "rss_kib": {pid: rows[pid]["rss_kib"] for pid in pids if pid in rows},
                                "service_rss_kib": sum(row["rss_kib"] for row in rows.values())})
        finally:
            stop.set()
    elapsed = time.monotonic() - started
    after = cgroup_memory(main_pid)

    assert failed == [], "requests failed during the soak: %s" % failed[:10]
    assert workers(processes()) == pids, "a worker was replaced during the soak (crash, OOM kill or recycling)"
    measured = [s for s in samples if s["t"] >= WARM_UP]
    assert len(measured) >= 10, "too few samples after the warm-up: %s" % samples
    report = {"warm_up_s": WARM_UP, "measure_s": MEASURE, "elapsed_s": round(elapsed, 1), "requests": sent[0],
              "concurrency": CONCURRENCY, "workers": num_workers, "recycle_after": recycle_after,
              "worker_budget_mib": budget_mib, "memory_max_mib": top, "memory_high_mib": high,
              "cgroup": kernel["version"], "cgroup_peak_mib": round(int(after["peak"]) / MIB, 1) if after["peak"].isdigit() else None,
              "at_start_kib": {pid: at_start[pid]["rss_kib"] for pid in pids},
              "main_kib": {pid: row["rss_kib"] for pid, row in at_start.items() if pid not in pids},
              "samples": samples, "workers_summary": {}}
    for pid in pids:
        xs = [s["requests"] / num_workers for s in measured]
        ys = [s["rss_kib"][pid] for s in measured]
        per_request_kib = slope(xs, ys)
        per_minute_kib = slope([s["t"] / 60 for s in measured], ys)
        projected_mib = (ys[0] + per_request_kib * recycle_after) / 1024
        report["workers_summary"][pid] = {
            "start_mib": round(at_start[pid]["rss_kib"] / 1024, 1), "warm_mib": round(ys[0] / 1024, 1),
            "end_mib": round(ys[-1] / 1024, 1), "kib_per_request": round(per_request_kib, 3),
            "kib_per_minute": round(per_minute_kib, 1), "projected_at_recycle_mib": round(projected_mib, 1)}
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "soak-rss.json").write_text(json.dumps(report, indent=1))
    print("soak: %d requests in %.0f s (%.1f/s); per worker: %s; cgroup v%d peak %s MiB of MemoryMax %d MiB" % (
        sent[0], elapsed, sent[0] / elapsed, json.dumps(report["workers_summary"]), kernel["version"],
        report["cgroup_peak_mib"], top))

    for pid, summary in report["workers_summary"].items():
        assert summary["projected_at_recycle_mib"] <= budget_mib, (
            "worker %s grows %.2f KiB per request: after %d requests, when it is recycled, it would hold %.0f MiB, "
            "above the %d MiB per worker that MemoryMax= is built from" % (
                pid, summary["kib_per_request"], recycle_after, summary["projected_at_recycle_mib"], budget_mib))
    # The service stayed below its limit, and the kernel killed nothing.
    if report["cgroup_peak_mib"] is not None:
        assert report["cgroup_peak_mib"] < top, report["cgroup_peak_mib"]
    assert "oom_kill 0" in after["oom"], after["oom"]
