#!/usr/bin/env bash
# Builds the systemd test image from Debian packages only (no container registry is
# reachable): debootstrap a Debian rootfs (bookworm unless the first argument names another
# suite, e.g. trixie) with systemd and python3, `docker import` it,
# then add ENV/STOPSIGNAL/CMD with tests/image/Dockerfile (docker 20.10's import rejects
# STOPSIGNAL).
#
# Tags: hx-litellm/debian-systemd:<suite>-<recipe hash> and :<suite>. The recipe hash
# covers this script, the Dockerfile and the mirrors; when an image with the current hash
# exists the build is skipped. The finished rootfs and the downloaded .debs are kept in
# $HX_IMAGE_CACHE (default /var/cache/hx-litellm), outside the repository, so that a
# pruned image is re-imported in seconds and a recipe change downloads nothing twice.
#
# Run it as root on Debian 12 with a running Docker engine (tests/bootstrap.sh does both).
# Env: HX_IMAGE_REBUILD=1 forces a rebuild; HX_DEBIAN_MIRROR, HX_DEBIAN_SECURITY_MIRROR,
# HX_IMAGE_CACHE, HX_TEST_IMAGE_REPO override the defaults.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
IMAGE_REPO=${HX_TEST_IMAGE_REPO:-hx-litellm/debian-systemd}
SUITE=${1:-bookworm}
MIRROR=${HX_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${HX_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
CACHE=${HX_IMAGE_CACHE:-/var/cache/hx-litellm}
# The image config comes from the Dockerfile through the classic builder: it needs no
# buildx plugin and no registry.
export DOCKER_BUILDKIT=0

# What Ansible and systemd need on a managed host; the role under test installs the rest.
PACKAGES=(
  systemd systemd-sysv dbus libpam-systemd   # PID 1, the bus systemctl talks over, logind
  python3 python3-apt                        # Ansible's interpreter, its apt module
  ca-certificates gnupg                      # HTTPS to the mirrors, signed-by repo keys
  iproute2 procps netbase                    # ip/ss, ps/pgrep, /etc/services and protocols
  sudo curl less
)
# Units that have nothing to do in a container, fail there, or would run apt/dpkg
# behind a test's back (apt-daily holds the dpkg lock at random times).
MASKED_UNITS=(
  getty.target console-getty.service getty@tty1.service serial-getty@.service
  systemd-remount-fs.service systemd-firstboot.service systemd-hwdb-update.service
  systemd-udevd.service systemd-udev-trigger.service systemd-udev-settle.service
  systemd-modules-load.service systemd-machine-id-commit.service
  sys-kernel-config.mount sys-kernel-debug.mount sys-kernel-tracing.mount
  proc-sys-fs-binfmt_misc.automount proc-sys-fs-binfmt_misc.mount systemd-binfmt.service
  apt-daily.timer apt-daily-upgrade.timer apt-daily.service apt-daily-upgrade.service
  dpkg-db-backup.timer e2scrub_all.timer e2scrub_reap.service fstrim.timer
)

say() { printf '==> image: %s\n' "$*"; }
die() { printf 'image: ERROR: %s\n' "$*" >&2; exit 1; }

[[ $(id -u) == 0 ]] || die "run as root (debootstrap and chroot need it)"
docker info >/dev/null 2>&1 || die "no Docker engine answers (tests/bootstrap.sh starts one)"

recipe_hash=$(
  cd "$HERE"
  { sha256sum build.sh Dockerfile; printf '%s\n' "$SUITE" "$MIRROR" "$SECURITY_MIRROR"; } |
    sha256sum | cut -c1-12
)
tag="$IMAGE_REPO:$SUITE-$recipe_hash"
latest="$IMAGE_REPO:$SUITE"

image_current() { [[ ${HX_IMAGE_REBUILD:-0} != 1 ]] && docker image inspect "$tag" >/dev/null 2>&1; }

if image_current; then
  docker tag "$tag" "$latest"
  say "$tag is current (recipe unchanged), build skipped; tagged $latest"
  exit 0
fi

mkdir -p "$CACHE/debs-$SUITE"
# One build of a suite at a time (the lab and the tests may bootstrap at once); whoever
# waited finds the image the other one built. Different suites build side by side.
exec 9>"$CACHE/build-$SUITE.lock"
if ! flock -n 9; then
  say "another build holds $CACHE/build-$SUITE.lock, waiting"
  flock -w 1800 9 || die "timed out waiting for $CACHE/build-$SUITE.lock"
fi
if image_current; then
  docker tag "$tag" "$latest"
  say "$tag was built meanwhile; tagged $latest"
  exit 0
fi

if ! command -v debootstrap >/dev/null; then
  say "installing debootstrap"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq debootstrap >/dev/null 2>&1 ||
    { apt-get update -qq && apt-get install -y -qq debootstrap >/dev/null; }
fi

# Removes a rootfs without ever following a mount that a failed debootstrap left inside.
remove_rootfs() {
  local dir=$1 mnt
  [[ -e $dir ]] || return 0
  while read -r mnt; do
    umount -l "$mnt" 2>/dev/null || true
  done < <(findmnt -rn -o TARGET | grep -F "$dir/" | sort -r)
  rm -rf --one-file-system "$dir"
}

start=$(date +%s)
rootfs="$CACHE/rootfs-$SUITE-$recipe_hash"
done_stamp="$rootfs.complete"

# Rootfs trees of older recipes of this suite are of no further use.
for old in "$CACHE"/rootfs-"$SUITE"-*; do
  [[ -e $old && $old != "$rootfs" && $old != "$done_stamp" ]] || continue
  say "removing the rootfs of an older recipe: $old"
  if [[ -d $old ]]; then remove_rootfs "$old"; else rm -f "$old"; fi
done

if [[ -f $done_stamp && -x $rootfs/lib/systemd/systemd ]]; then
  say "reusing the finished rootfs $rootfs"
else
  remove_rootfs "$rootfs"
  rm -f "$done_stamp"
  mkdir -p "$rootfs"
  say "debootstrap $SUITE (minbase + ${#PACKAGES[@]} packages) from $MIRROR into $rootfs"
  log="$CACHE/debootstrap-$recipe_hash.log"
  include=$(IFS=,; echo "${PACKAGES[*]}")
  if ! debootstrap --variant=minbase --include="$include" --cache-dir="$CACHE/debs-$SUITE" \
      "$SUITE" "$rootfs" "$MIRROR" >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    die "debootstrap failed (full log: $log)"
  fi
  say "debootstrap done after $(( $(date +%s) - start ))s"

  say "configuring the rootfs: apt sources, masked units, clean-up"
  cat >"$rootfs/etc/apt/sources.list" <<EOF
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb $SECURITY_MIRROR $SUITE-security main
EOF
  for unit in "${MASKED_UNITS[@]}"; do
    ln -sfn /dev/null "$rootfs/etc/systemd/system/$unit"
  done
  # Docker bind-mounts its own resolv.conf, hostname and hosts; this host's must not
  # end up in the image.
  : >"$rootfs/etc/resolv.conf"
  echo localhost >"$rootfs/etc/hostname"
  # An empty machine-id: every container gets its own at boot.
  : >"$rootfs/etc/machine-id"
  ln -sfn /etc/machine-id "$rootfs/var/lib/dbus/machine-id"
  chroot "$rootfs" apt-get clean
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin \
         "$rootfs"/var/cache/debconf/*-old "$rootfs"/var/lib/dpkg/*-old \
         "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* \
         "$rootfs"/tmp/* "$rootfs"/var/tmp/* "$rootfs"/var/log/apt/* \
         "$rootfs"/var/log/bootstrap.log "$rootfs"/var/log/dpkg.log "$rootfs"/var/log/alternatives.log
  mkdir -p "$rootfs/var/lib/apt/lists/partial"
  # Empty package lists must look stale, as on a host that never ran apt-get update,
  # or apt's cache_valid_time would trust them.
  touch -d '2000-01-01' "$rootfs/var/lib/apt/lists"
  touch "$done_stamp"
fi

say "docker import + image config (ENV container=docker, STOPSIGNAL SIGRTMIN+3, CMD systemd)"
base="$IMAGE_REPO:$SUITE-$recipe_hash-rootfs"
tar --numeric-owner --xattrs -C "$rootfs" -c . | docker import - "$base" >/dev/null
build_out=$(docker build --quiet --build-arg BASE="$base" -t "$tag" -f "$HERE/Dockerfile" "$HERE" 2>&1) || {
  printf '%s\n' "$build_out" >&2
  die "docker build of the image config failed"
}
docker rmi "$base" >/dev/null 2>&1 || true
docker tag "$tag" "$latest"

# Tags of older recipes go; their image stays while a container still uses it and
# `docker image prune` reclaims it after.
docker image ls --format '{{.Repository}}:{{.Tag}}' "$IMAGE_REPO" |
  grep -E "^$IMAGE_REPO:$SUITE-[0-9a-f]{12}\$" | grep -vxF "$tag" |
  while read -r stale; do docker rmi "$stale" >/dev/null 2>&1 || true; done || true

size=$(docker image inspect -f '{{.Size}}' "$tag" | awk '{printf "%.0f MB", $1/1e6}')
say "built $tag (= $latest) in $(( $(date +%s) - start ))s, $size"
