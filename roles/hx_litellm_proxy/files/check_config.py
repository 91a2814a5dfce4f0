# Managed by Ansible (hx.litellm.hx_litellm_proxy); local edits are overwritten.
# No shebang: the role runs it with the venv's python, the one that has LiteLLM.
"""Check a rendered LiteLLM config before it replaces the live one.

Run with the venv's python (it imports the installed LiteLLM):
    check_config.py --expect-models N CONFIG

`litellm --validate_config` is not enough: it exits 0 when every deployment was
dropped ("config OK (0 models)") and ignores misplaced keys. This check:
  1. rejects keys LiteLLM would silently ignore or misuse, and a literal master key;
  2. loads the file with LiteLLM's own ProxyConfig, as the proxy does at start, and
     fails unless every one of the N expected deployments survived.
It never contacts a backend or the internet and never prints a secret.
"""

import argparse
import asyncio
import contextlib
import io
import logging
import os
import sys

import yaml

TOP_LEVEL = {
    "model_list", "router_settings", "litellm_settings", "general_settings",
    "environment_variables", "callback_settings", "credential_list", "include",
    "guardrails", "mcp_servers", "search_tools", "vector_store_registry",
}
ENTRY = {"model_name", "litellm_params", "model_info"}
# Keys that look right but that LiteLLM ignores or passes on to the backend: the config loads
# without an error and the deployment silently lacks the setting, so each is refused with
# the place LiteLLM reads it from.
MISPLACED_PARAMS = {
    "request_timeout": "use litellm_params.timeout / stream_timeout",
    "mode": "belongs in model_info.mode",
    "max_input_tokens": "belongs in model_info.max_input_tokens",
}
MISPLACED_ENTRY = {
    "max_input_tokens": "belongs in model_info.max_input_tokens",
    "num_retries": "belongs in litellm_params.num_retries or router_settings.num_retries",
}


def structural_errors(config):
    errors = []
    if not isinstance(config, dict):
        return ["the file is not a YAML mapping"]
    for key in sorted(set(config) - TOP_LEVEL):
        errors.append("unknown top-level key %r (LiteLLM ignores it)" % key)
    models = config.get("model_list")
    if not isinstance(models, list) or not models:
        errors.append("model_list is missing or empty")
        models = []
    for i, entry in enumerate(models, 1):
        where = "model_list[%d]" % i
        if not isinstance(entry, dict):
            errors.append("%s is not a mapping" % where)
            continue
        for key in sorted(set(entry) - ENTRY):
            hint = MISPLACED_ENTRY.get(key, "LiteLLM ignores it")
            errors.append("%s: key %r is misplaced (%s)" % (where, key, hint))
        if not entry.get("model_name"):
            errors.append("%s has no model_name" % where)
        params = entry.get("litellm_params")
        if not isinstance(params, dict) or not params.get("model"):
            errors.append("%s has no litellm_params.model" % where)
            continue
        if "/" not in str(params["model"]):
            errors.append("%s: litellm_params.model %r has no provider prefix (LiteLLM drops it)"
                          % (where, params["model"]))
        for key, hint in sorted(MISPLACED_PARAMS.items()):
            if key in params:
                errors.append("%s: litellm_params.%s is misplaced (%s)" % (where, key, hint))
        if params.get("api_key") == "":
            errors.append("%s: empty api_key sends an empty Bearer header; leave it out" % where)
    general = config.get("general_settings") or {}
    key = general.get("master_key")
    if key is not None and not str(key).startswith("os.environ/"):
        errors.append("general_settings.master_key holds a literal key; use os.environ/NAME")
    if "telemetry" in general:
        errors.append("general_settings.telemetry does not exist (litellm_settings.telemetry)")
    retry_policy = (config.get("router_settings") or {}).get("retry_policy")
    if retry_policy is not None and not isinstance(retry_policy, dict):
        errors.append("router_settings.retry_policy must map error classes to retry counts")
    return errors


def surviving_deployments(path):
    """Load the config with LiteLLM's ProxyConfig and count the deployments it keeps."""
    # Same start-up environment as the unit, and no network: the /api/show probe
    # LiteLLM sends to OLLAMA_API_BASE goes to a closed loopback port.
    os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    os.environ["LITELLM_MODE"] = "PRODUCTION"
    os.environ["OLLAMA_API_BASE"] = "http://127.0.0.1:9"
    # A placeholder so os.environ/ references resolve; the real key is never read here.
    os.environ.setdefault("LITELLM_MASTER_KEY", "sk-config-check-placeholder-0000")
    os.environ.setdefault("LITELLM_REDIS_PASSWORD", "config-check-placeholder")
    logging.disable(logging.CRITICAL)
    noise = io.StringIO()
    with contextlib.redirect_stdout(noise), contextlib.redirect_stderr(noise):
        from litellm.proxy.proxy_server import ProxyConfig

        async def load():
            router, _settings, _models = await ProxyConfig().load_config(router=None, config_file_path=path)
            return [] if router is None else list(router.model_list)

        deployments = asyncio.run(load())
    return deployments


def main(argv=None):
    parser = argparse.ArgumentParser(description="Check a rendered LiteLLM config.")
    parser.add_argument("--expect-models", type=int, required=True,
                        help="number of model_list entries the role rendered")
    parser.add_argument("config")
    args = parser.parse_args(argv)

    try:
        with open(args.config, encoding="utf-8") as handle:
            config = yaml.safe_load(handle)
    except (OSError, yaml.YAMLError) as error:
        print("config check: cannot read %s: %s" % (args.config, error), file=sys.stderr)
        return 1

    errors = structural_errors(config)
    rendered = len(config.get("model_list") or []) if isinstance(config, dict) else 0
    if rendered != args.expect_models:
        errors.append("model_list has %d entries, expected %d" % (rendered, args.expect_models))
    if errors:
        for error in errors:
            print("config check: " + error, file=sys.stderr)
        return 1

    try:
        deployments = surviving_deployments(args.config)
    except Exception as error:  # LiteLLM raises many types; any of them means "rejected"
        print("config check: LiteLLM rejected the config: %s: %s"
              % (type(error).__name__, str(error).splitlines()[0][:300]), file=sys.stderr)
        return 1
    if len(deployments) != args.expect_models:
        kept = sorted({d.get("model_name", "?") for d in deployments})
        print("config check: LiteLLM kept %d of %d deployments (aliases kept: %s); see its provider rules"
              % (len(deployments), args.expect_models, ", ".join(kept) or "none"), file=sys.stderr)
        return 1
    print("config check: OK, LiteLLM loads all %d deployments" % len(deployments))
    return 0


if __name__ == "__main__":
    sys.exit(main())
