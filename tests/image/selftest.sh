#!/usr/bin/env bash
# Checks the systemd test image with the exact container flags molecule and the lab use
# (no --privileged: it fails on these machines):
#   --cap-add SYS_ADMIN --cgroupns host -v /sys/fs/cgroup:/sys/fs/cgroup:rw
#   --tmpfs /run --tmpfs /run/lock --tmpfs /tmp      (CMD /lib/systemd/systemd)
#
# Usage: tests/image/selftest.sh [boot|dns|hardening|network|all]   (default: boot dns)
#   boot       systemd is PID 1, is-system-running says "running", a hardened service
#              (every sandboxing directive that works here) serves, `docker stop` halts
#              cleanly through STOPSIGNAL SIGRTMIN+3
#   dns        two containers on a user-defined network reach each other by name
#   hardening  the per-directive table of probe-units.sh (a report, never fails)
#   network    apt-get against deb.debian.org; pip download from PyPI once this
#              machine's CA bundle is copied in (outbound HTTPS is re-signed locally)
# Env: HX_TEST_IMAGE (default hx-litellm/debian-systemd:bookworm).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
IMAGE=${HX_TEST_IMAGE:-hx-litellm/debian-systemd:bookworm}
PREFIX=hx-selftest-$$
FLAGS=(--cap-add SYS_ADMIN --cgroupns host -v /sys/fs/cgroup:/sys/fs/cgroup:rw
       --tmpfs /run --tmpfs /run/lock --tmpfs /tmp)
containers=()
network=

say() { printf '==> selftest: %s\n' "$*"; }
fail() { printf 'selftest: FAIL: %s\n' "$*" >&2; exit 1; }

cleanup() {
  ((${#containers[@]})) && docker rm -f "${containers[@]}" >/dev/null 2>&1
  [[ -n $network ]] && docker network rm "$network" >/dev/null 2>&1
  return 0
}
trap cleanup EXIT

# start NAME [docker run args...]: a container of the image, booted to "running".
start() {
  local name=$1 state i
  shift
  docker run -d --name "$name" --hostname "$name" --label hx-selftest=1 "${FLAGS[@]}" "$@" "$IMAGE" >/dev/null
  containers+=("$name")
  # Until PID 1 has its bus socket, systemctl fails at once ("Failed to connect to bus").
  for ((i = 0; i < 60; i++)); do
    state=$(docker exec "$name" timeout 60 systemctl is-system-running --wait 2>/dev/null) && break
    [[ $state == degraded ]] && break
    sleep 0.5
  done
  if [[ $state != running ]]; then
    docker exec "$name" systemctl --failed --no-pager >&2 || true
    fail "$name: systemctl is-system-running says '${state:-nothing}'"
  fi
}

check_boot() {
  local t0=$SECONDS pid1 t
  say "boot: $IMAGE with ${FLAGS[*]}"
  start "$PREFIX-boot"
  pid1=$(docker exec "$PREFIX-boot" ps -o comm= -p 1)
  [[ $pid1 == systemd ]] || fail "PID 1 is '$pid1', not systemd"
  say "boot: PID 1 is systemd, system state 'running' after $((SECONDS - t0))s"
  say "boot: hardened service (probe-units.sh hardened)"
  docker exec -i "$PREFIX-boot" bash -s hardened <"$HERE/probe-units.sh" | sed 's/^/    /'
  ((PIPESTATUS[0] == 0)) || fail "the hardened service did not work"
  t=$(date +%s%N)
  docker stop "$PREFIX-boot" >/dev/null
  t=$((($(date +%s%N) - t) / 1000000))
  [[ $(docker inspect -f '{{.State.ExitCode}}' "$PREFIX-boot") == 0 ]] ||
    fail "systemd did not halt cleanly on docker stop"
  ((t < 9000)) || fail "docker stop took ${t}ms: STOPSIGNAL SIGRTMIN+3 not honoured?"
  say "boot: docker stop halted systemd cleanly in ${t}ms"
}

check_dns() {
  network=$PREFIX-net
  say "dns: two containers on the user-defined network $network"
  docker network create "$network" >/dev/null
  start "$PREFIX-a" --network "$network"
  start "$PREFIX-b" --network "$network"
  docker exec "$PREFIX-b" systemd-run --quiet --unit hx-web -p DynamicUser=yes \
    /usr/bin/python3 -m http.server 8080 --directory /usr/share >/dev/null
  local from to addr
  for from in a b; do
    to=$([[ $from == a ]] && echo b || echo a)
    addr=$(docker exec "$PREFIX-$from" getent hosts "$PREFIX-$to" | awk '{print $1}')
    [[ -n $addr ]] || fail "$PREFIX-$from cannot resolve $PREFIX-$to"
    say "dns: $PREFIX-$from resolves $PREFIX-$to to $addr"
  done
  docker exec "$PREFIX-a" curl -fsS --retry 10 --retry-connrefused --retry-delay 1 -o /dev/null \
    "http://$PREFIX-b:8080/" || fail "$PREFIX-a cannot reach http://$PREFIX-b:8080/"
  say "dns: $PREFIX-a reached http://$PREFIX-b:8080/ by name"
}

check_hardening() {
  say "hardening: one http.server unit per directive, on top of ProtectSystem=strict," \
      "PrivateTmp, ProtectHome, NoNewPrivileges, StateDirectory"
  start "$PREFIX-hard"
  docker exec -i "$PREFIX-hard" bash -s matrix <"$HERE/probe-units.sh" | sed 's/^/    /'
}

check_network() {
  local c=$PREFIX-net-check
  start "$c"
  say "network: apt-get update + install python3-pip from deb.debian.org"
  docker exec "$c" bash -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-pip >/dev/null' ||
    fail "apt-get inside the container"
  if docker exec "$c" curl -fsS -o /dev/null --max-time 20 https://pypi.org/simple/six/ 2>/dev/null; then
    say "network: PyPI answers over HTTPS without this machine's CA"
  else
    say "network: without this machine's CA, HTTPS to PyPI fails (as expected here)"
  fi
  docker cp /etc/ssl/certs/ca-certificates.crt "$c:/etc/ssl/certs/ca-certificates.crt"
  docker exec "$c" python3 -m pip download --no-deps --quiet -d /tmp/pip-check six ||
    fail "pip download inside the container, with this machine's CA bundle"
  say "network: pip download from PyPI works with the CA bundle: $(docker exec "$c" ls /tmp/pip-check)"
}

(($#)) || set -- boot dns
[[ $* == all ]] && set -- boot dns hardening network
for step in "$@"; do
  case $step in
    boot | dns | hardening | network) "check_$step" ;;
    *) fail "unknown step '$step' (boot|dns|hardening|network|all)" ;;
  esac
done
say "passed: $*"
