#!/usr/bin/env bash
# Runs `ansible-test sanity` (the checks collections published to Galaxy pass) on the
# collection as it ships: builds the tarball from the repository root with the venv's
# ansible-galaxy, installs it into a temporary ansible_collections/ tree, adds the ignore
# files (tests/sanity/ignore-<core>.txt; tests/ is not shipped), then runs
# `ansible-test sanity --local --python X.Y` in <tmp>/ansible_collections/hx/litellm with the
# venv's own ansible-test and Python. Exits with ansible-test's status.
#
# Usage: tests/sanity.sh VENV [ansible-test sanity options, e.g. --test validate-modules]
#   VENV: .venv (ansible-core 2.19) or .venvs/ansible-2.21 (tests/bootstrap.sh builds both).
# ansible-test installs each sanity test's tools (pinned by that ansible-core release) into
# venvs of its own under ~/.ansible/test/venv on first use; later runs reuse them.
# Env: HX_SANITY_KEEP=1 keeps the temporary tree (its path is printed).
set -euo pipefail

die() { printf 'sanity: ERROR: %s\n' "$*" >&2; exit 2; }
say() { printf '==> sanity: %s\n' "$*"; }

(($# >= 1)) || die "usage: tests/sanity.sh VENV [ansible-test sanity options]"
[[ -x $1/bin/ansible-test && -x $1/bin/python ]] ||
  die "$1 is not a venv with ansible-core (run tests/bootstrap.sh)"
venv=$(cd "$1" && pwd)
shift
cd "$(dirname "$0")/.."
ROOT=$PWD
python_version=$("$venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
core_version=$("$venv/bin/python" -c 'from ansible.release import __version__; print(__version__)')
core_major_minor=$(cut -d. -f1,2 <<<"$core_version")

# The repository's ansible.cfg or a caller's collection path must not change what is built
# or which copy of hx.litellm ansible-test sees.
unset ANSIBLE_CONFIG ANSIBLE_COLLECTIONS_PATH ANSIBLE_COLLECTIONS_PATHS
export PATH="$venv/bin:$PATH" ANSIBLE_NOCOLOR=1

work=$(mktemp -d "${TMPDIR:-/tmp}/hx-litellm-sanity.XXXXXX")
if [[ ${HX_SANITY_KEEP:-} == 1 ]]; then
  trap 'say "kept $work"' EXIT
else
  trap 'rm -rf "$work"' EXIT
fi
cd "$work"

say "ansible-core $core_version, Python $python_version ($venv)"
ansible-galaxy collection build --output-path "$work/dist" "$ROOT" >/dev/null
tarball=$(echo "$work"/dist/hx-litellm-*.tar.gz)
[[ -f $tarball ]] || die "ansible-galaxy collection build wrote no tarball"
say "built $(basename "$tarball") ($(du -k "$tarball" | cut -f1) KiB)"
ansible-galaxy collection install --offline --no-deps -p "$work" "$tarball" >/dev/null 2>&1 ||
  ansible-galaxy collection install --offline --no-deps -p "$work" "$tarball"
collection=$work/ansible_collections/hx/litellm
[[ -f $collection/MANIFEST.json ]] || die "the tarball did not install into $collection"

# ansible-test reads tests/sanity/ignore-<core X.Y>.txt from the collection under test.
mkdir -p "$collection/tests/sanity"
for ignore in "$ROOT"/tests/sanity/ignore-*.txt; do
  [[ -f $ignore ]] && cp "$ignore" "$collection/tests/sanity/"
done
[[ -f $collection/tests/sanity/ignore-$core_major_minor.txt ]] ||
  say "no tests/sanity/ignore-$core_major_minor.txt: nothing is ignored"

cd "$collection"
say "ansible-test sanity --local --python $python_version $*"
rc=0
ansible-test sanity --local --python "$python_version" --color no "$@" || rc=$?
say "ansible-test exited $rc"
exit "$rc"
