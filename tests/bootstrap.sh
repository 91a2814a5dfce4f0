#!/usr/bin/env bash
# Installs what the lab and the tests need on a fresh Debian 12 machine (root):
# Debian packages, a running Docker engine, the Python venv .venv, the test image.
# Idempotent: each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

say() { printf '==> bootstrap: %s\n' "$*"; }

need_pkgs=()
for pkg in docker.io debootstrap iproute2 curl jq git; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need_pkgs+=("$pkg")
done
if ((${#need_pkgs[@]})); then
  say "apt-get install ${need_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
  say "starting dockerd (log: /var/log/dockerd.log)"
  # The machine has no systemd as PID 1, so the engine is started directly.
  nohup /usr/sbin/dockerd >/var/log/dockerd.log 2>&1 &
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 1
  done
  if ! docker info >/dev/null 2>&1; then
    echo "dockerd did not come up; last log lines:" >&2
    tail -n 30 /var/log/dockerd.log >&2
    exit 1
  fi
fi

python=${HX_PYTHON:-python3.11}
stamp=.venv/.requirements.sha256
want=$(sha256sum requirements-dev.txt | cut -d' ' -f1)
if [[ ! -x .venv/bin/python || "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
  say "creating .venv and installing requirements-dev.txt"
  [[ -x .venv/bin/python ]] || "$python" -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check -r requirements-dev.txt
  echo "$want" >"$stamp"
fi

say "test image"
bash tests/image/build.sh
say "ready ($ROOT)"
