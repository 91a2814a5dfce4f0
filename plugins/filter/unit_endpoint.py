# -*- coding: utf-8 -*-
# Copyright: hx.litellm contributors
# Apache License 2.0 (see LICENSE)
"""Where a gateway's unit makes LiteLLM listen, read from the unit itself."""

from __future__ import annotations

from ansible_collections.hx.litellm.plugins.module_utils.gateway import unit_endpoint as _unit_endpoint

DOCUMENTATION = r"""
name: unit_endpoint
author: hx.litellm contributors
version_added: 0.1.0
short_description: The address and port a LiteLLM unit listens on, from its ExecStart
description:
  - Reads C(--host), C(--port) and C(--ssl_certfile_path) from the C(ExecStart=) line of a unit's text
    (LiteLLM's defaults, C(0.0.0.0), C(4000) and plain HTTP, where the line does not say) and returns them
    with the URL the host reaches the proxy on. What serves now is judged from the live unit, never from
    the inputs of a change.
options:
  _input:
    description: The unit's text; empty gives LiteLLM's defaults.
    type: str
    required: true
  client_host:
    description:
      - The address clients call the gateway by. An HTTPS proxy listening on every interface is probed
        there, since the probe verifies the certificate, which covers that name.
    type: str
  ca_file:
    description: The CA file on the host an HTTPS unit's certificate is verified with; returned as C(probe_ca).
    type: str
    default: ""
"""

EXAMPLES = r"""
live: "{{ unit_text | hx.litellm.unit_endpoint }}"
# {'host': '0.0.0.0', 'port': 4000, 'tls': False, 'probe_base': 'http://127.0.0.1', 'probe_url': 'http://127.0.0.1:4000',
#  'probe_ca': ''}
"""

RETURN = r"""
_value:
  description: C(host), C(port), C(tls), C(probe_base), C(probe_url) and C(probe_ca).
  type: dict
"""


def unit_endpoint(text, client_host=None, ca_file=""):
    return _unit_endpoint(text, client_host, ca_file)


class FilterModule(object):
    """hx.litellm unit endpoint."""

    def filters(self):
        return {"unit_endpoint": unit_endpoint}
