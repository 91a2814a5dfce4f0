"""An ops team's own project that installs hx.litellm from the built tarball and runs its
playbooks by FQCN, once per controller venv (ansible-core 2.19 and 2.21).

One Consumer per version: it writes the project (ansible.cfg, inventory, group_vars, a vault
made with ansible-vault), installs the tarball with that venv's ansible-galaxy, creates its own
systemd containers (hxc-<v>-gw, hxc-<v>-llm on network hxc-<v>), starts the stand-in Ollama
backend, and runs the lifecycle an operator runs. Every playbook runs with the test-only
hx_results callback (tests/support/), switched on by the environment only: the project's
ansible.cfg does not know about it. The lifecycles of both versions may run at once, in threads."""

from http.client import HTTPSConnection
import json
import os
import pathlib
import secrets
import ssl
import statistics
import subprocess
import sys
import threading
import time
import traceback
import urllib.error
import urllib.request

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests/support"))
from results import Run, callback_env  # noqa: E402
from diagnostics import SERVICE_PROCESSES, machine_load  # noqa: E402
from pki import CA  # noqa: E402

ARTIFACTS = ROOT / ".artifacts"
# ansible-core X.Y -> the controller venv that holds it (tests/bootstrap.sh builds both).
VENVS = {"2.19": ROOT / ".venv", "2.21": ROOT / ".venvs/ansible-2.21"}
IMAGE_REPO = os.environ.get("HX_TEST_IMAGE_REPO", "hx-litellm/debian-systemd")
# The gateway's platform per version: the 2.21 project's gateway runs Debian 13, so the suite converges
# both platforms the role's meta/main.yml lists, each with the interpreter the role picks for it
# (python3.11 on Debian 12, the distribution's python3.13 on Debian 13). The stand-in backend runs Debian 12.
PLATFORMS = {"2.19": ("bookworm", "12", "3.11"), "2.21": ("trixie", "13", "3.13")}
BACKEND_IMAGE = IMAGE_REPO + ":bookworm"
KEEP_HOSTS = os.environ.get("HX_KEEP_HOSTS") == "1"
STUB = ROOT / "tests/stub_ollama/stub_ollama.py"
# Alias -> the Ollama model the stand-in serves (the same choices as the example project).
MODELS = {"phi3-3.8b": "phi3:3.8b-mini-128k-instruct-q8_0", "llama3-8b": "llama3:8b-instruct-q8_0"}
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
# Generous deadlines: other test runs share the two cores.
BOOT_DEADLINE = 600
STUB_DEADLINE = 300
HTTP_TIMEOUT = 120
UNTOUCHED = ("test ! -e /etc/litellm && test ! -e /opt/litellm && test ! -e /etc/systemd/system/litellm.service"
             " && ! getent passwd litellm >/dev/null && echo untouched")
# How many lifecycles run at once (1: one after the other; 2: both versions concurrently). They start
# as soon as collection ends and run beside the molecule tests (conftest.py), so one at a time
# keeps the two cores from being shared by three gateways starting together.
JOBS = int(os.environ.get("HX_CONSUMER_JOBS", "1"))
_slots = threading.BoundedSemaphore(max(1, JOBS))
# Lifecycles started when collection finished (conftest.py), by version.
EARLY = {}
# One line per step of every lifecycle, printed in the terminal summary (conftest.py).
SUMMARY = []
_summary_lock = threading.Lock()


