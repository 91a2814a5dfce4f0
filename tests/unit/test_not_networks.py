"""hx.litellm.not_networks: the hx_litellm_proxy_ip_allow entries systemd could not read."""

from ansible_collections.hx.litellm.plugins.filter.not_networks import not_networks


def test_addresses_and_networks_of_both_families_pass():
    assert not_networks(["10.0.0.0/8", "192.168.10.5", "10.0.0.1/8", "fd00::/8", "::1", "2001:db8::1/128"]) == []


def test_what_only_looks_like_an_address_is_reported_in_order():
    assert not_networks(["999.1.1.1", "10.0.0.0/8", "10.0.0.0/33", "gpu-01", "1.2.3", "fd00::/129"]) == [
        "999.1.1.1", "10.0.0.0/33", "gpu-01", "1.2.3", "fd00::/129"]


def test_an_empty_list_is_fine():
    assert not_networks([]) == [] and not_networks(None) == []
