"""hx.litellm.tls_check: a listener's certificate, key and CA judged on the control node before
the host changes, with certificates made by openssl (tests/support/pki.py)."""

import datetime
import pathlib
import sys

import pytest

from ansible_collections.hx.litellm.plugins.filter.tls_check import tls_check

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "support"))
from pki import CA  # noqa: E402

NAMES = ["gw01.example.com", "192.0.2.10"]


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    root = tmp_path_factory.mktemp("pki")
    ca, other = CA(root / "ca"), CA(root / "other", name="another CA")
    good_cert, good_key = ca.issue("good", NAMES)
    return {
        "ca": ca.pem(), "other_ca": other.pem(), "cert": good_cert, "key": good_key,
        "wildcard": ca.issue("wild", ["*.example.com"]),
        "expired": ca.issue("expired", NAMES, start="20240101000000Z", end="20250101000000Z"),
        "future": ca.issue("future", NAMES, start="20990101000000Z", end="20991231000000Z"),
        "foreign": other.issue("foreign", NAMES),
        "other_key": ca.issue("other", NAMES)[1],
        "intermediate": CA(root / "intermediate", name="hx issuing CA", parent=ca),
    }


def problems(pki, cert=None, key=None, ca=None, names=NAMES):
    return tls_check(cert or pki["cert"], key or pki["key"], ca or pki["ca"], names)["problems"]


def test_a_matching_current_certificate_from_the_ca_covering_every_name_passes(pki):
    report = tls_check(pki["cert"], pki["key"], pki["ca"], NAMES)
    assert report["problems"] == []
    assert report["names"] == NAMES and 360 <= report["days_left"] <= 365 and len(report["sha256"]) == 64


def test_a_key_that_is_not_the_certificates_is_refused_without_showing_it(pki):
    found = problems(pki, key=pki["other_key"])
    assert len(found) == 1 and "hx_litellm_proxy_tls_key is not the key of hx_litellm_proxy_tls_cert" in found[0]
    assert "PRIVATE KEY" not in " ".join(found) and pki["other_key"].splitlines()[1] not in " ".join(found)


def test_an_expired_or_not_yet_valid_certificate_is_refused(pki):
    assert ["hx_litellm_proxy_tls_cert expired on 2025-01-01" in p for p in problems(pki, *pki["expired"])] == [True]
    assert ["not valid before 2099-01-01" in p for p in problems(pki, *pki["future"])] == [True]


def test_names_that_miss_the_address_clients_call_are_refused(pki):
    found = problems(pki, names=["gw02.example.com", "192.0.2.10", "198.51.100.1"])
    assert len(found) == 1 and "does not cover gw02.example.com, 198.51.100.1" in found[0]


def test_a_wildcard_covers_one_label_only(pki):
    cert, key = pki["wildcard"]
    assert problems(pki, cert, key, names=["gw01.example.com"]) == []
    assert "does not cover a.b.example.com" in problems(pki, cert, key, names=["a.b.example.com"])[0]
    assert "does not cover example.com" in problems(pki, cert, key, names=["example.com"])[0]


def test_a_certificate_another_ca_issued_is_refused(pki):
    cert, key = pki["foreign"]
    found = problems(pki, cert, key)
    assert len(found) == 1 and "is not issued by hx_litellm_proxy_tls_ca" in found[0]
    assert problems(pki, cert, key, ca=pki["other_ca"]) == []


@pytest.mark.parametrize("field, value, message", [
    ("cert", "not a certificate", "hx_litellm_proxy_tls_cert holds no PEM certificate"),
    ("key", "not a key", "hx_litellm_proxy_tls_key holds no PEM private key"),
    ("ca", "not a CA", "hx_litellm_proxy_tls_ca holds no PEM certificate"),
])
def test_text_that_is_not_pem_is_refused_naming_the_variable(pki, field, value, message):
    args = {"cert": pki["cert"], "key": pki["key"], "ca": pki["ca"]}
    args[field] = value
    assert any(message in p for p in tls_check(args["cert"], args["key"], args["ca"], NAMES)["problems"])


def test_an_encrypted_key_is_refused(pki, tmp_path):
    from pki import openssl
    (tmp_path / "plain.key").write_text(pki["key"])
    openssl("pkey", "-in", tmp_path / "plain.key", "-aes256", "-passout", "pass:secret", "-out", tmp_path / "enc.key")
    found = problems(pki, key=(tmp_path / "enc.key").read_text())
    assert len(found) == 1 and "encrypted with a passphrase" in found[0]


def test_the_dates_are_judged_at_the_time_given(pki):
    from ansible_collections.hx.litellm.plugins.module_utils.tls import check
    later = check(pki["cert"], pki["key"], pki["ca"], NAMES, now=datetime.datetime(2100, 1, 1, tzinfo=datetime.timezone.utc))
    assert len(later["problems"]) == 1 and "expired on" in later["problems"][0] and later["days_left"] < 0


def test_a_key_without_a_certificate_is_refused_and_no_tls_at_all_is_fine(pki):
    found = tls_check("", pki["key"], "", NAMES)["problems"]
    assert len(found) == 1 and "hx_litellm_proxy_tls_key is set but hx_litellm_proxy_tls_cert is empty" in found[0]
    assert tls_check("", "", "", NAMES)["problems"] == []


def test_a_chain_through_an_intermediate_passes_only_with_the_intermediate_sent_and_the_root_as_ca(pki):
    intermediate = pki["intermediate"]
    cert, key = intermediate.issue("chained", NAMES)
    chain = cert + intermediate.pem()
    assert tls_check(chain, key, pki["ca"], NAMES)["problems"] == []
    # Without the intermediate, clients cannot build the chain to the root.
    assert "is not issued by hx_litellm_proxy_tls_ca" in " ".join(tls_check(cert, key, pki["ca"], NAMES)["problems"])


def test_a_client_handshake_judges_what_the_field_checks_miss(pki):
    """The intermediate given as the CA: every signature checks out, but a TLS client (OpenSSL without
    partial chains, as Python's default context) refuses a chain that does not end in a root it trusts.
    The in-memory handshake must agree with a real client's verdict."""
    import ssl
    intermediate = pki["intermediate"]
    cert, key = intermediate.issue("chained-2", NAMES)
    found = tls_check(cert + intermediate.pem(), key, intermediate.pem(), NAMES)["problems"]
    client = ssl.create_default_context(cadata=intermediate.pem())
    strict = not (client.verify_flags & ssl.VERIFY_X509_PARTIAL_CHAIN)
    assert bool(found) == strict, found
    if found:
        assert "a client calling gw01.example.com with hx_litellm_proxy_tls_ca refuses" in found[0]
