"""Logs an aggregator can parse (hx_litellm_proxy_json_logs, on in the lab): every line the service
writes to the journal is one JSON object with a timestamp, a level and a message, and none holds the
master key or a request's content. The journal checked covers a restart (the stop of one instance,
the start of the next with LiteLLM's banner and other plain prints), a worker killed and replaced as the OOM killer would
end one, and requests that succeed and fail."""

import datetime
import json
import time
import uuid

import requests
import yaml

from default_gateway import ROOT, on_gateway, wait_until_serving
from scenario import master_key

WORKERS = "ps -o pid=,args= -u litellm | awk '/multiprocessing.spawn/ {print $1}'"
# LiteLLM's ASCII-art banner, printed as plain text by every worker as it starts.
BANNER = "██╗     ██╗████████╗"


def journal_after(cursor):
    """Every journal entry about the unit since cursor (`journalctl -u litellm -o json`)."""
    out = on_gateway("journalctl -u litellm -o json --no-pager --after-cursor='%s'" % cursor).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def message(entry):
    """MESSAGE as text; journald stores one with control characters as a list of bytes."""
    value = entry.get("MESSAGE", "")
    return bytes(value).decode("utf-8", "replace") if isinstance(value, list) else value


def wait_for(predicate, seconds, what):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(1)
    raise AssertionError("%s within %ss" % (what, seconds))


def test_every_line_the_service_writes_is_json_without_the_key_or_a_request(gateway):
    unit = on_gateway("cat /etc/systemd/system/litellm.service").stdout
    assert "Environment=JSON_LOGS=true" in unit and "/libexec/json_lines.py " in unit, "the lab runs without JSON logs"
    cursor = on_gateway("journalctl -u litellm -n 0 --show-cursor --no-pager").stdout.split("-- cursor: ")[1].strip()

    # A worker killed as the OOM killer would end one: uvicorn starts another, which prints its banner.
    # The supervisor notices within a second or two, or, when it is waiting on a worker's health
    # ping (a worker still starting), after hx_litellm_proxy_worker_start_timeout (120 s).
    workers = set(on_gateway(WORKERS).stdout.split())
    assert len(workers) == 2, workers
    assert on_gateway("kill -KILL %s" % sorted(workers)[0]).returncode == 0
    wait_for(lambda: len(set(on_gateway(WORKERS).stdout.split()) - workers) == 1, 150, "no worker replaced the killed one")
    wait_for(lambda: any(BANNER in message(e) for e in journal_after(cursor)), 120, "the new worker printed no banner")
    # A restart: the old instance's last lines and the new one's start (banner, model list).
    assert on_gateway("systemctl restart litellm").returncode == 0
    wait_until_serving()
    wait_for(lambda: sum(BANNER in message(e) for e in journal_after(cursor)) >= 3, 120,
             "the two workers of the new instance printed no banner")

    # Requests that succeed and fail, each carrying a marker that must never reach the journal.
    marker = "hx-body-marker-" + uuid.uuid4().hex
    key = master_key()
    alias = yaml.safe_load((ROOT / "tests/lab/group_vars/all/main.yml").read_text())["hx_litellm_proxy_models"][0]["name"]
    url = "http://%s:4000/v1/chat/completions" % gateway.ip()
    body = {"max_tokens": 4, "messages": [{"role": "user", "content": marker}]}
    sent = {name: requests.post(url, headers={"Authorization": "Bearer " + auth}, json=dict(body, model=model), timeout=60)
            for name, auth, model in [("served", key, alias), ("unknown alias", key, "no-such-alias"),
                                      ("wrong key", key[:-4] + "0000", alias)]}
    # Without a database LiteLLM answers an unknown key with 400 "No connected db.", not 401.
    codes = {name: answer.status_code for name, answer in sent.items()}
    assert codes["served"] == 200 and codes["unknown alias"] == 400 and codes["wrong key"] in (400, 401), \
        {n: a.text[:200] for n, a in sent.items()}
    time.sleep(2)  # the wrapper and journald are asynchronous

    entries = journal_after(cursor)
    ours = [e for e in entries if e.get("_SYSTEMD_UNIT") == "litellm.service"]
    systemd = [e for e in entries if e.get("_SYSTEMD_UNIT") != "litellm.service"]
    # systemd's own lines about the unit (Stopping, Started ...) are written by PID 1, not the service.
    assert systemd and all(e.get("_PID") == "1" for e in systemd), [message(e) for e in systemd]
    records = []
    for entry in ours:
        text = message(entry)
        try:
            record = json.loads(text)
        except ValueError:
            raise AssertionError("a journal line of the service is not JSON: %r" % text)
        assert isinstance(record, dict), text
        assert isinstance(record.get("message"), str) and record.get("level") in (
            "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"), text
        assert datetime.datetime.fromisoformat(record["timestamp"]).utcoffset() == datetime.timedelta(0), text
        assert "\x1b[" not in text, "a colour code in %r" % text
        # journald took the wrapper's priority prefix: the level is also the entry's PRIORITY.
        assert entry.get("PRIORITY") == {"DEBUG": "7", "INFO": "6", "WARNING": "4", "ERROR": "3", "CRITICAL": "2"}[
            record["level"]], (entry.get("PRIORITY"), text)
        assert entry.get("SYSLOG_IDENTIFIER") == "litellm", entry.get("SYSLOG_IDENTIFIER")
        records.append(record)

    messages = [r["message"] for r in records]
    assert sum(BANNER in m for m in messages) >= 3, "no banner of the two workers and the replaced one"
    # Plain print()s of the main process, not only of the workers (the lab serves metrics).
    assert any("PROMETHEUS_MULTIPROC_DIR=" in m for m in messages), "the main process's start line is missing"
    assert any("Invalid model name passed in model=no-such-alias" in m for m in messages), "the failed request left no line"
    # The journal as an operator reads it (-o cat) holds neither the key nor anything of the requests.
    whole = on_gateway("journalctl -u litellm -o cat --no-pager --after-cursor='%s'" % cursor).stdout
    assert len([line for line in whole.splitlines() if line.startswith("{")]) >= len(ours)
    assert key not in whole and key[:-4] not in whole, "the master key is in the journal"
    assert marker not in whole, "a request's content is in the journal"
    print("journal of a worker replaced, a restart and three requests: %d lines of the service, all JSON (%d INFO, %d WARNING, %d ERROR); "
          "%d lines of systemd about the unit" % (
              len(ours), *(sum(r["level"] == lvl for r in records) for lvl in ("INFO", "WARNING", "ERROR")),
              len(systemd)))
