# -*- coding: utf-8 -*-
# Copyright: hx.litellm contributors
# Apache License 2.0 (see LICENSE)
"""Which LiteLLM releases may run, and what a release's venv must hold.

Shared by the filters (on the control node: a lock file's pins, the release floor) and the
module that compares a venv with its lock (on the gateway)."""

from __future__ import annotations

import hashlib
import re

_NAME = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==([^\s;\\]+)")
_RELEASE = re.compile(r"^(\d+)\.(\d+)\.(\d+)(?:\.post(\d+))?$")


def normalise(name):
    """A distribution name as PEP 503 compares it (Foo_Bar.baz -> foo-bar-baz)."""
    return re.sub(r"[-_.]+", "-", str(name)).lower()


def lock_name(version, python_version):
    """The file name of the lock for one LiteLLM release on one Python (e.g. litellm-1.106.2-py3.11.txt)."""
    return "litellm-%s-py%s.txt" % (version, python_version)


def lock_pins(text):
    """The exact pins of a hash-locked requirements file, {normalised name: version}.

    Raises ValueError when a requirement is not pinned exactly or carries no hash: such a file
    cannot be installed with --require-hashes, so it is no lock."""
    pins = {}
    current = None
    hashed = set()
    for raw in str(text).splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("--hash="):
            if current is None:
                raise ValueError("a --hash line before any requirement")
            hashed.add(current)
            continue
        if line.startswith("-"):
            raise ValueError("option %r: a lock holds only pinned requirements and their hashes" % line.split()[0])
        match = _NAME.match(line)
        if not match:
            raise ValueError("requirement %r is not pinned to one version (name==version)" % line.rstrip(" \\"))
        current = normalise(match.group(1))
        pins[current] = match.group(3)
        if "--hash=" in line:
            hashed.add(current)
    unhashed = sorted(set(pins) - hashed)
    if unhashed:
        raise ValueError("no --hash for %s" % ", ".join(unhashed))
    if not pins:
        raise ValueError("no requirement at all")
    return pins


def compare(pins, installed):
    """How a venv's distributions ({name: version}) differ from a lock's pins.

    Extra distributions (pip itself, setuptools) are reported but are no drift: the lock
    says what must be there, at which version."""
    have = {normalise(name): str(version) for name, version in installed.items()}
    missing = sorted(name for name in pins if name not in have)
    differ = sorted("%s %s (lock %s)" % (name, have[name], pins[name])
                    for name in pins if name in have and have[name] != pins[name])
    extra = sorted(name for name in have if name not in pins)
    return {"missing": missing, "differ": differ, "extra": extra, "matches": not missing and not differ}


def digest(installed):
    """A short, order-independent fingerprint of a package set: two venvs with the same one hold the same releases."""
    lines = sorted("%s==%s" % (normalise(name), version) for name, version in installed.items())
    return "sha256:" + hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


def release_key(version):
    """A release as a sortable tuple; None when it is not an exact release X.Y.Z or X.Y.Z.postN."""
    match = _RELEASE.match(str(version))
    if not match:
        return None
    return tuple(int(part or 0) for part in match.groups())


def refusals(version, advisories):
    """Why a release must never run, one sentence per advisory that covers it (empty: it may run).

    ``advisories`` is the release floor's data: ``malicious`` (releases that were hostile uploads,
    each with ``versions``, ``id``, ``summary``) and ``floor`` (flaws fixed in ``fixed``, each with
    ``id`` and ``summary``): a release below ``fixed`` is refused."""
    key = release_key(version)
    if key is None:
        return []
    reasons = []
    safe = []
    for entry in advisories.get("malicious", []):
        if str(version) in [str(v) for v in entry["versions"]]:
            reasons.append("%s was a malicious upload (%s: %s)" % (version, entry["id"], entry["summary"]))
    for entry in advisories.get("floor", []):
        fixed = release_key(entry["fixed"])
        if key < fixed:
            reasons.append("%s is below %s, the first release fixing %s (%s)"
                           % (version, entry["fixed"], entry["id"], entry["summary"]))
            safe.append(fixed)
    if reasons:
        floor = max(safe) if safe else None
        if floor:
            reasons.append("the first release past every advisory is %s" % ".".join(str(p) for p in floor[:3]))
    return reasons


def _minor(text):
    """'3.13' or 'python3.13' -> (3, 13); None when it names no Python 3 minor version."""
    match = re.match(r"^(?:python)?(\d+)\.(\d+)$", str(text or "").strip())
    return (int(match.group(1)), int(match.group(2))) if match else None


def python_supported(python, supported):
    """Whether an interpreter (python3.X) lies in the range LiteLLM supports ({min, max})."""
    found = _minor(python)
    return found is not None and _minor(supported["min"]) <= found <= _minor(supported["max"])


def platform_python(facts, platforms, supported):
    """The interpreter a platform's venv is built from, and why: {python, why}.

    python3.11 where the distribution ships it, otherwise the distribution's own Python 3 when
    LiteLLM supports it; python is empty when neither holds. ``platforms`` maps "<distribution>
    <version>" (or "<distribution> <major version>") to {own: "3.X", ships: ["3.Y", ...]}; a
    platform missing from it is judged by the Python 3 Ansible found there (its own, on a host
    where Ansible discovered /usr/bin/python3)."""
    name = str(facts.get("distribution", "") or "unknown")
    entry = None
    for release in (facts.get("distribution_version"), facts.get("distribution_major_version")):
        if release and "%s %s" % (name, release) in platforms:
            label = "%s %s" % (name, release)
            entry = platforms[label]
            break
    if entry is None:
        label = ("%s %s" % (name, facts.get("distribution_version", "") or "")).strip()
        version = (facts.get("python") or {}).get("version") or {}
        own = "%s.%s" % (version["major"], version["minor"]) if "major" in version and "minor" in version else ""
        entry = {"own": own, "ships": []}
    own = str(entry.get("own", ""))
    ships = [str(v) for v in entry.get("ships", [])] + ([own] if own else [])
    if "3.11" in ships:
        return {"python": "python3.11", "why": "%s ships Python 3.11" % label}
    if own and python_supported(own, supported):
        return {"python": "python%s" % own,
                "why": "%s ships no Python 3.11; its own Python 3 is %s" % (label, own)}
    return {"python": "",
            "why": "%s ships no Python 3.11 and its own Python 3 (%s) is outside %s-%s, the range LiteLLM supports"
                   % (label, own or "unknown", supported["min"], supported["max"])}
