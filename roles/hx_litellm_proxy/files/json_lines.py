"""Run a command and turn everything it writes into one JSON object per line, on stdout.

Usage: python3 json_lines.py COMMAND [ARG...]

LiteLLM with JSON_LOGS=true writes most of its logs as JSON, but not all: its banner, the
"Proxy initialized with Config" list, Python tracebacks and other print()s stay plain text, some
messages carry terminal colour codes, and its timestamps have no time zone. Between LiteLLM and
the journal, this makes every line an object with timestamp (ISO 8601, UTC), level and message:

- a line that is already a JSON object keeps its fields; a missing or zone-less timestamp, a
  missing level or message is filled in, colour codes are removed;
- any other line becomes {"timestamp", "level", "message", "component"}: level INFO from stdout,
  ERROR from stderr (WARNING for a Python warning), component "stdout" or "stderr";
- blank lines are dropped; a line longer than journald keeps whole is cut, marked "truncated";
- the values of LITELLM_MASTER_KEY and LITELLM_REDIS_PASSWORD in this process's environment are
  replaced by [REDACTED] wherever they appear;
- each line starts with its syslog priority (<3> for ERROR ...), which journald strips into
  PRIORITY, so `journalctl -p warning` still works.

The command runs with TZ=UTC. SIGTERM, SIGINT and SIGHUP are passed on to it; what it writes until
it exits is kept, and this process ends as the command did: the same exit code, or killed by the
same signal, so systemd's Restart= and the readiness checks see the command's own ending.
"""

import datetime
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

SECRET_VARIABLES = ("LITELLM_MASTER_KEY", "LITELLM_REDIS_PASSWORD")
REDACTED = "[REDACTED]"
# Shorter values would mask ordinary words; the role refuses master keys under 20 characters.
MIN_SECRET = 8
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")
PRIORITY = {"CRITICAL": 2, "FATAL": 2, "ERROR": 3, "WARNING": 4, "WARN": 4, "INFO": 6, "DEBUG": 7}
PYTHON_WARNING = re.compile(r"^\S.*:\d+: \w*Warning: ")
# journald splits lines above LineMax= (48 KiB by default); a split line would no longer parse.
MAX_LINE = 32 * 1024
# Read this much at most per line: a longer one arrives in pieces, each its own record.
READ_LIMIT = 64 * 1024
# After the command exits, how long a process it left behind may keep the pipes open.
DRAIN_SECONDS = 5.0


def now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat()


def secrets(environ):
    return [environ[name] for name in SECRET_VARIABLES if len(environ.get(name, "")) >= MIN_SECRET]


def scrub(value, hidden):
    """value with colour codes removed and every hidden string replaced, through dicts and lists."""
    if isinstance(value, str):
        value = ANSI.sub("", value)
        for secret in hidden:
            value = value.replace(secret, REDACTED)
        return value
    if isinstance(value, dict):
        return {scrub(k, hidden): scrub(v, hidden) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v, hidden) for v in value]
    return value


def utc_timestamp(value):
    """An ISO 8601 timestamp with its zone; a zone-less one is UTC (the command runs with TZ=UTC)."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.timezone.utc)
    return parsed.isoformat()


def record(line, stream, hidden):
    """The JSON object for one line the command wrote on stream ("stdout" or "stderr"), or None."""
    text = line.rstrip("\r\n")
    if not text.strip():
        return None
    for secret in hidden:
        text = text.replace(secret, REDACTED)
    parsed = None
    if text.lstrip().startswith("{"):
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
    if isinstance(parsed, dict):
        out = scrub(parsed, hidden)
        if not isinstance(out.get("message"), str):
            out["message"] = str(out["message"]) if "message" in out else ANSI.sub("", text)
        level = str(out.get("level") or "").upper()
        out["level"] = level if level in PRIORITY else ("ERROR" if stream == "stderr" else "INFO")
        out["timestamp"] = utc_timestamp(out.get("timestamp")) or now()
        return out
    message = ANSI.sub("", text)
    if stream == "stderr":
        level = "WARNING" if PYTHON_WARNING.match(message) else "ERROR"
    else:
        level = "INFO"
    return {"timestamp": now(), "level": level, "message": message, "component": stream}


def render(out):
    """One line: the syslog priority prefix journald strips, then the JSON object, never longer than MAX_LINE."""
    text = json.dumps(out, ensure_ascii=False, default=str)
    if len(text.encode("utf-8")) > MAX_LINE:
        keep = {k: out[k] for k in ("timestamp", "level", "component", "logger") if k in out}
        keep["truncated"] = True
        keep["message"] = out["message"][:MAX_LINE // 4]
        text = json.dumps(keep, ensure_ascii=False, default=str)
    return "<%d>%s\n" % (PRIORITY.get(out["level"], 6), text)


class Relay:
    def __init__(self, sink, hidden):
        self.sink = sink
        self.hidden = hidden
        self.lock = threading.Lock()

    def emit(self, out):
        data = render(out).encode("utf-8")
        with self.lock:
            try:
                self.sink.write(data)
                self.sink.flush()
            except (BrokenPipeError, ValueError):
                pass

    def pump(self, pipe, stream):
        for raw in iter(lambda: pipe.readline(READ_LIMIT), b""):
            out = record(raw.decode("utf-8", errors="replace"), stream, self.hidden)
            if out is not None:
                self.emit(out)


def exit_like(returncode):
    """End this process as the command ended: its exit code, or death by its signal."""
    if returncode < 0:
        sig = -returncode
        if sig not in (signal.SIGKILL, signal.SIGSTOP):
            signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)
        return 128 + sig
    return returncode


def main(argv, environ=None, sink=None):
    environ = dict(os.environ if environ is None else environ)
    sink = sink or sys.stdout.buffer
    relay = Relay(sink, secrets(environ))
    if not argv:
        relay.emit({"timestamp": now(), "level": "ERROR", "message": "json_lines.py: no command to run",
                    "component": "json_lines"})
        return 2
    try:
        child = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 env=dict(environ, TZ="UTC"))
    except OSError as error:
        relay.emit({"timestamp": now(), "level": "ERROR", "message": "cannot run %s: %s" % (argv[0], error),
                    "component": "json_lines"})
        return 127

    def forward(sig, _frame):
        try:
            child.send_signal(sig)
        except OSError:
            pass

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, forward)
    pumps = [threading.Thread(target=relay.pump, args=(child.stdout, "stdout"), daemon=True),
             threading.Thread(target=relay.pump, args=(child.stderr, "stderr"), daemon=True)]
    for pump in pumps:
        pump.start()
    returncode = child.wait()
    # The pipes close when the command's last process exits; one it left behind gets DRAIN_SECONDS.
    deadline = time.monotonic() + DRAIN_SECONDS
    for pump in pumps:
        pump.join(max(0.0, deadline - time.monotonic()))
    return returncode


if __name__ == "__main__":
    sys.exit(exit_like(main(sys.argv[1:])))
