#!/usr/bin/env python3
"""Generate docs/variables.md from every role's meta/argument_specs.yml.

    python3 docs/gen_variables.py > docs/variables.md     (or: make docs)

tests/unit/test_variable_docs.py fails when the committed file differs from what
this prints, so the reference cannot drift from the specs ansible-doc shows."""

import pathlib
import re
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]


def text(value):
    """argument_specs markup (C(), I(), V(), O()) to Markdown, one paragraph per list item."""
    items = value if isinstance(value, list) else [value]
    out = " ".join(str(item).strip() for item in items)
    out = re.sub(r"\b[CVO]\(([^()]*(?:\([^()]*\)[^()]*)*)\)", r"`\1`", out)
    out = re.sub(r"\bI\(([^)]*)\)", r"*\1*", out)
    return out.replace("|", "\\|")


def default(spec):
    if spec.get("required"):
        return "**required**"
    if "default" not in spec:
        return "unset"
    value = spec["default"]
    if value == "":
        return "`\"\"`"
    if not isinstance(value, str):
        value = yaml.safe_dump(value, default_flow_style=True, width=10000).strip().replace("\n...", "")
    return "`%s`" % value.replace("|", "\\|")


def kind(spec):
    name = spec.get("type", "str")
    if name == "list" and spec.get("elements"):
        name = "list of %s" % spec["elements"]
    if spec.get("choices"):
        name += "; one of " + ", ".join("`%s`" % c for c in spec["choices"])
    if spec.get("no_log"):
        name += "; secret (vault, never logged)"
    return name


def rows(options, prefix=""):
    for name, spec in options.items():
        yield "| `%s%s` | %s | %s | %s |" % (prefix, name, kind(spec), default(spec), text(spec.get("description", "")))
        if spec.get("options"):
            yield from rows(spec["options"], prefix="%s%s[]." % (prefix, name) if spec.get("type") == "list"
                            else "%s%s." % (prefix, name))


def render():
    lines = ["# Variable reference", "",
             "Generated from each role's `meta/argument_specs.yml` by `docs/gen_variables.py` (`make docs`);",
             "a unit test fails when this file is out of date. `ansible-doc -t role hx.litellm.<role>` shows the same.", ""]
    for specs_file in sorted(ROOT.glob("roles/*/meta/argument_specs.yml")):
        role = specs_file.parents[1].name
        for entry, spec in yaml.safe_load(specs_file.read_text())["argument_specs"].items():
            title = role if entry == "main" else "%s (tasks_from: %s)" % (role, entry)
            lines += ["## %s" % title, "", text(spec.get("short_description", "")), ""]
            lines += ["| Variable | Type | Default | Description |", "| --- | --- | --- | --- |"]
            lines += list(rows(spec.get("options") or {}))
            lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.stdout.write(render())
