#!/bin/bash
# Device limits of both devices count. A target with 4 KiB logical blocks
# (4Kn) is stacked into the job's limits: a table whose length is not a
# multiple of 4 KiB is refused at load instead of failing its last cluster
# forever, for the job and for the view; an aligned job on a 4Kn target
# completes with the exact image. The module answers to the view's name.
# disks: 0
# mem: 1G
# timeout: 240
. "$(dirname "$0")/../lib.sh"
. "$REPO/tests/vm/tests/data/target-lib.sh"

MB=16
ODD=$(((MB << 11) + 2))		# 1 KiB past a 4 KiB boundary
SRC=$(cb_loop $(((MB + 1) << 20)))
f=$(mktemp /tmp/cbloop.XXXXXX)
truncate -s $((MB + 1))M "$f"
TGT4K=$(losetup -f --show --sector-size 4096 "$f") ||
	bail "cannot make a loop device with 4 KiB sectors"
diag "source $SRC (512 B sectors), 4Kn target $TGT4K"
check_eq "target has 4 KiB logical blocks" 4096 "$(blockdev --getss "$TGT4K")"

cb_expect_fail "job of $ODD sectors on a 4Kn target is refused" \
	'logical block' dmsetup create cb \
	--table "0 $ODD cowbackup $SRC $TGT4K full"
check_fail "no device was left behind" dmsetup info cb
cb_expect_fail "view of $ODD sectors on a 4Kn target is refused" \
	'logical block' dmsetup create cbv --readonly \
	--table "0 $ODD cowbackup-snap $SRC $TGT4K"

N=$((MB << 11))
$CB_PY stamp "$SRC" --seed 601
dmsetup create cb --table "0 $N cowbackup $SRC $TGT4K full 2 cluster_size 8" ||
	bail "aligned job on the 4Kn target refused"
ok "aligned job on the 4Kn target"
check_eq "the job's device has 4 KiB logical blocks" 4096 \
	"$(blockdev --getss /dev/mapper/cb)"
cb_check_done "it completes" cb completed 120
check_eq "no copy errors" 0 "$(cb_get cb errors)"
check_eq "the 4Kn target equals the source" \
	"$(cb_md5 "$SRC" $N)" "$(cb_md5 "$TGT4K" $N)"
dmsetup remove cb

# Autoload: the kernel asks modprobe for "dm-cowbackup-snap" when a view
# table names a target nobody registered. Give modprobe a module tree in
# /tmp (the guest's /lib/modules is read-only) and unload the module.
ver=$(uname -r)
root=/tmp/cbmodroot
mkdir -p "$root/lib/modules/$ver/extra"
cp "$REPO/kernel/dm-cowbackup.ko" "$root/lib/modules/$ver/extra/"
depmod -b "$root" "$ver" 2>/dev/null
printf '#!/bin/sh\nexec /sbin/modprobe -d %s "$@"\n' "$root" >/tmp/cbmodprobe
chmod +x /tmp/cbmodprobe
saved=$(cat /proc/sys/kernel/modprobe)
echo /tmp/cbmodprobe >/proc/sys/kernel/modprobe
check "unload the module" rmmod dm_cowbackup
check "a view table loads the module by its alias" \
	dmsetup create cbv --readonly --table "0 $N cowbackup-snap $SRC $TGT4K"
check "the module is loaded again" grep -q '^dm_cowbackup ' /proc/modules
check_eq "the view has no job" nojob "$(dmsetup status cbv | cut -d' ' -f4)"
dmsetup remove cbv
echo "$saved" >/proc/sys/kernel/modprobe

losetup -d "$TGT4K"
cb_check_klog
cb_cleanup
done_testing
