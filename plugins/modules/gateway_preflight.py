#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hx.litellm contributors
# Apache License 2.0 (see LICENSE)
"""Read-only Go/No-Go checks of a host that is to run the LiteLLM gateway."""

from __future__ import annotations

DOCUMENTATION = r"""
module: gateway_preflight
short_description: Read-only Go/No-Go checks before a LiteLLM gateway change
version_added: 0.1.0
author: hx.litellm contributors (!UNKNOWN)
description:
  - Runs the read-only checks of a gateway host before a change and returns one row per check with
    C(PASS), C(FAIL) or C(SKIP) (with the reason), what was measured, how to fix a failure and the
    transcript of the commands and requests it made. It changes nothing on the host.
  - Checks forward and reverse DNS against a resolver, netplan posture, domain membership and admin
    rights, the CA in the trust store and TLS handshakes, the Python the role needs, the proxy port,
    free disk for the venv, and every backend reachable and serving every model its aliases map to.
  - The module never fails on a failed check; the caller writes its evidence, then decides.
options:
  fqdn: {description: Name the gateway is known by in DNS., type: str, required: true}
  address: {description: Address the name must resolve to (reverse lookup too); empty skips the comparison., type: str, default: ""}
  resolver: {description: DNS server to ask; empty skips the DNS and netplan resolver checks., type: str, default: ""}
  realm_domain: {description: AD/realm domain the host must be joined to; empty skips the domain checks., type: str, default: ""}
  admin_account: {description: Domain account that must resolve and hold sudo rights., type: str, default: ""}
  ca_pem: {description: PEM text of the CA that must be in the system trust store; empty skips., type: str, default: ""}
  tls_urls: {description: Internal https URLs whose TLS handshake must succeed with the system store., type: list, elements: str, default: []}
  python: {description: Interpreter the role builds the venv from., type: str, default: python3.11}
  port: {description: Port the proxy will listen on., type: int, default: 4000}
  probe_url:
    description: >-
      Where the host reaches the proxy, with its scheme (e.g. C(https://gw01:4000)); asked, before plain
      HTTP on loopback, whether a running proxy holds the port.
    type: str
    default: ""
  probe_ca: {description: CA file on the host an HTTPS O(probe_url) is verified with; ignored while absent., type: path, default: ""}
  service_user: {description: User the running proxy runs as (the port may be held by it)., type: str, default: litellm}
  service: {description: Name of the proxy's systemd unit (the port may be held by it)., type: str, default: litellm}
  install_dir: {description: Where the venv goes., type: path, default: /opt/litellm}
  min_free_mb: {description: "Free space the venv needs (about 750 MB installed, plus pip's cache).", type: int, default: 2048}
  deployments:
    description:
      - The alias x backend deployments of the gateway (C(alias), C(provider), C(model), C(api_base)), as the
        C(hx.litellm.gateway) filter returns them; every Ollama backend must serve every model mapped to it.
    type: list
    elements: dict
    default: []
  timeout: {description: Seconds for one request or command., type: float, default: 5}
"""

EXAMPLES = r"""
- name: Run the phase 1 checks
  hx.litellm.gateway_preflight:
    fqdn: "{{ inventory_hostname }}"
    deployments: "{{ hx_litellm_proxy_gateway.deployments }}"
  register: preflight
"""

RETURN = r"""
checks:
  description: One row per check (check, target, status, detail, fix, transcript).
  type: list
  returned: always
failed_checks:
  description: Number of rows with status FAIL.
  type: int
  returned: always
"""

import glob
import json
import os
import re
import shutil
import socket
import ssl
import sys
from urllib.error import HTTPError
from urllib.parse import urlsplit

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.urls import open_url


def _run(module, argv, timeout):
    """Run a read-only command under timeout(1); return (rc, output, transcript line).

    rc 124 means it timed out, 127 that the command is not installed, as from a shell."""
    if not module.get_bin_path(argv[0]):
        rc, out = 127, "%s: not installed" % argv[0]
    else:
        rc, out, err = module.run_command(["timeout", "--kill-after=2", str(timeout)] + list(argv))
        out = out + err
        if rc == 124:
            out = "timed out after %ss" % timeout
    return rc, out, "$ %s\n[rc=%d]\n%s" % (" ".join(argv), rc, out.strip())


