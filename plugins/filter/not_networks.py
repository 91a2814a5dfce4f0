# -*- coding: utf-8 -*-
# Copyright: hx.litellm contributors
# Apache License 2.0 (see LICENSE)
"""List the entries that are not IP addresses or networks, as systemd's IPAddressAllow= reads them."""

from __future__ import annotations

import ipaddress

DOCUMENTATION = r"""
name: not_networks
author: hx.litellm contributors
version_added: 0.1.0
short_description: The entries of a list that are not IP addresses or CIDR networks
description:
  - Returns the entries that Python's C(ipaddress) cannot read as an IPv4 or IPv6 address or network,
    so C(999.1.1.1), C(10.0.0.0/33) or a host name are reported before systemd would ignore them.
  - Host bits in a network (C(10.0.0.1/8)) are accepted, as systemd accepts them.
options:
  _input:
    description: Addresses or CIDRs, e.g. the value of C(hx_litellm_proxy_ip_allow).
    type: list
    elements: str
    required: true
"""

EXAMPLES = r"""
bad: "{{ ['10.0.0.0/8', '999.1.1.1', 'fd00::/8'] | hx.litellm.not_networks }}"
# -> ['999.1.1.1']
"""

RETURN = r"""
_value:
  description: The entries that are not addresses or networks, in input order; empty when all are.
  type: list
  elements: str
"""


def not_networks(entries):
    bad = []
    for entry in entries or []:
        try:
            ipaddress.ip_network(str(entry).strip(), strict=False)
        except ValueError:
            bad.append(entry)
    return bad


class FilterModule(object):
    """hx.litellm filters."""

    def filters(self):
        return {"not_networks": not_networks}
