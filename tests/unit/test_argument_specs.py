"""Keep defaults/main.yml, meta/argument_specs.yml and the role's code in sync."""

import pathlib
import re

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
ROLES = sorted(p for p in (ROOT / "roles").iterdir() if (p / "meta" / "argument_specs.yml").exists())


def _load(role):
    defaults = yaml.safe_load((role / "defaults" / "main.yml").read_text()) or {}
    specs = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
    return defaults, specs


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_every_default_is_specified_with_the_same_value(role):
    defaults, specs = _load(role)
    assert sorted(set(defaults) - set(specs)) == [], "defaults missing from argument_specs"
    for name, value in defaults.items():
        assert specs[name].get("default") == value, "%s: default differs between defaults and argument_specs" % name


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_every_specified_option_has_a_default_or_is_a_required_secret(role):
    defaults, specs = _load(role)
    for name, spec in specs.items():
        assert spec.get("description"), "%s has no description" % name
        assert spec.get("type"), "%s has no type" % name
        if name not in defaults:
            # Secrets never get a default: either required, or optional (e.g. a Redis password).
            assert spec.get("required") is True or spec.get("no_log") is True, \
                "%s has neither a default nor required: true (only secrets may be optional without one)" % name
            assert "default" not in spec, "%s: a required option must not have a default" % name


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_public_variables_are_role_prefixed_and_explained(role):
    lines = (role / "defaults" / "main.yml").read_text().splitlines()
    for i, line in enumerate(lines):
        match = re.match(r"^([A-Za-z_][A-Za-z0-9_]*):", line)
        if match:
            assert match.group(1).startswith(role.name + "_"), "%s is not prefixed with %s_" % (match.group(1), role.name)
            assert lines[i - 1].startswith("# "), "%s has no one-line why above it" % match.group(1)


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_every_public_variable_the_role_reads_is_specified(role):
    # Any entry point's options count: a tasks_from entry point has inputs of its own.
    entry_points = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())["argument_specs"].values()
    specs = {name for entry in entry_points for name in entry.get("options", {})}
    used = set()
    for path in list(role.rglob("*.yml")) + list(role.rglob("*.j2")):
        if path.name == "argument_specs.yml":
            continue
        # Tags carry the role's prefix too (hx_litellm_proxy_install) but are not variables, nor are comments.
        text = "\n".join(line for line in path.read_text().splitlines()
                         if not line.strip().startswith(("tags:", "#")))
        used |= set(re.findall(r"(?<![_A-Za-z0-9])(%s_[a-z0-9_]+)" % role.name, text))
    # What the role sets for its callers (set_fact outputs such as the evidence bundle's path) is
    # not an input; it must be documented in the role's README instead.
    outputs = set()
    for path in role.rglob("*.yml"):
        for block in re.findall(r"ansible\.builtin\.set_fact:\n((?:\s{4,}.*\n?)+)", path.read_text()):
            outputs |= set(re.findall(r"^\s{4}(%s_[a-z0-9_]+):" % role.name, block, re.M))
    readme = (role / "README.md").read_text()
    assert [name for name in sorted(outputs) if name not in readme] == [], "an output the README does not document"
    assert sorted(used - set(specs) - outputs) == [], "variables read by the role but missing from argument_specs"


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_secrets_are_marked_no_log(role):
    _, specs = _load(role)
    for name, spec in specs.items():
        if re.search(r"(key|password|token|secret)$", name):
            assert spec.get("no_log") is True, "%s looks secret but is not no_log" % name
