"""Bad inputs against a serving gateway: each is refused before anything on the host changes,
with a message naming the variable, the bad value (never a secret's) and the fix; one after
another they leave the host byte-identical and serving, and a good run after them converges."""

import concurrent.futures
import json
import re
import tempfile

import pytest

from default_gateway import GATEWAY
from pki import CA

# Certificates for the HTTPS listener, made with openssl: the gateway is called by its inventory name.
_PKI = tempfile.mkdtemp(prefix="hx-bad-tls-")
_CA, _OTHER_CA = CA(_PKI + "/ca"), CA(_PKI + "/other", name="another CA")
_CERT, _KEY = _CA.issue("good", [GATEWAY])
_OTHER_KEY = _CA.issue("other", [GATEWAY])[1]
_EXPIRED = _CA.issue("expired", [GATEWAY], start="20240101000000Z", end="20250101000000Z")
_WRONG_NAME = _CA.issue("wrong-name", ["gw99.example.com", "192.0.2.99"])
_FOREIGN = _OTHER_CA.issue("foreign", [GATEWAY])


def _tls(cert, key, ca=None):
    return {"hx_litellm_proxy_tls_cert": cert, "hx_litellm_proxy_tls_key": key, "hx_litellm_proxy_tls_ca": ca or _CA.pem()}

# A login account that exists on the host before the role runs, as on a real server.
LOGIN_ACCOUNT = "alice"

