"""The README's command shape (repo root, ansible.cfg defaults, vault password) really
loads the top-level group_vars/ and its vault: without them the role has no master key."""

import pathlib
import re
import subprocess

ROOT = pathlib.Path(__file__).resolve().parent.parent


def validate_phase(*extra):
    # Only the read-only validate phase, run against this machine in place of the gateway.
    cmd = ["ansible-playbook", "playbooks/litellm_enforce.yml", "--check", "--tags", "validate",
           "-e", "ansible_connection=local", "-e", "ansible_python_interpreter={{ ansible_playbook_python }}", "-e", "ansible_become=false", *extra]
    return subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          env={"PATH": subprocess.os.environ["PATH"], "HOME": subprocess.os.environ["HOME"],
                               "ANSIBLE_NOCOLOR": "1"})


def test_group_vars_and_vault_are_loaded_from_the_repository_root():
    proc = validate_phase("--vault-password-file", "tests/lab/vault-password", "-v")
    assert proc.returncode == 0, proc.stdout[-4000:]
    # 2 aliases from group_vars/all/main.yml x 2 [llm] hosts of inventories/dev.ini
    assert re.search(r"__hx_litellm_proxy_model_count['\"]?: ['\"]?4", proc.stdout), proc.stdout[-3000:]


def test_without_the_vault_password_the_play_stops_at_once_saying_why():
    # The molecule bad-input tests prove the host is untouched; this proves the operator reads why.
    proc = validate_phase()
    assert proc.returncode != 0
    assert "Attempting to decrypt but no vault secrets found" in proc.stdout, proc.stdout[-3000:]
