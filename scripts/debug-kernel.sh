#!/bin/bash
# Build (or reuse) the debug kernel of `make check-debug`: Debian's
# linux-source-6.1 with a small guest config plus KASAN, lockdep, KFENCE,
# DEBUG_OBJECTS, DEBUG_LIST, kmemleak and friends, under its own version
# suffix (-cbdebug) so it never collides with the distribution kernel.
#
#   scripts/debug-kernel.sh          build or reuse, install, print "VER SRCDIR"
#   scripts/debug-kernel.sh --dir    print the cache directory only
#
# The build takes 40+ minutes on 2 cores, so it is cached outside the
# checkout, in $COWBACKUP_DEBUG_CACHE (default /var/cache/dm-cowbackup)
# under kernel-<hash of the config, the source edits and the tarball>; a
# changed config is a new directory. "Install" copies the image to
# /boot/vmlinuz-VER and the modules to /lib/modules/VER, without the
# `build` link, so that scripts/kdir.sh and tests/vm/run never pick this
# kernel on their own (its version sorts above Debian's). The module is
# built against SRCDIR explicitly. See ../shared/debug-kernel.md for the
# two TCG boot problems the source edits below avoid.
set -euo pipefail

TAR=$(ls /usr/src/linux-source-6.1.tar.xz 2>/dev/null || true)
[ -n "$TAR" ] || { echo "debug-kernel: /usr/src/linux-source-6.1.tar.xz missing (make deps)" >&2; exit 1; }
CACHE=${COWBACKUP_DEBUG_CACHE:-/var/cache/dm-cowbackup}
# The key: what decides the kernel (config() and patch_source() below) and
# the tarball, so editing comments or the install steps reuses the build.
HASH=$( { sed -n '/^config() {$/,/^build() {$/p' "$0"; stat -c '%s %Y' "$TAR"; } |
	sha256sum | cut -c1-12)
DIR=$CACHE/kernel-$HASH
SRC=$DIR/src
[ "${1:-}" = --dir ] && { echo "$DIR"; exit 0; }

config() {
	local y=(
		# boot in the bench: PVH, initramfs, devtmpfs
		PVH BLK_DEV_INITRD DEVTMPFS DEVTMPFS_MOUNT TMPFS TMPFS_POSIX_ACL
		EXT4_FS EXT4_FS_POSIX_ACL AIO IO_URING DM_UEVENT 9P_FS_POSIX_ACL
		MAGIC_SYSRQ DEBUG_FS
		# the checkers
		KASAN KASAN_GENERIC KASAN_INLINE KASAN_STACK KASAN_VMALLOC
		KFENCE PROVE_LOCKING DEBUG_ATOMIC_SLEEP DEBUG_LIST
		DEBUG_OBJECTS DEBUG_OBJECTS_WORK DEBUG_OBJECTS_TIMERS
		DEBUG_OBJECTS_FREE DEBUG_OBJECTS_RCU_HEAD
		DEBUG_OBJECTS_PERCPU_COUNTER SLUB_DEBUG DEBUG_KMEMLEAK
		DETECT_HUNG_TASK SOFTLOCKUP_DETECTOR
	)
	# Modules, because tests/vm/mkinitramfs takes them from modules.dep
	# and the tests load them with parameters.
	local m=(
		VIRTIO_PCI VIRTIO_BLK NET_9P NET_9P_VIRTIO 9P_FS
		BLK_DEV_DM DM_SNAPSHOT DM_THIN_PROVISIONING DM_FLAKEY DM_DELAY
		DM_LOG_WRITES DM_DUST DM_ZERO DM_MIRROR DM_BUFIO DM_BIO_PRISON
		DM_PERSISTENT_DATA BLK_DEV_LOOP BLK_DEV_RAM BLK_DEV_NULL_BLK
		BLK_DEV_NBD CRYPTO_CRC32C BLK_DEV_MD DM_RAID OVERLAY_FS
	)
	local n=(
		LOCALVERSION_AUTO MODVERSIONS MODULE_SIG DEBUG_INFO
		DEBUG_INFO_DWARF_TOOLCHAIN_DEFAULT DEBUG_INFO_BTF
		DEBUG_KMEMLEAK_DEFAULT_OFF
		DRM SOUND USB_SUPPORT WLAN ETHERNET HID FB SCSI ATA NFS_FS
		IPV6 NETFILTER
	)
	local args=(--set-str LOCALVERSION -cbdebug --enable DEBUG_INFO_NONE)
	local o
	for o in "${y[@]}"; do args+=(--enable "$o"); done
	for o in "${m[@]}"; do args+=(--module "$o"); done
	for o in "${n[@]}"; do args+=(--disable "$o"); done
	scripts/config "${args[@]}"
}

