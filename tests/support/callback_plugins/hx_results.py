# Test-only: not part of the collection (galaxy.yml excludes tests/).
"""Write every task result and the recap counters of a run as JSON lines to $HX_RESULTS_FILE,
so tests assert on what a run did (module, phase file, status, result fields) rather than on
the words the default callback prints. Results of no_log tasks keep only their status."""

from __future__ import annotations

DOCUMENTATION = """
name: hx_results
type: notification
short_description: Task results as JSON lines for the test suite
description: Appends one JSON object per task result and one for the recap to $HX_RESULTS_FILE.
options: {}
"""

import json
import os
import time

from ansible.plugins.callback import CallbackBase

KEEP_WHEN_HIDDEN = ("changed", "failed", "skipped", "unreachable")


def clean(result):
    if not isinstance(result, dict):
        return result
    if result.get("_ansible_no_log"):
        hidden = {k: result[k] for k in KEEP_WHEN_HIDDEN if k in result}
        hidden["censored"] = True
        return hidden
    out = {k: v for k, v in result.items() if not k.startswith("_ansible") and k != "invocation"}
    if isinstance(out.get("results"), list):
        out["results"] = [clean(item) for item in out["results"]]
    return out


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "notification"
    CALLBACK_NAME = "hx_results"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._path = os.environ.get("HX_RESULTS_FILE")
        self._play = None
        self._started = {}

    def _write(self, record):
        if not self._path:
            return
        with open(self._path, "a") as handle:
            handle.write(json.dumps(record, default=str) + "\n")

    def v2_playbook_on_play_start(self, play):
        self._play = play.get_name()
        self._write({"event": "play", "play": self._play, "check_mode": bool(getattr(play, "check_mode", False))})

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._started[task._uuid] = time.monotonic()

    def v2_playbook_on_handler_task_start(self, task):
        self._started[task._uuid] = time.monotonic()

    def _task(self, result, status):
        task = result._task
        path = task.get_path() or ""
        role = task._role.get_name() if getattr(task, "_role", None) else None
        body = clean(result._result)
        self._write({
            "event": "task",
            "play": self._play,
            "host": result._host.get_name(),
            "task": task.get_name(),
            "uuid": task._uuid,
            "seconds": round(time.monotonic() - self._started.get(task._uuid, time.monotonic()), 2),
            "action": task.action,
            "role": role,
            "file": os.path.basename(path.rsplit(":", 1)[0]),
            "handler": type(task).__name__ == "Handler",
            "status": status,
            "changed": bool(result._result.get("changed")),
            "ignored": bool(status == "failed" and task.ignore_errors),
            "result": body,
        })

    def v2_runner_on_ok(self, result):
        self._task(result, "changed" if result._result.get("changed") else "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._task(result, "failed")

    def v2_runner_on_skipped(self, result):
        self._task(result, "skipped")

    def v2_runner_on_unreachable(self, result):
        self._task(result, "unreachable")

    def v2_playbook_on_stats(self, stats):
        hosts = {}
        for host in sorted(stats.processed):
            hosts[host] = stats.summarize(host)
        self._write({"event": "stats", "hosts": hosts})
