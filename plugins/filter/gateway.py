# -*- coding: utf-8 -*-
# Copyright: hx.litellm contributors
# Apache License 2.0 (see LICENSE)
"""Describe a LiteLLM gateway once, for every role of the collection."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.hx.litellm.plugins.module_utils.gateway import GatewayError, describe

DOCUMENTATION = r"""
name: gateway
author: hx.litellm contributors
version_added: 0.1.0
short_description: The normalised description of a LiteLLM gateway
description:
  - Turns the public inputs of the C(hx_litellm_proxy) role into the one description every role of
    the collection reads, so that no role restates another role's defaults.
  - Returns the version and pins, the Debian packages, the service user and group, the service name,
    every path on the host, the listen address and port, the URL the host probes and the URL clients
    call, the aliases and the alias x backend deployments.
  - An alias is served by its own O(_input.models[].backends) when it lists any, else by every backend;
    trailing slashes are stripped and the provider defaults to C(ollama_chat).
options:
  _input:
    description:
      - The inputs; keys C(version), C(python), C(user), C(group), C(install_dir), C(config_dir),
        C(backup_dir), C(host), C(port), C(backends), C(models), C(client_host), C(tls) (whether the
        listener serves HTTPS; optional, default false), C(metrics) (optional, default false) and C(tls_ca) (the PEM of the CA clients verify it with).
    type: dict
    required: true
"""

EXAMPLES = r"""
hx_litellm_proxy_gateway: >-
  {{ {'version': '1.106.2', 'python': 'python3.11', 'user': 'litellm', 'group': 'litellm',
      'install_dir': '/opt/litellm', 'config_dir': '/etc/litellm', 'backup_dir': '/var/backups/litellm',
      'host': '0.0.0.0', 'port': 4000, 'backends': ['http://ollama-1:11434'],
      'models': [{'name': 'llama3-8b', 'model': 'llama3:8b-instruct-q8_0'}],
      'client_host': 'gw01.example.org'} | hx.litellm.gateway }}
"""

RETURN = r"""
_value:
  description:
    - The description; keys C(version), C(python), C(python_version), C(packages), C(pip_packages),
      C(user), C(account_comment), C(group), C(service), C(paths) (install_dir, venvs_dir, venv, bin, venv_python, checker,
      json_lines, wheelhouse_dir, config_dir, config_file, env_file, unit_file, state_dir, cache_dir, backup_dir,
      ca_file, system_bundle, metrics_dir, tls_cert, tls_key, tls_ca), C(release_files), C(optional_files), C(secret_files), C(host), C(port),
      C(client_host), C(metrics), C(tls), C(tls_ca_pem), C(scheme), C(tls_names), C(probe_host), C(probe_base), C(probe_url), C(probe_ca),
      C(url), C(aliases), C(deployments) (alias, provider, model, api_base),
      C(backends) (per alias, its api_base URLs) and C(ollama_api_base).
  type: dict
"""


def gateway(inputs):
    """Return the description of the gateway, or fail naming the bad input and its fix."""
    try:
        return describe(inputs)
    except GatewayError as err:
        raise AnsibleFilterError(str(err))
    except KeyError as err:
        raise AnsibleFilterError("hx.litellm.gateway: input %s is missing" % err)


class FilterModule(object):
    """hx.litellm gateway description."""

    def filters(self):
        return {"gateway": gateway}
