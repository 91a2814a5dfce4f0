"""The structural half of the role's config checker (the LiteLLM-loading half runs in molecule)."""

import importlib.util
import pathlib

import pytest

PATH = pathlib.Path(__file__).resolve().parents[2] / "roles/hx_litellm_proxy/files/check_config.py"
spec = importlib.util.spec_from_file_location("check_config", PATH)
check_config = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check_config)

GOOD = {
    "model_list": [{"model_name": "a", "litellm_params": {"model": "ollama_chat/x", "api_base": "http://b:1", "timeout": 3},
                    "model_info": {"mode": "chat"}}],
    "router_settings": {"routing_strategy": "least-busy", "num_retries": 2},
    "litellm_settings": {"telemetry": False},
    "general_settings": {"master_key": "os.environ/LITELLM_MASTER_KEY"},
}


def with_entry(**changes):
    entry = {**GOOD["model_list"][0], **changes}
    return {**GOOD, "model_list": [entry]}


def test_the_rendered_shape_passes():
    assert check_config.structural_errors(GOOD) == []


@pytest.mark.parametrize("config, message", [
    (with_entry(litellm_params={"model": "x", "api_base": "http://b:1"}), "no provider prefix"),
    (with_entry(litellm_params={"model": "ollama/x", "request_timeout": 30}), "litellm_params.request_timeout is misplaced"),
    (with_entry(litellm_params={"model": "ollama/x", "mode": "chat"}), "litellm_params.mode is misplaced"),
    (with_entry(litellm_params={"model": "ollama/x", "api_key": ""}), "empty api_key"),
    (with_entry(max_input_tokens=2048), "key 'max_input_tokens' is misplaced"),
    (with_entry(num_retries=2), "key 'num_retries' is misplaced"),
    ({**GOOD, "general_settings": {"master_key": "sk-literal-key-0000"}}, "literal key"),
    ({**GOOD, "general_settings": {"telemetry": False, "master_key": "os.environ/K"}}, "telemetry does not exist"),
    ({**GOOD, "router_settings": {"retry_policy": "simple"}}, "retry_policy must map"),
    ({**GOOD, "server_settings": {"ollama": {"hosts": []}}}, "unknown top-level key 'server_settings'"),
    ({**GOOD, "model_list": []}, "model_list is missing or empty"),
])
def test_keys_litellm_would_ignore_or_misuse_are_rejected(config, message):
    errors = check_config.structural_errors(config)
    assert any(message in e for e in errors), errors


def test_a_literal_key_is_never_echoed():
    config = {**GOOD, "general_settings": {"master_key": "sk-literal-key-0000"}}
    assert all("sk-literal-key-0000" not in e for e in check_config.structural_errors(config))


def test_a_count_mismatch_fails_before_litellm_is_imported(tmp_path, capsys):
    import yaml

    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(GOOD))
    assert check_config.main(["--expect-models", "2", str(path)]) == 1
    assert "model_list has 1 entries, expected 2" in capsys.readouterr().err
