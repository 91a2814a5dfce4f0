# -*- coding: utf-8 -*-
# Copyright: hx.litellm contributors
# Apache License 2.0 (see LICENSE)
"""Expand model aliases x backends into LiteLLM ``model_list`` entries.

LiteLLM has no notion of a "backend pool": the pool behind an alias IS the set of
``model_list`` entries sharing one ``model_name``. Building that set is a loop of
loops with a few per-alias overrides, which reads far better here than in Jinja.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.hx.litellm.plugins.module_utils.gateway import MODELS, GatewayError, deployments

DOCUMENTATION = r"""
name: model_list
author: hx.litellm contributors
version_added: 0.1.0
short_description: Expand aliases x backends into LiteLLM model_list entries
description:
  - Returns one LiteLLM C(model_list) entry per alias and backend, with the provider
    prefix rendered into C(model), the backend URL as C(api_base) and timeouts and
    retries in C(litellm_params), where LiteLLM reads them.
  - An alias may restrict itself to a subset of backends with C(backends).
options:
  _input:
    description: List of aliases (C(name), C(model), optional C(provider), C(backends),
      C(timeout), C(stream_timeout), C(num_retries), C(rpm), C(tpm), C(max_input_tokens), C(mode),
      C(input_cost_per_token), C(output_cost_per_token)).
    type: list
    elements: dict
    required: true
  backends:
    description: Backend base URLs (http(s)://host:port) every alias is served by.
    type: list
    elements: str
    required: true
  defaults:
    description: Default C(timeout), C(stream_timeout), C(num_retries), C(input_cost_per_token) and
      C(output_cost_per_token) for every entry.
    type: dict
"""

EXAMPLES = r"""
model_list: "{{ hx_litellm_proxy_models | hx.litellm.model_list(hx_litellm_proxy_backends, {'timeout': 30}) }}"
"""

RETURN = r"""
_value:
  description: LiteLLM model_list entries, aliases in input order, backends in input order.
  type: list
  elements: dict
"""

_PER_ENTRY_PARAMS = ("timeout", "stream_timeout", "num_retries", "rpm", "tpm")
# Token prices LiteLLM reports per request, rendered into model_info. A model priced here is
# never looked up in LiteLLM's cost map; an unpriced Ollama model misses that map on every
# request, and the failing lookup is not cached (docs/performance.md). None: use the map.
_PER_ENTRY_COSTS = ("input_cost_per_token", "output_cost_per_token")


def _entry_settings(alias, defaults):
    """litellm_params and model_info of every deployment of one alias, checked."""
    name = alias["name"]
    params = {}
    for key in _PER_ENTRY_PARAMS:
        value = alias.get(key, defaults.get(key))
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise AnsibleFilterError("%s: alias %r: %s must be a number >= 0, got %r" % (MODELS, name, key, value))
            params[key] = value

    model_info = {"mode": alias.get("mode", "chat")}
    if alias.get("max_input_tokens") is not None:
        model_info["max_input_tokens"] = alias["max_input_tokens"]
    for key in _PER_ENTRY_COSTS:
        value = alias[key] if key in alias else defaults.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            if key in alias:
                where = "%s: alias %r: %s" % (MODELS, name, key)
            else:  # the role-wide default, e.g. hx_litellm_proxy_input_cost
                where = "hx_litellm_proxy_" + key.replace("_per_token", "")
            raise AnsibleFilterError(
                "%s must be a price >= 0 (or null to use LiteLLM's cost map), got %r; fix: 0 for "
                "self-hosted backends" % (where, value)
            )
        model_info[key] = float(value)
    return params, model_info


def model_list(models, backends, defaults=None):
    """Return LiteLLM model_list entries for every alias x backend."""
    defaults = dict(defaults or {})
    try:
        expanded = deployments(models, backends)
    except GatewayError as err:
        raise AnsibleFilterError(str(err))
    settings = {}
    entries = []
    for alias, provider, api_base in expanded:
        name = alias["name"]
        if name not in settings:
            settings[name] = _entry_settings(alias, defaults)
        params, model_info = settings[name]
        litellm_params = {"model": "%s/%s" % (provider, alias["model"]), "api_base": api_base}
        litellm_params.update(params)
        entries.append({"model_name": name, "litellm_params": litellm_params, "model_info": dict(model_info)})
    return entries


class FilterModule(object):
    """hx.litellm filters."""

    def filters(self):
        return {"model_list": model_list}