# Source edits for TCG (see ../shared/debug-kernel.md): PVH entry runs
# before KASAN is set up, so it must not be instrumented; the RCU-tasks
# self test's synchronous waits can hang early boot under TCG.
patch_source() {
	local pvh=arch/x86/platform/pvh/enlighten.c
	echo 'KASAN_SANITIZE := n' >>arch/x86/platform/pvh/Makefile
	# xen_cpuid_base() calls memcmp(), which is instrumented: compare the
	# "XenVMMXenVMM" signature (ebx, ecx, edx) in registers instead.
	grep -q 'u32 msr = xen_cpuid_base();' $pvh
	sed -i 's/u32 msr = xen_cpuid_base();/u32 msr = pvh_xen_cpuid_base();/' $pvh
	sed -i '/^void __init xen_prepare_pvh(void)$/i\
static u32 __init pvh_xen_cpuid_base(void)\
{\
	u32 base, eax, ebx, ecx, edx;\
\
	for (base = 0x40000000; base < 0x40010000; base += 0x100) {\
		cpuid(base, \&eax, \&ebx, \&ecx, \&edx);\
		if (ebx == 0x566e6558 \&\& ecx == 0x65584d4d \&\&\
		    edx == 0x4d4d566e \&\& eax - base >= 2)\
			return base;\
	}\
	return 0;\
}\
' $pvh
	sed -i -E '/^static void rcu_tasks_initiate_self_tests\(void\)/,/^}/{/^\s*synchronize_rcu_tasks(_rude|_trace)?\(\);/d}' \
		kernel/rcu/tasks.h
}

build() {
	local log=$DIR/build.log
	# An interrupted build (killed, machine rebooted) goes on where it
	# stopped: the tree stays once it is configured.
	if [ -f "$DIR/configured" ]; then
		echo "debug-kernel: resuming the build in $DIR (log: $log)" >&2
		cd "$SRC"
	else
		echo "debug-kernel: building in $DIR (40+ min on 2 cores; log: $log)" >&2
		rm -rf "$DIR" && mkdir -p "$DIR"
		tar -C "$DIR" -xf "$TAR"
		mv "$DIR"/linux-source-6.1 "$SRC"
		cd "$SRC"
		patch_source
		{
			make defconfig
			make kvm_guest.config
			config
			make olddefconfig
		} >"$log" 2>&1 || { echo "debug-kernel: configuring failed; see $log" >&2; exit 1; }
		touch "$DIR/configured"
	fi
	{
		nice -n 19 make -j"$(nproc)" bzImage modules
		make -s INSTALL_MOD_PATH="$DIR/root" modules_install
	} >>"$log" 2>&1 || { echo "debug-kernel: build failed; see $log" >&2; exit 1; }
	# The checkers must really be on (a dependency can drop one).
	local c
	for c in KASAN PROVE_LOCKING DEBUG_ATOMIC_SLEEP DEBUG_OBJECTS_WORK \
		KFENCE DEBUG_KMEMLEAK DEBUG_LIST; do
		grep -q "^CONFIG_$c=y" .config ||
			{ echo "debug-kernel: CONFIG_$c is not set in $SRC/.config" >&2; exit 1; }
	done
	make -s kernelrelease >"$DIR/version"
	cp arch/x86/boot/bzImage "$DIR/vmlinuz"
	touch "$DIR/done"
}

[ -f "$DIR/done" ] || build
VER=$(cat "$DIR/version")
if ! cmp -s "$DIR/vmlinuz" "/boot/vmlinuz-$VER"; then
	cp "$DIR/vmlinuz" "/boot/vmlinuz-$VER"
fi
if [ ! -d "/lib/modules/$VER/kernel" ]; then
	cp -a "$DIR/root/lib/modules/$VER" /lib/modules/
fi
rm -f "/lib/modules/$VER/build" "/lib/modules/$VER/source"
echo "$VER $SRC"
