"""docs/variables.md is the generated reference of every role variable: keep it current."""

import importlib.util
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[2]


def generator():
    spec = importlib.util.spec_from_file_location("gen_variables", ROOT / "docs/gen_variables.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_variable_reference_matches_the_argument_specs():
    committed = (ROOT / "docs/variables.md").read_text()
    assert committed == generator().render(), "docs/variables.md is stale: run `make docs`"


def test_every_proxy_variable_is_in_the_reference_with_its_default():
    import yaml
    committed = (ROOT / "docs/variables.md").read_text()
    defaults = yaml.safe_load((ROOT / "roles/hx_litellm_proxy/defaults/main.yml").read_text())
    for name in defaults:
        assert "| `%s` |" % name in committed, name
    assert "| `hx_litellm_proxy_master_key` | str; secret (vault, never logged) | **required** |" in committed