def docker(*args, check=False, **kwargs):
    proc = subprocess.run(["docker", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          stdin=subprocess.DEVNULL, **kwargs)
    if check and proc.returncode != 0:
        raise RuntimeError("docker %s failed (rc %d): %s" % (" ".join(args), proc.returncode, proc.stderr.strip()))
    return proc


def docker_running():
    try:
        return docker("info").returncode == 0
    except FileNotFoundError:
        return False


def build_tarball(output_dir):
    """ansible-galaxy collection build from the repository root, as a maintainer ships it."""
    output_dir = pathlib.Path(output_dir)
    galaxy = VENVS["2.19"] / "bin/ansible-galaxy"
    assert galaxy.exists(), "%s is missing: tests/bootstrap.sh builds it" % galaxy
    proc = subprocess.run([str(galaxy), "collection", "build", "--force", "--output-path", str(output_dir)],
                          cwd=ROOT, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, "ansible-galaxy collection build failed:\n%s%s" % (proc.stdout, proc.stderr)
    built = sorted(output_dir.glob("hx-litellm-*.tar.gz"))
    assert len(built) == 1, "expected one tarball in %s, found %s" % (output_dir, built)
    return built[0]


def socket_to(host, port):
    import socket
    return socket.create_connection((host, port), timeout=HTTP_TIMEOUT)


def tree(path):
    """Every entry below path with its type, size, mode and mtime: equal listings, nothing written."""
    path = pathlib.Path(path)
    listing = {}
    for entry in sorted(path.rglob("*")):
        st = entry.lstat()
        listing[str(entry.relative_to(path))] = (oct(st.st_mode), st.st_size, st.st_mtime_ns)
    return listing


def http(url, key=None, cafile=None):
    """GET url from the control node: (status, parsed JSON body or None); HTTPS verified with cafile."""
    request = urllib.request.Request(url, headers={"Authorization": "Bearer %s" % key} if key else {})
    context = ssl.create_default_context(cafile=str(cafile)) if cafile else None
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT, context=context) as answer:
            status, body = answer.status, answer.read()
    except urllib.error.HTTPError as error:
        status, body = error.code, error.read()
    try:
        return status, json.loads(body)
    except ValueError:
        return status, None


def served_by(url, cafile):
    """Which gateway HAProxy sent a request to (its X-Served-By header), HTTPS verified with cafile."""
    context = ssl.create_default_context(cafile=str(cafile))
    with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT, context=context) as answer:
        return answer.status, answer.headers.get("x-served-by")


