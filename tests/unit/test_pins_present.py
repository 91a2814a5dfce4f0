"""The role's pin probe: pip runs only when it says a pinned package is missing or at another version."""

import json
import pathlib
import subprocess
import sys

from importlib.metadata import version

SCRIPT = pathlib.Path(__file__).resolve().parents[2] / "roles/hx_litellm_proxy/files/pins_present.py"


def probe(*specs):
    return subprocess.run([sys.executable, str(SCRIPT), json.dumps(list(specs))], capture_output=True, text=True)


def test_installed_pins_pass_including_extras():
    pyyaml = version("PyYAML")
    proc = probe("PyYAML==%s" % pyyaml, "pytest[testing]>=1")
    assert proc.returncode == 0, proc.stderr


def test_a_pin_at_another_version_fails_naming_both():
    proc = probe("PyYAML==0.0.1")
    assert proc.returncode == 1
    assert "PyYAML %s does not match PyYAML==0.0.1" % version("PyYAML") in proc.stderr


def test_a_missing_package_fails():
    proc = probe("PyYAML>=1", "no-such-package-hx==1.0")
    assert proc.returncode == 1
    assert "missing no-such-package-hx" in proc.stderr
