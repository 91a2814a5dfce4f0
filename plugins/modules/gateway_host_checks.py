#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: hx.litellm contributors
# Apache License 2.0 (see LICENSE)
"""Read-only checks, on the gateway host, of inputs only the host can judge."""

from __future__ import annotations

DOCUMENTATION = r"""
module: gateway_host_checks
short_description: Check a LiteLLM gateway's inputs against the host before anything changes
version_added: 0.1.0
author: hx.litellm contributors (!UNKNOWN)
description:
  - Judges, on the host and without changing it, what a rule on the control node cannot. Returns one
    problem per bad input (the variable, its value, what is wrong, the fix); it never fails itself, so
    the caller can report every problem at once.
  - The service account. Root, an existing login account, or an existing group that has members is
    refused. An existing system account is used as it is and never modified, unless it carries the
    comment the role gives the accounts it creates.
  - The directories. Each must be an absolute, normalised path that is not a system directory, does
    not vanish at reboot and, for those the service reads, is not hidden from it by the unit
    (C(ProtectHome=), C(PrivateTmp=)); no existing parent may be writable by every user.
  - The listen address. It must be an IP address or a host name (no port, no scheme) that resolves on
    the host to an address the host can bind.
  - The candidate unit. When it differs from the live one, C(systemd-analyze verify) judges it; a
    command whose venv is yet to be built is excused. The command line is then parsed by LiteLLM's own
    argument parser, when this version's venv already exists.
options:
  user:
    description: Service account.
    type: str
    required: true
  group:
    description: Group of the service account.
    type: str
    required: true
  account_comment:
    description: The comment the role gives accounts it creates; such an account is managed by the role.
    type: str
    required: true
  service_paths:
    description: Directories the service reads (its venvs, its config), by the variable that sets them.
    type: dict
    default: {}
  root_paths:
    description: Directories only root uses (the snapshots), by the variable that sets them.
    type: dict
    default: {}
  listen_host:
    description: Address the proxy binds to; C(0.0.0.0) and C(::) are every interface.
    type: str
    default: "0.0.0.0"
  unit:
    description: The rendered candidate unit; empty skips its checks.
    type: str
    default: ""
  unit_file:
    description: Path of the live unit; the candidate is judged only when it differs.
    type: path
    default: /etc/systemd/system/litellm.service
  venv_python:
    description: The Python of this version's venv, whose LiteLLM parses the candidate's command line.
    type: path
    default: ""
"""

EXAMPLES = r"""
- name: Check the inputs only the host can judge
  hx.litellm.gateway_host_checks:
    user: litellm
    group: litellm
    account_comment: LiteLLM proxy service (hx.litellm)
    service_paths: {hx_litellm_proxy_install_dir: /opt/litellm}
    listen_host: 0.0.0.0
  register: checks
"""

RETURN = r"""
problems:
  description: One entry per bad input (variable, value, problem, fix).
  type: list
  elements: dict
  returned: always
messages:
  description: "Each problem as one line for the operator: C(<variable> '<value>' <problem>; fix: <fix>.)"
  type: list
  elements: str
  returned: always
create_user:
  description: Whether the role may create or manage the service account (absent, or made by the role).
  type: bool
  returned: always
create_group:
  description: Whether the role may create the group (absent).
  type: bool
  returned: always
unit_checked:
  description: Whether the candidate unit differed from the live one and was judged.
  type: bool
  returned: always
notes:
  description: What was excused or skipped, and why.
  type: list
  elements: str
  returned: always
"""

import grp
import json
import os
import pwd
import shlex
import socket
import stat
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.hx.litellm.plugins.module_utils.gateway import listen_host_problem, path_problem, proxy_argv

NOLOGIN = ("/usr/sbin/nologin", "/sbin/nologin", "/bin/false", "/usr/bin/false")

# Parses the candidate's arguments with the proxy's own click command, without running it.
PARSE = """
import json, sys
import click
from litellm.proxy.proxy_cli import run_server
try:
    run_server.make_context("litellm", json.loads(sys.argv[1]))
except click.exceptions.ClickException as err:
    print(err.format_message())
    raise SystemExit(2)
"""


