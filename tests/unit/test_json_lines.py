"""The wrapper that makes every line the service writes a JSON object (hx_litellm_proxy_json_logs)."""

import datetime
import importlib.util
import json
import os
import pathlib
import signal
import subprocess
import sys
import textwrap
import time

import pytest

PATH = pathlib.Path(__file__).resolve().parents[2] / "roles/hx_litellm_proxy/files/json_lines.py"
spec = importlib.util.spec_from_file_location("json_lines", PATH)
json_lines = importlib.util.module_from_spec(spec)
spec.loader.exec_module(json_lines)

KEY = "sk-unit-" + "a1b2c3d4" * 4
REDIS = "redis-pw-" + "9f8e7d6c" * 2
ENV = {"LITELLM_MASTER_KEY": KEY, "LITELLM_REDIS_PASSWORD": REDIS, "PATH": os.environ.get("PATH", "")}


def parse(line):
    """A written line: its syslog priority prefix and its JSON object."""
    assert line.startswith("<") and ">" in line, line
    prefix, text = line[1:].split(">", 1)
    return int(prefix), json.loads(text)


def zoned(value):
    return datetime.datetime.fromisoformat(value).utcoffset() == datetime.timedelta(0)


def test_a_plain_line_is_wrapped_with_time_level_and_message():
    out = json_lines.record("\x1b[32mLiteLLM: Proxy initialized with Config, Set models:\x1b[0m\n", "stdout", [])
    assert out["message"] == "LiteLLM: Proxy initialized with Config, Set models:"
    assert out["level"] == "INFO" and out["component"] == "stdout" and zoned(out["timestamp"])
    assert json_lines.record("Traceback (most recent call last):", "stderr", [])["level"] == "ERROR"
    warning = "/opt/litellm/venvs/1/lib/x.py:12: DeprecationWarning: old"
    assert json_lines.record(warning, "stderr", [])["level"] == "WARNING"


def test_a_json_line_keeps_its_fields_and_gets_a_zone_and_no_colours():
    line = json.dumps({"message": "litellm.acompletion(model=x)\x1b[32m 200 OK\x1b[0m", "level": "info",
                       "timestamp": "2026-12-03T13:08:00.373337", "component": "LiteLLM Proxy", "logger": "a.py:1"})
    out = json_lines.record(line, "stdout", [])
    assert out == {"message": "litellm.acompletion(model=x) 200 OK", "level": "INFO",
                   "timestamp": "2026-12-03T13:08:00.373337+00:00", "component": "LiteLLM Proxy", "logger": "a.py:1"}


@pytest.mark.parametrize("line, stream, level", [
    ('{"msg": "no level, no message, no time"}', "stderr", "ERROR"),
    ('{"message": 42, "level": "chatty", "timestamp": "yesterday"}', "stdout", "INFO"),
])
def test_a_json_object_missing_fields_gets_them(line, stream, level):
    out = json_lines.record(line, stream, [])
    assert isinstance(out["message"], str) and out["level"] == level and zoned(out["timestamp"])


def test_blank_lines_and_json_that_is_no_object():
    assert json_lines.record("   \n", "stdout", []) is None
    assert json_lines.record("[1, 2]", "stdout", [])["message"] == "[1, 2]"
    assert json_lines.record('{"broken": ', "stdout", [])["message"] == '{"broken": '


def test_secrets_are_redacted_in_plain_and_json_lines():
    plain = json_lines.record("key=%s redis=%s" % (KEY, REDIS), "stdout", [KEY, REDIS])
    nested = json_lines.record(json.dumps({"message": "x", "extra": {"h": ["Bearer " + KEY]}}), "stdout", [KEY])
    for out in (plain, nested):
        assert KEY not in json.dumps(out) and REDIS not in json.dumps(out) and "[REDACTED]" in json.dumps(out)
    assert json_lines.secrets({"LITELLM_MASTER_KEY": "short"}) == []


