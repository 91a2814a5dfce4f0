"""Read what the hx_results callback recorded for one run (tests/support/callback_plugins)."""

import json
import pathlib

CALLBACK_DIR = pathlib.Path(__file__).resolve().parent / "callback_plugins"


def callback_env(results_file):
    """Environment that makes ansible-playbook record its results into results_file."""
    return {"ANSIBLE_CALLBACK_PLUGINS": str(CALLBACK_DIR), "HX_RESULTS_FILE": str(results_file)}


class Run:
    """One ansible-playbook run: its exit code, its printed output and its recorded results."""

    def __init__(self, returncode, stdout, results_file, seconds=None):
        self.returncode = returncode
        self.stdout = stdout
        self.seconds = seconds
        self.records = []
        path = pathlib.Path(results_file)
        if path.exists():
            self.records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    @property
    def tasks(self):
        return [r for r in self.records if r["event"] == "task"]

    def recap(self, host):
        """The recap counters of host (ok, changed, failures, unreachable, skipped, rescued, ignored)."""
        stats = [r for r in self.records if r["event"] == "stats"]
        assert stats, "the run recorded no recap (rc=%s); output:\n%s" % (self.returncode, self.stdout[-3000:])
        counters = stats[-1]["hosts"].get(host)
        assert counters is not None, "no recap for %s in %s" % (host, list(stats[-1]["hosts"]))
        return counters

    def on(self, host, **match):
        """The task results of host whose fields equal every given value (file=, action=, status=, role=)."""
        return [t for t in self.tasks if t["host"] == host and all(t.get(k) == v for k, v in match.items())]

    def failures(self, host):
        """Task results that failed the host (not ignored, not rescued later: the ones that count)."""
        return [t for t in self.on(host, status="failed") if not t["ignored"]]

    def messages(self, host, **match):
        """Every msg the host's matching tasks returned, item results included, as one list of strings."""
        found = []
        for task in self.on(host, **match):
            result = task["result"]
            for part in [result] + list(result.get("results") or []):
                if isinstance(part, dict) and part.get("msg"):
                    msg = part["msg"]
                    found.extend(msg if isinstance(msg, list) else [str(msg)])
        return found

    def ran(self, host, file):
        """Whether any task of the phase file (e.g. install.yml) did something other than skip."""
        return any(t["status"] != "skipped" for t in self.on(host, file=file))
