# -*- coding: utf-8 -*-
# Copyright: hx.litellm contributors
# Apache License 2.0 (see LICENSE)
"""Replace the given secret values wherever they occur in a text."""

from __future__ import annotations

DOCUMENTATION = r"""
name: redact
author: hx.litellm contributors
version_added: 0.1.0
short_description: Mask known secret values in a text, in whatever form the text carries them
description:
  - Replaces every occurrence of each non-empty value in O(secrets) with O(mask), longest first, so a
    secret inside JSON, a URL (C(redis://:pw@host)) or a Python repr is masked as well as a bare one.
  - Used on journal lines a failed start shows and on evidence bundles, with the play's master key
    and Redis password. Empty or undefined secrets are ignored.
options:
  _input:
    description: The text to clean.
    type: str
    required: true
  secrets:
    description: The secret values; empty strings and null are skipped.
    type: list
    elements: str
    required: true
  mask:
    description: What each occurrence becomes.
    type: str
    default: <redacted>
"""

EXAMPLES = r"""
clean: "{{ journal | hx.litellm.redact([hx_litellm_proxy_master_key | default(''), hx_litellm_proxy_redis_password | default('')]) }}"
"""

RETURN = r"""
_value:
  description: The text with every occurrence of every secret replaced.
  type: str
"""


def redact(text, secrets, mask="<redacted>"):
    text = "" if text is None else str(text)
    for secret in sorted({str(s) for s in secrets or [] if s}, key=len, reverse=True):
        text = text.replace(secret, mask)
    return text


class FilterModule(object):
    """hx.litellm filters."""

    def filters(self):
        return {"redact": redact}
