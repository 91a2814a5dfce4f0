"""hx.litellm.fallbacks: {alias: [aliases]} to LiteLLM's list of one-key mappings, checked."""

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.hx.litellm.plugins.filter.fallbacks import FilterModule, fallbacks

ALIASES = ["phi3-3.8b", "llama3-8b", "llama3-8b-long"]


def test_mapping_becomes_a_list_of_one_key_mappings_in_order():
    out = fallbacks({"phi3-3.8b": ["llama3-8b"], "llama3-8b": ["phi3-3.8b", "llama3-8b-long"]}, ALIASES)
    assert out == [{"phi3-3.8b": ["llama3-8b"]}, {"llama3-8b": ["phi3-3.8b", "llama3-8b-long"]}]


def test_empty_mapping_renders_nothing():
    assert fallbacks({}, ALIASES) == []


def test_a_single_name_is_accepted_as_a_list():
    assert fallbacks({"phi3-3.8b": "llama3-8b"}, ALIASES) == [{"phi3-3.8b": ["llama3-8b"]}]


@pytest.mark.parametrize(
    "mapping, message",
    [
        ({"phi3-3.8b": ["gpt-4"]}, r"hx_litellm_proxy_fallbacks names 'gpt-4', which is not a defined alias"),
        ({"mistral": ["phi3-3.8b"]}, r"names 'mistral', which is not a defined alias"),
        ({"phi3-3.8b": ["phi3-3.8b"]}, "falls back to itself"),
        ({"phi3-3.8b": []}, "must map to a list of alias names"),
        ({"phi3-3.8b": [1]}, "must map to a list of alias names"),
        (["phi3-3.8b"], "must map an alias to a list of aliases"),
    ],
)
def test_bad_fallbacks_name_the_variable_and_the_value(mapping, message):
    with pytest.raises(AnsibleFilterError, match=message):
        fallbacks(mapping, ALIASES)


def test_the_variable_named_in_errors_can_be_chosen():
    with pytest.raises(AnsibleFilterError, match="hx_litellm_proxy_context_window_fallbacks names 'x'"):
        fallbacks({"phi3-3.8b": ["x"]}, ALIASES, "hx_litellm_proxy_context_window_fallbacks")


def test_filter_is_registered_under_its_name():
    assert FilterModule().filters()["fallbacks"] is fallbacks
