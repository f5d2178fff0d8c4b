#!/bin/bash
# A mounted ext4 on an LVM LV takes writes during the backup.
#
# How the point in time is taken, the way cowbackup-ctl does it but by
# hand: the filesystem is frozen (fsfreeze -f), the checksums of every
# file are recorded (reads work while frozen), the LV's own table moves to
# a new device cbvg-lv-real and the LV's device is reloaded with a
# cowbackup table whose source is cbvg-lv-real; suspend --nolockfs (the fs
# is already frozen) and resume make it live, then the fs is thawed. So
# the image on the target is exactly the frozen filesystem. A writer keeps
# creating, rewriting and deleting files throughout. After completion the
# LV gets its original table back (the backup is "finished"), `e2fsck -fn`
# of the target is clean, and its files match the frozen checksums.
# disks: 2
# disk-size: 128M
# mem: 1G
# timeout: 420
. "$(dirname "$0")/../lib.sh"
. "$REPO/tests/vm/tests/data/target-lib.sh"

read -r -a D <<<"$COWBACKUP_DISKS"
PV=${D[0]}
TGT=${D[1]}
MNT=/tmp/cbmnt
TMNT=/tmp/cbtgt
LV=/dev/mapper/cbvg-lv
mkdir -p $MNT $TMNT

check "pvcreate/vgcreate/lvcreate" bash -c "
	pvcreate -q $PV && vgcreate -q cbvg $PV &&
	lvcreate -q -y -L 96M -n lv cbvg"
check "mkfs.ext4 on the LV" mkfs.ext4 -q -F $LV
check "mount" mount $LV $MNT

# Some files of assorted sizes.
mkdir -p $MNT/d1 $MNT/d2/sub
for i in $(seq 1 40); do
	dd if=/dev/urandom of=$MNT/d$((i % 2 + 1))/f$i bs=1k \
		count=$(((i * 37) % 700 + 1)) status=none
done
sync

# The writer: new files, rewrites in place, appends and deletions.
writer() {
	local n=0
	while [ ! -e /tmp/cbstop ]; do
		n=$((n + 1))
		dd if=/dev/urandom of=$MNT/d2/sub/new$((n % 30)) bs=4k \
			count=$((n % 50 + 1)) conv=fsync status=none
		dd if=/dev/urandom of=$MNT/d1/f$((n % 40 + 1)) bs=4k count=1 \
			seek=$((n % 7)) conv=notrunc,fsync status=none 2>/dev/null
		echo "line $n" >>$MNT/log
		[ $((n % 9)) = 0 ] && rm -f $MNT/d2/f$((n % 40 + 1))
		echo $n >/tmp/cbwriter.count
	done
}
rm -f /tmp/cbstop /tmp/cbwriter.count
writer &
wpid=$!
sleep 2

# --- the point in time -------------------------------------------------------------
# 8 MiB/s: the 96 MiB copy takes 12 s. Beyond timeout scale x4 (the debug
# kernel) the dm calls and the 3 s pause below outlast that, so 1 MiB/s.
SPEED=8388608
[ "$SCALE" -gt 4 ] && SPEED=1048576
TABLE=$(dmsetup table cbvg-lv)
S=$(cb_size $LV)
diag "LV table: $TABLE"
check "freeze the filesystem" fsfreeze -f $MNT
(cd $MNT && find . -type f | LC_ALL=C sort | xargs -d '\n' sha256sum) >/tmp/pit.sums
check "move the LV's table to cbvg-lv-real" \
	dmsetup create cbvg-lv-real --table "$TABLE"
check "load the cowbackup table into the LV" \
	dmsetup load cbvg-lv --table "0 $S cowbackup /dev/mapper/cbvg-lv-real $TGT full 2 speed $SPEED"
check "suspend --nolockfs + resume: the table goes live" \
	bash -c "dmsetup suspend --nolockfs cbvg-lv && dmsetup resume cbvg-lv"
check "thaw" fsfreeze -u $MNT
diag "$(wc -l </tmp/pit.sums) files at the point in time"
c0=$(cat /tmp/cbwriter.count)

sleep 3
check "writes go on during the backup" \
	test "$(cat /tmp/cbwriter.count)" -gt "$c0"
check_eq "backup still running while the fs is written" running \
	"$(cb_get cbvg-lv state)"
cb_check_done "backup completes" cbvg-lv completed $((SCALE > 4 ? 360 : 180))
diag "status: $(cb_status cbvg-lv)"
check "copy-on-write happened ($(cb_get cbvg-lv cow))" \
	test "$(cb_get cbvg-lv cow)" -gt 0
touch /tmp/cbstop
wait $wpid
diag "writer did $(cat /tmp/cbwriter.count) rounds"

# --- finish: the LV gets its own table back, still mounted ---------------------------
check "restore the LV's original table" bash -c "
	dmsetup load cbvg-lv --table '$TABLE' &&
	dmsetup suspend cbvg-lv && dmsetup resume cbvg-lv &&
	dmsetup remove cbvg-lv-real"
echo after >$MNT/after-finish
sync
check "live fs still works after finishing" \
	test "$(cat $MNT/after-finish)" = after

# --- the backup ------------------------------------------------------------------------
out=$(e2fsck -fn "$TGT" 2>&1)
rc=$?
check_eq "e2fsck -fn of the target is clean" 0 $rc
[ $rc -ne 0 ] && diag "$out"
check "mount the target read-only" mount -o ro,noload "$TGT" $TMNT
check "every file on the target matches the frozen checksums" \
	bash -c "cd $TMNT && sha256sum --quiet -c /tmp/pit.sums"
check_eq "the target has exactly the frozen set of files" \
	"$(cut -c67- /tmp/pit.sums | md5sum)" \
	"$(cd $TMNT && find . -type f | LC_ALL=C sort | md5sum)"
check "the live fs has moved on (the test is meaningful)" \
	bash -c "! (cd $MNT && sha256sum --quiet -c /tmp/pit.sums >/dev/null 2>&1)"
umount $TMNT
umount $MNT
out=$(e2fsck -fn $LV 2>&1)
check_eq "e2fsck -fn of the live LV is clean" 0 $?

vgchange -q -an cbvg >/dev/null 2>&1
cb_check_klog
cb_cleanup
done_testing
