#!/bin/bash
# Error policies. Source and target are dm devices over brd whose tables
# are swapped to put an `error` segment (or dm-flakey) under a range of
# clusters, then swapped back to heal them:
# - on_target_error / on_source_error report -> failed, stop -> paused
#   with the error counted and `resume` retries, ignore -> the job keeps
#   running, retries, and completes once the device heals;
# - cow_error break_snapshot: the guest write succeeds, the job fails;
#   break_write: the guest write gets EIO, the source keeps its old data,
#   the job carries on.
# The source's data is compared after every case.
# disks: 0
# mem: 1G
# timeout: 420
. "$(dirname "$0")/../lib.sh"
. "$REPO/tests/vm/tests/data/target-lib.sh"

cb_brd 2 16 || bail "cannot load brd"
modprobe dm-flakey 2>/dev/null
N=$(cb_size /dev/ram0)
CS=128
TOTAL=$(cb_clusters "$N" $CS)
# The bad range: clusters 100..109.
BADC=100
BADN=10
A=$((BADC * CS))
L=$((BADN * CS))
SRC=/dev/mapper/cbs
TGT=/dev/mapper/cbt
DM=/dev/mapper/cb
diag "brd-backed $SRC and $TGT, $N sectors, bad clusters $BADC..$((BADC + BADN - 1))"

# Errors are also trace events; record them for the whole test.
T=/sys/kernel/tracing
[ -d $T/events ] || mount -t tracefs nodev $T 2>/dev/null
echo 1 >$T/events/cowbackup/cowbackup_error/enable 2>/dev/null
echo 1 >$T/tracing_on 2>/dev/null

# set_dev NAME RAMDEV healthy|error|flakey
set_dev() {
	local name=$1 dev=$2 mode=$3 table
	case $mode in
	healthy) table="0 $N linear $dev 0" ;;
	error) table="0 $A linear $dev 0
$A $L error
$((A + L)) $((N - A - L)) linear $dev $((A + L))" ;;
	flakey) table="0 $N flakey $dev 0 1 1" ;;
	esac
	if dmsetup info "$name" >/dev/null 2>&1; then
		dmsetup reload "$name" --table "$table" && dmsetup resume "$name"
	else
		dmsetup create "$name" --table "$table"
	fi
}

setup() {
	dmsetup remove cb 2>/dev/null
	set_dev cbs /dev/ram0 healthy
	set_dev cbt /dev/ram1 healthy
	$CB_PY stamp $SRC --seed 71
	$CB_PY stamp $TGT --seed 99
}

src_intact() {
	check "$1: source data intact" $CB_PY verify $SRC --seed 71
}

# write_at CLUSTER SEED: one 4 KiB O_DIRECT write inside that cluster.
write_at() {
	$CB_PY stamp $DM --seed "$2" --first $(($1 * CS + 16)) --count 8 2>&1
}

for side in target source; do
	if [ $side = target ]; then dev=cbt ram=/dev/ram1; else dev=cbs ram=/dev/ram0; fi
	opt=on_${side}_error

	# --- report: the job fails ------------------------------------------------
	setup
	set_dev $dev $ram error
	check "$opt report: create" cb_create cb $SRC $TGT full $opt report
	st=$(cb_wait cb 'completed|cancelled|failed' 60)
	check_eq "$opt report: job failed" failed "$st"
	check "$opt report: error counted" test "$(cb_get cb errors)" -ge 1
	set_dev $dev $ram healthy
	src_intact "$opt report"
	c=$(cb_get cb cow)
	write_at $((TOTAL - 1)) 72 >/dev/null
	check_eq "$opt report: no copy-on-write after failure" "$c" "$(cb_get cb cow)"
	check "$opt report: write after failure reaches the source" \
		$CB_PY verify $SRC --seed 72 --first $(((TOTAL - 1) * CS + 16)) --count 8
	dmsetup remove cb

	# --- stop: paused with the error recorded, resume retries ---------------
	setup
	set_dev $dev $ram error
	check "$opt stop: create" cb_create cb $SRC $TGT full $opt stop
	st=$(cb_wait cb 'paused|completed|cancelled|failed' 60)
	check_eq "$opt stop: job paused by the error" paused "$st"
	e1=$(cb_get cb errors)
	check "$opt stop: error recorded ($e1)" test "$e1" -ge 1
	check "$opt stop: bad clusters not settled" \
		test "$(cb_get cb settled)" -le $((TOTAL - BADN))
	sleep 1
	s1=$(cb_status cb)
	sleep 1
	check_eq "$opt stop: nothing moves while stopped" "$s1" "$(cb_status cb)"
	# Copy-on-write is still active while stopped (cluster 0 is far
	# from the bad range, but may have been copied already: use the
	# last cluster, copied last or not at all).
	write_at $((TOTAL - 1)) 73 >/dev/null
	check "$opt stop: guest write while stopped: old data copied out" \
		$CB_PY verify $TGT --seed 71 --first $(((TOTAL - 1) * CS)) --count $CS
	cb_msg cb resume
	st=$(cb_wait cb 'paused|completed|cancelled|failed' 60)
	check_eq "$opt stop: resume with the device still bad stops again" paused "$st"
	check "$opt stop: the retry counted another error" \
		test "$(cb_get cb errors)" -gt "$e1"
	set_dev $dev $ram healthy
	check "$opt stop: resume after healing" cb_msg cb resume
	cb_check_done "$opt stop: job completes after healing" cb completed 60
	check "$opt stop: target equals the point-in-time image" \
		$CB_PY verify $TGT --seed 71
	check "$opt stop: source holds the guest write" \
		$CB_PY verify $SRC --seed 73 --first $(((TOTAL - 1) * CS + 16)) --count 8
	dmsetup remove cb

	# --- ignore: keeps running, retries, completes once healed --------------
	setup
	set_dev $dev $ram error
	check "$opt ignore: create" cb_create cb $SRC $TGT full $opt ignore
	# Wait for progress to stall on the bad clusters.
	prev=-1
	i=0
	while [ $i -lt 60 ]; do
		sleep 1
		cur=$(cb_get cb settled)
		[ "$cur" = "$prev" ] && break
		prev=$cur
		i=$((i + 1))
	done
	diag "$opt ignore: stalled at $(cb_status cb)"
	# Merged copies may keep a few good neighbours of the bad clusters
	# back; the bad ones themselves can never settle.
	check "$opt ignore: the rest settled, the bad clusters did not" \
		test "$cur" -ge $((TOTAL / 2)) -a "$cur" -le $((TOTAL - BADN))
	check_eq "$opt ignore: job still running" running "$(cb_get cb state)"
	check "$opt ignore: errors counted" test "$(cb_get cb errors)" -ge 1
	set_dev $dev $ram healthy
	cb_check_done "$opt ignore: job completes on its own once healed" cb completed 60
	check "$opt ignore: target equals the point-in-time image" \
		$CB_PY verify $TGT --seed 71
	src_intact "$opt ignore"
	dmsetup remove cb
