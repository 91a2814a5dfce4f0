#!/usr/bin/env bash
# The local lab: `tests/lab/lab.sh up` builds what it needs and runs the main job
# (litellm_enforce.yml, --check --diff then for real); `tests/lab/lab.sh down` removes it.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD

case "${1:-up}" in
  up)
    bash tests/bootstrap.sh
    # shellcheck disable=SC1091
    source .venv/bin/activate
    export ANSIBLE_FORCE_COLOR="${ANSIBLE_FORCE_COLOR:-1}"
    inv=(-i tests/lab/inventory.ini)
    vault=(--vault-password-file tests/lab/vault-password)
    echo "==> lab: creating the gateway and backend containers"
    ansible-playbook "${inv[@]}" "${vault[@]}" tests/lab/up.yml
    port="${HX_LAB_PORT:-4000}"
    echo "==> lab: litellm_preflight.yml (read-only Go/No-Go)"
    ansible-playbook "${inv[@]}" "${vault[@]}" playbooks/litellm_preflight.yml
    echo "==> lab: litellm_enforce.yml --check --diff (dry run)"
    ansible-playbook "${inv[@]}" "${vault[@]}" playbooks/litellm_enforce.yml --check --diff
    echo "==> lab: litellm_enforce.yml (apply)"
    ansible-playbook "${inv[@]}" "${vault[@]}" playbooks/litellm_enforce.yml
    echo "==> lab: litellm_smoke.yml (acceptance, from this machine through the published port)"
    ansible-playbook "${inv[@]}" "${vault[@]}" playbooks/litellm_smoke.yml -e "hx_litellm_smoke_base_url=http://127.0.0.1:${port}"
    # Bundles land beside the inventory, as in an ops project.
    pre=$(ls -d tests/lab/.evidence/litellm_preflight/*/lab-api-server | tail -n 1)
    smoke=$(ls -d tests/lab/.evidence/litellm_smoke/*/lab-api-server | tail -n 1)
    cat <<MSG

==> lab is up: LiteLLM on http://127.0.0.1:${port} in front of lab-llm01 and lab-llm02.
    The master key is in the (lab) vault:
      export LITELLM_KEY=\$(cd $ROOT && .venv/bin/ansible-vault view --vault-password-file tests/lab/vault-password tests/lab/group_vars/all/vault.yml | sed -n 's/^vault_hx_litellm_proxy_master_key: "\(.*\)"/\1/p')
      curl -s http://127.0.0.1:${port}/health/readiness
      curl -s -H "Authorization: Bearer \$LITELLM_KEY" http://127.0.0.1:${port}/v1/models
      curl -s -H "Authorization: Bearer \$LITELLM_KEY" -H 'Content-Type: application/json' \\
        -d '{"model":"phi3-3.8b","messages":[{"role":"user","content":"ping"}]}' \\
        http://127.0.0.1:${port}/v1/chat/completions
    Evidence bundles: $ROOT/$pre
                      $ROOT/$smoke
    Tear down with: tests/lab/lab.sh down
MSG
    ;;
  down)
    # shellcheck disable=SC1091
    source .venv/bin/activate
    ansible-playbook tests/lab/down.yml
    ;;
  *)
    echo "usage: $0 up|down" >&2
    exit 2
    ;;
esac
