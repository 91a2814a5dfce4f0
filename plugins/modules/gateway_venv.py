#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hx.litellm contributors
# Apache License 2.0 (see LICENSE)
"""Read a gateway venv's package set and compare it with its release's lock."""

from __future__ import annotations

DOCUMENTATION = r"""
module: gateway_venv
short_description: Compare a LiteLLM venv with its lock file, and fingerprint its package set
version_added: 0.1.0
author: hx.litellm contributors (!UNKNOWN)
description:
  - Reads the distributions installed in a venv (their metadata under C(lib/python*/site-packages)),
    without running the venv's interpreter, so a venv whose interpreter is gone is reported, not fatal.
  - Compares them with the lock's pins, reporting missing packages and packages at another version; extra
    packages (pip, setuptools) are listed but are no drift.
  - Returns a digest of the package set, equal on two venvs exactly when they hold the same releases.
  - Read-only; it never fails because of what it finds.
options:
  venv:
    description: The venv's directory.
    type: path
    required: true
  pins:
    description: The lock's pins (normalised name to exact version); empty skips the comparison.
    type: dict
    default: {}
notes:
  - Supports check mode; it changes nothing.
"""

EXAMPLES = r"""
- name: Check whether the venv matches its lock
  hx.litellm.gateway_venv:
    venv: /opt/litellm/venvs/1.106.2
    pins: "{{ lookup('ansible.builtin.file', 'locks/litellm-1.106.2-py3.11.txt') | hx.litellm.lock_pins }}"
  register: venv
"""

RETURN = r"""
exists:
  description: Whether the venv has a site-packages directory at all.
  type: bool
  returned: always
packages:
  description: Installed distributions, normalised name to version.
  type: dict
  returned: always
count:
  description: How many distributions are installed.
  type: int
  returned: always
digest:
  description: SHA-256 (prefixed C(sha256:)) of the sorted C(name==version) lines of O(pins)' packages as installed (all packages when O(pins) is empty).
  type: str
  returned: always
matches:
  description: Every pin is installed at its version (false when the venv does not exist).
  type: bool
  returned: always
missing:
  description: Pinned packages that are not installed.
  type: list
  elements: str
  returned: always
differ:
  description: Pinned packages installed at another version, each as C(name have (lock want)).
  type: list
  elements: str
  returned: always
extra:
  description: Installed packages the lock does not name.
  type: list
  elements: str
  returned: always
"""

import glob
import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.hx.litellm.plugins.module_utils.release import compare, digest, normalise


def installed(venv):
    """{name: version} from the dist-info metadata of the venv's site-packages; None without one."""
    sites = sorted(glob.glob(os.path.join(venv, "lib", "python*", "site-packages")))
    if not sites:
        return None
    found = {}
    for site in sites:
        for meta in glob.glob(os.path.join(site, "*.dist-info", "METADATA")):
            name = version = None
            with open(meta, encoding="utf-8", errors="replace") as handle:
                for line in handle:
                    if not line.strip():
                        break
                    if line.startswith("Name:"):
                        name = line.split(":", 1)[1].strip()
                    elif line.startswith("Version:"):
                        version = line.split(":", 1)[1].strip()
            if name and version:
                found[normalise(name)] = version
    return found


def main():
    module = AnsibleModule(
        argument_spec=dict(venv=dict(type="path", required=True), pins=dict(type="dict", default={})),
        supports_check_mode=True,
    )
    pins = {normalise(k): str(v) for k, v in module.params["pins"].items()}
    packages = installed(module.params["venv"])
    exists = packages is not None
    packages = packages or {}
    result = compare(pins, packages) if pins else {"missing": [], "differ": [], "extra": [], "matches": exists}
    if not exists:
        result["matches"] = False
    locked = {name: version for name, version in packages.items() if not pins or name in pins}
    module.exit_json(changed=False, exists=exists, packages=packages, count=len(packages),
                     digest=digest(locked), **result)


if __name__ == "__main__":
    main()
