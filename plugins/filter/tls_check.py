# -*- coding: utf-8 -*-
# Copyright: hx.litellm contributors
# Apache License 2.0 (see LICENSE)
"""Whether a certificate, its key and the clients' CA can serve a gateway's HTTPS listener."""

from __future__ import annotations

from ansible_collections.hx.litellm.plugins.module_utils.tls import check

DOCUMENTATION = r"""
name: tls_check
author: hx.litellm contributors
version_added: 0.1.0
short_description: Judge a gateway's TLS certificate, key and CA before the host changes
description:
  - Parses the certificate (then any intermediates), the private key and the CA clients verify with,
    all PEM, on the control node.
  - Reports a key that is not the certificate's, a key encrypted with a passphrase, a certificate that
    expired or is not valid yet, one whose subjectAltName does not cover every name in O(names), and
    one the CA did not issue. The key's content never appears in the result.
options:
  _input:
    description: The certificate, PEM; intermediates may follow it.
    type: str
    required: true
  key:
    description: The certificate's private key, PEM, unencrypted.
    type: str
    required: true
  ca:
    description: The CA certificate(s) clients verify the listener with, PEM.
    type: str
    required: true
  names:
    description: Host names or IP addresses clients and the gateway's own probes call it by.
    type: list
    elements: str
    required: true
"""

EXAMPLES = r"""
tls: "{{ hx_litellm_proxy_tls_cert | hx.litellm.tls_check(hx_litellm_proxy_tls_key, hx_litellm_proxy_tls_ca, ['gw01.example.com']) }}"
# {'problems': [], 'names': ['gw01.example.com'], 'not_after': '2027-12-03T00:00:00+00:00', 'days_left': 364, 'sha256': '...'}
"""

RETURN = r"""
_value:
  description: C(problems) (each names the variable and the fix; empty when fit to deploy), C(names) (the
    certificate's subjectAltName), C(not_after), C(days_left) and C(sha256) (the certificate's fingerprint).
  type: dict
"""


def tls_check(cert, key, ca, names):
    return check(cert, key, ca, list(names or []))


class FilterModule(object):
    """hx.litellm TLS check."""

    def filters(self):
        return {"tls_check": tls_check}
