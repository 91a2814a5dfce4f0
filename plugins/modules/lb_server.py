#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hx.litellm contributors
# Apache License 2.0 (see LICENSE)
"""Drain gateways out of an HAProxy backend and put them back, through its runtime API."""

from __future__ import annotations

DOCUMENTATION = r"""
module: lb_server
short_description: Drain LiteLLM gateways in HAProxy and put them back, through its runtime API
version_added: 0.1.0
author: hx.litellm contributors (!UNKNOWN)
description:
  - Runs on the load balancer. Sets the named servers of one backend to C(ready) and others to
    C(drain) in a single call of HAProxy's admin socket, so traffic moves from one set to the
    other at one moment.
  - A drained server gets no new request; the module then waits until it has none in flight (HAProxy's
    current sessions of that server), up to I(drain_timeout). A server put back waits until its health
    check passes (status C(UP)), up to I(up_timeout), and fails if it does not.
  - A load balancer whose socket does not exist yet (HAProxy not set up) or whose backend does not list
    a server is reported in C(skipped) and left alone, so a first deployment can run before the load balancer.
  - In check mode it reads the servers' states and reports what it would change.
options:
  socket:
    description: Path of HAProxy's admin socket (C(stats socket ... level admin)).
    type: path
    required: true
  backend:
    description: Backend whose servers are the gateways.
    type: str
    required: true
  drain:
    description: Servers to take out (state drain), waiting for their requests in flight.
    type: list
    elements: str
    default: []
  ready:
    description: Servers to put back (state ready), waiting for their health check to pass.
    type: list
    elements: str
    default: []
  endpoints:
    description:
      - Where servers put back serve now, one C(name), C(port) and C(tls) each (other keys are ignored). A server
        HAProxy still calls on another port or scheme (the change moved it) is put back without waiting for its
        health check, with a warning; the load balancer's own play renders the new endpoint and checks it.
    type: list
    elements: dict
    default: []
  drain_timeout:
    description: Seconds to wait for the drained servers' requests in flight; past it the module returns
      with C(drained=false) and a warning, and the caller's change goes on.
    type: float
    default: 120
  up_timeout:
    description: Seconds to wait for a server put back to pass its health check; past it the module fails.
    type: float
    default: 60
"""

EXAMPLES = r"""
- name: Take mh-gw01 out of the load balancer, waiting for its requests in flight
  hx.litellm.lb_server:
    socket: /run/haproxy/admin.sock
    backend: litellm
    drain: [mh-gw01]
  delegate_to: lb01
"""

RETURN = r"""
before:
  description: Each named server's status and requests in flight before the call.
  type: dict
  returned: always
after:
  description: Each named server's status and requests in flight at the end.
  type: dict
  returned: always
skipped:
  description: Named servers left alone (no socket yet, or not in the backend), with the reason.
  type: dict
  returned: always
drained:
  description: Whether every drained server reached zero requests in flight within drain_timeout.
  type: bool
  returned: always
moved:
  description: Servers put back whose port or scheme HAProxy does not call yet (not waited for).
  type: list
  elements: str
  returned: when servers were put back
commands:
  description: The runtime API commands sent (or, in check mode, that would be sent), in one call.
  type: list
  elements: str
  returned: always
waited:
  description: Seconds spent waiting for the drain and for the health checks.
  type: float
  returned: always
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.hx.litellm.plugins.module_utils import haproxy


def main():
    module = AnsibleModule(
        argument_spec=dict(
            socket=dict(type="path", required=True),
            backend=dict(type="str", required=True),
            drain=dict(type="list", elements="str", default=[]),
            ready=dict(type="list", elements="str", default=[]),
            endpoints=dict(type="list", elements="dict", default=[]),
            drain_timeout=dict(type="float", default=120),
            up_timeout=dict(type="float", default=60),
        ),
        supports_check_mode=True,
    )
    p = module.params
    named = list(dict.fromkeys(p["drain"] + p["ready"]))
    result = dict(changed=False, before={}, after={}, skipped={}, drained=True, waited=0.0, commands=[])
    if set(p["drain"]) & set(p["ready"]):
        module.fail_json(msg="a server cannot be drained and put back at once: %s"
                         % sorted(set(p["drain"]) & set(p["ready"])), **result)
    if not os.path.exists(p["socket"]):
        result["skipped"] = {name: "no HAProxy admin socket at %s yet" % p["socket"] for name in named}
        module.exit_json(**result)
    try:
        current = haproxy.servers(p["socket"], p["backend"])
    except (OSError, haproxy.HaproxyError) as error:
        module.fail_json(msg="cannot read HAProxy's servers through %s: %s" % (p["socket"], error), **result)
    result["skipped"] = {name: "not a server of backend %s" % p["backend"] for name in named if name not in current}
    drain = [name for name in p["drain"] if name in current]
    ready = [name for name in p["ready"] if name in current]
    result["before"] = {name: current[name] for name in drain + ready}
    changes = [haproxy.set_state(name, p["backend"], "ready") for name in ready if current[name]["state"] != "ready"]
    changes += [haproxy.set_state(name, p["backend"], "drain") for name in drain if current[name]["state"] != "drain"]
    result["changed"] = bool(changes)
    result["commands"] = changes
    if module.check_mode:
        result["after"] = result["before"]
        module.exit_json(**result)
    try:
        if changes:
            answer = haproxy.send(p["socket"], changes).strip()
            if answer:
                module.fail_json(msg="HAProxy refused %s: %s" % (changes, answer), **result)
        waited = 0.0
        if drain:
            ok, seconds, last = haproxy.wait(p["socket"], p["backend"], drain, lambda s: s.get("in_flight", 0) == 0,
                                             p["drain_timeout"])
            waited += seconds
            result["drained"] = ok
            if not ok:
                module.warn("%s still had requests in flight after %.0f s; going on"
                            % ({n: s.get("in_flight") for n, s in last.items()}, p["drain_timeout"]))
        serving = {str(e.get("name")): e for e in p["endpoints"]}
        moved = [name for name in ready if name in serving and (
            int(serving[name].get("port", current[name]["port"])) != current[name]["port"]
            or bool(serving[name].get("tls", current[name]["tls"])) != current[name]["tls"])]
        for name in moved:
            module.warn("HAProxy still calls %s on port %s %s TLS; put back without waiting for its health check, "
                        "which passes once the load balancer's configuration follows (hx.litellm.hx_litellm_lb)"
                        % (name, current[name]["port"], "with" if current[name]["tls"] else "without"))
        result["moved"] = moved
        ready_checked = [name for name in ready if name not in moved]
        if ready_checked:
            ok, seconds, last = haproxy.wait(p["socket"], p["backend"], ready_checked, lambda s: s.get("status") == "UP",
                                             p["up_timeout"])
            waited += seconds
            if not ok:
                result["after"] = last
                module.fail_json(msg="HAProxy does not report %s UP after %.0f s: %s"
                                 % (", ".join(ready_checked), p["up_timeout"], last), **result)
        result["waited"] = round(waited, 2)
        current = haproxy.servers(p["socket"], p["backend"])
    except (OSError, haproxy.HaproxyError) as error:
        module.fail_json(msg="HAProxy's admin socket %s failed: %s" % (p["socket"], error), **result)
    result["after"] = {name: current.get(name, {}) for name in drain + ready}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
