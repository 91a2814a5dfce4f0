#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hx.litellm contributors
# Apache License 2.0 (see LICENSE)
"""Wait for a (re)started LiteLLM proxy to report ready, or stop at its first failed start."""

from __future__ import annotations

DOCUMENTATION = r"""
module: gateway_ready
short_description: Wait until a LiteLLM proxy is ready, failing as soon as its unit fails to start
version_added: 0.1.0
author: hx.litellm contributors (!UNKNOWN)
description:
  - Polls the proxy's C(/health/readiness) and its systemd unit together. Succeeds when readiness
    answers HTTP 200 with C(status) C(healthy); fails as soon as systemd reports that the service's
    process exited (the unit is C(failed), or it was restarted by C(Restart=) since the wait began),
    instead of waiting out the whole budget; fails when the budget runs out.
  - Reports how long the proxy took to become ready, so a caller can record it.
  - Only reads; it runs the same in check mode.
options:
  url:
    description: Readiness URL as the host reaches it, e.g. C(http://127.0.0.1:4000/health/readiness).
    type: str
    required: true
  service:
    description: Name of the systemd unit that runs the proxy.
    type: str
    required: true
  timeout:
    description: Seconds to wait for readiness in all.
    type: float
    required: true
  interval:
    description: Seconds between two polls.
    type: float
    default: 1
  ca_path:
    description:
      - PEM file of the CA an HTTPS listener's certificate is verified with, as clients verify it.
        Without it an HTTPS URL is verified against the system trust store.
    type: path
"""

EXAMPLES = r"""
- name: Wait for the proxy
  hx.litellm.gateway_ready:
    url: http://127.0.0.1:4000/health/readiness
    service: litellm
    timeout: 120
  register: ready
"""

RETURN = r"""
ready:
  description: Whether readiness answered healthy within the budget.
  type: bool
  returned: always
elapsed:
  description: Seconds from the start of the wait until ready, or until the wait stopped.
  type: float
  returned: always
reason:
  description: C(ready), C(unit failed), C(unit restarted) or C(timeout).
  type: str
  returned: always
url:
  description: The readiness URL that was polled (its scheme says whether the wait spoke HTTPS).
  type: str
  returned: always
unit:
  description: The unit's ActiveState, SubState, Result, NRestarts, ExecMainCode and ExecMainStatus at the end.
  type: dict
  returned: always
"""

import json
import time

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.urls import open_url

_PROPERTIES = ("ActiveState", "SubState", "Result", "NRestarts", "ExecMainCode", "ExecMainStatus")


def unit_state(module, service):
    """The unit's properties that say whether its process is up, from systemctl show."""
    rc, out, err = module.run_command(["systemctl", "show", service] + ["-p%s" % p for p in _PROPERTIES])
    state = {}
    for line in out.splitlines():
        key, _sep, value = line.partition("=")
        if key in _PROPERTIES:
            state[key] = value
    return state


def healthy(url, timeout, ca_path=None):
    """(ready, why not): the last reason is reported when the budget runs out, e.g. a certificate
    the CA does not verify, which no amount of waiting mends."""
    try:
        resp = open_url(url, timeout=timeout, validate_certs=True, ca_path=ca_path, use_netrc=False)
        status = json.loads(resp.read() or b"{}").get("status")
        return resp.getcode() == 200 and status == "healthy", "answered %s %s" % (resp.getcode(), status)
    except Exception as err:  # not listening yet, 503 while starting, a half-written answer
        reason = getattr(err, "reason", err)
        return False, "%s: %s" % (type(reason).__name__, reason)


def failure(state, restarts_before):
    """Why the unit's process is not coming up, or None while it may still be starting."""
    if state.get("ActiveState") == "failed":
        return "unit failed"
    try:
        restarts = int(state.get("NRestarts", "0") or 0)
    except ValueError:
        restarts = 0
    # Restart=always brings a crashed process back: a restart during the wait is a failed start.
    if restarts > restarts_before or state.get("SubState") == "auto-restart":
        return "unit restarted"
    return None


def exit_of(state):
    """How the service's last process ended, as systemd recorded it (ExecMainCode is a CLD_* code)."""
    code, status = state.get("ExecMainCode", ""), state.get("ExecMainStatus", "")
    if code == "1":
        return " (its process exited with status %s)" % status
    if code in ("2", "3"):
        return " (its process was killed by signal %s)" % status
    return ""


def main():
    module = AnsibleModule(
        argument_spec=dict(
            url=dict(type="str", required=True),
            service=dict(type="str", required=True),
            timeout=dict(type="float", required=True),
            interval=dict(type="float", default=1),
            ca_path=dict(type="path"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    started = time.monotonic()
    before = unit_state(module, p["service"])
    try:
        restarts_before = int(before.get("NRestarts", "0") or 0)
    except ValueError:
        restarts_before = 0
    reason, state, last = "timeout", before, ""
    while True:
        elapsed = time.monotonic() - started
        ready, last = healthy(p["url"], timeout=max(1.0, min(5.0, p["timeout"] - elapsed)), ca_path=p["ca_path"])
        if ready:
            reason = "ready"
            break
        state = unit_state(module, p["service"])
        stopped = failure(state, restarts_before)
        if stopped:
            reason = stopped
            break
        if time.monotonic() - started >= p["timeout"]:
            break
        time.sleep(p["interval"])
    elapsed = round(time.monotonic() - started, 1)
    result = dict(changed=False, ready=reason == "ready", elapsed=elapsed, reason=reason, unit=state, url=p["url"])
    if reason == "ready":
        module.exit_json(**result)
    detail = {
        "timeout": "did not report ready within %ss (last answer: %s)" % (p["timeout"], last),
        "unit failed": "failed to start",
        "unit restarted": "exited while starting and was restarted",
    }[reason]
    module.fail_json(msg="%s.service %s after %.1fs%s" % (p["service"], detail, elapsed, exit_of(state)), **result)


if __name__ == "__main__":
    main()
