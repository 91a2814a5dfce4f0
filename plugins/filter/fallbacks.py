# -*- coding: utf-8 -*-
# Copyright: hx.litellm contributors
# Apache License 2.0 (see LICENSE)
"""Turn {alias: [fallback, ...]} into the list of one-key mappings LiteLLM reads."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

DOCUMENTATION = r"""
name: fallbacks
author: hx.litellm contributors
version_added: 0.1.0
short_description: Render alias fallbacks the way LiteLLM's router reads them
description:
  - 'Turns a mapping C({alias: [fallback, ...]}) into C([{alias: [fallback, ...]}, ...]), the shape of
    C(router_settings.fallbacks) and C(router_settings.context_window_fallbacks).'
  - Fails when a name is not one of O(aliases), when an alias falls back to itself, or when a value is
    not a list of names.
options:
  _input:
    description: Mapping of alias to the aliases that serve its requests when it fails.
    type: dict
    required: true
  aliases:
    description: The defined aliases.
    type: list
    elements: str
    required: true
  variable:
    description: Name of the variable the mapping comes from, for error messages.
    type: str
    default: hx_litellm_proxy_fallbacks
"""

EXAMPLES = r"""
fallbacks: "{{ {'phi3-3.8b': ['llama3-8b']} | hx.litellm.fallbacks(['phi3-3.8b', 'llama3-8b']) }}"
# -> [{'phi3-3.8b': ['llama3-8b']}]
"""

RETURN = r"""
_value:
  description: One single-key mapping per alias, in input order.
  type: list
  elements: dict
"""


def fallbacks(mapping, aliases, variable="hx_litellm_proxy_fallbacks"):
    if not isinstance(mapping, dict):
        raise AnsibleFilterError("%s must map an alias to a list of aliases, got %r" % (variable, mapping))
    known = list(aliases or [])
    out = []
    for alias, targets in mapping.items():
        if isinstance(targets, str):
            targets = [targets]
        if not isinstance(targets, list) or not targets or not all(isinstance(t, str) for t in targets):
            raise AnsibleFilterError("%s: %r must map to a list of alias names, got %r; fix: e.g. {%s: [%s]}"
                                     % (variable, alias, targets, alias, known[-1] if known else "other-alias"))
        unknown = [name for name in [alias] + targets if name not in known]
        if unknown:
            raise AnsibleFilterError("%s names %s, which is not a defined alias (%s); fix: fall back only "
                                     "between aliases of hx_litellm_proxy_models"
                                     % (variable, ", ".join(repr(u) for u in unknown), ", ".join(known)))
        if alias in targets:
            raise AnsibleFilterError("%s: alias %r falls back to itself; fix: name another alias" % (variable, alias))
        out.append({alias: list(targets)})
    return out


class FilterModule(object):
    """hx.litellm filters."""

    def filters(self):
        return {"fallbacks": fallbacks}
