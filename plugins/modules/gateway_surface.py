#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hx.litellm contributors
# Apache License 2.0 (see LICENSE)
"""Every route of the installed LiteLLM app, called without a key and with a wrong key."""

from __future__ import annotations

DOCUMENTATION = r"""
module: gateway_surface
short_description: Sweep every route of a deployed LiteLLM release without a key and with a wrong key
version_added: 0.1.0
author: hx.litellm contributors (!UNKNOWN)
description:
  - Enumerates the routes of the LiteLLM app installed in the gateway's venv (so a new release's new
    routes are swept too), then calls each on the running proxy twice, without a key and with a key
    that is not the master key.
  - Must run with the venv's Python (set C(ansible_python_interpreter) to it for the task), since the
    routes are read from the app that venv holds.
  - A refusal is HTTP 401, 403, 404 or 405, or, without a database, LiteLLM's 400 C(no_db_connection) for a
    key it cannot look up. Everything else answers, and is returned with its status.
  - Sends every route's methods with no key or a wrong key only, path parameters filled with a placeholder
    and an empty JSON object as the body, so only what answers without a valid key can act; on LiteLLM
    1.106.2 that is one login flow that creates a short-lived login id (docs/hardening.md lists every
    route that answers, and why). It does not run in check mode.
options:
  base_url:
    description: Where the host reaches the proxy, e.g. C(http://127.0.0.1:4000) or C(https://gw01:4000).
    type: str
    required: true
  ca_path:
    description: CA file an HTTPS proxy's certificate is verified with.
    type: path
  timeout:
    description: Seconds to wait for one answer.
    type: float
    default: 10
"""

EXAMPLES = r"""
- name: Sweep the keyless surface
  hx.litellm.gateway_surface:
    base_url: http://127.0.0.1:4000
  vars:
    ansible_python_interpreter: /opt/litellm/venvs/1.106.2/bin/python
  register: surface
"""

RETURN = r"""
probed:
  description: Routes (method and path) called.
  type: int
  returned: always
open_without_key:
  description: Routes that answered without a key with something other than a refusal (method, route, status).
  type: list
  elements: dict
  returned: always
open_with_wrong_key:
  description: Routes that answered a wrong key with something other than a refusal (method, route, status).
  type: list
  elements: dict
  returned: always
release:
  description: The LiteLLM version whose app was swept.
  type: str
  returned: always
"""

import contextlib
import io
import json
import os
import re
import urllib.error

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.urls import open_url

# A key LiteLLM cannot know (the master key is never used here).
WRONG_KEY = "sk-hx-sweep-" + "0" * 32
SKIP_METHODS = {"HEAD", "OPTIONS"}
REFUSALS = {401, 403, 404, 405}


def refused(status, kind):
    """Whether an answer turns the caller away: no key or a wrong key gets nothing."""
    return status in REFUSALS or (status == 400 and kind == "no_db_connection")


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


def app_routes():
    """The routes of the venv's own release, and its version. LiteLLM prints while it loads: kept
    off the module's output, which must be JSON only."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    os.environ.setdefault("LITELLM_MODE", "PRODUCTION")
    with contextlib.redirect_stdout(io.StringIO()):
        from litellm.proxy.proxy_server import app  # the venv's own release
        from importlib.metadata import version
    return sorted(set(walk(app.routes)), key=lambda item: (item[1], item[0])), version("litellm")


def call(base, method, path, key, timeout, ca_path):
    data = b"{}" if method in ("POST", "PUT", "PATCH") else None
    headers = {"Content-Type": "application/json"} if data is not None else {}
    if key:
        headers["Authorization"] = "Bearer " + key
    try:
        with open_url(base + path, data=data, method=method, headers=headers, timeout=timeout,
                      validate_certs=True, ca_path=ca_path, use_netrc=False) as reply:
            return reply.status, None
    except urllib.error.HTTPError as err:
        kind = None
        if err.code == 400:
            try:
                kind = (json.loads(err.read() or b"{}").get("error") or {}).get("type")
            except (ValueError, AttributeError):
                kind = None
        return err.code, kind
    except Exception as err:  # timeout, reset: the route did not answer, which is not a refusal either
        return "no answer", type(getattr(err, "reason", err)).__name__


def main():
    module = AnsibleModule(
        argument_spec=dict(
            base_url=dict(type="str", required=True),
            ca_path=dict(type="path"),
            timeout=dict(type="float", default=10),
        ),
        supports_check_mode=False,
    )
    p = module.params
    try:
        routes, release = app_routes()
    except ImportError as err:
        module.fail_json(msg="cannot load LiteLLM's app (%s): run the module with the gateway's venv Python "
                             "(ansible_python_interpreter)" % err)
    base = p["base_url"].rstrip("/")
    open_none, open_wrong = [], []
    for method, path in routes:
        probe = re.sub(r"\{[^}]+\}", "hx-probe", path)
        for key, found in ((None, open_none), (WRONG_KEY, open_wrong)):
            status, kind = call(base, method, probe, key, p["timeout"], p["ca_path"])
            if not refused(status, kind):
                found.append({"method": method, "route": path, "status": status})
    module.exit_json(changed=False, probed=len(routes), open_without_key=open_none, open_with_wrong_key=open_wrong,
                     release=release)


if __name__ == "__main__":
    main()
