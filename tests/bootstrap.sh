#!/usr/bin/env bash
# Installs what the lab and the tests need on a fresh Debian 12 machine (run as root):
# Debian packages, a running Docker engine, the Python venv .venv with
# requirements-dev.txt, and the systemd test image (tests/image/build.sh).
# Idempotent: every step is skipped when already done. Needs no stdin (CI=true is fine).
# Env: HX_PYTHON (default python3.11) is the interpreter for .venv;
#      HX_DOCKERD_LOG (default /var/log/dockerd.log) is where a dockerd we start logs.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
exec </dev/null
export DEBIAN_FRONTEND=noninteractive

say() { printf '==> bootstrap: %s\n' "$*"; }
die() { printf 'bootstrap: ERROR: %s\n' "$*" >&2; exit 1; }

[[ $(id -u) == 0 ]] || die "run as root (apt-get, dockerd, debootstrap)"

# 1. Debian packages. apt-get update runs only when something has to be installed.
#    python3-venv: Debian's own python3 cannot create a venv without it.
PKGS=(docker.io debootstrap iproute2 iptables curl jq git ca-certificates python3-venv)
missing=()
for pkg in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  say "apt-get install ${missing[*]}"
  apt-get update -qq
  apt-get install -y -qq -o Dpkg::Options::=--force-confold "${missing[@]}" >/dev/null
else
  say "Debian packages present"
fi

# 2. The Docker engine. There is no systemd as PID 1 on these machines, so dockerd is
#    started directly, detached from this script's session. docker.io's postinst may
#    already have started one through its init script: then it is only waited for.
DOCKERD_LOG=${HX_DOCKERD_LOG:-/var/log/dockerd.log}
wait_for_docker() {
  local i
  for ((i = 0; i < ${1:-60}; i++)); do
    docker info >/dev/null 2>&1 && return 0
    sleep 1
  done
  return 1
}
if docker info >/dev/null 2>&1; then
  say "Docker engine answers"
else
  if pgrep -x dockerd >/dev/null; then
    say "dockerd is running but not answering yet, waiting"
  else
    say "starting dockerd (log: $DOCKERD_LOG)"
    # A dockerd that died uncleanly leaves pid files that stop the next one.
    rm -f /var/run/docker.pid /var/run/docker/containerd/containerd.pid
    setsid -f /usr/sbin/dockerd >>"$DOCKERD_LOG" 2>&1 </dev/null
  fi
  if ! wait_for_docker 90; then
    echo "dockerd did not come up within 90s; last lines of $DOCKERD_LOG:" >&2
    tail -n 40 "$DOCKERD_LOG" >&2 || true
    exit 1
  fi
  say "Docker engine up: server $(docker version -f '{{.Server.Version}}' 2>/dev/null)"
fi

# 3. The Python venv, rebuilt when requirements-dev.txt or the interpreter changes.
python=${HX_PYTHON:-python3.11}
command -v "$python" >/dev/null || die "$python not found (set HX_PYTHON)"
stamp=.venv/.requirements.sha256
want=$({ sha256sum requirements-dev.txt; "$python" -VV; } | sha256sum | cut -d' ' -f1)
if [[ -x .venv/bin/python && -x .venv/bin/pip && "$(cat "$stamp" 2>/dev/null)" == "$want" ]]; then
  say ".venv is current (requirements-dev.txt unchanged)"
else
  if ! .venv/bin/python -c 'import pip' >/dev/null 2>&1 ||
     [[ "$(.venv/bin/python -VV 2>/dev/null)" != "$("$python" -VV)" ]]; then
    say "creating .venv with $("$python" -V 2>&1)"
    rm -rf .venv
    "$python" -m venv .venv
  fi
  say "pip install -r requirements-dev.txt into .venv"
  rm -f "$stamp"
  # (This machine's pip.conf names local package folders that may be absent: pip warns
  # once per package about each; those lines only are dropped.)
  .venv/bin/pip install -q --disable-pip-version-check -r requirements-dev.txt \
    2> >(grep -v 'is ignored: it is neither a file nor a directory' >&2)
  echo "$want" >"$stamp"
  say ".venv ready: $(.venv/bin/ansible --version | sed -n 1p)"
fi

# 4. The systemd test image (skipped when its recipe is unchanged).
bash tests/image/build.sh
say "ready ($ROOT)"
