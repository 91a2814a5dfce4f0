"""The collection passes ansible-lint (production profile) and yamllint."""

import os
import pathlib
import subprocess

ROOT = pathlib.Path(__file__).resolve().parent.parent


def run(*cmd):
    # With the lab vault password the linter also reads the encrypted group_vars.
    env = dict(os.environ, ANSIBLE_VAULT_PASSWORD_FILE=str(ROOT / "tests/lab/vault-password"))
    return subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_yamllint_is_clean():
    proc = run("yamllint", "--strict", ".")
    assert proc.returncode == 0, proc.stdout


def test_ansible_lint_production_profile_is_clean():
    proc = run("ansible-lint", "--offline", "--profile", "production")
    assert proc.returncode == 0, proc.stdout[-8000:]
