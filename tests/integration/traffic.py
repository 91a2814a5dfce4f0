"""A steady, bounded stream of client requests (non-streaming and streaming chat completions) sent
while a change runs, with every request accounted for.

Each request is recorded with when it started and ended, whether it streamed, which key it carried
and how it ended: ok (HTTP 200, and for a stream every chunk through `data: [DONE]`), refused_old_key
(the gateway refused the key a rotation replaced: the client then switches to the new key, as a
client told of the rotation does), or failed (anything else, including a cut stream)."""

import collections
import json
import threading
import time

import requests


def refused(reply):
    """The gateway refused the key: 401, or, LiteLLM without a database, 400 no_db_connection (a key that
    is not the master key would be looked up in the database it does not have)."""
    if reply.status_code == 401:
        return True
    try:
        return reply.status_code == 400 and reply.json()["error"]["type"] == "no_db_connection"
    except (ValueError, KeyError, TypeError):
        return False


class Stream:
    def __init__(self, base_url, key, alias, new_key=None, workers=4, pause=0.05, max_seconds=900,
                 max_requests=20000, timeout=60):
        self.url = base_url.rstrip("/") + "/v1/chat/completions"
        self.keys = {"old": key, "new": new_key}
        self.current = "old"
        self.alias = alias
        self.workers = workers
        self.pause = pause
        self.max_seconds = max_seconds
        self.max_requests = max_requests
        self.timeout = timeout
        self.records = []
        self.begun = 0  # requests a client started: each must end in one record
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = []
        self.started = None

    def _send(self, session, streaming):
        label = self.current
        body = {"model": self.alias, "max_tokens": 8, "stream": streaming,
                "messages": [{"role": "user", "content": "ping"}]}
        record = {"start": time.monotonic() - self.started, "stream": streaming, "key": label}
        try:
            reply = session.post(self.url, headers={"Authorization": "Bearer " + self.keys[label]}, json=body,
                                 timeout=self.timeout, stream=streaming)
            record["status"] = reply.status_code
            record["served_by"] = reply.headers.get("x-served-by")
            if reply.status_code == 200 and streaming:
                chunks, done = 0, False
                for line in reply.iter_lines():
                    if line == b"data: [DONE]":
                        done = True
                    elif line.startswith(b"data: "):
                        json.loads(line[6:])
                        chunks += 1
                record["outcome"] = "ok" if done and chunks else "failed"
                record["error"] = None if done and chunks else "stream ended after %d chunks without [DONE]" % chunks
            elif reply.status_code == 200:
                record["outcome"] = "ok" if reply.json().get("choices") else "failed"
            elif refused(reply) and label == "old" and self.keys["new"]:
                record["outcome"] = "refused_old_key"
                self.current = "new"
            else:
                record["outcome"] = "failed"
                record["error"] = reply.text[:200]
            reply.close()
        except (requests.RequestException, ValueError) as error:
            record.update(status=None, outcome="failed", error="%s: %s" % (type(error).__name__, str(error)[:200]))
        record["end"] = time.monotonic() - self.started
        with self._lock:
            self.records.append(record)

    def _worker(self, streaming):
        session = requests.Session()
        while not self._stop.is_set():
            if time.monotonic() - self.started > self.max_seconds or len(self.records) >= self.max_requests:
                break
            with self._lock:
                self.begun += 1
            self._send(session, streaming)
            time.sleep(self.pause)

    def __enter__(self):
        self.started = time.monotonic()
        # Half the clients stream, half do not.
        self._threads = [threading.Thread(target=self._worker, args=(i % 2 == 1,), daemon=True)
                         for i in range(self.workers)]
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        for thread in self._threads:
            thread.join(self.timeout + 10)
        self.stopped = time.monotonic() - self.started

    def summary(self):
        """The accounting: every request sent ends in exactly one outcome."""
        outcomes = collections.Counter(r["outcome"] for r in self.records)
        kinds = collections.Counter(("streaming" if r["stream"] else "non-streaming", r["outcome"]) for r in self.records)
        failed = [r for r in self.records if r["outcome"] == "failed"]
        return {
            # Started but never recorded: a client died or still hangs after the join (a lost request).
            "unaccounted": self.begun - len(self.records),
            "sent": len(self.records),
            "ok": outcomes.get("ok", 0),
            "refused_old_key": outcomes.get("refused_old_key", 0),
            "failed": outcomes.get("failed", 0),
            "by_kind": {"%s %s" % k: v for k, v in sorted(kinds.items())},
            "served_by": dict(collections.Counter(r.get("served_by") for r in self.records if r["outcome"] == "ok")),
            "seconds": round(self.stopped, 1),
            "first_failures": [{k: r.get(k) for k in ("start", "stream", "key", "status", "error")} for r in failed[:5]],
            "gap_s": gap(self.records),
        }


def gap(records):
    """Seconds without service: from the first failed request's start to the end of the first success
    after the last failure (0 when nothing failed)."""
    failed = [r for r in records if r["outcome"] == "failed"]
    if not failed:
        return 0.0
    first, last = min(r["start"] for r in failed), max(r["start"] for r in failed)
    after = [r["end"] for r in records if r["outcome"] == "ok" and r["start"] > last]
    return round((min(after) if after else max(r["end"] for r in records)) - first, 1)
