#!/usr/bin/env bash
# Builds the systemd test image from Debian packages only (no registry is reachable):
# debootstrap a bookworm rootfs with systemd and python3, then `docker import` it.
# (docker 20.10 cannot set STOPSIGNAL on import: callers pass stop_signal SIGRTMIN+3.)
# The image is tagged with a hash of this recipe and rebuilt only when the recipe changes.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
IMAGE=${HX_TEST_IMAGE_REPO:-hx-litellm/debian-systemd}
MIRROR=${HX_DEBIAN_MIRROR:-http://deb.debian.org/debian}
CACHE=${HX_IMAGE_CACHE:-/var/cache/hx-litellm}
PACKAGES=systemd,systemd-sysv,dbus,python3,python3-apt,ca-certificates,iproute2,procps,sudo,curl,gnupg,less

recipe_hash=$(cat "$HERE/build.sh" | sha256sum | cut -c1-12)
tag="$IMAGE:bookworm-$recipe_hash"

if docker image inspect "$tag" >/dev/null 2>&1; then
  echo "image: $tag is current (recipe unchanged), skipping the build"
  docker tag "$tag" "$IMAGE:bookworm"
  exit 0
fi

echo "image: building $tag from Debian packages (debootstrap bookworm)"
start=$(date +%s)
rootfs="$CACHE/rootfs-$recipe_hash"
rm -rf "$rootfs"
mkdir -p "$rootfs"
debootstrap --variant=minbase --include="$PACKAGES" bookworm "$rootfs" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 || {
  tail -n 30 "$CACHE/debootstrap.log" >&2
  exit 1
}

# Units that have nothing to do in a container and keep it from reaching "running".
for unit in getty@tty1.service console-getty.service systemd-remount-fs.service \
            systemd-udevd.service systemd-udev-trigger.service systemd-modules-load.service \
            sys-kernel-config.mount sys-kernel-debug.mount sys-kernel-tracing.mount \
            systemd-firstboot.service systemd-hwdb-update.service; do
  ln -sf /dev/null "$rootfs/etc/systemd/system/$unit"
done
echo "deb $MIRROR bookworm main" >"$rootfs/etc/apt/sources.list"
echo "deb $MIRROR bookworm-updates main" >>"$rootfs/etc/apt/sources.list"
: >"$rootfs/etc/machine-id"
chroot "$rootfs" apt-get clean
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/*
# Empty package lists must look stale, as on a host that never ran apt-get update,
# or apt's cache_valid_time would trust them.
touch -d '2000-01-01' "$rootfs/var/lib/apt/lists"

tar -C "$rootfs" -c . | docker import \
  --change 'ENV container=docker' \
  --change 'CMD ["/lib/systemd/systemd"]' \
  - "$tag" >/dev/null
docker tag "$tag" "$IMAGE:bookworm"
rm -rf "$rootfs"
echo "image: built $tag in $(( $(date +%s) - start ))s, $(docker image inspect -f '{{.Size}}' "$tag" | awk '{printf "%.0f MB", $1/1e6}')"
