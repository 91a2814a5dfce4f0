"""What a deployed gateway answers without a key: the smoke gate sweeps every route of the installed
LiteLLM app (module hx.litellm.gateway_surface, enumerated from the gateway's venv, so a new release's
routes are swept too), without a key and with a wrong key, and records the figure in its evidence.
Every answer that is not a refusal must be in the allowlist of docs/hardening.md, which says why each
route is open; and every allowlist row must still match an open route, so the list cannot rot."""

import fnmatch
import json
import re

from default_gateway import GATEWAY, PINNED
from scenario import ARTIFACTS, ROOT

HARDENING = ROOT / "docs/hardening.md"


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


def listed(entry, rows):
    return any(fnmatch.fnmatchcase("%s %s" % (entry["method"], entry["route"]), pattern) for pattern, _ in rows)


def test_without_a_key_only_the_documented_routes_answer_and_the_smoke_evidence_says_so(gateway):
    rows = allowlist()
    assert rows, "docs/hardening.md has no allowlist table"
    run = gateway.playbook("litellm_smoke", "-e", "hx_litellm_smoke_base_url=http://%s:4000" % gateway.ip(),
                           "-e", "hx_litellm_smoke_fanout_requests=0", label="smoke-surface")
    assert run.returncode == 0, "smoke rejected the lab gateway (output above)"
    swept = run.on(GATEWAY, action="hx.litellm.gateway_surface")
    assert len(swept) == 1 and swept[0]["status"] == "ok", swept
    result = swept[0]["result"]
    open_none, open_wrong = result["open_without_key"], result["open_with_wrong_key"]
    figures = {"release": result["release"], "probed": result["probed"], "open_without_key": len(open_none),
               "open_with_wrong_key": len(open_wrong)}
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "route-sweep.json").write_text(json.dumps(dict(figures, open=open_none, wrong=open_wrong), indent=1))
    print("route sweep of LiteLLM %(release)s: %(probed)d routes probed, %(open_without_key)d open without a key, "
          "%(open_with_wrong_key)d answering a wrong key with something else than a refusal" % figures)
    assert result["release"] == PINNED
    assert result["probed"] > 300, "the sweep found only %d routes: the enumeration missed the included routers" % result["probed"]
    unlisted = ["%s %s -> %s" % (p["method"], p["route"], p["status"]) for p in open_none + open_wrong if not listed(p, rows)]
    assert not unlisted, "open without a valid key and not in docs/hardening.md: %s" % sorted(set(unlisted))
    stale = [pattern for pattern, _ in rows
             if not any(fnmatch.fnmatchcase("%s %s" % (p["method"], p["route"]), pattern) for p in open_none + open_wrong)]
    assert not stale, "allowlist rows no open route matches any more (remove them): %s" % stale
    # What the closed pages were: the docs, redoc and the 2 MB OpenAPI schema.
    answering = {(p["method"], p["route"]) for p in open_none}
    assert ("GET", "/openapi.json") not in answering and ("GET", "/redoc") not in answering
    for page in ("/openapi.json", "/redoc"):
        status = gateway.on_gateway("curl -s -o /dev/null -w '%%{http_code}' http://127.0.0.1:4000%s" % page).stdout
        assert status == "404", (page, status)
    assert "swagger" not in gateway.on_gateway("curl -s http://127.0.0.1:4000/").stdout.lower()
    # The smoke evidence carries the figure; the documented figures are the measured ones.
    bundles = sorted((gateway.S.evidence / "litellm_smoke").glob("*/%s/summary.json" % GATEWAY))
    surface = json.loads(bundles[-1].read_text())["measured"]["surface"]
    assert {k: surface[k] for k in figures} == figures, surface
    assert "%(probed)d routes probed, %(open_without_key)d open without a key" % figures in HARDENING.read_text(), figures