def test_a_line_too_long_for_journald_is_cut_and_still_parses():
    prefix, out = parse(json_lines.render(json_lines.record("x" * 200000, "stdout", [])))
    assert prefix == 6 and out["truncated"] is True and len(json.dumps(out)) <= json_lines.MAX_LINE


def run_wrapper(script, *, timeout=30, term_after=None):
    """The wrapper around `python -c script`, as the unit runs it; returns (returncode, records)."""
    proc = subprocess.Popen([sys.executable, str(PATH), sys.executable, "-c", textwrap.dedent(script)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV, text=True)
    if term_after is not None:
        deadline = time.monotonic() + timeout
        first = proc.stdout.readline()  # the command is up and has its handler
        assert first, proc.stderr.read()
        proc.send_signal(signal.SIGTERM)
        rest, err = proc.communicate(timeout=max(1, deadline - time.monotonic()))
        out = first + rest
    else:
        out, err = proc.communicate(timeout=timeout)
    assert err == "", err
    return proc.returncode, [parse(line) for line in out.splitlines()]


def test_the_command_runs_with_utc_and_every_line_it_writes_arrives_as_json():
    code, lines = run_wrapper("""
        import os, sys, time
        print("banner line")
        print()
        print('{"message": "json", "level": "WARNING", "timestamp": "2026-12-03T10:00:00"}', flush=True)
        print("TZ=" + os.environ["TZ"] + " key=" + os.environ["LITELLM_MASTER_KEY"], flush=True)
        sys.stderr.write("Traceback (most recent call last):\\n  File x\\nValueError: boom\\n")
        sys.exit(3)
    """)
    assert code == 3, "the wrapper must end with the command's exit code"
    by_message = {out["message"]: (prefix, out) for prefix, out in lines}
    assert set(by_message) == {"banner line", "json", "TZ=UTC key=[REDACTED]", "Traceback (most recent call last):",
                               "  File x", "ValueError: boom"}
    assert by_message["json"][0] == 4 and by_message["ValueError: boom"][0] == 3 and by_message["banner line"][0] == 6
    assert all({"timestamp", "level", "message"} <= set(out) for _prefix, out in lines)


def test_sigterm_reaches_the_command_and_its_last_lines_are_kept():
    code, lines = run_wrapper("""
        import os, signal, sys, time
        def stop(*_):
            # os.write: the signal may land while print() below still holds stdout's buffer.
            os.write(1, b"shutting down\\n")
            os.write(2, b"last words\\n")
            sys.exit(0)
        signal.signal(signal.SIGTERM, stop)
        print("started", flush=True)
        time.sleep(60)
    """, term_after=True)
    assert code == 0, lines
    # Two pipes, two readers: stdout keeps its order, stderr's line may come anywhere after "started".
    messages = [out["message"] for _prefix, out in lines]
    assert messages[0] == "started" and sorted(messages[1:]) == ["last words", "shutting down"]


def test_a_command_killed_by_a_signal_kills_the_wrapper_with_it():
    code, lines = run_wrapper("""
        import os, signal
        print("about to die", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    assert code == -signal.SIGKILL
    assert [out["message"] for _prefix, out in lines] == ["about to die"]


def test_a_process_left_holding_the_pipes_does_not_keep_the_wrapper_alive():
    started = time.monotonic()
    code, lines = run_wrapper("""
        import subprocess, sys
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
        print("parent exits", flush=True)
    """)
    assert code == 0 and [out["message"] for _prefix, out in lines] == ["parent exits"]
    assert time.monotonic() - started < json_lines.DRAIN_SECONDS + 10


def test_a_command_that_cannot_run_is_reported_as_json():
    proc = subprocess.run([sys.executable, str(PATH), "/nonexistent/litellm"], capture_output=True, text=True, env=ENV)
    assert proc.returncode == 127
    _prefix, out = parse(proc.stdout.strip())
    assert out["level"] == "ERROR" and "/nonexistent/litellm" in out["message"]
