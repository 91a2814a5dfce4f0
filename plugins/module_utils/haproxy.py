# -*- coding: utf-8 -*-
# Copyright: hx.litellm contributors
# Apache License 2.0 (see LICENSE)
"""HAProxy's runtime API (its admin socket), as the gateway load balancer uses it.

The rolling change takes one gateway out of the load balancer (state drain: no new request,
those in flight finish), waits until it has none in flight, changes it, and puts it back
(state ready) once it serves. Commands sent in one call are applied in one go, so a key
rotation can hand the traffic from the gateways still on the old key to those on the new
one at a single moment.
"""

from __future__ import annotations

import csv
import io
import socket
import time


class HaproxyError(Exception):
    """The socket refused a command or answered something other than what was asked."""


def send(path, commands, timeout=10.0):
    """Send commands (joined with ';', applied in order in one call); return the raw answer."""
    line = "; ".join(commands) + "\n"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(path)
        sock.sendall(line.encode())
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        sock.close()
    return b"".join(chunks).decode(errors="replace")


def parse_stat(text, backend):
    """`show stat` CSV -> {server: {status, in_flight, check}} for the backend's servers."""
    lines = text.splitlines()
    if not lines or not lines[0].startswith("# "):
        raise HaproxyError("unexpected answer to 'show stat': %r" % text[:200])
    reader = csv.DictReader(io.StringIO("\n".join([lines[0][2:]] + lines[1:])))
    servers = {}
    for row in reader:
        if row.get("pxname") != backend or row.get("svname") in ("FRONTEND", "BACKEND"):
            continue
        servers[row["svname"]] = {
            "status": row.get("status", ""),
            # Requests the server is handling now (streams), idle kept-alive connections excluded.
            "in_flight": int(row.get("scur") or 0),
            "check": row.get("check_status", ""),
        }
    return servers


# srv_admin_state bits of `show servers state`: forced maintenance and forced drain (set by an operator).
ADMIN_MAINT = 0x01
ADMIN_DRAIN = 0x08


def parse_admin(text, backend):
    """`show servers state <backend>` -> {server: {state: "maint" | "drain" | "ready" (what `set server`
    set), port: the port HAProxy calls, tls: whether it calls it over TLS}}."""
    lines = text.splitlines()
    header = next((line[2:].split() for line in lines if line.startswith("# ")), [])
    states = {}
    for line in lines:
        fields = line.split()
        if not header or line.startswith("#") or len(fields) < len(header):
            continue
        row = dict(zip(header, fields))
        if row["be_name"] != backend:
            continue
        bits = int(row["srv_admin_state"])
        states[row["srv_name"]] = {
            "state": "maint" if bits & ADMIN_MAINT else "drain" if bits & ADMIN_DRAIN else "ready",
            "port": int(row["srv_port"]) if row.get("srv_port", "").isdigit() else None,
            "tls": row.get("srv_use_ssl") == "1",
        }
    return states


def servers(path, backend):
    """Each server of the backend: health status, requests in flight, and the state set on it."""
    found = parse_stat(send(path, ["show stat"]), backend)
    admin = parse_admin(send(path, ["show servers state %s" % backend]), backend)
    for name, server in found.items():
        server.update(admin.get(name, {"state": "ready", "port": None, "tls": False}))
    return found


def set_state(name, backend, state):
    return "set server %s/%s state %s" % (backend, name, state)


def is_up(status):
    """UP, or UP while draining, and not going down: health checks pass."""
    return status in ("UP", "DRAIN") or status.startswith("UP ")


def wait(path, backend, names, done, timeout, interval=0.5, clock=time.monotonic, sleep=time.sleep):
    """Poll until done(server) holds for every named server or the timeout; return (ok, seconds, last)."""
    started = clock()
    while True:
        current = servers(path, backend)
        last = {name: current.get(name, {}) for name in names}
        if all(done(state) for state in last.values()):
            return True, round(clock() - started, 2), last
        if clock() - started >= timeout:
            return False, round(clock() - started, 2), last
        sleep(interval)
