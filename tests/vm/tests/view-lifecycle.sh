#!/bin/bash
# A cowbackup-snap read of uncopied clusters holds them on the source while
# it is in flight. The hold must outlive every change of the job under it:
# the job's table swapped for dm-linear, `dmsetup remove` of the job, and
# the job completing. In each case a write to the held cluster follows the
# change at once; the read, slowed down by a 3 s dm-delay under the source,
# must return the point-in-time data or fail with EIO, never the new data.
# A read that straddles completion of an untouched cluster must succeed.
# disks: 0
# mem: 1G
# timeout: 300
. "$(dirname "$0")/../lib.sh"
. "$REPO/tests/vm/tests/data/target-lib.sh"

MB=8
LOOP=$(cb_loop $((MB << 20)))
TGT=$(cb_loop $((MB << 20)))
S=$(cb_size "$LOOP")
TOTAL=$(cb_clusters "$S" 128)
SRC=/dev/mapper/cbdelay
VIEW=/dev/mapper/cbv
K=37			# the cluster read through the view
NEW=/tmp/cbvl.new	# 4 KiB of new data for cluster K
head -c 4096 /dev/zero | tr '\0' 'N' >$NEW

# delay_reads MS: reads of the source take MS, writes none.
delay_reads() {
	local t="0 $S delay $LOOP 0 $1 $LOOP 0 0"
	dmsetup suspend cbdelay && dmsetup reload cbdelay --table "$t" &&
		dmsetup resume cbdelay
}

# pit_md5: md5 of cluster K in the point-in-time image.
pit_md5() {
	dd if="$1" iflag=direct bs=64K skip=$K count=1 status=none | md5sum |
		cut -d' ' -f1
}

# slow_view_read: read cluster K through the view in the background;
# its data goes to /tmp/cbvl.read, its exit status to /tmp/cbvl.rc.
slow_view_read() {
	rm -f /tmp/cbvl.read /tmp/cbvl.rc
	(
		dd if=$VIEW iflag=direct bs=64K skip=$K count=1 \
			of=/tmp/cbvl.read status=none
		echo $? >/tmp/cbvl.rc
	) &
	reader=$!
	sleep 1	# the read is now held in dm-delay
}

# write_new DEV: 4 KiB of new data at the start of cluster K.
write_new() {
	dd if=$NEW of="$1" oflag=direct bs=4K seek=$((K * 16)) count=1 \
		conv=notrunc status=none
}

# judge DESC PIT_MD5 ALLOW_EIO: the view read returned the PIT data, or
# (when allowed) failed; new data with success is always wrong.
judge() {
	local desc=$1 pit=$2 allow_eio=$3 rc got
	wait "$reader"
	rc=$(cat /tmp/cbvl.rc)
	got=$(md5sum </tmp/cbvl.read 2>/dev/null | cut -d' ' -f1)
	if [ "$rc" = 0 ] && [ "$got" = "$pit" ]; then
		ok "$desc"
		diag "  the read returned the point-in-time data"
	elif [ "$rc" != 0 ] && [ "$allow_eio" = 1 ]; then
		ok "$desc"
		diag "  the read failed (dd rc $rc)"
	elif [ "$rc" = 0 ]; then
		not_ok "$desc" "the view read returned data that is not the point in time (md5 $got, PIT $pit)"
	else
		not_ok "$desc" "the view read failed (dd rc $rc) although nothing was written under it"
	fi
}

setup() {
	$CB_PY stamp "$LOOP" --seed "$1"
	$CB_PY stamp "$TGT" --seed 99
	dmsetup create cbdelay --table "0 $S delay $LOOP 0 0 $LOOP 0 0"
	PIT=$(pit_md5 "$LOOP")
}

teardown() {
	dmsetup remove cbv 2>/dev/null
	dmsetup remove cb 2>/dev/null
	dmsetup remove cbdelay
}

# --- 1. the job's table swapped for dm-linear under a view read ----------
setup 401
check "sync=none job on the delayed source" cb_create cb $SRC "$TGT" none
check "view" cb_view_create cbv $SRC "$TGT"
delay_reads 3000
slow_view_read
check "swap the job's table for dm-linear" \
	bash -c "dmsetup reload cb --table '0 $S linear $SRC 0' && dmsetup resume cb"
check "write 4 KiB to the held cluster through the new table" \
	write_new /dev/mapper/cb
judge "view read across a table swap is point-in-time or EIO" "$PIT" 1
delay_reads 0
teardown

# --- 2. dmsetup remove of the job under a view read ----------------------
setup 402
check "sync=none job on the delayed source" cb_create cb $SRC "$TGT" none
check "view" cb_view_create cbv $SRC "$TGT"
delay_reads 3000
slow_view_read
check "remove the job" dmsetup remove cb
check "write 4 KiB to the held cluster of the source" write_new $SRC
judge "view read across dmsetup remove is point-in-time or EIO" "$PIT" 1
delay_reads 0
teardown

# --- 3. the job completes under a view read -------------------------------
setup 403
check "paused sync=top job on the delayed source" \
	cb_create cb $SRC "$TGT" top paused
check "view" cb_view_create cbv $SRC "$TGT"
delay_reads 3000
slow_view_read
check "skip every cluster: the job completes" cb_msg cb skip 0 "$TOTAL"
check_eq "job completed under the read" completed "$(cb_get cb state)"
judge "view read straddling completion succeeds with the PIT data" "$PIT" 0

# Completion while held, then a write: the write must wait for the read.
slow_view_read
check "write 4 KiB to the held cluster after completion" \
	write_new /dev/mapper/cb
judge "a write after completion waits for the view read's hold" "$PIT" 0
delay_reads 0
teardown

cb_check_klog
cb_cleanup
done_testing
