"""Unit tests of the gateway description (filter hx.litellm.gateway, module_utils/gateway.py):
the one place paths, service name, URLs, pins and the alias x backend deployments are computed."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.hx.litellm.plugins.filter.gateway import gateway
from ansible_collections.hx.litellm.plugins.filter.model_list import model_list

B1 = "http://hx-llm01:11434"
B2 = "http://hx-llm02:11434/"
INPUTS = {
    "version": "1.106.2", "python": "python3.11", "user": "litellm", "group": "litellm",
    "install_dir": "/opt/litellm", "config_dir": "/etc/litellm", "backup_dir": "/var/backups/litellm",
    "host": "0.0.0.0", "port": 4000, "backends": [B1, B2], "client_host": "192.168.10.5",
    "models": [
        {"name": "phi3-3.8b", "model": "phi3:3.8b-mini-128k-instruct-q8_0"},
        {"name": "vllm-8b", "model": "llama3-8b", "provider": "hosted_vllm", "backends": ["http://vllm:8000/v1"]},
    ],
}


def describe(**changes):
    return gateway(dict(INPUTS, **changes))


def test_paths_follow_the_install_and_config_directories_and_the_version():
    g = describe(install_dir="/srv/litellm/", config_dir="/etc/gw", version="1.107.0")
    assert g["paths"]["venv"] == "/srv/litellm/venvs/1.107.0"
    assert g["paths"]["bin"] == "/srv/litellm/venvs/1.107.0/bin/litellm"
    assert g["paths"]["checker"] == "/srv/litellm/libexec/check_config.py"
    assert g["paths"]["json_lines"] == "/srv/litellm/libexec/json_lines.py"
    assert g["paths"]["config_file"] == "/etc/gw/config.yaml"
    assert g["release_files"] == ["/etc/gw/config.yaml", "/etc/gw/litellm.env", "/etc/systemd/system/litellm.service"]
    assert g["secret_files"] == ["/etc/gw/litellm.env", "/etc/gw/tls.key"]
    assert g["optional_files"] == ["/etc/gw/tls.crt", "/etc/gw/tls.key", "/etc/gw/tls-ca.crt"]
    assert g["service"] == "litellm" and g["paths"]["state_dir"] == "/var/lib/litellm"


def test_pins_and_packages_follow_the_version_and_python():
    g = describe(version="1.107.0", python="python3.12")
    assert g["pip_packages"][0] == "litellm[proxy]==1.107.0"
    assert g["packages"][:2] == ["python3.12", "python3.12-venv"]
    assert g["python_version"] == "3.12"


@pytest.mark.parametrize("host, probe, url", [
    ("0.0.0.0", "http://127.0.0.1:4001", "http://192.168.10.5:4001"),
    ("10.1.2.3", "http://10.1.2.3:4001", "http://192.168.10.5:4001"),
    ("::", "http://127.0.0.1:4001", "http://192.168.10.5:4001"),
    ("fd00::5", "http://[fd00::5]:4001", "http://192.168.10.5:4001"),
])
def test_the_host_probes_where_the_proxy_listens_and_clients_call_its_inventory_address(host, probe, url):
    g = describe(host=host, port=4001)
    assert g["probe_url"] == probe and g["url"] == url and g["port"] == 4001


@pytest.mark.parametrize("host, probe, names", [
    ("0.0.0.0", "https://192.168.10.5:4001", ["192.168.10.5"]),
    ("10.1.2.3", "https://10.1.2.3:4001", ["192.168.10.5", "10.1.2.3"]),
])
def test_https_is_probed_where_the_certificate_names_it_and_verified_with_its_ca(host, probe, names):
    g = describe(host=host, port=4001, tls=True, tls_ca="CA PEM")
    assert g["probe_url"] == probe and g["url"] == "https://192.168.10.5:4001" and g["tls_names"] == names
    assert g["probe_ca"] == "/etc/litellm/tls-ca.crt" and g["tls_ca_pem"] == "CA PEM"
    plain = describe(tls_ca="CA PEM")
    assert plain["tls_names"] == [] and plain["probe_ca"] == "" and plain["tls_ca_pem"] == ""
    assert plain["optional_files"] == g["optional_files"] and plain["secret_files"] == g["secret_files"]


def test_the_live_unit_says_whether_it_serves_https_and_where_the_host_probes_it():
    from ansible_collections.hx.litellm.plugins.filter.unit_endpoint import unit_endpoint
    line = "ExecStart=/opt/litellm/venvs/1.106.2/bin/litellm --config c --host 0.0.0.0 --port 4001"
    assert unit_endpoint(line, "gw01")["probe_url"] == "http://127.0.0.1:4001"
    wrapped = line.replace("=", "=/opt/litellm/venvs/1.106.2/bin/python -I /opt/litellm/libexec/json_lines.py ", 1)
    assert unit_endpoint(wrapped, "gw01") == unit_endpoint(line, "gw01")
    assert unit_endpoint(line, "gw01", "/etc/litellm/tls-ca.crt")["probe_ca"] == ""
    tls = unit_endpoint(line + " --ssl_certfile_path /etc/litellm/tls.crt --ssl_keyfile_path /etc/litellm/tls.key",
                        "gw01", "/etc/litellm/tls-ca.crt")
    assert tls["tls"] and tls["probe_url"] == "https://gw01:4001" and tls["probe_ca"] == "/etc/litellm/tls-ca.crt"


def test_the_proxys_own_command_line_is_found_behind_the_json_lines_wrapper():
    from ansible_collections.hx.litellm.plugins.module_utils.gateway import proxy_argv
    proxy = ["/opt/litellm/venvs/1.106.2/bin/litellm", "--config", "c", "--port", "4001"]
    wrapper = ["/opt/litellm/venvs/1.106.2/bin/python", "-I", "/opt/litellm/libexec/json_lines.py"]
    assert proxy_argv(wrapper + proxy) == proxy and proxy_argv(proxy) == proxy


def test_an_alias_is_served_by_its_own_backends_else_by_all_without_trailing_slashes():
    g = describe()
    assert g["backends"] == {"phi3-3.8b": [B1, B2.rstrip("/")], "vllm-8b": ["http://vllm:8000/v1"]}
    assert [(d["alias"], d["provider"], d["api_base"]) for d in g["deployments"]] == [
        ("phi3-3.8b", "ollama_chat", B1), ("phi3-3.8b", "ollama_chat", B2.rstrip("/")),
        ("vllm-8b", "hosted_vllm", "http://vllm:8000/v1")]
    assert g["ollama_api_base"] == B1
    assert g["aliases"] == ["phi3-3.8b", "vllm-8b"]


def test_model_list_and_the_description_share_one_alias_x_backend_rule():
    g = describe()
    entries = model_list(INPUTS["models"], INPUTS["backends"])
    assert [(e["model_name"], e["litellm_params"]["api_base"]) for e in entries] == \
        [(d["alias"], d["api_base"]) for d in g["deployments"]]


def test_no_ollama_alias_means_no_ollama_api_base():
    g = describe(models=[INPUTS["models"][1]])
    assert g["ollama_api_base"] == ""


@pytest.mark.parametrize("changes, message", [
    ({"models": []}, "hx_litellm_proxy_models is empty"),
    ({"backends": ["hx-llm01:11434"]}, "backend 'hx-llm01:11434' is not a URL"),
    ({"models": [{"name": "a", "model": "x"}], "backends": []}, "lists no backends of its own"),
    ({"models": [{"name": "a", "model": "x", "provider": "bedrock"}]}, "unknown provider 'bedrock'"),
])
def test_bad_inputs_fail_naming_the_variable(changes, message):
    with pytest.raises(AnsibleFilterError, match=message):
        describe(**changes)


def test_a_missing_input_is_named():
    inputs = dict(INPUTS)
    del inputs["port"]
    with pytest.raises(AnsibleFilterError, match="input 'port' is missing"):
        gateway(inputs)
