# -*- coding: utf-8 -*-
# Copyright: hx.litellm contributors
# Apache License 2.0 (see LICENSE)
"""Why a LiteLLM release must never run."""

from __future__ import annotations

from ansible_collections.hx.litellm.plugins.module_utils.release import refusals

DOCUMENTATION = r"""
name: release_refusals
author: hx.litellm contributors
version_added: 0.1.0
short_description: Why a LiteLLM release must never run
description:
  - Returns one sentence per advisory that covers the release, naming the advisory, then the first
    release past all of them; an empty list when the release may run.
  - A release listed as a malicious upload is refused whatever its number; a release below the fix of
    an actively exploited flaw is refused.
options:
  _input:
    description: The release, e.g. C(1.106.2).
    type: str
    required: true
  advisories:
    description:
      - The floor's data. Key C(malicious) lists hostile uploads (C(versions), C(id), C(summary)); key C(floor)
        lists flaws (C(id), C(fixed), C(summary)), and every release below C(fixed) is refused.
    type: dict
    required: true
"""

EXAMPLES = r"""
refused: "{{ '1.82.8' | hx.litellm.release_refusals(_hx_litellm_proxy_advisories) }}"
"""

RETURN = r"""
_value:
  description: The reasons, empty when the release may run.
  type: list
  elements: str
"""


def release_refusals(version, advisories):
    return refusals(version, advisories or {})


class FilterModule(object):
    """hx.litellm filters."""

    def filters(self):
        return {"release_refusals": release_refusals}
