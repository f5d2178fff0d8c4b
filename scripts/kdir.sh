#!/bin/sh
# Print the kernel build directory to build the module against:
# the running kernel's when it has one, else the newest installed Debian
# kernel that has both /boot/vmlinuz-<ver> and /lib/modules/<ver>/build.
set -eu
if [ -d "/lib/modules/$(uname -r)/build" ]; then
	echo "/lib/modules/$(uname -r)/build"
	exit 0
fi
best=""
for b in /lib/modules/*/build; do
	[ -d "$b" ] || continue
	v=${b#/lib/modules/}; v=${v%/build}
	[ -f "/boot/vmlinuz-$v" ] || continue
	best="$best$v
"
done
v=$(printf '%s' "$best" | sort -V | tail -n 1)
if [ -z "$v" ]; then
	echo "kdir: no kernel with both /boot/vmlinuz-<ver> and /lib/modules/<ver>/build; install linux-image-amd64 and linux-headers-amd64 (make deps)" >&2
	exit 1
fi
echo "/lib/modules/$v/build"
