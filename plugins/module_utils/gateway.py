# -*- coding: utf-8 -*-
# Copyright: hx.litellm contributors
# Apache License 2.0 (see LICENSE)
"""The shape of one LiteLLM gateway, computed once from the proxy role's public inputs.

Every role and playbook of the collection (proxy, preflight, baseline, smoke, evidence,
wheelhouse, rollback) reads the gateway's paths, service name, URLs, version pins and the
alias x backend deployments from the description :func:`describe` returns, never from
each other's variables. The proxy role's ``describe`` entry point publishes it as the
host fact ``hx_litellm_proxy_gateway`` (filter ``hx.litellm.gateway``).
"""

from __future__ import annotations

import ipaddress
import posixpath
import re
import shlex
from urllib.parse import urlsplit

from ansible_collections.hx.litellm.plugins.module_utils.release import lock_name

# The systemd unit's name. StateDirectory=, CacheDirectory= and RuntimeDirectory= are named
# after it, so the directories systemd creates for the service follow from it too.
SERVICE = "litellm"
UNIT_FILE = "/etc/systemd/system/%s.service" % SERVICE
STATE_DIR = "/var/lib/%s" % SERVICE
CACHE_DIR = "/var/cache/%s" % SERVICE
# The comment the role gives the service account it creates: an existing account without it
# was not made by the role and is never modified.
ACCOUNT_COMMENT = "LiteLLM proxy service (hx.litellm)"
# Debian's trust store: an extra CA goes into the first, update-ca-certificates builds the second.
CA_FILE = "/usr/local/share/ca-certificates/hx-litellm-extra-ca.crt"
SYSTEM_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"

# LiteLLM's auth error handler imports the prisma client even without a database: without
# it a request with no key gets 500, not 401. The Python package imports without Prisma's
# engines, which are never downloaded.
PRISMA_PIN = "prisma==0.15.0"
# LiteLLM's Prometheus callback imports it; litellm[proxy] does not pull it in (only its
# proxy-runtime extra does, with this range). In every lock, so metrics can be turned on by a
# variable without another install.
PROMETHEUS_CLIENT = "prometheus-client>=0.20.0,<1.0"

# Providers the collection renders. ollama_chat calls Ollama's /api/chat; ollama calls
# /api/generate with a templated prompt; hosted_vllm and openai speak the OpenAI wire
# format (api_base must then end in /v1).
PROVIDERS = ("ollama_chat", "ollama", "hosted_vllm", "openai")
DEFAULT_PROVIDER = "ollama_chat"

# Errors name the role variables the input comes from, so an operator knows what to fix.
MODELS = "hx_litellm_proxy_models"
BACKENDS = "hx_litellm_proxy_backends"

# Addresses that mean "every interface": the host reaches the proxy on loopback then.
_ANY_ADDRESS = ("0.0.0.0", "::", "")


class GatewayError(ValueError):
    """A public input the gateway cannot be built from; the message names it and the fix."""


def check_url(url, where):
    """Return url without a trailing slash, or fail unless it is http(s)://host:port[/path]."""
    try:
        parts = urlsplit(url) if isinstance(url, str) else None
        port = parts.port if parts else None
    except ValueError:  # port out of range or not a number
        parts, port = None, None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or port is None
        or port < 1
        or parts.username is not None
        or parts.query
        or parts.fragment
        or any(c.isspace() for c in url)
    ):
        raise GatewayError(
            "%s: backend %r is not a URL of the form http(s)://host:port; "
            "fix: write it like http://hx-llm01:11434 (scheme, host and port)" % (where, url)
        )
    return url.rstrip("/")