done

# --- intermittent target errors (dm-flakey 1 s up / 1 s down), ignore ---------
setup
if set_dev cbt /dev/ram1 flakey; then
	check "flakey target, ignore: create at 8 MiB/s" \
		cb_create cb $SRC $TGT full speed 8388608 on_target_error ignore
	cb_check_done "flakey target, ignore: job completes" cb completed 120
	diag "flakey: $(cb_status cb)"
	check "flakey target, ignore: errors were met" test "$(cb_get cb errors)" -ge 1
	set_dev cbt /dev/ram1 healthy
	check "flakey target, ignore: target equals the point-in-time image" \
		$CB_PY verify $TGT --seed 71
	src_intact "flakey target, ignore"
	dmsetup remove cb
else
	skip "flakey target" "dm-flakey unavailable"
fi

# --- cow_error break_snapshot: the guest write wins, the job fails -------------
setup
set_dev cbt /dev/ram1 error
check "break_snapshot: create paused" \
	cb_create cb $SRC $TGT full cow_error break_snapshot paused
out=$(write_at $((BADC + 3)) 74)
check_eq "break_snapshot: guest write into a failing copy-out succeeds" "" "$out"
check_eq "break_snapshot: job failed" failed "$(cb_get cb state)"
check "break_snapshot: error counted" test "$(cb_get cb errors)" -ge 1
check "break_snapshot: source holds the guest write" \
	$CB_PY verify $SRC --seed 74 --first $(((BADC + 3) * CS + 16)) --count 8
c=$(cb_get cb cow)
write_at 5 75 >/dev/null
check_eq "break_snapshot: no copy-on-write after the failure" "$c" "$(cb_get cb cow)"
set_dev cbt /dev/ram1 healthy
check "break_snapshot: target's cluster 5 untouched" \
	$CB_PY verify $TGT --seed 99 --first $((5 * CS)) --count $CS
dmsetup remove cb

# --- cow_error break_write: the guest write fails, the job lives ---------------
setup
set_dev cbt /dev/ram1 error
check "break_write: create paused" \
	cb_create cb $SRC $TGT full cow_error break_write paused
out=$(write_at $((BADC + 3)) 76)
check "break_write: guest write into a failing copy-out gets EIO" \
	grep -q 'Input/output error' <<<"$out"
diag "write: $out"
check_eq "break_write: job not failed" paused "$(cb_get cb state)"
check "break_write: error counted" test "$(cb_get cb errors)" -ge 1
check "break_write: source keeps the old data (write not applied)" \
	$CB_PY verify $SRC --seed 71
check_eq "break_write: a write elsewhere still works" "" "$(write_at 5 77)"
check "break_write: ... and was copied out first" \
	$CB_PY verify $TGT --seed 71 --first $((5 * CS)) --count $CS
set_dev cbt /dev/ram1 healthy
check_eq "break_write: after healing the write succeeds" "" \
	"$(write_at $((BADC + 3)) 78)"
check "break_write: resume" cb_msg cb resume
cb_check_done "break_write: job completes" cb completed 60
check "break_write: target equals the point-in-time image" \
	$CB_PY verify $TGT --seed 71
check "break_write: source holds the later writes" bash -c "
	$CB_PY verify $SRC --seed 77 --first $((5 * CS + 16)) --count 8 &&
	$CB_PY verify $SRC --seed 78 --first $(((BADC + 3) * CS + 16)) --count 8"
dmsetup remove cb

check "the cowbackup_error trace event fired" \
	grep -q 'cowbackup_error:' $T/trace

cb_check_klog
cb_cleanup
done_testing
