#!/bin/bash
# Runs INSIDE a container of the test image (tests/image/selftest.sh pipes it in):
# starts tiny `python3 -m http.server` units with systemd sandboxing directives and
# reports, per directive, whether the unit serves AND the directive's effect shows in
# /proc/<MainPID> (a directive systemd silently skipped would otherwise look fine).
#   bash -s matrix    one unit per directive on top of a baseline, a table of results
#   bash -s hardened  one unit with every directive that works here, plus
#                     `systemd-analyze security` on it
# shellcheck disable=SC2016 # the checks are eval-ed later, single quotes on purpose
set -u

# Baseline of every matrix unit; each row adds one directive to it.
BASE='ProtectSystem=strict
PrivateTmp=true
ProtectHome=true
NoNewPrivileges=true
StateDirectory=hxprobe'
port=18000
failures=0

st() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$P/status"; }
mnt() { awk -v m="$1" '$5 == m {print $6, $9, $11}' "/proc/$P/mountinfo" | tail -n 1; }
ns() { [[ "$(readlink "/proc/$P/ns/$1")" != "$(readlink "/proc/1/ns/$1")" ]]; }

# run_unit NAME 'Directive=a;Directive=b' CHECK [serve|block]
# serve: the unit must answer on 127.0.0.1; block: it must not (IP firewalls, netns).
run_unit() {
  local name=$1 extra=$2 check=${3:-true} expect=${4:-serve} served=0 since warn
  port=$((port + 1))
  printf '[Service]\nExecStart=/usr/bin/python3 -m http.server %s --bind 127.0.0.1 --directory /var/lib/hxprobe\n%s\n%s\n' \
    "$port" "$BASE" "$(tr ';' '\n' <<<"$extra")" >"/etc/systemd/system/$name.service"
  systemctl daemon-reload
  systemctl reset-failed "$name" 2>/dev/null
  sleep 1 # journal --since has second granularity: keep rows apart
  since=$(date '+%Y-%m-%d %H:%M:%S')
  systemctl start "$name" 2>/dev/null
  for _ in $(seq 1 15); do
    if curl -fsS -o /dev/null --max-time 1 "http://127.0.0.1:$port/" 2>/dev/null; then served=1; break; fi
    systemctl is-failed -q "$name" && break
    sleep 0.2
  done
  P=$(systemctl show -p MainPID --value "$name")
  warn=$(journalctl -b --since "$since" --no-pager -o cat 2>/dev/null |
    grep -iE 'ignoring|not supported|proceeding without|not permitted|failed to' | sort -u | head -n 2 | tr '\n' ' ')
  local as_expected=0
  if [[ $P != 0 ]]; then
    case $expect in serve) ((served)) && as_expected=1 ;; block) ((served)) || as_expected=1 ;; esac
  fi
  if ((as_expected)) && (eval "$check") 2>/dev/null; then
    printf 'WORKS | %s | %s\n' "$extra" "${warn:--}"
  elif ((as_expected)); then
    printf 'FAILS | %s | runs, but the effect is absent (%s) | %s\n' "$extra" "$check" "${warn:--}"
    failures=$((failures + 1))
  else
    printf 'FAILS | %s | result=%s active=%s served=%s | %s %s\n' "$extra" \
      "$(systemctl show -p Result --value "$name")" "$(systemctl is-active "$name")" "$served" "${warn:-}" \
      "$(journalctl -u "$name" -b --since "$since" --no-pager -o cat | grep -v '^Started' | tail -n 2 | tr '\n' ' ')"
    failures=$((failures + 1))
  fi
  systemctl stop "$name" 2>/dev/null
}

# What works in this container, all at once (see the matrix for each on its own).
# PrivateUsers=yes and ProtectProc= cannot be combined with a non-root User=/DynamicUser=
# here ("Failed to set up user namespacing: No such file or directory", 217/USER), so
# PrivateUsers=yes is kept and ProtectProc= left out; ProcSubset=pid stays.
HARDENED='ProtectSystem=strict;ProtectHome=yes;PrivateTmp=yes;PrivateDevices=yes;PrivateUsers=yes'
HARDENED+=';PrivateIPC=yes;PrivateMounts=yes;NoNewPrivileges=yes;ProtectKernelTunables=yes'
HARDENED+=';ProtectKernelModules=yes;ProtectKernelLogs=yes;ProtectControlGroups=yes;ProtectClock=yes'
HARDENED+=';ProtectHostname=yes;ProcSubset=pid;RestrictNamespaces=yes'
HARDENED+=';RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX;RestrictRealtime=yes;RestrictSUIDSGID=yes'
HARDENED+=';LockPersonality=yes;MemoryDenyWriteExecute=yes;SystemCallArchitectures=native'
HARDENED+=';SystemCallFilter=@system-service;SystemCallFilter=~@privileged @resources'
HARDENED+=';SystemCallErrorNumber=EPERM;CapabilityBoundingSet=;AmbientCapabilities=;RemoveIPC=yes'
HARDENED+=';KeyringMode=private;UMask=0077;IPAddressDeny=any;IPAddressAllow=localhost;DevicePolicy=closed'