def deployments(models, backends):
    """The alias x backend rule: one deployment per alias and each of its backends.

    An alias is served by its own ``backends`` when it lists any, else by every backend;
    URLs lose a trailing slash; the provider defaults to ollama_chat. Returns
    ``(alias_dict, provider, api_base)`` tuples, aliases and backends in input order.
    """
    if not isinstance(models, list) or not models:
        raise GatewayError("%s is empty; fix: define at least one alias (name, model)" % MODELS)
    if not isinstance(backends, list):
        raise GatewayError("%s must be a list of URLs, got %r" % (BACKENDS, backends))
    pool = [check_url(b, BACKENDS) for b in backends]

    seen = set()
    result = []
    for index, alias in enumerate(models):
        if not isinstance(alias, dict):
            raise GatewayError("%s: item #%d is not a mapping with name and model" % (MODELS, index + 1))
        name = alias.get("name")
        target = alias.get("model")
        if not name or not isinstance(name, str):
            raise GatewayError("%s: item #%d has no name; fix: give every alias a name" % (MODELS, index + 1))
        if not target or not isinstance(target, str):
            raise GatewayError("%s: alias %r has no model; fix: name the backend model (e.g. an Ollama tag)"
                               % (MODELS, name))
        if name in seen:
            raise GatewayError(
                "%s: alias %r is defined twice; fix: keep one entry per alias (it is served by every "
                "backend; restrict it with backends:)" % (MODELS, name)
            )
        seen.add(name)
        provider = alias.get("provider") or DEFAULT_PROVIDER
        if provider not in PROVIDERS:
            raise GatewayError(
                "%s: alias %r has unknown provider %r; fix: use one of %s"
                % (MODELS, name, provider, ", ".join(PROVIDERS))
            )
        own = alias.get("backends")
        alias_pool = [check_url(b, "%s: alias %r" % (MODELS, name)) for b in own] if own else pool
        if not alias_pool:
            raise GatewayError(
                "%s is empty and alias %r lists no backends of its own; fix: list the backend URLs "
                "(http://host:port) or add hosts to the [llm] inventory group" % (BACKENDS, name)
            )
        for api_base in alias_pool:
            result.append((alias, provider, api_base))
    return result


def _url_host(host):
    return "[%s]" % host if ":" in host else host


def probe_host(host, client_host=None, tls=False):
    """The name the host itself calls a proxy listening on host by.

    Plain HTTP: loopback for every interface. HTTPS: the probe verifies the certificate like any
    client, so it calls the address clients call (which the certificate must cover) when the proxy
    listens on every interface, else the listen address (which the certificate must cover too)."""
    if host not in _ANY_ADDRESS:
        return host
    return str(client_host) if tls and client_host else "127.0.0.1"


def probe_base(host, client_host=None, tls=False):
    """Where the host itself reaches a proxy listening on host, with the scheme it serves."""
    return "%s://%s" % ("https" if tls else "http", _url_host(probe_host(host, client_host, tls)))


def tls_names(host, client_host):
    """Every name an HTTPS listener is called by, which its certificate must cover: the address
    clients call and the one the host's own probes call."""
    names = [str(client_host)]
    own = probe_host(host, client_host, True)
    return names + ([own] if own not in names else [])


# A DNS name: dot-separated labels of letters, digits and inner hyphens (RFC 1123).
_HOSTNAME = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")


def listen_host_problem(value):
    """Why value cannot be the proxy's --host (an IP address or a host name), or None."""
    text = str(value)
    if text in ("0.0.0.0", "::"):
        return None
    try:
        ipaddress.ip_address(text)
        return None
    except ValueError:
        pass
    if "://" in text:
        return "has a scheme; the listen address is only an IP address or a host name"
    if re.match(r"^(\[[^]]*\]|[^:]+):\d+$", text):
        return "has a port; the port is hx_litellm_proxy_port"
    if not _HOSTNAME.match(text) or text.replace(".", "").isdigit():
        return "is neither an IP address nor a host name"
    return None


# Directories the unit hides from the service (ProtectHome=, PrivateTmp=) or that do not
# survive a reboot, and system directories a role must never take over (owner, group, mode).
HIDDEN_FROM_SERVICE = ("/home", "/root", "/run/user", "/tmp", "/var/tmp")
NOT_PERSISTENT = ("/run", "/dev/shm", "/tmp", "/var/tmp", "/proc", "/sys", "/dev")
SYSTEM_DIRS = ("/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib64", "/media", "/mnt", "/opt",
               "/proc", "/root", "/run", "/sbin", "/srv", "/sys", "/tmp", "/usr", "/usr/local", "/var",
               "/var/lib", "/var/cache", "/var/log", "/var/backups", "/var/tmp", "/etc/systemd",
               "/etc/systemd/system", "/usr/local/bin", "/usr/local/lib", "/usr/lib", "/usr/share")


def _under(path, roots):
    return any(path == root or path.startswith(root.rstrip("/") + "/") for root in roots)


