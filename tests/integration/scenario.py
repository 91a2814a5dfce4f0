"""Drive one molecule scenario step by step, and run the collection's playbooks against
its hosts as plain ansible-playbook commands, the way ops run them.

Each scenario gets a fixed ephemeral directory under .artifacts/, passed to every
command through its environment (never through os.environ, so two scenario modules
collected in one pytest run cannot see each other's hosts)."""

import json
import os
import pathlib
import re
import subprocess
import sys
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests/support"))
from results import Run, callback_env  # noqa: E402
ARTIFACTS = ROOT / ".artifacts"
VAULT_PASSWORD = ROOT / "tests/lab/vault-password"
# The lab's own group_vars, linked beside every scenario's inventory (.config/molecule/config.yml).
LAB_VAULT = ROOT / "tests/lab/group_vars/all/vault.yml"
QUIET = dict(ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", NO_COLOR="1", PY_COLORS="0",
             MOLECULE_COMMAND_BORDERS="false", COLUMNS="200")


def master_key():
    """The lab vault's master key (tests/lab/vault-password is public, for the lab only)."""
    import yaml
    from ansible.parsing.vault import VaultLib, VaultSecret
    secret = VaultSecret(VAULT_PASSWORD.read_bytes().strip())
    plain = VaultLib([("default", secret)]).decrypt(LAB_VAULT.read_bytes())
    return yaml.safe_load(plain)["vault_hx_litellm_proxy_master_key"]


def docker_running():
    return subprocess.run(["docker", "info"], capture_output=True).returncode == 0


def on(host, command):
    """Run a shell command in a test host (a container)."""
    return subprocess.run(["docker", "exec", host, "sh", "-c", command], capture_output=True, text=True)


def container_ip(host):
    """The host's address on its first network by name: a scenario's internal network sorts before
    its routed one (hx-molecule-mh, hx-molecule-mh-out), so every host is addressed on the internal one."""
    out = subprocess.run(["docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", host],
                         capture_output=True, text=True).stdout.split()
    assert out, "no IP for %s" % host
    return out[0]


class Scenario:
    def __init__(self, name):
        self.name = name
        self.ephemeral = ARTIFACTS / ("molecule-%s" % name)
        self.evidence = ARTIFACTS / ("evidence-%s" % name)
        self.results = {}
        self.timings = {}
        self.extra_timings = {}  # figures measured inside a step, e.g. the playbook's own run time
        self.env = dict(os.environ, MOLECULE_EPHEMERAL_DIRECTORY=str(self.ephemeral), **QUIET)
        self.lock = threading.Lock()

    def _key(self, label):
        with self.lock:
            self.counter = getattr(self, "counter", 0) + 1
            return "%s-%d-%s" % (self.name, self.counter, label)

    def _run(self, key, cmd, env):
        """Run one command with the results callback on; keep its output and results in .artifacts/."""
        ARTIFACTS.mkdir(exist_ok=True)
        results = ARTIFACTS / ("%s.jsonl" % key)
        results.unlink(missing_ok=True)
        started = time.monotonic()
        proc = subprocess.run(cmd, cwd=ROOT, env=dict(env, **callback_env(results)),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        run = Run(proc.returncode, proc.stdout, results, round(time.monotonic() - started, 1))
        with self.lock:
            self.timings[key] = run.seconds
            self.results[key] = run
        (ARTIFACTS / ("%s.log" % key)).write_text(proc.stdout)
        return run

    def molecule(self, step):
        """Run one molecule step; keep its output in .artifacts/ and in results."""
        key = self._key(step)
        run = self._run(key, ["molecule", step, "-s", self.name], self.env)
        print("molecule %s: rc=%d in %.1fs (log: .artifacts/%s.log)" % (step, run.returncode, run.seconds, key))
        if run.returncode != 0:
            print(run.stdout[-6000:])
        return run

    def playbook(self, name, *extra, label=None):
        """Run one of the collection's playbooks against the scenario's hosts."""
        env = dict(self.env, ANSIBLE_CONFIG=str(self.ephemeral / "ansible.cfg"),
                   ANSIBLE_VAULT_PASSWORD_FILE=str(VAULT_PASSWORD))
        cmd = ["ansible-playbook", "-i", str(self.ephemeral / "inventory"), "playbooks/%s.yml" % name,
               "-e", "hx_litellm_evidence_dir=%s" % self.evidence, *extra]
        key = self._key(label or name)
        run = self._run(key, cmd, env)
        print("%s %s: rc=%d in %.1fs (log: .artifacts/%s.log)" % (name, " ".join(extra), run.returncode, run.seconds, key))
        if run.returncode != 0:
            print(run.stdout[-4000:])
        return run

    def succeeded(self, label):
        done = [p for n, p in self.results.items() if n.split("-", 2)[2] == label]
        return bool(done) and done[-1].returncode == 0

    def write_timings(self):
        ARTIFACTS.mkdir(exist_ok=True)
        timings = dict(self.timings, **self.extra_timings)
        (ARTIFACTS / ("timings-%s.json" % self.name)).write_text(json.dumps(timings, indent=2))
        print("\nmolecule %s timings (s): %s" % (self.name, json.dumps(timings)))
