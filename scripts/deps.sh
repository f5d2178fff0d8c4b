#!/bin/sh
# Install every Debian package the build, the tests and the demo need.
# Idempotent: packages already present are left alone.
#   scripts/deps.sh               what make, check, bench, demo and deb need
#   scripts/deps.sh debug-kernel  also what building a kernel needs (make
#                                 check-debug, scripts/debug-kernel.sh)
set -eu

PKGS="build-essential pkg-config bc kmod cpio xz-utils
linux-image-amd64 linux-headers-amd64 linux-source-6.1
libdevmapper-dev libblkid-dev libdeflate-dev libzstd-dev zlib1g-dev
qemu-system-x86 qemu-utils busybox-static nbd-client
dmsetup lvm2 udev fio e2fsprogs util-linux fdisk openssl
sparse clang libclang-rt-14-dev gnuplot-nox
dkms debhelper dh-dkms dpkg-dev lintian python3-docutils man-db
bash-completion"
[ "${1:-}" = debug-kernel ] && PKGS="$PKGS flex bison libelf-dev libssl-dev"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing="$missing $p"
done
[ -z "$missing" ] && { echo "deps: all packages present"; exit 0; }

if [ "$(id -u)" != 0 ]; then
	echo "deps: missing packages:$missing (run 'make deps' as root)" >&2
	exit 1
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