class Consumer:
    """One version's ops project, its two hosts and what each lifecycle step did."""

    def __init__(self, version, tarball, workdir):
        self.version = version
        self.venv = VENVS[version]
        self.bin = self.venv / "bin"
        self.tarball = pathlib.Path(tarball)
        self.workdir = pathlib.Path(workdir)
        self.project = self.workdir / "project"
        self.logs = self.workdir / "logs"
        self.collections = self.project / "collections"
        self.evidence = self.project / "inventory/.evidence"
        self.gw = "hxc-%s-gw" % version
        self.suite, self.debian, self.python = PLATFORMS[version]
        self.images = {self.gw: "%s:%s" % (IMAGE_REPO, self.suite), "hxc-%s-llm" % version: BACKEND_IMAGE}
        self.llm = "hxc-%s-llm" % version
        self.network = "hxc-%s" % version
        self.key = "sk-" + secrets.token_hex(24)
        # The listener's PKI (tests/support/pki.py): made once the gateway's address is known.
        self.pki = None
        self.tls = {}        # the certificate and key served now: cert, key (PEM texts)
        self.tls_keys = []   # every private key the project held (none may ever show)
        self.certificates = []  # every certificate issued to the gateway, in order
        self.vault_password = secrets.token_urlsafe(24)
        self.runs = {}       # step -> Run, in the order they ran
        self.commands = {}   # step -> the command line (without the secret)
        self.notes = {}      # what the test read from the hosts between steps
        self.journals = {}   # step -> litellm's journal right after the step failed
        self.outputs = []    # every command's output (key leak check)
        self.error = None    # traceback of a lifecycle that stopped on an exception
        self.started = self.finished = None
        self.created_hosts = False
        self.thread = None

    # ---- the environment every controller command runs with ----

    def env(self, results=None):
        """This venv first on PATH, nothing of the caller's Ansible settings, the callback by environment only."""
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("ANSIBLE_", "MOLECULE_")) and k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
        env.update(PATH="%s:%s" % (self.bin, os.environ.get("PATH", "/usr/bin:/bin")), VIRTUAL_ENV=str(self.venv),
                   ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", NO_COLOR="1", PY_COLORS="0", COLUMNS="200")
        if results is not None:
            env.update(callback_env(results))
            env["ANSIBLE_CALLBACKS_ENABLED"] = "hx_results"
        return env

    def command(self, *argv):
        proc = subprocess.run([str(a) for a in argv], cwd=self.project, env=self.env(), stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.outputs.append(proc.stdout)
        return proc

    def say(self, line):
        line = "consumer %s: %s" % (self.version, line)
        with _summary_lock:
            SUMMARY.append(line)
        print(line, flush=True)

    # ---- the project ----

    def write_project(self):
        p = self.project
        (p / "inventory/group_vars/all").mkdir(parents=True)
        self.logs.mkdir(parents=True, exist_ok=True)
        (p / "ansible.cfg").write_text(
            "[defaults]\n"
            "inventory = inventory/hosts.ini\n"
            "collections_path = ./collections\n"
            "vault_password_file = .vault-pass\n"
            "host_key_checking = false\n"
            "retry_files_enabled = false\n"
            "\n[connection]\npipelining = true\n")
        (p / ".vault-pass").write_text(self.vault_password + "\n")
        (p / ".vault-pass").chmod(0o600)
        (p / ".gitignore").write_text(".vault-pass\ncollections/\ninventory/.evidence/\ninventory/.cache/\n")
        (p / "inventory/hosts.ini").write_text(
            "[litellm]\n%s\n\n[llm]\n%s\n\n[litellm_lb]\n%s\n\n[all:vars]\n"
            "ansible_connection=community.docker.docker\nansible_python_interpreter=/usr/bin/python3\n"
            % (self.gw, self.llm, self.llm))
        # Only what differs from the roles' defaults; the backends derive from [llm]. HTTPS: the
        # certificate and the CA from files beside the inventory, the key from the vault.
        (p / "inventory/group_vars/all/main.yml").write_text(yaml.safe_dump({
            "hx_litellm_proxy_master_key": "{{ vault_hx_litellm_proxy_master_key }}",
            "hx_litellm_proxy_models": [{"name": a, "model": m} for a, m in MODELS.items()],
            "hx_litellm_proxy_tls_cert": "{{ lookup('ansible.builtin.file', inventory_dir ~ '/files/gw.crt') }}",
            "hx_litellm_proxy_tls_key": "{{ vault_hx_litellm_proxy_tls_key }}",
            "hx_litellm_proxy_tls_ca": "{{ lookup('ansible.builtin.file', inventory_dir ~ '/files/ca.crt') }}",
            # The load balancer ([litellm_lb], HAProxy on the backend host) serves HTTPS too, its own certificate.
            "hx_litellm_lb_tls_cert": "{{ lookup('ansible.builtin.file', inventory_dir ~ '/files/lb.crt') }}",
            "hx_litellm_lb_tls_key": "{{ vault_hx_litellm_lb_tls_key }}",
            "hx_litellm_lb_tls_ca": "{{ lookup('ansible.builtin.file', inventory_dir ~ '/files/ca.crt') }}",
        }, sort_keys=False, explicit_start=True))
        (p / "inventory/group_vars/litellm.yml").write_text(yaml.safe_dump(
            {"hx_litellm_proxy_ca_bundle": CA_BUNDLE}, explicit_start=True))
        (p / "inventory/files").mkdir()
        self.pki = CA(self.workdir / "pki", name="hxc %s internal CA" % self.version)
        (p / "inventory/files/ca.crt").write_text(self.pki.pem())
        self.issue_certificate("gw")
        self.lb_tls = dict(zip(("cert", "key"), self.pki.issue("lb", [self.llm, self.ip(self.llm)])))
        self.tls_keys.append(self.lb_tls["key"])
        (p / "inventory/files/lb.crt").write_text(self.lb_tls["cert"])
        self.write_vault()

    def issue_certificate(self, name):
        """A new certificate and key for the gateway's name and address, the certificate beside the inventory."""
        cert, key = self.pki.issue(name, [self.gw, self.ip(self.gw)])
        self.tls = {"cert": cert, "key": key}
        self.tls_keys.append(key)
        self.certificates.append(cert)
        (self.project / "inventory/files/gw.crt").write_text(cert)

    def write_vault(self):
        """The vault as `ansible-vault edit` leaves it: the master key and the listener's key, encrypted."""
        vault = self.project / "inventory/group_vars/all/vault.yml"
        vault.write_text(yaml.safe_dump({"vault_hx_litellm_proxy_master_key": self.key,
                                         "vault_hx_litellm_proxy_tls_key": self.tls["key"],
                                         "vault_hx_litellm_lb_tls_key": self.lb_tls["key"]},
                                        explicit_start=True, default_style="|"))
        proc = self.command(self.bin / "ansible-vault", "encrypt", vault)
        assert proc.returncode == 0, "ansible-vault encrypt failed:\n%s" % proc.stdout
        assert vault.read_text().startswith("$ANSIBLE_VAULT;"), "vault.yml is not encrypted"

    @property
    def ca_file(self):
        return self.project / "inventory/files/ca.crt"

    def base_url(self):
        return "https://%s:4000" % self.ip(self.gw)

    def served_certificate(self, host=None):
        """The certificate the gateway (or another host) serves on 4000, verified with the project's CA (PEM)."""
        context = ssl.create_default_context(cafile=str(self.ca_file))
        address = self.ip(host or self.gw)
        with socket_to(address, 4000) as raw, context.wrap_socket(raw, server_hostname=address) as tls:
            return ssl.DER_cert_to_PEM_cert(tls.getpeercert(binary_form=True)), tls.version()

    def handshakes(self, count=20):
        """Median ms of GET /health/liveliness on a new TLS connection each time, and on one kept open."""
        context = ssl.create_default_context(cafile=str(self.ca_file))
        ip = self.ip(self.gw)

        def get(conn):
            started = time.monotonic()
            conn.request("GET", "/health/liveliness")
            answer = conn.getresponse()
            answer.read()
            assert answer.status == 200, answer.status
            return (time.monotonic() - started) * 1000

        fresh = []
        for _ in range(count):
            conn = HTTPSConnection(ip, 4000, context=context, timeout=HTTP_TIMEOUT)
            fresh.append(get(conn))
            conn.close()
        conn = HTTPSConnection(ip, 4000, context=context, timeout=HTTP_TIMEOUT)
        get(conn)  # the one handshake
        kept = [get(conn) for _ in range(count)]
        conn.close()
        new_ms, kept_ms = statistics.median(fresh), statistics.median(kept)
        return {"requests": count, "new_connection_ms": round(new_ms, 2), "kept_connection_ms": round(kept_ms, 2),
                "ratio": round(new_ms / kept_ms, 2) if kept_ms else None}

    def lb_url(self):
        return "https://%s:4000" % self.ip(self.llm)

    def openai_client(self, base_url=None):
        """The openai package as clients use it: list, complete, stream, over HTTPS with the project's CA."""
        import httpx
        import openai
        base_url = base_url or self.base_url()
        client = openai.OpenAI(base_url=base_url + "/v1", api_key=self.key, max_retries=0,
                               http_client=httpx.Client(verify=str(self.ca_file), timeout=HTTP_TIMEOUT))
        alias = sorted(MODELS)[0]
        listed = sorted(m.id for m in client.models.list())
        reply = client.chat.completions.create(model=alias, max_tokens=8, messages=[{"role": "user", "content": "ping"}])
        chunks = [c for c in client.chat.completions.create(model=alias, max_tokens=8, stream=True,
                                                            messages=[{"role": "user", "content": "ping"}])]
        streamed = "".join((c.choices[0].delta.content or "") for c in chunks if c.choices)
        untrusted = None
        try:  # without the project's CA the same client must refuse the gateway
            openai.OpenAI(base_url=base_url + "/v1", api_key=self.key, max_retries=0,
                          http_client=httpx.Client(timeout=HTTP_TIMEOUT)).models.list()
        except openai.APIConnectionError as error:
            untrusted = repr(error.__cause__ or error)
        return {"models": listed, "completion": reply.choices[0].message.content, "completion_model": reply.model,
                "stream_chunks": len(chunks), "streamed": streamed, "without_ca": untrusted}

    def install_collection(self):
        # --no-deps: galaxy.yml depends on community.general (the wheelhouse role only), which the
        # venv's `ansible` package already holds; Galaxy is not reachable from here.
        started = time.monotonic()
        proc = self.command(self.bin / "ansible-galaxy", "collection", "install", self.tarball,
                            "-p", "./collections", "--no-deps")
        self.notes["install"] = {"rc": proc.returncode, "seconds": round(time.monotonic() - started, 1),
                                 "output": proc.stdout.strip().splitlines()[-3:]}
        self.say("ansible-galaxy collection install %s: rc=%d in %.1fs"
                 % (self.tarball.name, proc.returncode, self.notes["install"]["seconds"]))
        assert proc.returncode == 0, "ansible-galaxy collection install failed:\n%s" % proc.stdout
        self.notes["collections_before"] = tree(self.collections)
        version = self.command(self.bin / "ansible", "--version")
        self.notes["ansible_version"] = version.stdout.splitlines()[0] if version.stdout else ""
        self.notes["ansible_config"] = [l.strip() for l in version.stdout.splitlines() if "config file" in l]
        listing = self.command(self.bin / "ansible-galaxy", "collection", "list", "--format", "json")
        try:
            self.notes["collection_list"] = json.loads(listing.stdout[listing.stdout.index("{"):])
        except ValueError:
            self.notes["collection_list"] = {"unparsed": listing.stdout[-2000:]}

    # ---- the hosts ----

    def remove_hosts(self):
        """Remove this version's own containers and network (only these exact names)."""
        for name in (self.gw, self.llm):
            docker("rm", "-f", "-v", name)
        docker("network", "rm", self.network)

    def create_hosts(self):
        for image in set(self.images.values()):
            if docker("image", "inspect", image).returncode != 0:
                raise RuntimeError("image %s is missing: tests/image/build.sh (or tests/bootstrap.sh) builds it" % image)
        self.remove_hosts()  # fresh hosts, even after HX_KEEP_HOSTS=1
        self.created_hosts = True
        docker("network", "create", "--label", "hxc.consumer=%s" % self.version, self.network, check=True)
        for name in (self.gw, self.llm):
            docker("run", "-d", "--name", name, "--hostname", name, "--network", self.network,
                   "--label", "hxc.consumer=%s" % self.version,
                   "--cap-add", "SYS_ADMIN", "--cgroupns", "host", "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw",
                   "--tmpfs", "/run", "--tmpfs", "/run/lock", "--tmpfs", "/tmp",
                   "--stop-signal", "SIGRTMIN+3", self.images[name], "/lib/systemd/systemd", check=True)
        for name in (self.gw, self.llm):
            self.wait_booted(name)
        self.start_stub()

    def wait_booted(self, name):
        deadline = time.monotonic() + BOOT_DEADLINE
        state = ""
        while time.monotonic() < deadline:
            # Right after `docker run` systemd's bus may not answer yet: retry until the deadline.
            state = docker("exec", name, "systemctl", "is-system-running", "--wait").stdout.strip()
            if state in ("running", "degraded"):
                return
            time.sleep(1)
        raise RuntimeError("%s: systemd did not finish booting in %ss (state %r)" % (name, BOOT_DEADLINE, state))

    def ip(self, name):
        out = docker("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", name).stdout.strip()
        assert out, "no IP address for %s" % name
        return out

    def start_stub(self):
        """The stand-in Ollama server on the [llm] host, as a transient systemd service."""
        docker("cp", str(STUB), "%s:/usr/local/bin/stub_ollama.py" % self.llm, check=True)
        docker("exec", self.llm, "systemd-run", "--unit=stub-ollama", "--property=Restart=always",
               "/usr/bin/python3", "/usr/local/bin/stub_ollama.py", "--host", "0.0.0.0", "--port", "11434",
               "--name", self.llm, "--delay", "0.2", "--models", ",".join(MODELS.values()), check=True)
        url = "http://%s:11434/api/tags" % self.ip(self.llm)
        deadline = time.monotonic() + STUB_DEADLINE
        while time.monotonic() < deadline:
            try:
                status, body = http(url)
                if status == 200 and sorted(m["name"] for m in body["models"]) == sorted(MODELS.values()):
                    return
            except (OSError, ValueError, KeyError, TypeError):
                pass
            time.sleep(1)
        raise RuntimeError("the stand-in Ollama on %s did not serve %s within %ss" % (self.llm, url, STUB_DEADLINE))

    def on_gw(self, command):
        return docker("exec", self.gw, "sh", "-c", command)

    def journal(self):
        proc = docker("exec", self.gw, "journalctl", "-u", "litellm", "-n", "60", "--no-pager")
        procs = docker("exec", self.gw, "sh", "-c", SERVICE_PROCESSES)
        return "%s%s\n--- litellm's processes ---\n%s\n--- this machine ---\n%s" % (
            proc.stdout, proc.stderr, procs.stdout + procs.stderr, machine_load())

    def live_config(self):
        proc = docker("exec", self.gw, "cat", "/etc/litellm/config.yaml")
        return yaml.safe_load(proc.stdout) if proc.returncode == 0 else None

    def router_timeout(self):
        config = self.live_config()
        return None if config is None else (config.get("router_settings") or {}).get("timeout")

    # ---- the lifecycle ----

    def playbook(self, step, name, *extra):
        """ansible-playbook hx.litellm.<name> from the project directory, with this venv."""
        results = self.logs / ("%02d-%s.jsonl" % (len(self.runs) + 1, step))
        results.unlink(missing_ok=True)
        cmd = [str(self.bin / "ansible-playbook"), "hx.litellm.%s" % name, *extra]
        started = time.monotonic()
        proc = subprocess.run(cmd, cwd=self.project, env=self.env(results), stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        run = Run(proc.returncode, proc.stdout, results, round(time.monotonic() - started, 1))
        results.with_suffix(".log").write_text(proc.stdout)
        self.outputs.append(proc.stdout)
        self.runs[step] = run
        self.commands[step] = "ansible-playbook hx.litellm.%s %s" % (name, " ".join(extra))
        counters = self.counters(run)
        self.say("%-22s rc=%d %s in %.1fs" % (step, run.returncode, " ".join(
            "%s=%s" % (k, counters.get(k)) for k in ("ok", "changed", "failures", "unreachable", "skipped", "rescued", "ignored"))
            if counters else "(no recap)", run.seconds))
        if run.returncode != 0:
            self.journals[step] = self.journal()
        return run

    def counters(self, run):
        stats = [r for r in run.records if r["event"] == "stats"]
        return stats[-1]["hosts"].get(self.gw) if stats else None

    def ok(self, step):
        return step in self.runs and self.runs[step].returncode == 0

    def lifecycle(self):
        """What an operator does with a new gateway, in order; a step whose ground failed does not run."""
        self.playbook("preflight", "litellm_preflight")
        self.playbook("enforce-check", "litellm_enforce", "--check", "--diff")
        self.notes["after_check"] = self.on_gw(UNTOUCHED).stdout.strip()
        self.playbook("enforce", "litellm_enforce")
        if not self.ok("enforce"):
            return
        self.notes["platform"] = self.on_gw(
            ". /etc/os-release; echo $ID $VERSION_ID; readlink -f /opt/litellm/venvs/*/bin/python").stdout.split()
        self.playbook("enforce-rerun", "litellm_enforce")
        self.playbook("smoke", "litellm_smoke", "-e", "hx_litellm_smoke_base_url=%s" % self.base_url())
        self.notes["timeout_before_change"] = self.router_timeout()
        self.playbook("change-timeout", "litellm_enforce", "-e", "hx_litellm_proxy_timeout=45")
        self.notes["timeout_after_change"] = self.router_timeout()
        if not self.ok("change-timeout"):
            return
        self.playbook("rollback", "litellm_rollback")
        self.notes["timeout_after_rollback"] = self.router_timeout()
        if not self.ok("rollback"):
            return
        self.playbook("enforce-after-rollback", "litellm_enforce")
        self.notes["timeout_at_end"] = self.router_timeout()
        if not self.ok("enforce-after-rollback"):
            return
        self.rotate_certificate()

    def rotate_certificate(self):
        """A certificate renewal as ops do it: a new key in the vault, the new certificate beside the
        inventory, and a rerun; what the gateway served before and after, and how fast it handshakes."""
        self.notes["served_before_rotation"] = self.served_certificate()
        self.notes["handshakes"] = self.handshakes()
        self.issue_certificate("gw-renewed")
        self.write_vault()
        self.playbook("rotate-certificate", "litellm_enforce")
        self.notes["served_after_rotation"] = self.served_certificate()
        self.notes["openai"] = self.openai_client()
        self.notes["openai_via_lb"] = self.openai_client(self.lb_url())
        self.notes["lb"] = {"served": self.served_certificate(self.llm),
                            "config": docker("exec", self.llm, "cat", "/etc/haproxy/haproxy.cfg").stdout,
                            "served_by": served_by(self.lb_url() + "/health/readiness", self.ca_file)}
        if not self.ok("rotate-certificate"):
            return
        # HTTPS off (certificate and key emptied), then the rollback playbook back to HTTPS: the
        # snapshots carry the certificate, key and CA across the switch, file for file.
        self.playbook("https-off", "litellm_enforce", "-e",
                      json.dumps({"hx_litellm_proxy_tls_cert": "", "hx_litellm_proxy_tls_key": ""}))
        self.notes["after_https_off"] = {
            "files": self.on_gw("ls /etc/litellm").stdout.split(),
            "plain": http("http://%s:4000/health/readiness" % self.ip(self.gw))[0]}
        if self.ok("https-off"):
            self.playbook("rollback-to-https", "litellm_rollback")
            self.notes["after_rollback_to_https"] = {
                "files": self.on_gw("ls /etc/litellm").stdout.split(),
                "served": self.served_certificate() if self.ok("rollback-to-https") else None}
        self.say("TLS %s: new connection %.1f ms, kept connection %.1f ms (x%.2f); rotation run %.1fs; openai: %d models, "
                 "%d stream chunks" % (self.notes["served_after_rotation"][1], self.notes["handshakes"]["new_connection_ms"],
                                       self.notes["handshakes"]["kept_connection_ms"], self.notes["handshakes"]["ratio"],
                                       self.runs["rotate-certificate"].seconds, len(self.notes["openai"]["models"]),
                                       self.notes["openai"]["stream_chunks"]))

    def run_all(self):
        """Project, hosts, lifecycle; whatever happens, the record in .artifacts/consumer-<v>.json."""
        with _slots:
            self.started = time.monotonic()
            try:
                self.create_hosts()  # first: the project's certificate names the gateway's address
                self.write_project()
                self.install_collection()
                self.lifecycle()
            except Exception:  # noqa: BLE001 - reported by the tests, with the traceback
                self.error = traceback.format_exc()
                self.say("stopped: %s" % self.error.strip().splitlines()[-1])
            finally:
                self.notes["collections_after"] = tree(self.collections) if self.collections.exists() else {}
                self.finished = time.monotonic()
                self.write_record()

    def start(self):
        self.thread = threading.Thread(target=self.run_all, name="consumer-%s" % self.version, daemon=True)
        self.thread.start()

    def wait(self):
        if self.thread is not None:
            self.thread.join()

    def teardown(self):
        self.wait()
        if self.created_hosts and not KEEP_HOSTS:
            self.remove_hosts()
            self.created_hosts = False

    def write_record(self):
        steps = []
        for step, run in self.runs.items():
            steps.append({"step": step, "command": self.commands[step], "rc": run.returncode,
                          "seconds": run.seconds, "recap": self.counters(run)})
        record = {
            "version": self.version,
            "ansible_core": self.notes.get("ansible_version"),
            "venv": str(self.venv.relative_to(ROOT)),
            "tarball": self.tarball.name,
            "project": str(self.project),
            "gateway": self.gw,
            "install": {k: v for k, v in (self.notes.get("install") or {}).items() if k != "output"},
            "steps": steps,
            "wall_seconds": round((self.finished or time.monotonic()) - (self.started or time.monotonic()), 1),
            "concurrent_lifecycles": JOBS,
            "tls_handshakes": self.notes.get("handshakes"),
            "error": self.error,
        }
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / ("consumer-%s.json" % self.version)).write_text(json.dumps(record, indent=2) + "\n")
