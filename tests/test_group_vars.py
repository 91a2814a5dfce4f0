"""The example ops project (inventories/dev/ with its group_vars) works as the README walks
through it: with a vault created beside the inventory, a playbook run by its FQCN loads the
site's group_vars and vault; without the vault password it stops at once saying why."""

import os
import pathlib
import re
import shutil
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
KEY = "sk-example-" + "0123456789abcdef" * 2


@pytest.fixture
def project(tmp_path):
    """A copy of the example project with a vault made as the README says (ansible-vault)."""
    shutil.copytree(ROOT / "inventories", tmp_path / "inventories")
    shutil.copy(ROOT / "ansible.cfg", tmp_path / "ansible.cfg")
    (tmp_path / "collections").symlink_to(ROOT / "collections")
    password = tmp_path / "vault-password"
    password.write_text("example-only\n")
    vault = tmp_path / "inventories/dev/group_vars/all/vault.yml"
    vault.write_text('vault_hx_litellm_proxy_master_key: "%s"\n' % KEY)
    enc = subprocess.run(["ansible-vault", "encrypt", "--vault-password-file", str(password), str(vault)],
                         capture_output=True, text=True)
    assert enc.returncode == 0, enc.stderr
    return tmp_path


def validate_phase(project, *extra):
    # Only the read-only validate phase, run against this machine in place of the gateway.
    cmd = ["ansible-playbook", "hx.litellm.litellm_enforce", "--check", "--tags", "validate",
           "-e", "ansible_connection=local", "-e", "ansible_python_interpreter={{ ansible_playbook_python }}",
           "-e", "ansible_become=false", *extra]
    return subprocess.run(cmd, cwd=project, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          env={"PATH": os.environ["PATH"], "HOME": os.environ["HOME"], "ANSIBLE_NOCOLOR": "1"})


def test_the_example_project_loads_its_group_vars_and_vault_by_fqcn(project):
    proc = validate_phase(project, "--vault-password-file", str(project / "vault-password"), "-v")
    assert proc.returncode == 0, proc.stdout[-4000:]
    # 2 aliases from inventories/dev/group_vars/all/main.yml x 2 [llm] hosts of inventories/dev/hosts.ini
    assert re.search(r"__hx_litellm_proxy_model_count['\"]?: ['\"]?4", proc.stdout), proc.stdout[-3000:]
    assert KEY not in proc.stdout


def test_without_the_vault_password_the_play_stops_at_once_saying_why(project):
    # The molecule bad-input tests prove the host is untouched; this proves the operator reads why.
    proc = validate_phase(project)
    assert proc.returncode != 0
    assert "Attempting to decrypt but no vault secrets found" in proc.stdout, proc.stdout[-3000:]
