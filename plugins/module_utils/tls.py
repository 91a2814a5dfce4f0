# -*- coding: utf-8 -*-
# Copyright: hx.litellm contributors
# Apache License 2.0 (see LICENSE)
"""Whether a certificate, its key and the CA clients trust can serve a gateway's HTTPS listener.

Judged on the control node, before anything on a host changes: a listener that cannot start
(a key that is not the certificate's) or that no client can trust (expired, not yet valid, not
issued by the CA clients are given, names that do not cover the address clients call) is a
bad input, reported with the variable to fix. The key's content never appears in a result.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import os
import shutil
import ssl
import tempfile

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.x509.oid import ExtensionOID
    HAS_CRYPTOGRAPHY = True
except ImportError:  # ansible-core depends on it; the guard only keeps imports of this file working
    HAS_CRYPTOGRAPHY = False

CERT = "hx_litellm_proxy_tls_cert"
KEY = "hx_litellm_proxy_tls_key"
CA = "hx_litellm_proxy_tls_ca"


def _certificates(pem):
    text = pem.encode() if isinstance(pem, str) else pem
    return x509.load_pem_x509_certificates(text)


def _spki(public_key):
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _san(cert):
    try:
        ext = cert.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
    except x509.ExtensionNotFound:
        return [], []
    return ext.get_values_for_type(x509.DNSName), [str(a) for a in ext.get_values_for_type(x509.IPAddress)]


def _dns_match(pattern, name):
    """RFC 6125: case-insensitive, a wildcard only as the whole leftmost label, matching one label."""
    pattern, name = pattern.lower().rstrip("."), name.lower().rstrip(".")
    if pattern == name:
        return True
    if not pattern.startswith("*."):
        return False
    head, _dot, tail = name.partition(".")
    return bool(head) and tail == pattern[2:]


def covers(cert, name):
    """Whether a client calling name (a host name or an IP address) accepts cert's names."""
    dns, ips = _san(cert)
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return any(_dns_match(pattern, name) for pattern in dns)
    return any(ipaddress.ip_address(ip) == address for ip in ips)


def _issued_by(cert, issuer):
    try:
        cert.verify_directly_issued_by(issuer)
        return True
    except Exception:  # InvalidSignature, another issuer name, a key type it cannot check
        return False


def _chains_to(chain, cas):
    """Whether the leaf reaches one of the CAs through the intermediates sent with it."""
    current, seen = chain[0], 0
    while seen <= len(chain):
        if any(_issued_by(current, ca) for ca in cas):
            return True
        parent = next((c for c in chain[1:] if c is not current and _issued_by(current, c)), None)
        if parent is None:
            return False
        current, seen = parent, seen + 1
    return False


def _pump(source, target):
    data = source.read()
    if data:
        target.write(data)


def handshake_problems(cert_pem, key_pem, ca_pem, names):
    """What a TLS client (OpenSSL, as Python's ssl and the role's probes use it) says when it calls the
    listener by each name: a full handshake in memory, the listener loaded with the certificate and
    key, the client trusting only the CA. It judges what the checks above do not spell out: an
    intermediate that is no CA or expired, a CA that is an intermediate, a wildcard OpenSSL refuses."""
    workdir = tempfile.mkdtemp(prefix="hx-litellm-tls-")
    try:
        os.chmod(workdir, 0o700)
        cert_file, key_file = os.path.join(workdir, "cert.pem"), os.path.join(workdir, "key.pem")
        for path, text in ((cert_file, cert_pem), (key_file, key_pem)):
            with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as out:
                out.write(text)
        server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server.load_cert_chain(cert_file, key_file)
    except (ssl.SSLError, OSError, ValueError) as err:
        return ["the listener cannot load %s with %s: %s" % (CERT, KEY, err)]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    problems = []
    for name in names:
        client = ssl.create_default_context(cadata=ca_pem)
        c_in, c_out, s_in, s_out = ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO(), ssl.MemoryBIO()
        tls_client = client.wrap_bio(c_in, c_out, server_hostname=name)
        tls_server = server.wrap_bio(s_in, s_out, server_side=True)
        done = {"client": False, "server": False}
        try:
            for _round in range(10):
                for side, endpoint in (("client", tls_client), ("server", tls_server)):
                    if not done[side]:
                        try:
                            endpoint.do_handshake()
                            done[side] = True
                        except ssl.SSLWantReadError:
                            pass
                    _pump(c_out, s_in)
                    _pump(s_out, c_in)
                if all(done.values()):
                    break
        except ssl.SSLCertVerificationError as err:
            problems.append("a client calling %s with %s refuses %s: %s; fix: a certificate %s issued for that "
                            "name, with its intermediates after it" % (name, CA, CERT, err.verify_message, CA))
        except ssl.SSLError as err:
            problems.append("a TLS handshake with %s as %s fails: %s" % (CERT, name, err))
    return problems


