"""What a deployed gateway answers without a key: every route of the installed LiteLLM app
(enumerated from the gateway's venv, so a new release's routes are swept too), called without a
key and with a wrong key. Every answer that is not a refusal must be in the allowlist of
docs/hardening.md, which says why each route is open; and every allowlist row must still match
an open route, so the list cannot rot."""

import fnmatch
import json
import re
import subprocess

from default_gateway import GATEWAY, PINNED
from scenario import ARTIFACTS, ROOT

SWEEP = ROOT / "tests/support/route_sweep.py"
HARDENING = ROOT / "docs/hardening.md"
# Refusals: no key or a wrong key is turned away. Without a database LiteLLM cannot look a key up and
# refuses an unknown one with 400 no_db_connection.
REFUSED = {401, 403, 404, 405}


def refused(status, kind):
    return status in REFUSED or (status == 400 and kind == "no_db_connection")


def allowlist():
    """(pattern, why) rows of the table under '## Open without a key' in docs/hardening.md."""
    text = HARDENING.read_text()
    section = text.split("## Open without a key", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        match = re.match(r"^\|\s*`([^`]+)`\s*\|\s*(.+?)\s*\|$", line)
        if match:
            rows.append((match.group(1), match.group(2)))
    return rows


def sweep(gw):
    # Through stdin: the test hosts' /tmp is a tmpfs, which docker cp cannot write into.
    copied = subprocess.run(["docker", "exec", "-i", GATEWAY, "sh", "-c", "cat > /root/route_sweep.py"],
                            input=SWEEP.read_text(), capture_output=True, text=True)
    assert copied.returncode == 0, copied.stderr
    proc = gw.on_gateway("/opt/litellm/venvs/%s/bin/python /root/route_sweep.py http://127.0.0.1:4000" % PINNED)
    assert "ROUTES-JSON" in proc.stdout, proc.stdout[-2000:] + proc.stderr[-2000:]
    return json.loads(proc.stdout.split("ROUTES-JSON\n", 1)[1])


def test_without_a_key_only_the_documented_routes_answer(gateway):
    import default_gateway as gw
    rows = allowlist()
    assert rows, "docs/hardening.md has no allowlist table"
    probes = sweep(gw)
    open_none = [p for p in probes if not refused(p["none"], p["none_kind"])]
    open_wrong = [p for p in probes if not refused(p["wrong"], p["wrong_kind"])]
    figures = {"release": PINNED, "probed": len(probes), "open_without_key": len(open_none),
               "open_with_wrong_key": len(open_wrong)}
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "route-sweep.json").write_text(json.dumps(dict(figures, probes=probes), indent=1))
    print("route sweep of LiteLLM %(release)s: %(probed)d routes probed, %(open_without_key)d open without a key, "
          "%(open_with_wrong_key)d answering a wrong key with something else than a refusal" % figures)
    assert len(probes) > 300, "the sweep found only %d routes: the enumeration missed the included routers" % len(probes)
    unlisted = ["%s %s -> %s/%s" % (p["method"], p["route"], p["none"], p["wrong"]) for p in open_none + open_wrong
                if not any(fnmatch.fnmatchcase("%s %s" % (p["method"], p["route"]), pattern) for pattern, _ in rows)]
    assert not unlisted, "open without a valid key and not in docs/hardening.md: %s" % sorted(set(unlisted))
    stale = [pattern for pattern, _ in rows
             if not any(fnmatch.fnmatchcase("%s %s" % (p["method"], p["route"]), pattern) for p in open_none + open_wrong)]
    assert not stale, "allowlist rows no open route matches any more (remove them): %s" % stale
    # What the closed pages were: the docs, redoc and the 2 MB OpenAPI schema.
    closed = {(p["method"], p["route"]): p["none"] for p in probes}
    assert closed[("GET", "/openapi.json")] == 404 and closed[("GET", "/redoc")] == 404
    assert "swagger" not in gw.on_gateway("curl -s http://127.0.0.1:4000/").stdout.lower()
    # The documented figures are the measured ones.
    assert "%(probed)d routes probed, %(open_without_key)d open without a key" % figures in HARDENING.read_text(), figures
