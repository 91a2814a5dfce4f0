#!/usr/bin/env bash
# Installs what the lab and the tests need on a fresh Debian 12 machine (run as root):
# Debian packages, a running Docker engine, the Python venv .venv with
# requirements-dev.txt, the venv .venvs/ansible-2.21 with requirements-ansible-2.21.txt (for
# `ansible-test sanity` on the newest ansible-core), ansible-test's pip bootstrap script, and
# the systemd test image (tests/image/build.sh).
# Idempotent: every step is skipped when already done. Needs no stdin (CI=true is fine).
# Env: HX_PYTHON (default python3.11) is the interpreter for .venv;
#      HX_PYTHON_LATEST (default: a Python 3.13 found through pyenv or PATH) the one for
#      .venvs/ansible-2.21;
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

# 3. The Python venvs, each rebuilt when its requirements file or its interpreter changes
#    (a stamp of both is kept inside the venv).
ensure_venv() {  # ensure_venv DIR PYTHON REQUIREMENTS
  local dir=$1 python=$2 reqs=$3 stamp want
  stamp=$dir/.requirements.sha256
  want=$({ sha256sum "$reqs"; "$python" -VV; } | sha256sum | cut -d' ' -f1)
  if [[ -x $dir/bin/python && -x $dir/bin/pip && "$(cat "$stamp" 2>/dev/null)" == "$want" ]]; then
    say "$dir is current ($reqs unchanged)"
    return 0
  fi
  if ! "$dir/bin/python" -c 'import pip' >/dev/null 2>&1 ||
     [[ "$("$dir/bin/python" -VV 2>/dev/null)" != "$("$python" -VV)" ]]; then
    say "creating $dir with $("$python" -V 2>&1)"
    rm -rf "$dir"
    mkdir -p "$(dirname "$dir")"
    "$python" -m venv "$dir"
  fi
  say "pip install -r $reqs into $dir"
  rm -f "$stamp"
  # (This machine's pip.conf names local package folders that may be absent: pip warns
  # once per package about each; those lines only are dropped.)
  "$dir/bin/pip" install -q --disable-pip-version-check -r "$reqs" \
    2> >(grep -v 'is ignored: it is neither a file nor a directory' >&2)
  echo "$want" >"$stamp"
  say "$dir ready: $("$dir/bin/ansible" --version | sed -n 1p)"
}

# 3a. .venv: the lab's and the tests' control node (ansible-core 2.19).
python=${HX_PYTHON:-python3.11}
command -v "$python" >/dev/null || die "$python not found (set HX_PYTHON)"
ensure_venv .venv "$python" requirements-dev.txt