def check(cert_pem, key_pem, ca_pem, names, now=None):
    """Return {problems, names, not_after, days_left, sha256} for a listener's certificate.

    problems: one line per reason the listener would not serve or not be trusted, each naming the
    variable and the fix; empty when the certificate may be deployed."""
    if not HAS_CRYPTOGRAPHY:
        return {"problems": ["the Python package cryptography is missing on the control node; fix: install it "
                             "(ansible-core depends on it)"], "names": [], "not_after": None, "days_left": None,
                "sha256": None}
    problems = []
    report = {"problems": problems, "names": [], "not_after": None, "days_left": None, "sha256": None}
    if not (cert_pem or "").strip():
        if (key_pem or "").strip():
            problems.append("%s is set but %s is empty, so the gateway would serve plain HTTP; fix: set the "
                            "certificate (and %s) too, or remove the key" % (KEY, CERT, CA))
        return report
    judged_now = now is None
    now = now or datetime.datetime.now(datetime.timezone.utc)
    try:
        chain = _certificates(cert_pem or "")
    except ValueError:
        chain = []
    if not chain:
        problems.append("%s holds no PEM certificate; fix: the server certificate (then any intermediates), "
                        "-----BEGIN CERTIFICATE----- blocks" % CERT)
        return report
    leaf = chain[0]
    dns, ips = _san(leaf)
    report.update(names=dns + ips, not_after=leaf.not_valid_after_utc.isoformat(),
                  days_left=(leaf.not_valid_after_utc - now).days,
                  sha256=hashlib.sha256(leaf.public_bytes(serialization.Encoding.DER)).hexdigest())

    try:
        key = serialization.load_pem_private_key((key_pem or "").encode() if isinstance(key_pem, str) else key_pem,
                                                 password=None)
    except TypeError:
        key = None
        problems.append("%s is encrypted with a passphrase, which LiteLLM cannot be given; fix: store the key "
                        "unencrypted in the vault (openssl pkey -in key.pem -out plain.pem)" % KEY)
    except (ValueError, Exception):  # not PEM, or a format cryptography does not read
        key = None
        problems.append("%s holds no PEM private key; fix: the certificate's key, a -----BEGIN PRIVATE KEY----- "
                        "block, from the vault" % KEY)
    if key is not None and _spki(key.public_key()) != _spki(leaf.public_key()):
        problems.append("%s is not the key of %s (their public keys differ); fix: the key the certificate was "
                        "issued for" % (KEY, CERT))

    if leaf.not_valid_after_utc <= now:
        problems.append("%s expired on %s; fix: a renewed certificate" % (CERT, leaf.not_valid_after_utc.isoformat()))
    if leaf.not_valid_before_utc > now:
        problems.append("%s is not valid before %s; fix: a certificate valid now (check the control node's clock)"
                        % (CERT, leaf.not_valid_before_utc.isoformat()))

    uncovered = [name for name in names if name and not covers(leaf, name)]
    if uncovered:
        problems.append("%s does not cover %s (its subjectAltName holds %s); fix: a certificate whose "
                        "subjectAltName names the address clients call" % (
                            CERT, ", ".join(uncovered), ", ".join(dns + ips) or "nothing"))

    try:
        cas = _certificates(ca_pem or "")
    except ValueError:
        cas = []
    if not cas:
        problems.append("%s holds no PEM certificate; fix: the CA that issued %s, which clients and the "
                        "gateway's own probes verify it with" % (CA, CERT))
    elif not _chains_to(chain, cas):
        problems.append("%s is not issued by %s (nor through the intermediates sent with it); fix: the CA "
                        "that issued it, or the intermediates after the certificate" % (CERT, CA))
    # The checks above name the usual mistakes; a client's own handshake is the last word (at the
    # real time only: a handshake cannot be made at another).
    if not problems and judged_now:
        problems.extend(handshake_problems(cert_pem, key_pem, ca_pem, [name for name in names if name]))
    return report
