# -*- coding: utf-8 -*-
# Copyright: hx.litellm contributors
# Apache License 2.0 (see LICENSE)
"""The interpreter a platform's venv is built from."""

from __future__ import annotations

from ansible_collections.hx.litellm.plugins.module_utils.release import platform_python as _platform_python
from ansible_collections.hx.litellm.plugins.module_utils.release import python_supported as _python_supported

DOCUMENTATION = r"""
name: platform_python
author: hx.litellm contributors
version_added: 0.1.0
short_description: The interpreter a platform's venv is built from
description:
  - Returns C(python) (e.g. C(python3.13)) and C(why). The rule is Python 3.11 where the distribution ships
    it, otherwise the distribution's own Python 3 when LiteLLM supports it; C(python) is empty when neither holds.
  - A platform missing from I(platforms) is judged by the Python 3 Ansible found on it.
options:
  _input:
    description: The host's facts (distribution, distribution_version, distribution_major_version, python).
    type: dict
    required: true
  platforms:
    description: Known releases, C(<distribution> <version>) to C(own) (its Python 3) and C(ships) (other Python 3 packages).
    type: dict
    required: true
  supported:
    description: The Python range LiteLLM supports, C(min) and C(max) (e.g. C(3.10), C(3.15)).
    type: dict
    required: true
"""

EXAMPLES = r"""
chosen: "{{ ansible_facts | hx.litellm.platform_python(_hx_litellm_proxy_platforms, _hx_litellm_proxy_python_range) }}"
supported: "{{ 'python3.13' | hx.litellm.python_supported(_hx_litellm_proxy_python_range) }}"
"""

RETURN = r"""
_value:
  description: C(python), the interpreter (empty when none is suitable), and C(why), the reason in words.
  type: dict
"""


def platform_python(facts, platforms, supported):
    return _platform_python(dict(facts or {}), dict(platforms or {}), supported)


def python_supported(python, supported):
    return _python_supported(python, supported)


class FilterModule(object):
    """hx.litellm filters."""

    def filters(self):
        return {"platform_python": platform_python, "python_supported": python_supported}
