#!/bin/bash
# The cowbackup-snap view over a sync=full job: during the copy (readers
# racing guest writes and the background copier) and after completion
# (the view then reads the target only, whatever the origin holds). Reads
# fail with EIO when the job is cancelled, failed, removed under an open
# view, or not there; a view made before its job is clean; rmmod is
# refused while a view exists.
# disks: 0
# mem: 1G
# timeout: 360
. "$(dirname "$0")/../lib.sh"
. "$REPO/tests/vm/tests/data/target-lib.sh"

# Loop devices over tmpfs: unlike brd they take discards, so the
# writers' discards are copy-on-write triggers too.
SRC=$(cb_loop $((32 << 20)))
TGT=$(cb_loop $((32 << 20)))
DM=/dev/mapper/cb
VIEW=/dev/mapper/cbv
S=$(cb_size "$SRC")
M=$((S * 512))
LOG=/tmp/cbvf

# --- during the copy ------------------------------------------------------------
$CB_PY stamp "$SRC" --seed 401 --holes 4
$CB_PY stamp "$TGT" --seed 99
rm -rf "${LOG:?}".*
check "create sync=full, paused" \
	cb_create cb "$SRC" "$TGT" full cluster_size 16 paused
check "create the view" cb_view_create cbv "$SRC" "$TGT"
# The writers keep off the last quarter: the copier still has work there
# when they stop.
$CB_PY writers $DM --jobs 3 --seconds 5 --seed 401 \
	--limit-sectors $((S * 3 / 4)) --log $LOG.1 &
w=$!
$CB_PY reader $VIEW --seed 401 --holes 4 --seconds 5 --rseed 1 >/tmp/cbr1 &
r1=$!
$CB_PY reader $VIEW --seed 401 --holes 4 --seconds 5 --rseed 2 \
	--max-len 8192 >/tmp/cbr2 &
r2=$!
# The copier starts once the writers write, at a speed that outlasts them
# and the readers (24 s for the device under TCG): the job is still
# copying when the view is checked whole below.
cb_wait_writers $LOG.1 30
cb_msg cb speed $((M / $(cb_tcg_secs 24)))
cb_msg cb resume
wait $w
rcw=$?
wait $r1
rc1=$?
wait $r2
rc2=$?
diag "$(cat /tmp/cbr1 /tmp/cbr2)"
check_eq "writers on the origin: no I/O errors" 0 $rcw
check_eq "view readers during copy and writes saw only PIT data" "0 0" "$rc1 $rc2"
st=$(cb_status cb)
diag "status: $st"
check "job still copying" \
	bash -c "dmsetup status cb | grep -q ' cowbackup running '"
check "the whole view equals the PIT image mid-copy" \
	$CB_PY verify $VIEW --seed 401 --holes 4
cb_msg cb speed 0
cb_check_done "job completes" cb completed 60
check "view equals the PIT image after completion" \
	$CB_PY verify $VIEW --seed 401 --holes 4
check "origin holds exactly the writes" \
	$CB_PY check-source "$SRC" --seed 401 --holes 4 --log $LOG.1
$CB_PY stamp $DM --seed 402
check "after completion the view reads the target only (origin rewritten)" \
	$CB_PY verify $VIEW --seed 401 --holes 4
check "target equals the PIT image" $CB_PY verify "$TGT" --seed 401 --holes 4

# --- job removed under an open view ---------------------------------------------
exec 3<$VIEW
check "remove the job while the view is open" dmsetup remove cb
check "view read fails with EIO once the job is gone" \
	$CB_PY readerr $VIEW
exec 3<&-
diag "view status without job: $(dmsetup status cbv)"
check "remove the view" dmsetup remove cbv

# --- cancel ------------------------------------------------------------------------
$CB_PY stamp "$SRC" --seed 403
check "create at 1/16 device per second" \
	cb_create cb "$SRC" "$TGT" full speed $((M / 16))
check "create the view" cb_view_create cbv "$SRC" "$TGT"
check "view equals the PIT image" $CB_PY verify $VIEW --seed 403
check "cancel" cb_msg cb cancel
check "view read of an early (copied) cluster fails with EIO" \
	$CB_PY readerr $VIEW --offset 0
check "view read of a late (uncopied) cluster fails with EIO" \
	$CB_PY readerr $VIEW --offset $((M - 65536))
dmsetup remove cbv
dmsetup remove cb

# --- failed job ----------------------------------------------------------------------
cb_linear cbt "$TGT"
N=$(cb_size "$TGT")
dmsetup reload cbt --table "0 $((N / 2)) linear $TGT 0
$((N / 2)) $((N / 2)) error"
dmsetup resume cbt
check "create over a half-broken target (on_target_error report)" \
	cb_create cb "$SRC" /dev/mapper/cbt full
st=$(cb_wait cb 'completed|failed|cancelled' 60)
check_eq "job failed" failed "$st"
check "create the view on the failed job" \
	cb_view_create cbv "$SRC" /dev/mapper/cbt
check "view read of a failed job fails with EIO" $CB_PY readerr $VIEW
dmsetup remove cbv
dmsetup remove cb
dmsetup remove cbt

# --- view made before the job -----------------------------------------------------
$CB_PY stamp "$SRC" --seed 404
check "create a view with no job" cb_view_create cbv "$SRC" "$TGT"
diag "view status without job: $(dmsetup status cbv)"
check "view read without a job fails with EIO" $CB_PY readerr $VIEW
check "rmmod refused while a view exists" \
	bash -c '! rmmod dm_cowbackup 2>/dev/null'
check "create the job after the view" cb_create cb "$SRC" "$TGT" full paused
if $CB_PY readerr $VIEW >/dev/null; then
	ok "view made before the job: reads fail with EIO (bound at creation)"
else
	check "view made before the job: reads show the PIT image" \
		$CB_PY verify $VIEW --seed 404
fi
check "remove the job" dmsetup remove cb
check "view read fails again without the job" $CB_PY readerr $VIEW
check "remove the view" dmsetup remove cbv
check "rmmod once no view or job is left" rmmod dm_cowbackup
insmod "$REPO/kernel/dm-cowbackup.ko"

cb_check_klog
cb_cleanup
done_testing
