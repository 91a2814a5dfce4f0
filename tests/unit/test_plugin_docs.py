"""Every plugin and role of the collection documents itself through ansible-doc, as operators read it."""

import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
PLUGINS = [("module", p.stem) for p in sorted((ROOT / "plugins/modules").glob("*.py")) if p.stem != "__init__"]
PLUGINS += [("filter", p.stem) for p in sorted((ROOT / "plugins/filter").glob("*.py")) if p.stem != "__init__"]
PLUGINS += [("role", p.name) for p in sorted((ROOT / "roles").iterdir()) if (p / "meta/argument_specs.yml").is_file()]


@pytest.mark.parametrize("kind,name", PLUGINS, ids=["%s:%s" % p for p in PLUGINS])
def test_ansible_doc_renders(kind, name):
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    proc = subprocess.run(["ansible-doc", "-t", kind, "hx.litellm." + name], cwd=ROOT, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.returncode == 0 and "[ERROR]" not in proc.stdout, proc.stdout[-2000:]
    assert "hx.litellm.%s" % name in proc.stdout
