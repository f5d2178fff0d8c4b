#!/bin/bash
# A job's target is flushed before `completed` is reported (issue 12,
# section 2): dm-log-writes sits under the TARGET and logs every write in
# the order it became durable (a write is logged only at the next
# REQ_PREFLUSH, a FUA write as it completes). A sync=full job makes
# copy-outs while paused, is resumed, and the moment its status first says
# `completed` a mark goes into the log. Before that mark the log must hold
# every copied sector (each cluster once) and, after the last of those
# writes, a FLUSH entry; after the mark, no write. The target is then the
# point-in-time image byte for byte. Then a completion flush that fails
# (dm-flakey under the target) fails the job: never `completed`.
# disks: 3
# disk-size: 64M
# timeout: 180
. "$(dirname "$0")/../lib.sh"
. "$REPO/tests/vm/tests/data/target-lib.sh"

REPLAY_PY="$REPO/tests/vm/tests/data/log-replay.py"
read -r -a D <<<"$COWBACKUP_DISKS"
TGT=${D[1]}
LOG=${D[2]}
CS=128
trap cb_cleanup EXIT

modprobe dm-log-writes || bail "no dm-log-writes module"
# The log holds every copied sector plus a header sector per write: the
# source is half a disk, so the log disk has room for all of it.
S=$(($(cb_size "${D[0]}") / 2))
dmsetup create fo-src --table "0 $S linear ${D[0]} 0" || bail "cannot create the source"
SRC=/dev/mapper/fo-src
$CB_PY stamp "$SRC" --seed 41 || bail "cannot stamp $SRC"

check "dm-log-writes under the target" \
	dmsetup create fo-lw --table "0 $(cb_size "$TGT") log-writes $TGT $LOG"
dmsetup message fo-lw 0 mark start
check "a paused sync=full job onto it" \
	cb_create fo-cb "$SRC" /dev/mapper/fo-lw full paused
# Copy-outs of clusters 10..19 and 300..309 (through the job device).
check "first writes while paused" bash -c "
	$CB_PY stamp /dev/mapper/fo-cb --seed 42 --first $((10 * CS)) --count $((10 * CS)) &&
	$CB_PY stamp /dev/mapper/fo-cb --seed 43 --first $((300 * CS)) --count $((10 * CS))"
check_eq "20 copy-outs" 20 "$(cb_get fo-cb cow)"
check "resume" cb_msg fo-cb resume
# Mark the log the moment the status first says completed.
st=
limit=$(($(date +%s) + $(scaled 60)))
while [ "$(date +%s)" -lt "$limit" ]; do
	st=$(cb_get fo-cb state)
	[ "$st" = running ] || break
done
dmsetup message fo-lw 0 mark completed
check_eq "the job completed" completed "$st"
diag "status: $(cb_status fo-cb)"
check "remove the job" dmsetup remove fo-cb
check "remove dm-log-writes" dmsetup remove fo-lw
blockdev --flushbufs "$LOG"
python3 "$REPLAY_PY" list "$LOG" >/tmp/fo.entries || bail "cannot read the log"
diag "$(wc -l </tmp/fo.entries) log entries"

# Fields: index flags sector nr_sectors [mark].
read -r mark lastw lastf wsum after <<<"$(awk '
	BEGIN { m = lastw = lastf = -1 }
	$5 == "completed" && m < 0 { m = $1; next }
	$2 ~ /MARK/ { next }
	m < 0 && $4 > 0 && $2 !~ /DISCARD/ { lastw = $1; wsum += $4 }
	m < 0 && $2 ~ /FLUSH/ { lastf = $1 }
	m >= 0 && $4 > 0 { after++ }
	END { printf "%d %d %d %d %d\n", m, lastw, lastf, wsum, after }
' /tmp/fo.entries)"
diag "mark 'completed' at entry $mark; last write before it at $lastw; last FLUSH before it at $lastf; $wsum sectors written before it; $after writes after it"
check "the log has the 'completed' mark" test "$mark" -ge 0
check_eq "every sector was written to the target before completed" "$S" "$wsum"
check "a FLUSH follows the last copy write and precedes completed" \
	test "$lastw" -ge 0 -a "$lastf" -gt "$lastw"
check_eq "no write to the target after completed" 0 "$after"
diag "entries around the end: $(awk -v m="$mark" '$1 >= m - 4 && $1 <= m + 2' /tmp/fo.entries | tr '\n' ';')"
check "the target is the point-in-time image" \
	$CB_PY verify "$TGT" --seed 41 --count "$S"

check "the log never ran out of space" \
	bash -c "! dmesg | grep -q 'Ran out of space on the logdev'"

# --- a failed flush fails the job -----------------------------------------
# Every cluster but the last is copied while the job is paused; then the
# target's table puts dm-flakey (error_writes, always down) under those
# copied clusters and keeps the last one linear: the last copy-out
# succeeds, the completion flush (sent to every segment) fails.
modprobe dm-flakey || bail "no dm-flakey module"
T=$(cb_size "$TGT")
L=$((S - CS))
$CB_PY stamp "$SRC" --seed 44 || bail "cannot stamp $SRC"
check "target as a linear device" \
	dmsetup create fo-t --table "0 $T linear $TGT 0"
check "a paused sync=full job onto it" \
	cb_create fo-cb "$SRC" /dev/mapper/fo-t full paused
check "first writes to every cluster but the last" \
	$CB_PY stamp /dev/mapper/fo-cb --seed 45 --count "$L"
check_eq "still paused, the last cluster unsettled" \
	"paused $((S / CS - 1))" "$(cb_get fo-cb state) $(cb_get fo-cb settled)"
check "flakey error_writes under the copied clusters" bash -c "
	dmsetup suspend fo-t &&
	dmsetup reload fo-t --table '0 $L flakey $TGT 0 0 3600 1 error_writes
$L $((T - L)) linear $TGT $L' &&
	dmsetup resume fo-t"
mark=$(cb_kmsg_mark)
check "the last first write succeeds" \
	$CB_PY stamp /dev/mapper/fo-cb --seed 46 --first "$L" --count "$CS"
st=$(cb_wait fo-cb 'completed|failed' "$(scaled 30)")
check_eq "the failed flush fails the job (not completed)" failed "$st"
check_eq "the error is counted" 1 "$(cb_get fo-cb errors)"
diag "status: $(cb_status fo-cb)"
klog_has() { cb_kmsg_since "$mark" | grep -q "$1"; }
check "the kernel says why" klog_has 'flushing the target failed'
diag "$(cb_kmsg_since "$mark" | grep cowbackup)"
check "the source holds the guest's writes" bash -c "
	$CB_PY verify $SRC --seed 45 --count $L &&
	$CB_PY verify $SRC --seed 46 --first $L --count $CS"
check "the job device goes" dmsetup remove fo-cb
check "the target device goes" dmsetup remove fo-t

cb_check_klog
done_testing
