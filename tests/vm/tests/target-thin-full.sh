#!/bin/bash
# Target full (issue 12, section 2): the target is a dm-thin volume whose
# pool runs out of data space (error_if_no_space) during a job.
# - sync=none: copy-outs only. The first one the pool cannot take breaks
#   the job (cow_error break_snapshot): failed, with the error counted;
#   the guest writes succeed and the source holds exactly what was
#   written, and stays writable.
# - sync=full, on_target_error stop: the background copy meets the full
#   pool and the job pauses; the source stays writable (a write to
#   clusters already copied); the pool grows, `resume` completes the job,
#   and the target is the point in time.
# disks: 0
# mem: 1G
# timeout: 420
. "$(dirname "$0")/../lib.sh"
. "$REPO/tests/vm/tests/data/target-lib.sh"

cb_brd 3 48 || bail "cannot load brd"
modprobe dm-thin-pool || bail "no dm-thin-pool"
SRC=/dev/ram0
S=$(cb_size $SRC)
POOL_SMALL=$((8 << 11))		# 8 MiB of data: 128 blocks of 64 KiB
trap 'cb_cleanup' EXIT

# pool DATA_SECTORS: a fresh pool on ram1 (data) and ram2 (metadata),
# one thin volume "thin" of the source's size.
pool() {
	dmsetup remove thin 2>/dev/null
	dmsetup remove pool 2>/dev/null
	dmsetup remove pooldata 2>/dev/null
	dd if=/dev/zero of=/dev/ram2 bs=4K count=1 oflag=direct status=none &&
		dmsetup create pooldata --table "0 $1 linear /dev/ram1 0" &&
		dmsetup create pool --table "0 $1 thin-pool /dev/ram2 /dev/mapper/pooldata 128 0 1 error_if_no_space" &&
		dmsetup message pool 0 "create_thin 0" &&
		dmsetup create thin --table "0 $S thin /dev/mapper/pool 0"
}
# grow_pool DATA_SECTORS
grow_pool() {
	dmsetup suspend pool &&
		dmsetup reload pooldata --table "0 $1 linear /dev/ram1 0" &&
		dmsetup resume pooldata &&
		dmsetup reload pool --table "0 $1 thin-pool /dev/ram2 /dev/mapper/pooldata 128 0 1 error_if_no_space" &&
		dmsetup resume pool
}
pool_status() { dmsetup status pool | cut -d' ' -f4-; }

$CB_PY stamp $SRC --seed 61

# ---- sync=none: copy-outs into a pool that fills ---------------------------
pool $POOL_SMALL || bail "cannot create the thin pool"
check "a sync=none job onto the thin volume" cb_create cb $SRC /dev/mapper/thin none
# 16 MiB of new data: 256 first writes, 256 copy-outs; the pool takes 128.
dd if=/dev/urandom of=/tmp/new bs=1M count=16 status=none
check "16 MiB of guest writes succeed though the pool fills" \
	dd if=/tmp/new of=/dev/mapper/cb bs=64K oflag=direct status=none
diag "pool: $(pool_status)"
check_eq "the job failed (cow_error break_snapshot)" failed "$(cb_get cb state)"
check "the error is counted" test "$(cb_get cb errors)" -ge 1
check_eq "the source holds the guest's writes" "$(md5sum </tmp/new | cut -d' ' -f1)" \
	"$(dd if=$SRC bs=1M count=16 iflag=direct status=none | md5sum | cut -d' ' -f1)"
check "the source stays writable" \
	dd if=/dev/urandom of=/dev/mapper/cb bs=64K count=16 seek=512 oflag=direct status=none
check "the job device goes" dmsetup remove cb

# ---- sync=full, on_target_error stop: pause, grow, resume -------------------
$CB_PY stamp $SRC --seed 62
PIT=$(cb_md5 $SRC)
pool $POOL_SMALL || bail "cannot create the thin pool"
check "a sync=full job, on_target_error stop" \
	cb_create cb $SRC /dev/mapper/thin full on_target_error stop
check_eq "the job pauses when the pool is full" paused "$(cb_wait cb paused 120)"
diag "status: $(cb_status cb); pool: $(pool_status)"
check "errors are counted" test "$(cb_get cb errors)" -ge 1
# Clusters 0..15 were copied before the pool filled: writing them needs no
# copy-out, so the write neither fails nor breaks the job.
check "the source stays writable" \
	dd if=/dev/urandom of=/dev/mapper/cb bs=64K count=16 oflag=direct status=none
check_eq "... and the job is still paused" paused "$(cb_get cb state)"
check "the pool grows to the volume's size" grow_pool "$S"
check "resume" cb_msg cb resume
check_eq "the job completes" completed "$(cb_wait cb completed 120)"
check "the job device goes" dmsetup remove cb
check_eq "the target is the point in time" "$PIT" "$(cb_md5 /dev/mapper/thin)"
done_testing