def path_problem(value, service_reads=True):
    """Why value cannot be one of the role's directories, or None.

    service_reads: the service must see the directory (its venv, its config), so the unit's
    ProtectHome= and PrivateTmp= must not hide it."""
    text = str(value)
    if not text.startswith("/"):
        return "is not an absolute path"
    norm = posixpath.normpath(text)
    if norm != text.rstrip("/") or "//" in text:
        return "is not a normalised path (no ., .., // or trailing /)"
    if any(c.isspace() for c in text) or any(c in text for c in "%$\\\"'"):
        return "holds whitespace, quotes, % or $, which systemd would expand or split"
    if norm in SYSTEM_DIRS:
        return "is a system directory; the role would take over its owner, group and mode"
    if service_reads and _under(norm, HIDDEN_FROM_SERVICE):
        return "is under a directory the unit hides from the service (ProtectHome=, PrivateTmp=)"
    if _under(norm, NOT_PERSISTENT):
        return "is under a directory that does not survive a reboot"
    if _under(norm, (STATE_DIR, CACHE_DIR)):
        return "is the service's own writable state (StateDirectory=, CacheDirectory=)"
    return None


def proxy_argv(argv):
    """The proxy's own command line within an ExecStart= command: from the litellm executable on,
    whatever runs it (with JSON logs, the venv's python and the wrapper that turns its lines into JSON)."""
    for index, word in enumerate(argv):
        if posixpath.basename(word) == "litellm":
            return list(argv[index:])
    return list(argv)


def unit_endpoint(text, client_host=None, ca_file=""):
    """The address, port and scheme a rendered or live unit makes the proxy serve on, from ExecStart.

    LiteLLM's own defaults (0.0.0.0, 4000, plain HTTP) apply where the command line does not say;
    --ssl_certfile_path means HTTPS, probed by client_host when the proxy listens on every interface
    and verified with ca_file (probe_ca; empty for plain HTTP)."""
    host, port, tls = "0.0.0.0", 4000, False
    for line in str(text or "").splitlines():
        if not line.startswith("ExecStart="):
            continue
        try:
            argv = shlex.split(line[len("ExecStart="):])
        except ValueError:
            argv = line.split()
        for flag, value in zip(argv, argv[1:]):
            if flag == "--host":
                host = value
            elif flag == "--port" and value.isdigit():
                port = int(value)
        tls = tls or "--ssl_certfile_path" in argv
    base = probe_base(host, client_host, tls)
    return {"host": host, "port": port, "tls": tls, "probe_base": base, "probe_url": "%s:%d" % (base, port),
            "probe_ca": ca_file if tls else ""}


