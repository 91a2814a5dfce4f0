# -*- coding: utf-8 -*-
# Copyright: hx.litellm contributors
# Apache License 2.0 (see LICENSE)
"""The exact pins of a release's lock file."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.hx.litellm.plugins.module_utils.release import lock_pins as _lock_pins

DOCUMENTATION = r"""
name: lock_pins
author: hx.litellm contributors
version_added: 0.1.0
short_description: The exact pins of a hash-locked requirements file
description:
  - Reads a lock file (every package at one version, each with its sha256 hashes, as
    C(uv pip compile --generate-hashes) writes it) and returns each package's exact version, by normalised name.
  - Fails when a requirement is not pinned exactly or has no hash, as C(pip install --require-hashes) would.
options:
  _input:
    description: The text of the lock file.
    type: str
    required: true
"""

EXAMPLES = r"""
pins: "{{ lookup('ansible.builtin.file', 'locks/litellm-1.106.2-py3.11.txt') | hx.litellm.lock_pins }}"
# -> {'aiohttp': '3.14.5', ..., 'litellm': '1.106.2', ...}
"""

RETURN = r"""
_value:
  description: Normalised distribution name to exact version.
  type: dict
"""


def lock_pins(text):
    try:
        return _lock_pins(text)
    except ValueError as err:
        raise AnsibleFilterError("not a hash-locked requirements file: %s" % err)


class FilterModule(object):
    """hx.litellm filters."""

    def filters(self):
        return {"lock_pins": lock_pins}
