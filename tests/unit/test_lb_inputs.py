"""hx_litellm_lb refuses, by name and before the load balancer changes, gateways it cannot front:
one left out of the run (an undescribed gateway, e.g. --limit), one bound to loopback, and HTTPS
gateways without a certificate of its own. Runs the role's validate phase on the control node."""

import json
import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
PLAY = """
- hosts: localhost
  gather_facts: false
  tasks:
    - ansible.builtin.include_role:
        name: hx.litellm.hx_litellm_lb
        tasks_from: validate
      vars:
        hx_litellm_lb_gateways: "{{ gateways }}"
"""
GOOD = {"name": "gw02", "host": "0.0.0.0", "tls": False}


def validate(tmp_path, gateways):
    (tmp_path / "play.yml").write_text(PLAY)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(ROOT / "collections"), ANSIBLE_NOCOLOR="1")
    return subprocess.run(["ansible-playbook", "-i", "localhost,", "-c", "local", str(tmp_path / "play.yml"),
                           "-e", json.dumps({"gateways": gateways})],
                          capture_output=True, text=True, env=env, cwd=tmp_path)


@pytest.mark.parametrize("gateways, said", [
    ([GOOD, {}], "lists no gateway description"),
    ([GOOD, {"name": "gw01", "host": "127.0.0.1", "tls": False}], "The gateways gw01 listen on loopback only"),
    ([dict(GOOD, tls=True)], "The gateways gw02 serve HTTPS, but hx_litellm_lb_tls_cert"),
], ids=["a gateway left out", "a loopback gateway", "HTTPS gateways, plain load balancer"])
def test_the_load_balancer_refuses_gateways_it_cannot_front(tmp_path, gateways, said):
    proc = validate(tmp_path, gateways)
    assert proc.returncode != 0
    assert said in " ".join(proc.stdout.split()), proc.stdout[-2000:]


def test_reachable_plain_gateways_pass(tmp_path):
    proc = validate(tmp_path, [GOOD, dict(GOOD, name="gw01")])
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert "Gateways behind the load balancer: gw02, gw01" in proc.stdout
