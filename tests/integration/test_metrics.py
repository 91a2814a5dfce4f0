"""Prometheus metrics as an on-call engineer gets them: the lab gateway runs with
hx_litellm_proxy_metrics (tests/lab/group_vars), the role writes the scrape config, and a real
Prometheus server (Debian's `prometheus` package, on a backend host of the scenario) scrapes the
gateway with the master key from a file. K requests per alias through the gateway's two workers must
show up in Prometheus' query API as exactly K more per alias."""

import concurrent.futures
import json
import subprocess
import time
import urllib.parse

import pytest
import requests
import yaml

from default_gateway import GATEWAY, PINNED
from scenario import ARTIFACTS, container_ip, master_key, on

PROMETHEUS_HOST = "hx-llm02"
PER_ALIAS = 15
COUNTER = "litellm_proxy_total_requests_metric_total"


def query(expression):
    url = "http://%s:9090/api/v1/query?query=%s" % (container_ip(PROMETHEUS_HOST), urllib.parse.quote(expression))
    answer = requests.get(url, timeout=10).json()
    assert answer["status"] == "success", answer
    return answer["data"]["result"]


def per_alias():
    found = query('sum by (requested_model) (%s)' % COUNTER)
    return {r["metric"].get("requested_model"): int(float(r["value"][1])) for r in found}


# Each live worker's own count of proxied requests, from the files prometheus_client keeps per process.
PER_WORKER = r"""
import glob, json, os
from prometheus_client.mmap_dict import MmapedDict
counts = {}
for path in glob.glob("/run/litellm/prometheus/counter_*.db"):
    pid = path.rsplit("_", 1)[1][:-3]
    if not os.path.exists("/proc/%s" % pid):
        continue
    total = 0.0
    for key, value, *_rest in MmapedDict.read_all_values_from_file(path):
        metric, _sample, labels = json.loads(key)[:3]
        if metric == "litellm_proxy_total_requests_metric" and labels.get("requested_model") not in (None, "", "None"):
            total += value
    counts[pid] = total
print(json.dumps(counts))
"""


def per_worker(gateway):
    proc = subprocess.run(["docker", "exec", "-i", GATEWAY, "/opt/litellm/venvs/%s/bin/python" % PINNED, "-"],
                          input=PER_WORKER, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout)


def wait_for(predicate, seconds, what):
    deadline, last = time.monotonic() + seconds, None
    while time.monotonic() < deadline:
        try:
            last = predicate()
        except (requests.RequestException, ValueError, KeyError) as error:  # Prometheus (re)starting
            last = error
        else:
            if last:
                return last
        time.sleep(1)
    raise AssertionError("%s within %ss (last: %r)" % (what, seconds, last))


@pytest.fixture(scope="module")
def prometheus(lab_state, tmp_path_factory):
    """The role's scrape config, installed on a real Prometheus (Debian's package) beside the key file."""
    import default_gateway as gw
    gw.put_back(lab_state)
    snippet = tmp_path_factory.mktemp("prometheus") / "litellm-scrape.yml"
    before = gw.live_files()
    run = gw.enforce(label="scrape-config", hx_litellm_proxy_scrape_config=str(snippet))
    assert run.returncode == 0, "enforce with hx_litellm_proxy_scrape_config failed (output above)"
    written = [t["task"] for t in run.on(GATEWAY, action="ansible.builtin.template", status="changed")]
    assert [t for t in written if "scrape config" in t] and gw.live_files() == before, written
    scrape = yaml.safe_load(snippet.read_text())
    installed = on(PROMETHEUS_HOST, "DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "
                                    "prometheus >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive "
                                    "apt-get install -y -qq --no-install-recommends prometheus) >/dev/null 2>&1; "
                                    "prometheus --version 2>&1 | head -1")
    assert "prometheus, version" in installed.stdout, installed.stdout + installed.stderr
    config = dict(scrape, **{"global": {"scrape_interval": "2s", "evaluation_interval": "2s"}})
    # The key through stdin: never on a command line.
    keyed = subprocess.run(["docker", "exec", "-i", PROMETHEUS_HOST, "sh", "-c",
                            "umask 027; cat > /etc/prometheus/litellm-master-key; chgrp prometheus /etc/prometheus/litellm-master-key"],
                           input=master_key(), capture_output=True, text=True)
    assert keyed.returncode == 0, keyed.stderr
    written = subprocess.run(["docker", "exec", "-i", PROMETHEUS_HOST, "sh", "-c",
                              "cat > /etc/prometheus/prometheus.yml && promtool check config /etc/prometheus/prometheus.yml"
                              " && systemctl restart prometheus"], input=yaml.safe_dump(config), capture_output=True, text=True)
    assert written.returncode == 0, written.stdout + written.stderr
    wait_for(lambda: [r for r in query('up{job="litellm"}') if r["value"][1] == "1"], 90,
             "Prometheus does not see the gateway up")
    yield {"scrape": scrape, "version": installed.stdout.strip()}
    on(PROMETHEUS_HOST, "systemctl stop prometheus")


def test_prometheus_counts_every_request_per_alias_across_both_workers(gateway, prometheus):
    job = prometheus["scrape"]["scrape_configs"][0]
    assert job["metrics_path"] == "/metrics/" and job["static_configs"][0]["targets"] == ["%s:4000" % GATEWAY]
    assert job["authorization"] == {"type": "Bearer", "credentials_file": "litellm-master-key"}
    workers = gateway.on_gateway("systemctl show -p ExecStart --value litellm").stdout
    assert "--num_workers 2" in workers, workers
    # Without the key, no metrics.
    assert gateway.status("/metrics/") == 401
    aliases = sorted(m["name"] for m in yaml.safe_load(
        (gateway.ROOT / "tests/lab/group_vars/all/main.yml").read_text())["hx_litellm_proxy_models"])
    before, workers_before = per_alias(), per_worker(gateway)
    url, key = "http://%s:4000/v1/chat/completions" % gateway.ip(), master_key()

    def send(alias):
        # A new connection each time, several at once, so both workers take requests.
        answer = requests.post(url, headers={"Authorization": "Bearer " + key, "Connection": "close"}, timeout=60,
                               json={"model": alias, "max_tokens": 4, "messages": [{"role": "user", "content": "ping"}]})
        return answer.status_code

    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        statuses = list(pool.map(send, [alias for alias in aliases for _ in range(PER_ALIAS)]))
    assert statuses == [200] * len(statuses), statuses
    want = {alias: before.get(alias, 0) + PER_ALIAS for alias in aliases}
    counted = wait_for(lambda: (lambda now: now if all(now.get(a, 0) >= want[a] for a in aliases) else None)(per_alias()),
                       60, "Prometheus does not count the requests")
    time.sleep(5)  # two more scrapes: nothing counted twice
    after, workers_after = per_alias(), per_worker(gateway)
    served = {pid: workers_after[pid] - workers_before.get(pid, 0) for pid in workers_after}
    figures = {"prometheus": prometheus["version"], "per_alias": PER_ALIAS, "before": before, "after": after,
               "served_per_worker": served}
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "metrics.json").write_text(json.dumps(figures, indent=1))
    print("Prometheus scrape: %s" % json.dumps(figures))
    assert {a: after[a] - before.get(a, 0) for a in aliases} == {a: PER_ALIAS for a in aliases}, (before, counted, after)
    # Both workers served some, and what each counted adds up to what Prometheus reports.
    assert len([pid for pid, count in served.items() if count > 0]) >= 2, served
    assert sum(served.values()) == PER_ALIAS * len(aliases), served
