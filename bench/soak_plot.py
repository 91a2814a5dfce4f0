"""Draw each worker's memory over the soak test (tests/integration/test_soak.py) as a PNG.

    python bench/soak_plot.py [.artifacts/soak-rss.json] [docs/bench/soak-rss.png]

Needs matplotlib, which the collection's own venv does not carry: run it from any Python with
`pip install matplotlib`. The input is the JSON artifact the soak test writes; the plot shows each
worker's RSS against time, its RSS right after the start, the end of the warm-up, and the per-worker
budget the default MemoryMax= is built from, with the test's figures in the title.
"""

import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main(source=".artifacts/soak-rss.json", target="docs/bench/soak-rss.png"):
    with open(source) as handle:
        report = json.load(handle)
    fig, ax = plt.subplots(figsize=(8, 4.2), dpi=110)
    for number, (pid, summary) in enumerate(sorted(report["workers_summary"].items()), 1):
        times = [0.0] + [s["t"] for s in report["samples"]]
        rss = [report["at_start_kib"][pid] / 1024] + [s["rss_kib"][pid] / 1024 for s in report["samples"]]
        ax.plot(times, rss, marker=".", label="worker %d: %+.2f KiB/request after warm-up" % (
            number, summary["kib_per_request"]))
    ax.axvline(report["warm_up_s"], color="grey", linestyle=":", label="end of warm-up")
    ax.axhline(report["worker_budget_mib"], color="red", linestyle="--",
               label="per-worker budget of MemoryMax= (%d MiB)" % report["worker_budget_mib"])
    ax.set_ylim(0, report["worker_budget_mib"] * 1.1)
    ax.set_xlabel("seconds since the first request (time 0: right after the restart)")
    ax.set_ylabel("RSS (MiB)")
    ax.set_title("LiteLLM workers under steady load: %d requests in %.0f s, %d clients, cgroup v%d" % (
        report["requests"], report["elapsed_s"], report["concurrency"], report["cgroup"]), fontsize=10)
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(target)
    print("wrote %s" % target)


if __name__ == "__main__":
    main(*sys.argv[1:])
