"""Unit tests of the hx.litellm.model_list filter (aliases x backends expansion)."""

import re

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.hx.litellm.plugins.filter.model_list import FilterModule, model_list

B1 = "http://hx-llm01:11434"
B2 = "http://hx-llm02:11434"
ALIASES = [
    {"name": "phi3-3.8b", "provider": "ollama_chat", "model": "phi3:3.8b-mini-128k-instruct-q8_0"},
    {"name": "llama3-8b", "model": "llama3:8b-instruct-q8_0"},
]


def test_every_alias_is_duplicated_once_per_backend_in_order():
    out = model_list(ALIASES, [B1, B2], {"timeout": 30, "stream_timeout": 45})
    assert [(e["model_name"], e["litellm_params"]["api_base"]) for e in out] == [
        ("phi3-3.8b", B1),
        ("phi3-3.8b", B2),
        ("llama3-8b", B1),
        ("llama3-8b", B2),
    ]


def test_provider_prefix_is_rendered_and_defaults_to_ollama_chat():
    out = model_list(ALIASES, [B1])
    assert out[0]["litellm_params"]["model"] == "ollama_chat/phi3:3.8b-mini-128k-instruct-q8_0"
    assert out[1]["litellm_params"]["model"] == "ollama_chat/llama3:8b-instruct-q8_0"


def test_timeouts_and_retries_land_in_litellm_params_and_aliases_override_them():
    aliases = [dict(ALIASES[0], timeout=5, num_retries=1), ALIASES[1]]
    out = model_list(aliases, [B1], {"timeout": 30, "stream_timeout": 45})
    assert out[0]["litellm_params"]["timeout"] == 5
    assert out[0]["litellm_params"]["num_retries"] == 1
    assert out[0]["litellm_params"]["stream_timeout"] == 45
    assert out[1]["litellm_params"]["timeout"] == 30
    assert "num_retries" not in out[1]["litellm_params"]


def test_no_api_key_and_no_misplaced_keys_are_rendered():
    """No api_key for Ollama: an empty one makes LiteLLM send an empty Bearer header, which
    breaks the ollama provider. request_timeout/mode in litellm_params and a top-level
    max_input_tokens are silently ignored by LiteLLM, so they go where it reads them."""
    aliases = [dict(ALIASES[0], max_input_tokens=2048)]
    entry = model_list(aliases, [B1], {"timeout": 30})[0]
    assert set(entry) == {"model_name", "litellm_params", "model_info"}
    assert "api_key" not in entry["litellm_params"]
    assert "request_timeout" not in entry["litellm_params"]
    assert "mode" not in entry["litellm_params"]
    assert entry["model_info"] == {"mode": "chat", "max_input_tokens": 2048}


def test_an_alias_can_restrict_itself_to_a_subset_of_backends():
    aliases = [ALIASES[0], dict(ALIASES[1], backends=[B2 + "/"])]
    out = model_list(aliases, [B1, B2])
    assert [e["litellm_params"]["api_base"] for e in out if e["model_name"] == "llama3-8b"] == [B2]


@pytest.mark.parametrize(
    "backends, message",
    [
        (["hx-llm01:11434"], "not a URL"),
        (["ftp://hx-llm01:11434"], "not a URL"),
        (["http://hx-llm01"], "not a URL"),
        (["http://hx-llm01:99999"], "not a URL"),
        (["http://hx-llm01:0"], "not a URL"),
        (["http://user:pw@hx-llm01:11434"], "not a URL"),
        (["http://hx llm:11434"], "not a URL"),
    ],
)
def test_bad_backend_urls_are_rejected_with_the_value(backends, message):
    with pytest.raises(AnsibleFilterError, match=message) as err:
        model_list(ALIASES, backends)
    assert backends[0] in str(err.value)


def test_ipv6_and_https_backends_are_accepted():
    out = model_list(ALIASES[:1], ["https://[fd00::5]:8443", "https://vllm.example:443/v1"])
    assert [e["litellm_params"]["api_base"] for e in out] == ["https://[fd00::5]:8443", "https://vllm.example:443/v1"]


@pytest.mark.parametrize(
    "aliases, message",
    [
        ([], "hx_litellm_proxy_models is empty"),
        ([{"model": "x"}], "has no name"),
        ([{"name": "a"}], "has no model"),
        ([{"name": "a", "model": "x"}, {"name": "a", "model": "y"}], "defined twice"),
        ([{"name": "a", "model": "x", "provider": "bedrock"}], "unknown provider 'bedrock'"),
        ([{"name": "a", "model": "x", "timeout": -1}], "timeout must be a number >= 0"),
        ([{"name": "a", "model": "x", "num_retries": "two"}], "num_retries must be a number"),
    ],
)
def test_bad_aliases_are_rejected_with_a_clear_message(aliases, message):
    with pytest.raises(AnsibleFilterError, match=message):
        model_list(aliases, [B1])


def test_no_backend_at_all_is_an_error():
    with pytest.raises(AnsibleFilterError, match="hx_litellm_proxy_backends is empty"):
        model_list(ALIASES, [])


def test_filter_is_registered_under_its_name():
    assert FilterModule().filters()["model_list"] is model_list


def test_rpm_and_tpm_go_into_every_deployment_of_their_alias():
    out = model_list([dict(ALIASES[0], rpm=60, tpm=100000)], [B1, B2])
    assert [(e["litellm_params"]["rpm"], e["litellm_params"]["tpm"]) for e in out] == [(60, 100000)] * 2
    with pytest.raises(AnsibleFilterError, match="rpm must be a number >= 0, got -5"):
        model_list([dict(ALIASES[0], rpm=-5)], [B1])


def test_prices_go_to_model_info_with_per_alias_overrides_and_null_for_the_cost_map():
    prices = {"timeout": 30, "input_cost_per_token": 0, "output_cost_per_token": 0}
    aliases = [ALIASES[0], dict(ALIASES[1], input_cost_per_token=1e-6, output_cost_per_token=None)]
    out = model_list(aliases, [B1], prices)
    assert out[0]["model_info"] == {"mode": "chat", "input_cost_per_token": 0.0, "output_cost_per_token": 0.0}
    assert out[1]["model_info"] == {"mode": "chat", "input_cost_per_token": 1e-6}
    assert not any("cost" in key for entry in out for key in entry["litellm_params"])


@pytest.mark.parametrize("where, prices, named", [
    ("alias", {}, "alias 'phi3-3.8b': input_cost_per_token must be a price >= 0"),
    ("role", {"input_cost_per_token": -1}, "hx_litellm_proxy_input_cost must be a price >= 0"),
])
def test_a_negative_price_is_refused_naming_where_it_came_from(where, prices, named):
    aliases = [dict(ALIASES[0], input_cost_per_token=-1)] if where == "alias" else [ALIASES[0]]
    with pytest.raises(AnsibleFilterError, match=re.escape(named)):
        model_list(aliases, [B1], prices)