def uid_min():
    """The first uid of login accounts (login.defs' UID_MIN, 1000 by default)."""
    try:
        with open("/etc/login.defs") as handle:
            for line in handle:
                parts = line.split()
                if len(parts) == 2 and parts[0] == "UID_MIN" and parts[1].isdigit():
                    return int(parts[1])
    except OSError:
        pass
    return 1000


class Checks:
    def __init__(self, module):
        self.module = module
        self.p = module.params
        self.problems = []
        self.notes = []

    def problem(self, variable, value, text, fix):
        self.problems.append({"variable": variable, "value": value, "problem": text, "fix": fix})

    def account(self):
        p = self.p
        create_user, create_group = True, True
        fix_user = "a dedicated system account the role creates, e.g. the default litellm"
        try:
            entry = pwd.getpwnam(p["user"])
        except KeyError:
            entry = None
        if p["user"] == "root" or (entry is not None and entry.pw_uid == 0):
            self.problem("hx_litellm_proxy_user", p["user"], "is root; the proxy must run unprivileged", fix_user)
            create_user = False
        elif entry is not None:
            made_by_role = entry.pw_gecos == p["account_comment"]
            login = entry.pw_shell not in NOLOGIN or entry.pw_uid >= uid_min()
            if login and not made_by_role:
                self.problem("hx_litellm_proxy_user", p["user"],
                             "is an existing login account (uid %d, shell %s); the role never modifies it and "
                             "must not run the proxy as it" % (entry.pw_uid, entry.pw_shell), fix_user)
            create_user = made_by_role
            if not made_by_role and not login:
                self.notes.append("%s is an existing system account the role did not create: used as it is"
                                  % p["user"])
        try:
            group = grp.getgrnam(p["group"])
        except KeyError:
            group = None
        if p["group"] == "root" or (group is not None and group.gr_gid == 0):
            self.problem("hx_litellm_proxy_group", p["group"],
                         "is root's group; it may read the master key", "a dedicated group, e.g. the default litellm")
        elif group is not None:
            create_group = False
            others = sorted(set(group.gr_mem) - {p["user"]})
            if others:
                self.problem("hx_litellm_proxy_group", p["group"],
                             "is an existing group with members (%s), who could all read the master key"
                             % ", ".join(others), "a dedicated group, e.g. the default litellm")
        return create_user, create_group

    def directories(self):
        paths = [(v, p, True) for v, p in self.p["service_paths"].items()]
        paths += [(v, p, False) for v, p in self.p["root_paths"].items()]
        for variable, path, service_reads in sorted(paths):
            wrong = path_problem(path, service_reads=service_reads)
            if wrong:
                self.problem(variable, path, wrong, "a dedicated absolute directory, e.g. the default")
                continue
            current = os.path.dirname(os.path.normpath(str(path)))
            while True:
                try:
                    st = os.lstat(current)
                except OSError:
                    st = None
                if st is not None and stat.S_ISDIR(st.st_mode) and st.st_mode & stat.S_IWOTH:
                    self.problem(variable, path,
                                 "is under %s, which every user may write to (mode %04o): another user could "
                                 "create or replace it first" % (current, stat.S_IMODE(st.st_mode)),
                                 "a directory under root-owned parents, e.g. the default")
                    break
                if current in ("/", ""):
                    break
                current = os.path.dirname(current)

    def listen_host(self):
        host = self.p["listen_host"]
        wrong = listen_host_problem(host)
        if wrong:
            self.problem("hx_litellm_proxy_host", host, wrong,
                         "0.0.0.0 (every interface), 127.0.0.1, or an address or name of this host")
            return
        if host in ("0.0.0.0", "::"):
            return
        try:
            infos = socket.getaddrinfo(host, None, 0, socket.SOCK_STREAM)
        except socket.gaierror as err:
            self.problem("hx_litellm_proxy_host", host, "does not resolve on the host (%s)" % err,
                         "0.0.0.0 (every interface), or an address or name of this host")
            return
        for family, _type, _proto, _name, address in infos:
            sock = socket.socket(family, socket.SOCK_STREAM)
            try:
                sock.bind((address[0], 0))
                return
            except OSError:
                continue
            finally:
                sock.close()
        self.problem("hx_litellm_proxy_host", host,
                     "is not an address of this host (it resolves to %s, none of which can be bound)"
                     % ", ".join(sorted({a[4][0] for a in infos})),
                     "0.0.0.0 (every interface), or an address or name of this host")

    def unit(self):
        text = self.p["unit"]
        if not text:
            return False
        try:
            with open(self.p["unit_file"]) as handle:
                if handle.read() == text:
                    return False
        except OSError:
            pass
        command = []
        for line in text.splitlines():
            if line.startswith("ExecStart="):
                command = shlex.split(line[len("ExecStart="):])
        # The proxy's own arguments, without the JSON-lines wrapper that may run it.
        argv = proxy_argv(command)
        directory = tempfile.mkdtemp(prefix="hx-litellm-unit.")
        candidate = os.path.join(directory, os.path.basename(self.p["unit_file"]))
        try:
            with open(candidate, "w") as handle:
                handle.write(text)
            rc, out, err = self.module.run_command(["systemd-analyze", "verify", candidate])
        finally:
            os.unlink(candidate)
            os.rmdir(directory)
        lines = [line for line in (out + err).splitlines() if line.strip()]
        # The venv's executables (litellm, and python when it runs the JSON-lines wrapper).
        absent = [path for path in dict.fromkeys(command[:1] + argv[:1]) if path and not os.path.exists(path)]
        for path in absent:
            excused = [line for line in lines if path in line]
            if excused:
                self.notes.append("the command %s does not exist yet (its venv is built in the install phase)"
                                  % path)
            lines = [line for line in lines if path not in line]
        ours = [line.replace(candidate, "litellm.service") for line in lines if candidate in line or rc != 0]
        if ours:
            self.problem("the rendered unit", os.path.basename(self.p["unit_file"]),
                         "systemd-analyze verify rejects it: %s" % " / ".join(ours),
                         "fix the variable the line names (hx_litellm_proxy_environment, paths, user)")
        python = self.p["venv_python"]
        if python and os.path.exists(python) and argv[1:]:
            # As the unit runs it: the bundled cost map, no .env lookup.
            rc, out, err = self.module.run_command(
                [python, "-c", PARSE, json.dumps(argv[1:])],
                environ_update={"LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_MODE": "PRODUCTION"})
            if rc != 0:
                self.problem("the proxy's command line", " ".join(argv[1:]),
                             "LiteLLM's argument parser rejects it: %s" % (out.strip() or err.strip())[-500:],
                             "fix the variable behind the argument (hx_litellm_proxy_host, _port, _num_workers, ...)")
        elif argv[1:]:
            self.notes.append("LiteLLM's argument parser not asked: this version's venv is built in the install phase")
        return True

    def run(self):
        create_user, create_group = self.account()
        self.directories()
        self.listen_host()
        unit_checked = self.unit()
        messages = ["%s '%s' %s; fix: %s." % (p["variable"], p["value"], p["problem"], p["fix"]) for p in self.problems]
        return dict(changed=False, problems=self.problems, messages=messages, notes=self.notes, create_user=create_user,
                    create_group=create_group, unit_checked=unit_checked)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            user=dict(type="str", required=True),
            group=dict(type="str", required=True),
            account_comment=dict(type="str", required=True),
            service_paths=dict(type="dict", default={}),
            root_paths=dict(type="dict", default={}),
            listen_host=dict(type="str", default="0.0.0.0"),
            unit=dict(type="str", default=""),
            unit_file=dict(type="path", default="/etc/systemd/system/litellm.service"),
            venv_python=dict(type="path", default=""),
        ),
        supports_check_mode=True,
    )
    module.exit_json(**Checks(module).run())


if __name__ == "__main__":
    main()