def _get_json(url, timeout, ca_path=None):
    try:
        resp = open_url(url, timeout=timeout, validate_certs=True, use_netrc=False, ca_path=ca_path)
        body = resp.read().decode("utf-8", "replace")
        status = resp.getcode()
    except HTTPError as err:
        return err.code, None, "GET %s -> HTTP %d" % (url, err.code)
    except Exception as err:
        reason = getattr(err, "reason", err)
        return 0, None, "GET %s -> %s: %s" % (url, type(reason).__name__, reason)
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    return status, data, "GET %s -> HTTP %d" % (url, status)


class Checks:
    def __init__(self, module):
        self.module = module
        self.p = module.params
        self.rows = []

    def add(self, check, status, detail, fix="", target=None, transcript=(), **measured):
        row = {"check": check, "target": target, "status": status, "detail": detail, "fix": fix,
               "transcript": "\n".join(transcript)}
        row.update(measured)
        self.rows.append(row)

    # -- DNS ---------------------------------------------------------------
    def dns(self):
        p = self.p
        if not p["resolver"]:
            self.add("dns", "SKIP", "no resolver configured (hx_litellm_preflight_dns_resolver)")
            return
        if not shutil.which("dig"):
            self.add("dns", "FAIL", "dig is not installed", "apt-get install bind9-dnsutils")
            return
        rc, out, t1 = _run(self.module, ["dig", "+short", "+time=2", "+tries=1", "A", p["fqdn"], "@" + p["resolver"]], p["timeout"] + 5)
        forward = [line for line in out.split() if re.match(r"^\d+\.\d+\.\d+\.\d+$", line)]
        ok = rc == 0 and bool(forward) and (not p["address"] or p["address"] in forward)
        self.add("dns_forward", "PASS" if ok else "FAIL",
                 "%s -> %s (expected %s)" % (p["fqdn"], forward or "no answer", p["address"] or "any"),
                 "add/fix the A record of %s on %s" % (p["fqdn"], p["resolver"]), transcript=[t1])
        address = p["address"] or (forward[0] if forward else "")
        if not address:
            self.add("dns_reverse", "FAIL", "no address to look up", "fix the A record first")
            return
        rc, out, t2 = _run(self.module, ["dig", "+short", "+time=2", "+tries=1", "-x", address, "@" + p["resolver"]], p["timeout"] + 5)
        names = [n.rstrip(".") for n in out.split()]
        ok = rc == 0 and p["fqdn"].rstrip(".") in names
        self.add("dns_reverse", "PASS" if ok else "FAIL", "%s -> %s" % (address, names or "no answer"),
                 "add the PTR record %s -> %s on %s" % (address, p["fqdn"], p["resolver"]), transcript=[t2])

    # -- netplan -------------------------------------------------------------
    def netplan(self):
        files = sorted(glob.glob("/etc/netplan/*.yaml") + glob.glob("/etc/netplan/*.yml"))
        if not os.path.isdir("/etc/netplan"):
            self.add("netplan", "SKIP", "netplan not used on this host (no /etc/netplan)")
            return
        transcript = ["$ ls /etc/netplan\n%s" % "\n".join(files)]
        if len(files) != 1:
            self.add("netplan", "FAIL", "%d netplan files (want exactly one authoritative file)" % len(files),
                     "merge into one file (e.g. 50-hx-static.yaml) and remove the others; netplan generate",
                     transcript=transcript)
            return
        try:
            with open(files[0]) as handle:
                text = handle.read()
        except OSError as err:
            self.add("netplan", "FAIL", "cannot read %s: %s" % (files[0], err), "check its permissions")
            return
        if self.p["resolver"] and self.p["resolver"] not in text:
            self.add("netplan", "FAIL", "%s does not name the resolver %s" % (files[0], self.p["resolver"]),
                     "set nameservers.addresses to [%s] in %s" % (self.p["resolver"], files[0]), transcript=transcript)
            return
        self.add("netplan", "PASS", "one authoritative file: %s" % files[0], transcript=transcript)

    # -- domain / SSO --------------------------------------------------------
    def domain(self):
        p = self.p
        if not p["realm_domain"]:
            self.add("domain", "SKIP", "no domain configured (hx_litellm_preflight_realm_domain)")
            return
        rc, out, t = _run(self.module, ["realm", "list"], p["timeout"] + 10)
        joined = rc == 0 and p["realm_domain"].lower() in out.lower()
        self.add("domain_join", "PASS" if joined else "FAIL",
                 "realm list %s %s" % ("names" if joined else "does not name", p["realm_domain"]),
                 "join the domain: realm join %s" % p["realm_domain"], transcript=[t])
        if not p["admin_account"]:
            self.add("domain_admin", "SKIP", "no admin account configured (hx_litellm_preflight_admin_account)")
            return
        rc, out, t1 = _run(self.module, ["id", p["admin_account"]], p["timeout"])
        self.add("domain_admin", "PASS" if rc == 0 else "FAIL", out.strip() or "id failed",
                 "check SSSD and the account %s" % p["admin_account"], transcript=[t1])
        rc, out, t2 = _run(self.module, ["sudo", "-l", "-U", p["admin_account"]], p["timeout"])
        ok = rc == 0 and "may run" in out and "not allowed" not in out
        self.add("domain_admin_sudo", "PASS" if ok else "FAIL", "sudo -l -U %s" % p["admin_account"],
                 "grant sudo through the admin group drop-in (preflight phase 2)", transcript=[t2])

    # -- CA trust and TLS ------------------------------------------------------
    def trust(self):
        p = self.p
        if not p["ca_pem"] and not p["tls_urls"]:
            self.add("ca_trust", "SKIP", "no CA or internal URL configured (hx_litellm_preflight_ca_cert, _tls_urls)")
            return
        bundle = "/etc/ssl/certs/ca-certificates.crt"
        if p["ca_pem"]:
            wanted = [b.strip() for b in re.findall(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----",
                                                    p["ca_pem"], re.S)]
            try:
                with open(bundle) as handle:
                    store = handle.read()
            except OSError:
                store = ""
            missing = [c for c in wanted if "".join(c.split()) not in "".join(store.split())]
            self.add("ca_trust", "PASS" if wanted and not missing else "FAIL",
                     "%d of %d configured CA certificates in %s" % (len(wanted) - len(missing), len(wanted), bundle),
                     "install the CA into /usr/local/share/ca-certificates/ and run update-ca-certificates")
        context = ssl.create_default_context(cafile=bundle if os.path.exists(bundle) else None)
        for url in p["tls_urls"]:
            parts = urlsplit(url)
            try:
                with socket.create_connection((parts.hostname, parts.port or 443), timeout=p["timeout"]) as sock:
                    with context.wrap_socket(sock, server_hostname=parts.hostname) as tls:
                        detail = "%s, %s" % (tls.version(), tls.getpeercert().get("subject"))
                self.add("tls", "PASS", detail, target=url)
            except Exception as err:
                self.add("tls", "FAIL", "%s: %s" % (type(err).__name__, err), "trust the issuing CA or fix the service's certificate", target=url)

    # -- runtime, port, disk ---------------------------------------------------
    def python(self):
        rc, out, t = _run(self.module, [self.p["python"], "--version"], self.p["timeout"])
        found = rc == 0 and re.search(r"Python (\d+\.\d+\.\d+)", out)
        self.add("python", "PASS" if found else "FAIL",
                 out.strip() if found else "%s not found" % self.p["python"],
                 "apt-get install %s %s-venv (or run preflight phase 2: -t phase2)" % (self.p["python"], self.p["python"]),
                 transcript=[t], version=found.group(1) if found else None)

    def port(self):
        port = self.p["port"]
        rc, out, t = _run(self.module, ["ss", "-H", "-ltnp", "sport = :%d" % port], self.p["timeout"])
        if rc != 0:
            self.add("port", "FAIL", "ss failed", "install iproute2", transcript=[t])
            return
        if not out.strip():
            self.add("port", "PASS", "port %d is free" % port, transcript=[t])
            return
        pids = sorted(set(re.findall(r"pid=(\d+)", out)))
        owners = set()
        for pid in pids:
            try:
                owners.add(_owner_of(pid))
            except OSError:
                owners.add("?")
        by_proxy = owners == {self.p["service_user"]}
        transcript = [t]
        if not by_proxy:
            # The unit's ProtectProc= can hide the process even from root: then ask the
            # service manager and the port itself whether the running proxy holds it.
            _rc, state, t_u = _run(self.module, ["systemctl", "is-active", self.p["service"]], self.p["timeout"])
            # Where the gateway serves (HTTPS verified with its CA when it has one), else plain HTTP on
            # loopback: a gateway that is about to be switched to HTTPS still serves plain HTTP now.
            status = 0
            for url, ca_path in ((self.p["probe_url"], self.p["probe_ca"] or None), ("http://127.0.0.1:%d" % port, None)):
                if not url or status == 200:
                    continue
                if ca_path and not os.path.exists(ca_path):
                    ca_path = None
                status, _data, t_l = _get_json(url.rstrip("/") + "/health/liveliness", self.p["timeout"], ca_path)
                transcript.append(t_l)
            transcript.append(t_u)
            by_proxy = state.strip() == "active" and status == 200
            if by_proxy:
                owners = {"%s.service (answers /health/liveliness)" % self.p["service"]}
        self.add("port", "PASS" if by_proxy else "FAIL",
                 "port %d held by %s%s" % (port, ", ".join(sorted(owners)) or "an unknown process",
                                           " (pids %s)" % ", ".join(pids) if pids else ""),
                 "stop what holds port %d, or choose another hx_litellm_proxy_port" % port, transcript=transcript)

    def disk(self):
        path = self.p["install_dir"]
        while not os.path.exists(path):
            path = os.path.dirname(path) or "/"
        stat = os.statvfs(path)
        free_mb = stat.f_bavail * stat.f_frsize // (1024 * 1024)
        ok = free_mb >= self.p["min_free_mb"]
        self.add("disk", "PASS" if ok else "FAIL",
                 "%d MB free on the filesystem of %s (need %d MB)" % (free_mb, path, self.p["min_free_mb"]),
                 "free space there or set hx_litellm_proxy_install_dir to a larger filesystem", free_mb=free_mb)

    # -- backends ------------------------------------------------------------
    def backends(self):
        wanted = {}
        for deployment in self.p["deployments"]:
            if str(deployment.get("provider", "")).startswith("ollama"):
                wanted.setdefault(deployment["api_base"], set()).add(deployment.get("model"))
        if not wanted:
            self.add("backend", "SKIP", "no Ollama backend configured")
            return
        for backend, models in sorted(wanted.items()):
            status, data, t1 = _get_json(backend + "/api/version", self.p["timeout"])
            if status != 200:
                self.add("backend", "FAIL", "unreachable: %s" % t1.split(" -> ", 1)[1],
                         "start Ollama on the backend, open the port to this gateway", target=backend, transcript=[t1])
                continue
            version = (data or {}).get("version")
            status, data, t2 = _get_json(backend + "/api/tags", self.p["timeout"])
            served = {m.get("name") for m in (data or {}).get("models", [])} if status == 200 else set()
            missing = sorted(m for m in models if m not in served and m + ":latest" not in served)
            self.add("backend", "PASS" if status == 200 and not missing else "FAIL",
                     "Ollama %s serves %d models; %s" % (
                         version, len(served), "missing: " + ", ".join(missing) if missing else "all mapped models present"),
                     "ollama pull %s on %s" % (" ".join(missing), urlsplit(backend).hostname) if missing else "",
                     target=backend, transcript=[t1, t2], ollama_version=version, missing=missing)

    def run(self):
        for step in (self.dns, self.netplan, self.domain, self.trust, self.python, self.port, self.disk, self.backends):
            try:
                step()
            except Exception as err:  # a broken probe is a FAIL row, never a crash without evidence
                self.add(step.__name__, "FAIL", "probe error: %s: %s" % (type(err).__name__, err), "see the transcript")
        return self.rows