# (extra vars, what the operator must read).
BAD_INPUTS = {
    "master key missing": ({"hx_litellm_proxy_master_key": None}, "hx_litellm_proxy_master_key is not set"),
    "master key without sk-": ({"hx_litellm_proxy_master_key": "pk-0123456789abcdefghijkl"},
                               "hx_litellm_proxy_master_key does not start with 'sk-'"),
    "master key too short": ({"hx_litellm_proxy_master_key": "sk-0123456789"},
                             "hx_litellm_proxy_master_key is shorter than 20 characters"),
    "master key a known default": ({"hx_litellm_proxy_master_key": "sk-1234"},
                                   "hx_litellm_proxy_master_key is a well-known placeholder key"),
    "no aliases": ({"hx_litellm_proxy_models": []}, "hx_litellm_proxy_models is empty; fix:"),
    "no backends": ({"hx_litellm_proxy_backends": []}, "hx_litellm_proxy_backends is empty"),
    "alias mapped twice": ({"hx_litellm_proxy_models": [{"name": "a", "model": "x"}, {"name": "a", "model": "y"}]},
                           "hx_litellm_proxy_models: alias 'a' is defined twice; fix:"),
    "backend not http(s)://host:port": ({"hx_litellm_proxy_backends": ["hx-llm01:11434"]},
                                        "backend 'hx-llm01:11434' is not a URL of the form http(s)://host:port; fix:"),
    "port out of range": ({"hx_litellm_proxy_port": 70000}, "hx_litellm_proxy_port 70000 is out of range; fix:"),
    "unknown routing strategy": ({"hx_litellm_proxy_routing_strategy": "round-robin"},
                                 "value of hx_litellm_proxy_routing_strategy must be one of: least-busy, simple-shuffle, "
                                 "latency-based-routing, usage-based-routing-v2, cost-based-routing, got: round-robin"),
    "unknown provider": ({"hx_litellm_proxy_models": [{"name": "a", "model": "x", "provider": "bedrock"}]},
                         "value of provider must be one of: ollama_chat, ollama, hosted_vllm, openai, got: bedrock "
                         "found in hx_litellm_proxy_models"),
    "version not an exact pin": ({"hx_litellm_proxy_version": ">=1.106"},
                                 "hx_litellm_proxy_version '>=1.106' is not an exact release; fix:"),
    "zero timeout": ({"hx_litellm_proxy_timeout": 0}, "hx_litellm_proxy_timeout is 0; fix:"),
    "negative stream timeout": ({"hx_litellm_proxy_stream_timeout": -5}, "hx_litellm_proxy_stream_timeout is -5; fix:"),
    "zero readiness timeout": ({"hx_litellm_proxy_ready_timeout": 0}, "hx_litellm_proxy_ready_timeout is 0; fix:"),
    "no snapshot kept": ({"hx_litellm_proxy_rollback_keep": 0}, "hx_litellm_proxy_rollback_keep is 0; fix:"),
    "negative retries": ({"hx_litellm_proxy_num_retries": -2}, "hx_litellm_proxy_num_retries is -2; fix:"),
    "fallback to an unknown alias": ({"hx_litellm_proxy_fallbacks": {"phi3-3.8b": ["gpt-4"]}},
                                     "hx_litellm_proxy_fallbacks names 'gpt-4', which is not a defined alias"),
    "redis password systemd would alter": ({"hx_litellm_proxy_redis_password": 'pw"with\\quotes'},
                                           "hx_litellm_proxy_redis_password contains characters other than"),
    "install dir under /home": ({"hx_litellm_proxy_install_dir": "/home/litellm"},
                                "hx_litellm_proxy_install_dir '/home/litellm' is under a directory the unit hides"),
    "config dir under /tmp": ({"hx_litellm_proxy_config_dir": "/tmp/litellm"},
                              "hx_litellm_proxy_config_dir '/tmp/litellm' is under a directory the unit hides"),
    "relative install dir": ({"hx_litellm_proxy_install_dir": "opt/litellm"},
                             "hx_litellm_proxy_install_dir 'opt/litellm' is not an absolute path; fix:"),
    "backup dir a system directory": ({"hx_litellm_proxy_backup_dir": "/etc"},
                                      "hx_litellm_proxy_backup_dir '/etc' is a system directory"),
    "config dir under a world-writable directory": ({"hx_litellm_proxy_config_dir": "/var/tmp/litellm"},
                                                    "hx_litellm_proxy_config_dir '/var/tmp/litellm' is under"),
    "service user root": ({"hx_litellm_proxy_user": "root"}, "hx_litellm_proxy_user 'root' is root; the proxy must run unprivileged; fix:"),
    "service user an existing login account": ({"hx_litellm_proxy_user": LOGIN_ACCOUNT},
                                               "hx_litellm_proxy_user 'alice' is an existing login account"),
    "service group root": ({"hx_litellm_proxy_group": "root"}, "hx_litellm_proxy_group 'root' is root's group"),
    "listen address with a port": ({"hx_litellm_proxy_host": "0.0.0.0:4000"},
                                   "hx_litellm_proxy_host '0.0.0.0:4000' has a port; the port is hx_litellm_proxy_port"),
    "listen address with a scheme": ({"hx_litellm_proxy_host": "http://0.0.0.0"},
                                     "hx_litellm_proxy_host 'http://0.0.0.0' has a scheme"),
    "listen address not an address": ({"hx_litellm_proxy_host": "not an address"},
                                      "hx_litellm_proxy_host 'not an address' is neither an IP address nor a host name"),
    "listen address of another host": ({"hx_litellm_proxy_host": "192.0.2.10"},
                                       "hx_litellm_proxy_host '192.0.2.10' is not an address of this host"),
    "environment value the unit cannot carry": ({"hx_litellm_proxy_environment": {"NO_PROXY": 'a"b'}},
                                                "systemd-analyze verify rejects it"),
    "CA bundle missing": ({"hx_litellm_proxy_ca_bundle": "/nonexistent/ca.pem"},
                          "hx_litellm_proxy_ca_bundle '/nonexistent/ca.pem' is not an existing file on the control node"),
    "wheelhouse missing": ({"hx_litellm_proxy_wheelhouse": "/nonexistent/litellm.tar"},
                           "hx_litellm_proxy_wheelhouse '/nonexistent/litellm.tar' is not an existing file on the control node"),
    "malicious release": ({"hx_litellm_proxy_version": "1.82.8"},
                          "hx_litellm_proxy_version 1.82.8 is refused: 1.82.8 was a malicious upload (BerriAI/litellm#24518"),
    "release below the floor": ({"hx_litellm_proxy_version": "1.83.6"},
                                "1.83.6 is below 1.83.7, the first release fixing CVE-2026-42208"),
    "release without a lock": ({"hx_litellm_proxy_version": "1.110.2"},
                               "hx_litellm_proxy_version 1.110.2 has no lock for Python 3.11"),
    "python LiteLLM does not support": ({"hx_litellm_proxy_python": "python3.9"},
                                        "hx_litellm_proxy_python is python3.9, which is not an interpreter name python3.X "
                                        "from 3.10 to 3.14, the Python versions LiteLLM supports"),
    "unknown keyless page": ({"hx_litellm_proxy_open_pages": ["swagger"]},
                             "value of hx_litellm_proxy_open_pages must be one or more of: docs, redoc, openapi, admin_ui"),
    "peer that is not an address": ({"hx_litellm_proxy_ip_allow": ["10.0.0.0/8", "999.1.1.1"]},
                                    "hx_litellm_proxy_ip_allow has ['999.1.1.1'], which are not IP addresses or CIDRs; fix:"),
    "TLS key not the certificate's": (_tls(_CERT, _OTHER_KEY),
                                      "hx_litellm_proxy_tls_key is not the key of hx_litellm_proxy_tls_cert"),
    "TLS certificate expired": (_tls(*_EXPIRED), "hx_litellm_proxy_tls_cert expired on 2025-01-01"),
    "TLS certificate for other names": (_tls(*_WRONG_NAME),
                                        "hx_litellm_proxy_tls_cert does not cover %s (its subjectAltName holds "
                                        "gw99.example.com, 192.0.2.99)" % GATEWAY),
    "TLS certificate from another CA": (_tls(*_FOREIGN), "hx_litellm_proxy_tls_cert is not issued by hx_litellm_proxy_tls_ca"),
    "TLS key without a certificate": ({"hx_litellm_proxy_tls_key": _KEY},
                                      "hx_litellm_proxy_tls_key is set but hx_litellm_proxy_tls_cert is empty"),
    "memory limit too small for the workers": ({"hx_litellm_proxy_memory_max_mb": 512},
                                               "hx_litellm_proxy_memory_max_mb is 512 MiB, less than the 1152 MiB the "
                                               "service needs with 2 workers"),
    "MemoryHigh above MemoryMax": ({"hx_litellm_proxy_memory_max_mb": 2048, "hx_litellm_proxy_memory_high_mb": 3000},
                                   "hx_litellm_proxy_memory_high_mb is 3000 MiB; it must be at least the 1152 MiB the "
                                   "workers need"),
    "proxy URL with credentials": ({"hx_litellm_proxy_environment": {"HTTPS_PROXY": "http://u:pw@proxy:3128"}},
                                   "hx_litellm_proxy_environment ['HTTPS_PROXY'] holds credentials in a URL"),
}
SECRET_VARIABLES = ("hx_litellm_proxy_master_key", "hx_litellm_proxy_redis_password", "hx_litellm_proxy_tls_key")
# Phase files that change the host: none of their tasks may run for a refused input.
CHANGING_PHASES = ("install.yml", "configure.yml", "service.yml", "backup.yml")


