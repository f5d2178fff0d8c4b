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
f=$(mktemp /tmp/cbloop.XXXXXX)
truncate -s $((MB + 1))M "$f"
TGT4K=$(losetup -f --show --sector-size 4096 "$f")
SRC=$(cb_loop $(((MB + 1) << 20)))
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
check "aligned job on the 4Kn target" dmsetup create cb \
	--table "0 $N cowbackup $SRC $TGT4K full 1 cluster_size 8"
check_eq "the job's device has 4 KiB logical blocks" 4096 \
	"$(blockdev --getss /dev/mapper/cb)"
cb_check_done "it completes" cb completed 120
check_eq "no copy errors" 0 "$(cb_get cb errors)"
check_eq "the 4Kn target equals the source" \
	"$(cb_md5 "$SRC" $N)" "$(cb_md5 "$TGT4K" $N)"
dmsetup remove cb

ko=$REPO/kernel/dm-cowbackup.ko
check "the module is an alias of dm-cowbackup-snap (view tables autoload it)" \
	bash -c "modinfo -F alias '$ko' | grep -qx dm-cowbackup-snap"

losetup -d "$TGT4K"
cb_check_klog
cb_cleanup
done_testing