def describe(inputs):
    """Return the normalised description of one gateway from the proxy role's public inputs.

    ``inputs`` holds version, python, user, group, install_dir, config_dir, backup_dir,
    host, port, backends, models, client_host (the name clients reach the host by), tls
    (whether the listener serves HTTPS) and tls_ca (the PEM of the CA clients verify it with).
    """
    version = str(inputs["version"])
    python = str(inputs["python"])
    install_dir = str(inputs["install_dir"]).rstrip("/") or "/"
    config_dir = str(inputs["config_dir"]).rstrip("/") or "/"
    host = str(inputs["host"])
    port = int(inputs["port"])
    venvs_dir = "%s/venvs" % install_dir
    venv = "%s/%s" % (venvs_dir, version)
    # "python3.11" -> "3.11": the interpreter wheels and locks are chosen for.
    python_version = python[len("python"):] if python.startswith("python") else python
    config_file = "%s/config.yaml" % config_dir
    env_file = "%s/litellm.env" % config_dir
    client_host = str(inputs["client_host"])
    tls = bool(inputs.get("tls"))
    scheme = "https" if tls else "http"
    # The listener's certificate and key, and the CA the host's own probes verify it with.
    tls_files = {"tls_cert": "%s/tls.crt" % config_dir, "tls_key": "%s/tls.key" % config_dir,
                 "tls_ca": "%s/tls-ca.crt" % config_dir}

    expanded = deployments(inputs["models"], inputs["backends"])
    by_alias = {}
    for alias, _provider, api_base in expanded:
        by_alias.setdefault(alias["name"], []).append(api_base)
    ollama = [api_base for _alias, provider, api_base in expanded if provider.startswith("ollama")]

    base = probe_base(host, client_host, tls)
    return {
        "version": version,
        "python": python,
        "python_version": python_version,
        "packages": [python, "%s-venv" % python, "python3-packaging", "ca-certificates"],
        # What a lock is resolved from; the venv is installed from the lock, never from these.
        "pip_packages": ["litellm[proxy]==%s" % version, PRISMA_PIN, PROMETHEUS_CLIENT],
        "lock_name": lock_name(version, python_version),
        "user": str(inputs["user"]),
        "account_comment": ACCOUNT_COMMENT,
        "group": str(inputs["group"]),
        "service": SERVICE,
        "paths": {
            "install_dir": install_dir,
            "venvs_dir": venvs_dir,
            "venv": venv,
            "bin": "%s/bin/litellm" % venv,
            "venv_python": "%s/bin/python" % venv,
            # The lock the venv is installed from, kept on the host for pip and for review.
            "locks_dir": "%s/locks" % install_dir,
            "lock_file": "%s/locks/%s" % (install_dir, lock_name(version, python_version)),
            "checker": "%s/libexec/check_config.py" % install_dir,
            # Between the proxy and the journal when JSON logs are on: every line a JSON object.
            "json_lines": "%s/libexec/json_lines.py" % install_dir,
            "wheelhouse_dir": "%s/wheelhouse" % install_dir,
            "config_dir": config_dir,
            "config_file": config_file,
            "env_file": env_file,
            "unit_file": UNIT_FILE,
            "state_dir": STATE_DIR,
            "cache_dir": CACHE_DIR,
            "backup_dir": str(inputs["backup_dir"]).rstrip("/") or "/",
            "ca_file": CA_FILE,
            "system_bundle": SYSTEM_BUNDLE,
            # Each worker's Prometheus counters, added up by the one that answers a scrape; under
            # RuntimeDirectory=, so every start begins from zero.
            "metrics_dir": "/run/%s/prometheus" % SERVICE,
            "tls_cert": tls_files["tls_cert"],
            "tls_key": tls_files["tls_key"],
            "tls_ca": tls_files["tls_ca"],
        },
        # What a known-good snapshot holds: the unit names the venv, so it pins the version too;
        # and, where they exist (HTTPS), the certificate, its key and the CA it is verified with, so
        # a rollback across a switch of HTTPS on or off restores the files its unit names.
        "release_files": [config_file, env_file, UNIT_FILE],
        "optional_files": [tls_files["tls_cert"], tls_files["tls_key"], tls_files["tls_ca"]],
        # Whose content no diff shows, whatever this run's inputs (a snapshot may hold a key).
        "secret_files": [env_file, tls_files["tls_key"]],
        "host": host,
        "port": port,
        # The inventory name: a load balancer lists the gateway under it.
        "name": str(inputs.get("name") or client_host),
        "client_host": client_host,
        # Whether the gateway serves Prometheus metrics (/metrics/, behind the master key).
        "metrics": bool(inputs.get("metrics")),
        "tls": tls,
        # The CA clients verify the listener with, for the roles that call it as clients do.
        "tls_ca_pem": str(inputs.get("tls_ca") or "") if tls else "",
        "scheme": scheme,
        # The names an HTTPS listener's certificate must cover (empty for plain HTTP).
        "tls_names": tls_names(host, client_host) if tls else [],
        # Where the host itself reaches the proxy, and where clients do.
        "probe_host": probe_host(host, client_host, tls),
        "probe_base": base,
        "probe_url": "%s:%d" % (base, port),
        # The CA the host's own probes verify an HTTPS listener with; empty for plain HTTP.
        "probe_ca": tls_files["tls_ca"] if tls else "",
        "url": "%s://%s:%d" % (scheme, _url_host(client_host), port),
        "aliases": [alias["name"] for alias in inputs["models"]],
        "deployments": [
            {"alias": alias["name"], "provider": provider, "model": alias["model"], "api_base": api_base}
            for alias, provider, api_base in expanded
        ],
        "backends": by_alias,
        # LiteLLM posts /api/show to OLLAMA_API_BASE when it loads Ollama deployments,
        # whatever each deployment's api_base: the first Ollama backend, or none.
        "ollama_api_base": ollama[0] if ollama else "",
    }