def said(run):
    """Every message the gateway's tasks returned, as one normalised text."""
    return re.sub(r"\s+", " ", " ".join(run.messages(GATEWAY)))


def refused_before_the_host_changed(run, case, extra, message):
    assert run.returncode != 0, "%s was accepted" % case
    assert message in said(run), "%s: expected %r among the messages: %s" % (case, message, said(run)[-1500:])
    assert run.recap(GATEWAY)["changed"] == 0
    for phase in CHANGING_PHASES:
        assert not run.ran(GATEWAY, phase), "%s: %s ran although the input is refused" % (case, phase)
    for name in SECRET_VARIABLES:
        if extra.get(name):
            # A PEM key line by line: any line of its body printed is a leak.
            for part in [extra[name]] + [line for line in extra[name].splitlines() if len(line) > 16]:
                assert part not in run.stdout, "the bad value of %s was printed" % name
    assert "u:pw@" not in run.stdout, "the proxy credentials were printed"


@pytest.fixture(scope="module")
def refused(lab_state):
    """Every bad input against the serving gateway, three plays at a time, and the host state around them."""
    import default_gateway as gw
    gw.put_back(lab_state)
    gw.on_gateway("id %s >/dev/null 2>&1 || useradd -m -s /bin/bash %s" % (LOGIN_ACCOUNT, LOGIN_ACCOUNT))
    gw.wait_until_serving()
    before = gw.full_host_state()
    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        futures = {name: pool.submit(gw.enforce, label="bad-input", **extra) for name, (extra, _) in BAD_INPUTS.items()}
        runs = {name: future.result() for name, future in futures.items()}
    return runs, before, gw.full_host_state()


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_a_bad_input_is_refused_by_name_before_the_host_changes(case, refused):
    runs, before, after = refused
    extra, message = BAD_INPUTS[case]
    refused_before_the_host_changed(runs[case], case, extra, message)
    assert after == before, "a refused input changed the gateway"


def test_the_validate_phase_prints_each_passing_check_as_what_it_checked(lifecycle):
    """What the operator reads on a good run: one line per check, saying what was checked, no failure text."""
    shown = lifecycle["converge"].stdout
    items = re.findall(r"^ok: \[%s\] => \(item=(.*)\)$" % GATEWAY, shown, re.M)
    assert len(items) >= 20, "the validate phase printed %d checks" % len(items)
    assert not [i for i in items if "fix:" in i or "{" in i], "a passing check printed its failure text or a dict"
    assert "hx_litellm_proxy_master_key starts with sk-" in items


SEQUENCE = [
    {"hx_litellm_proxy_host": "0.0.0.0:4000"},
    {"hx_litellm_proxy_config_dir": "/tmp/litellm"},
    {"hx_litellm_proxy_user": "root"},
    {"hx_litellm_proxy_backup_dir": "/etc"},
    {"hx_litellm_proxy_environment": {"NO_PROXY": 'a"b'}},
    {"hx_litellm_proxy_timeout": 0},
]


def test_bad_inputs_one_after_another_leave_the_gateway_identical_and_serving_and_a_good_run_finds_nothing_to_repair(gateway):
    before = gateway.full_host_state()
    for number, extra in enumerate(SEQUENCE, 1):
        run = gateway.enforce(label="sequence-%d" % number, **extra)
        assert run.returncode != 0, "%s was accepted" % json.dumps(extra)
        assert run.recap(GATEWAY)["changed"] == 0
        assert gateway.full_host_state() == before, "%s changed the gateway" % json.dumps(extra)
        assert gateway.serves(), "the gateway stopped serving after %s" % json.dumps(extra)
    # The repository's own inputs afterwards: nothing to repair, the same state, still serving.
    good = gateway.enforce(label="sequence-good")
    assert good.returncode == 0, "the good run after the bad ones failed (output above)"
    assert good.recap(GATEWAY)["changed"] == 0, "the bad runs left something a good run had to repair"
    assert gateway.full_host_state() == before
    assert gateway.serves()
