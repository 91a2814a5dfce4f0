#!/usr/bin/env bash
# Benchmark a deployed gateway (the lab's by default) without touching its service:
#   bench/run.sh                 full run (8 s per cell, about 6 minutes)
#   bench/run.sh --quick         3 s per cell
#   bench/run.sh --duration 15 --host lab-api-server
# Prints a table; writes .artifacts/bench/<UTC>.json. See bench/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."

host=lab-api-server
duration=8
concurrency=1,16,64
extra='{}'
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) duration=3 ;;
    --duration) duration="$2"; shift ;;
    --host) host="$2"; shift ;;
    --concurrency) concurrency="$2"; shift ;;
    --extra) extra="$2"; shift ;;
    *) echo "usage: bench/run.sh [--quick] [--duration S] [--host CONTAINER] [--concurrency 1,16,64]" >&2; exit 2 ;;
  esac
  shift
done

if ! docker exec "$host" test -f /etc/systemd/system/litellm.service 2>/dev/null; then
  echo "bench: no gateway deployed in container $host; run 'make lab' first" >&2
  exit 2
fi
# The deployed venv (the unit's ExecStart names it): the benchmark uses exactly what the role installed.
venv_bin=$(docker exec "$host" sed -n 's|^ExecStart=\([^ ]*\)/litellm .*|\1|p' /etc/systemd/system/litellm.service)
docker exec "$host" mkdir -p /var/tmp/hx-bench
docker cp bench/bench.py "$host:/var/tmp/hx-bench/bench.py" >/dev/null
docker cp tests/stub_ollama/stub_ollama.py "$host:/var/tmp/hx-bench/stub_ollama.py" >/dev/null
echo "bench: $host, $(docker exec "$host" nproc) cores, ${duration}s per cell, concurrency $concurrency"
# An HTTPS gateway's certificate covers its inventory name, the container's name here.
docker exec "$host" "$venv_bin/python" /var/tmp/hx-bench/bench.py --duration "$duration" \
  --concurrency "$concurrency" --extra "$extra" --tls-name "$host" --json /var/tmp/hx-bench/result.json
stamp=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p .artifacts/bench
docker cp "$host:/var/tmp/hx-bench/result.json" ".artifacts/bench/$stamp.json" >/dev/null
echo "bench: JSON in .artifacts/bench/$stamp.json"
