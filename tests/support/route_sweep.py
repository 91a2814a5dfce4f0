"""Every route of the LiteLLM app installed in a venv, called on the gateway's own listener
without a key and with a wrong key. Run it with the venv's Python on the gateway (the tests copy
it there), so a new release's new routes are swept too:

    /opt/litellm/venvs/<version>/bin/python route_sweep.py http://127.0.0.1:4000

Prints one JSON document after the line ROUTES-JSON: [{method, route, probe, none, wrong}], where
none/wrong are the HTTP status (or "timeout"/"error") and, for a 400, the error type LiteLLM gave."""

import json
import os
import re
import sys
import urllib.error
import urllib.request

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_MODE", "PRODUCTION")

WRONG_KEY = "sk-hx-sweep-" + "0" * 32
SKIP_METHODS = {"HEAD", "OPTIONS"}


def walk(routes, prefix=""):
    """(method, path) of every route, through included routers (FastAPI may keep them unflattened)."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            context = getattr(route, "include_context", None)
            yield from walk(included.routes, prefix + (getattr(context, "prefix", "") or ""))
            continue
        path = getattr(route, "path", None)
        if not path:
            continue
        methods = getattr(route, "methods", None)
        if methods is None:  # a mount (static files) or a websocket: probe it with GET
            methods = {"GET"}
            if type(route).__name__ == "Mount":
                path = path.rstrip("/") + "/"
        for method in sorted(set(methods) - SKIP_METHODS):
            yield method, prefix + path


def routes():
    from litellm.proxy.proxy_server import app  # noqa: E402 (the venv's own release)
    return sorted(set(walk(app.routes)), key=lambda item: (item[1], item[0]))


def probe_path(path):
    return re.sub(r"\{[^}]+\}", "hx-probe", path)


def call(base, method, path, key):
    data = b"{}" if method in ("POST", "PUT", "PATCH") else None
    request = urllib.request.Request(base + path, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if key:
        request.add_header("Authorization", "Bearer " + key)
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, None
    except urllib.error.HTTPError as err:
        kind = None
        if err.code == 400:
            try:
                kind = (json.loads(err.read() or b"{}").get("error") or {}).get("type")
            except (ValueError, AttributeError):
                kind = None
        return err.code, kind
    except TimeoutError:
        return "timeout", None
    except OSError as err:
        return "error", str(err)[:80]


def main():
    base = sys.argv[1].rstrip("/")
    out = []
    for method, path in routes():
        probe = probe_path(path)
        none, none_kind = call(base, method, probe, None)
        wrong, wrong_kind = call(base, method, probe, WRONG_KEY)
        out.append({"method": method, "route": path, "probe": probe, "none": none, "none_kind": none_kind,
                    "wrong": wrong, "wrong_kind": wrong_kind})
    print("ROUTES-JSON")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
