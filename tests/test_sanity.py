"""`ansible-test sanity`, the checks collections published to Galaxy pass, is clean on the
collection as it ships (tests/sanity.sh builds the tarball, installs it, runs ansible-test in the
installed copy), on the oldest and the newest ansible-core the collection supports.

tests/bootstrap.sh builds both venvs. A missing venv skips its version, except under CI=true,
where it fails. Each run's full output is kept in .artifacts/sanity/.
"""

import concurrent.futures
import os
import pathlib
import subprocess
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / ".artifacts" / "sanity"
# ansible-core X.Y -> the venv that holds it (and the Python ansible-test runs the tests with).
VENVS = {
    "2.19": ROOT / ".venv",
    "2.21": ROOT / ".venvs" / "ansible-2.21",
}
# The first run on a machine also builds ansible-test's venvs for the sanity tools (a few minutes).
TIMEOUT = 1800


_RUNS = {}


def _sanity(venv):
    started = time.monotonic()
    proc = subprocess.run(["bash", str(ROOT / "tests" / "sanity.sh"), str(venv)], cwd=ROOT, stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=TIMEOUT)
    return proc, time.monotonic() - started


def started_runs():
    """Both versions' runs, started together on first use: each is one process, mostly on one core."""
    if not _RUNS:
        pool = concurrent.futures.ThreadPoolExecutor(len(VENVS))
        for core, venv in VENVS.items():
            if (venv / "bin" / "ansible-test").is_file():
                _RUNS[core] = pool.submit(_sanity, venv)
        pool.shutdown(wait=False)
    return _RUNS


def core_version(venv):
    proc = subprocess.run([str(venv / "bin" / "python"), "-c", "from ansible.release import __version__; print(__version__)"],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return proc.stdout.strip() if proc.returncode == 0 else "unknown (%s)" % proc.stdout.strip()[-300:]


def failures(output):
    """The lines of ansible-test's output that say what failed."""
    return [line for line in output.splitlines()
            if line.startswith(("ERROR: ", "FATAL: ", "sanity: ERROR")) and "is ignored: it is neither" not in line]


@pytest.mark.parametrize("core", sorted(VENVS), ids=["ansible-core-%s" % c for c in sorted(VENVS)])
def test_ansible_test_sanity_is_clean(core, capsys):
    venv = VENVS[core]
    if not (venv / "bin" / "ansible-test").is_file():
        message = "%s has no ansible-test: tests/bootstrap.sh builds it" % venv.relative_to(ROOT)
        if os.environ.get("CI") == "true":
            pytest.fail(message + " (CI must run sanity on ansible-core %s)" % core, pytrace=False)
        pytest.skip(message)
    version = core_version(venv)
    assert version.startswith(core + "."), "%s holds ansible-core %s, not %s" % (venv.relative_to(ROOT), version, core)

    proc, elapsed = started_runs()[core].result(timeout=TIMEOUT)

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = ARTIFACTS / ("ansible-core-%s.log" % core)
    log.write_text(proc.stdout)
    summary = "ansible-test sanity on ansible-core %s: rc %d in %.1f s (log: %s)" % (
        version, proc.returncode, elapsed, log.relative_to(ROOT))
    with capsys.disabled():
        print("\n" + summary)
    if proc.returncode != 0:
        pytest.fail("%s\n%s" % (summary, "\n".join(failures(proc.stdout)) or proc.stdout[-4000:]), pytrace=False)