def _owner_of(pid):
    import pwd

    return pwd.getpwuid(os.stat("/proc/%s" % pid).st_uid).pw_name


def main():
    module = AnsibleModule(
        argument_spec=dict(
            fqdn=dict(type="str", required=True),
            address=dict(type="str", default=""),
            resolver=dict(type="str", default=""),
            realm_domain=dict(type="str", default=""),
            admin_account=dict(type="str", default=""),
            ca_pem=dict(type="str", default=""),
            tls_urls=dict(type="list", elements="str", default=[]),
            python=dict(type="str", default="python3.11"),
            port=dict(type="int", default=4000),
            probe_url=dict(type="str", default=""),
            probe_ca=dict(type="path", default=""),
            service_user=dict(type="str", default="litellm"),
            service=dict(type="str", default="litellm"),
            install_dir=dict(type="path", default="/opt/litellm"),
            min_free_mb=dict(type="int", default=2048),
            deployments=dict(type="list", elements="dict", default=[]),
            timeout=dict(type="float", default=5),
        ),
        supports_check_mode=True,
    )
    rows = Checks(module).run()
    module.exit_json(changed=False, checks=rows, failed_checks=sum(1 for r in rows if r["status"] == "FAIL"),
                     python_runtime=sys.version.split()[0])


if __name__ == "__main__":
    main()
