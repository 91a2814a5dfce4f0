#!/usr/bin/env bash
# The test command: installs what is missing (tests/bootstrap.sh), then runs pytest,
# which runs the unit tests, the linters and the molecule scenarios.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tests/bootstrap.sh
export PATH="$PWD/.venv/bin:$PATH"
if (($# == 0)); then
  set -- tests
fi
exec pytest -v -ra --durations=10 "$@"