# 3b. .venvs/ansible-2.21: the newest ansible-core, for `ansible-test sanity` only
#     (tests/sanity.sh). It needs Python 3.12+, which Debian 12 does not ship: the interpreter
#     is HX_PYTHON_LATEST if set, else the first usable of pyenv's 3.13.0, python3.13 on PATH,
#     the newest 3.13.x under pyenv's root. A candidate is resolved to the real executable
#     (not a pyenv shim). Without one the step is skipped with a warning (test_sanity.py then
#     skips ansible-core 2.21), except under CI=true, where it is an error.
usable_python() {  # usable_python CMD: prints the executable of a Python 3.12+ with venv
  [[ -n $1 ]] && command -v "$1" >/dev/null 2>&1 || return 1
  "$1" -c 'import sys, venv; sys.exit(1) if sys.version_info < (3, 12) else print(sys.executable)' 2>/dev/null
}
find_latest_python() {
  local pyenv_root candidate
  pyenv_root=${PYENV_ROOT:-$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")}
  for candidate in "$pyenv_root/versions/3.13.0/bin/python" "$(command -v python3.13 || true)" \
    $(find "$pyenv_root/versions" -mindepth 1 -maxdepth 1 -regex '.*/3\.13\.[0-9]+' 2>/dev/null |
      sort -V -r | sed 's|$|/bin/python|'); do
    usable_python "$candidate" && return 0
  done
  return 1
}
if [[ -n ${HX_PYTHON_LATEST:-} ]]; then
  python_latest=$(usable_python "$HX_PYTHON_LATEST") ||
    die "HX_PYTHON_LATEST=$HX_PYTHON_LATEST is not a Python 3.12+ with venv"
else
  python_latest=$(find_latest_python) || python_latest=
fi
if [[ -n $python_latest ]]; then
  ensure_venv .venvs/ansible-2.21 "$python_latest" requirements-ansible-2.21.txt
elif [[ ${CI:-} == true ]]; then
  die "no Python 3.13 found for .venvs/ansible-2.21 (set HX_PYTHON_LATEST)"
else
  say "WARNING: no Python 3.13 found (set HX_PYTHON_LATEST): .venvs/ansible-2.21 not built"
fi

# 3c. ansible-test bootstraps pip into each venv it makes for a sanity test with a get-pip.py
#     that it downloads from a host these machines cannot reach, unless that file is cached as
#     ~/.ansible/test/cache/get_pip_<pip version>.py. The pip version differs between
#     ansible-core releases, so each venv's ansible-test is asked for it. The stand-in written
#     here installs the new venv's bundled pip (ensurepip), then the pip version ansible-test
#     asked for, from the package index. A cached file that this script did not write (e.g. the
#     real get-pip.py) is left alone; one it wrote is rewritten only when the stand-in changed.
get_pip_cache=$HOME/.ansible/test/cache
get_pip_marker="Stand-in for get-pip.py, written by hx.litellm's tests/bootstrap.sh."
get_pip_script=$(cat <<PY
"""$get_pip_marker

ansible-test runs it with a new venv's python and pip install options, e.g.
\`--disable-pip-version-check pip==24.2 --no-setuptools --no-wheel\`.
"""
import ensurepip
import os
import subprocess
import sys

# ensurepip drops PIP_* variables and the pip configuration (certificates, indexes) from
# os.environ; the install from the index needs them back.
environment = dict(os.environ)
ensurepip.bootstrap(upgrade=True)
options = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
if any(not arg.startswith("-") for arg in options):
    command = [sys.executable, "-m", "pip", "install", "--quiet"] + options
    sys.exit(subprocess.call(command, env=environment))
PY
)
for venv in .venv .venvs/ansible-2.21; do
  [[ -x $venv/bin/python ]] || continue
  pip_version=$("$venv/bin/python" -c '
import sys, types
from ansible_test._internal.python_requirements import get_venv_packages
print(get_venv_packages(types.SimpleNamespace(version="%d.%d" % sys.version_info[:2]))["pip"])') ||
    die "cannot ask $venv's ansible-test which pip version it bootstraps"
  get_pip=$get_pip_cache/get_pip_${pip_version//./_}.py
  if [[ -s $get_pip ]] && { ! grep -qF "$get_pip_marker" "$get_pip" ||
                            [[ "$(cat "$get_pip")" == "$get_pip_script" ]]; }; then
    say "$get_pip present"
    continue
  fi
  mkdir -p "$get_pip_cache"
  printf '%s\n' "$get_pip_script" >"$get_pip.tmp"
  mv "$get_pip.tmp" "$get_pip"
  say "wrote $get_pip (bootstraps pip $pip_version in ansible-test's venvs)"
done

# 4. The systemd test images, Debian 12 and 13 (each skipped when its recipe is unchanged),
# built side by side: debootstrap mostly waits on the mirror.
bash tests/image/build.sh trixie > >(sed -u 's/^/[trixie] /') 2>&1 &
trixie=$!
bash tests/image/build.sh bookworm
wait "$trixie" || { echo "bootstrap: ERROR: the Debian 13 image did not build (output above)" >&2; exit 1; }
say "ready ($ROOT)"
