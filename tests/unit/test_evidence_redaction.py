"""An evidence bundle never carries the play's secrets, whatever form a transcript gives them.

Runs the evidence role on the control node (connection local), given the master key and the Redis
password as its secrets, with rows holding them as JSON, as a URL, as a Python repr and in a header, then reads the bundle.
"""

import json
import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
KEY = "sk-evidence-test-0123456789abcdef"
REDIS_PASSWORD = "redis-evidence-test-0123456789"
OTHER_TOKEN = "tok-unrelated-98765"

PLAY = """
- name: Write an evidence bundle from rows that hold secrets
  hosts: localhost
  connection: local
  gather_facts: false
  roles:
    - role: hx.litellm.hx_litellm_evidence
"""


def test_the_bundle_masks_the_secrets_in_every_form(tmp_path):
    transcript = [
        {"request": "GET /v1/models", "headers": {"Authorization": "Bearer " + KEY}},
        {"log": '{"redis_password": "%s"}' % REDIS_PASSWORD},
        {"log": "redis://:%s@redis.example:6379/0" % REDIS_PASSWORD},
        {"log": "{'password': '%s'}" % REDIS_PASSWORD},
        {"log": "token=%s" % OTHER_TOKEN},
    ]
    extra = {
        "ansible_python_interpreter": sys.executable,
        "hx_litellm_evidence_secrets": [KEY, REDIS_PASSWORD],
        "hx_litellm_evidence_dir": str(tmp_path / "evidence"),
        "hx_litellm_evidence_playbook": "redaction-test",
        "hx_litellm_evidence_checks": [{"check": "models", "target": "gw", "status": "FAIL",
                                        "detail": "401 for key %s" % KEY, "fix": "-", "transcript": transcript[1]}],
        "hx_litellm_evidence_transcript": transcript,
    }
    (tmp_path / "play.yml").write_text(PLAY)
    (tmp_path / "vars.json").write_text(json.dumps(extra))
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    proc = subprocess.run(["ansible-playbook", "-i", "localhost,", str(tmp_path / "play.yml"), "--diff",
                           "-e", "@" + str(tmp_path / "vars.json")],
                          cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    print(proc.stdout[-3000:])
    assert proc.returncode == 0
    files = sorted((tmp_path / "evidence" / "redaction-test").glob("*/localhost/*"))
    assert {f.name for f in files} >= {"summary.json", "summary.md", "transcript.json", "journal.txt"}
    bundle = "\n".join(f.read_text() for f in files)
    for secret in (KEY, REDIS_PASSWORD, OTHER_TOKEN):
        assert secret not in bundle
        assert secret not in proc.stdout
    # What is around the secrets stays readable.
    assert "redis://:<redacted>@redis.example:6379/0" in bundle
    assert "Bearer <redacted>" in bundle