case ${1:-matrix} in
matrix)
  run_unit hxp-baseline '' '[[ $(st NoNewPrivs) == 1 && $(mnt /) == ro* && $(mnt /home) == ro* ]] && ns mnt'
  i=0
  while IFS='|' read -r directive check expect; do
    [[ -n $directive ]] || continue
    i=$((i + 1))
    run_unit "hxp-$i" "$directive" "${check:-true}" "${expect:-serve}"
  done <<'ROWS'
PrivateDevices=yes|[[ $(mnt /dev) == *tmpfs* ]]
ProtectKernelTunables=yes|[[ $(mnt /proc/sys) == ro* ]]
ProtectKernelModules=yes|[[ $(st Seccomp) == 2 ]]
ProtectControlGroups=yes|[[ $(mnt /sys/fs/cgroup) == ro* ]]
ProtectKernelLogs=yes|[[ $(st Seccomp) == 2 ]]
ProtectClock=yes|[[ $(st Seccomp) == 2 ]]
ProtectHostname=yes|ns uts
RestrictNamespaces=yes|[[ $(st Seccomp) == 2 ]]
SystemCallFilter=@system-service|[[ $(st Seccomp) == 2 ]]
SystemCallFilter=~@privileged @resources|[[ $(st Seccomp) == 2 ]]
SystemCallArchitectures=native|[[ $(st Seccomp) == 2 ]]
MemoryDenyWriteExecute=yes|[[ $(st Seccomp) == 2 ]]
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX|[[ $(st Seccomp) == 2 ]]
LockPersonality=yes|[[ $(st Seccomp) == 2 ]]
RestrictRealtime=yes|[[ $(st Seccomp) == 2 ]]
RestrictSUIDSGID=yes|[[ $(st Seccomp) == 2 ]]
PrivateUsers=yes|ns user
PrivateUsers=yes;User=nobody|ns user
PrivateUsers=yes;ProtectProc=invisible|ns user
PrivateUsers=yes;ProtectProc=invisible;User=nobody|ns user
CapabilityBoundingSet=|[[ $(st CapBnd) == 0000000000000000 ]]
AmbientCapabilities=|[[ $(st CapAmb) == 0000000000000000 ]]
ProcSubset=pid|[[ $(mnt /proc) == *subset=pid* ]]
ProtectProc=invisible|[[ $(mnt /proc) == *hidepid=invisible* ]]
PrivateIPC=yes|ns ipc
PrivateMounts=yes|ns mnt
PrivateNetwork=no|! ns net
PrivateNetwork=yes|ns net && nsenter -t $P -n ip -o link show lo | grep -q LOWER_UP|block
IPAddressDeny=any|true|block
IPAddressDeny=any;IPAddressAllow=localhost|true
RemoveIPC=yes|true
KeyringMode=private|true
UMask=0077|[[ $(st Umask) == 0077 ]]
DynamicUser=yes|(( $(st Uid) >= 61184 ))
User=nobody|[[ $(st Uid) == 65534 ]]
DevicePolicy=closed|true
ROWS
  ;;
hardened)
  BASE='DynamicUser=yes
StateDirectory=hxprobe'
  run_unit hxp-hardened "$HARDENED" \
    '[[ $(st Seccomp) == 2 && $(st CapBnd) == 0000000000000000 && $(st NoNewPrivs) == 1 ]] && ns user && ns uts && ns ipc'
  systemctl start hxp-hardened
  systemd-analyze security --no-pager hxp-hardened.service | grep -E '✗|Overall'
  systemctl stop hxp-hardened
  ;;
esac
echo "probe: $failures failed"
# The matrix is a report (some directives are known not to work here); the hardened
# unit must work.
[[ ${1:-matrix} == matrix ]] || exit $((failures > 0))
