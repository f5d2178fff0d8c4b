#!/bin/bash
# Messages and status counters: pause/resume (no progress while paused),
# cancel (interception ends), speed changes, counters checked against the
# work done (zero clusters, copy-on-write, background copies), and
# `dmsetup wait` waking on state changes.
# disks: 0
# mem: 1G
# timeout: 240
. "$(dirname "$0")/../lib.sh"
. "$REPO/tests/vm/tests/data/target-lib.sh"

cb_brd 2 32 || bail "cannot load brd"
SRC=/dev/ram0
TGT=/dev/ram1
DM=/dev/mapper/cb
S=$(cb_size "$SRC")
CS=128
TOTAL=$(cb_clusters "$S" $CS)
diag "brd source $SRC ($S sectors), target $TGT, $TOTAL clusters"

events() { dmsetup info -c --noheadings -o events "$1" | tr -d ' '; }

# --- an all-zero source gives only zero clusters ---------------------------
$CB_PY stamp "$TGT" --seed 99
check "create over an all-zero source" cb_create cb "$SRC" "$TGT" full
cb_check_done "all-zero job completes" cb completed 60
check_eq "all clusters counted as zero clusters, none copied" \
	"completed full $CS $TOTAL/$TOTAL 0 0 $TOTAL 0 0" "$(cb_status cb)"
check "target reads back all zeros" $CB_PY verify "$TGT" --zero
dmsetup remove cb

# Same on a target that supports WRITE_ZEROES (loop over tmpfs).
LT=$(cb_loop $((S * 512)))
$CB_PY stamp "$LT" --seed 98
check "create over an all-zero source, loop target" \
	cb_create cb "$SRC" "$LT" full
cb_check_done "all-zero job to loop target completes" cb completed 60
check_eq "loop target: all clusters are zero clusters" \
	"completed full $CS $TOTAL/$TOTAL 0 0 $TOTAL 0 0" "$(cb_status cb)"
check "loop target reads back all zeros" $CB_PY verify "$LT" --zero
dmsetup remove cb

# --- holes: every 4th MiB of the source is zero -----------------------------
$CB_PY stamp "$SRC" --seed 51 --holes 4
$CB_PY stamp "$TGT" --seed 99
ZC=$((TOTAL / 4))
check "create over a source with zero holes" cb_create cb "$SRC" "$TGT" full
cb_check_done "job completes" cb completed 60
check_eq "zero and data clusters counted apart" \
	"completed full $CS $TOTAL/$TOTAL 0 $((TOTAL - ZC)) $ZC 0 0" "$(cb_status cb)"
check "target equals the point-in-time image, holes included" \
	$CB_PY verify "$TGT" --seed 51 --holes 4
dmsetup remove cb

# --- copy-on-write counter ---------------------------------------------------
$CB_PY stamp "$SRC" --seed 52
check "create paused" cb_create cb "$SRC" "$TGT" full paused
# Ten single-sector writes into ten different clusters, 3 clusters apart.
for i in 0 1 2 3 4 5 6 7 8 9; do
	$CB_PY stamp $DM --seed 53 --first $((i * 3 * CS + 5)) --count 1
done
check_eq "ten writes to ten clusters: ten copy-on-write copies" \
	"paused full $CS 10/$TOTAL 10 0 0 0 0" "$(cb_status cb)"

# --- speed message -----------------------------------------------------------
check "speed message" cb_msg cb speed 12345
check_eq "speed field shows the new speed" 12345 "$(cb_get cb speed)"
check "speed message accepts 0 (unlimited)" cb_msg cb speed 0
check_eq "speed field back to 0" 0 "$(cb_get cb speed)"

# --- pause / resume ----------------------------------------------------------
# 32 MiB in 8 s (4 s per timeout-scale unit beyond x4, for the debug
# kernel, where each dmsetup below takes a second or two): long enough to
# pause in the middle.
cb_msg cb speed $(((32 << 20) / (SCALE > 4 ? 4 * SCALE : 8)))
ev=$(events cb)
check "resume message" cb_msg cb resume
check_eq "state running after resume" running "$(cb_get cb state)"
check "event counter moved on resume" test "$(events cb)" -gt "$ev"
sleep 2
s0=$(cb_get cb settled)
check "background copy made progress while running ($s0 settled)" \
	test "$s0" -gt 10
ev=$(events cb)
dmsetup wait cb "$ev" >/dev/null 2>&1 &
waiter=$!
check "pause message" cb_msg cb pause
check_eq "state paused" paused "$(cb_get cb state)"
i=0
while kill -0 $waiter 2>/dev/null && [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
if kill -0 $waiter 2>/dev/null; then
	not_ok "dmsetup wait wakes up on pause" "still waiting after 10 s"
	kill $waiter
else
	wait $waiter
	check_eq "dmsetup wait wakes up on pause" 0 $?
fi
sleep 1	# copies already in flight may still land
s1=$(cb_get cb settled)
sleep 2
s2=$(cb_get cb settled)
check_eq "settled does not move while paused" "$s1" "$s2"
check "paused job is not complete" test "$s2" -lt "$TOTAL"
b1=$(cb_get cb bg)
# Slower from here (32 s for the device under TCG): the rest of the copy
# outlasts the checks until `speed 0`, so the completion event comes
# after the waiter below reads the event counter.
cb_msg cb speed $(((32 << 20) / (SCALE > 4 ? 16 * SCALE : 32)))
check "resume again" cb_msg cb resume
sleep 1.5
check "settled moves again after resume" test "$(cb_get cb settled)" -gt "$s2"
ev=$(events cb)
dmsetup wait cb "$ev" >/dev/null 2>&1 &
waiter=$!
check "speed 0 while running" cb_msg cb speed 0
cb_check_done "job completes after speed 0" cb completed 60
i=0
while kill -0 $waiter 2>/dev/null && [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
if kill -0 $waiter 2>/dev/null; then
	not_ok "dmsetup wait wakes up on completion" "still waiting after 10 s"
	kill $waiter
else
	ok "dmsetup wait wakes up on completion"
fi
check "background copies grew after the second resume" \
	test "$(cb_get cb bg)" -gt "$b1"
check_eq "final counters: 10 copy-on-write, the rest background" \
	"completed full $CS $TOTAL/$TOTAL 10 $((TOTAL - 10)) 0 0 0" "$(cb_status cb)"
check "target equals the point-in-time image" $CB_PY verify "$TGT" --seed 52
check "source holds the ten writes" bash -c "
	for i in 0 1 2 3 4 5 6 7 8 9; do
		$CB_PY verify $SRC --seed 53 --first \$((i * 3 * $CS + 5)) --count 1 || exit 1
	done"
out=$(cb_msg cb pause 2>&1)
check_eq "pause after completion leaves it completed" completed "$(cb_get cb state)"
diag "pause after completion: rc/reply '$out'"
dmsetup remove cb

# --- cancel of a paused job: no copy at all afterwards -----------------------
$CB_PY stamp "$SRC" --seed 54
$CB_PY stamp "$TGT" --seed 99
check "create paused" cb_create cb "$SRC" "$TGT" full paused
ev=$(events cb)
check "cancel message" cb_msg cb cancel
check_eq "state cancelled" cancelled "$(cb_get cb state)"
check "event counter moved on cancel" test "$(events cb)" -gt "$ev"
$CB_PY stamp $DM --seed 55 --first 0 --count 8192
check "write after cancel reaches the source" \
	$CB_PY verify "$SRC" --seed 55 --count 8192
check "write after cancel is not copied out: target untouched" \
	$CB_PY verify "$TGT" --seed 99
check_eq "counters after cancel" \
	"cancelled full $CS 0/$TOTAL 0 0 0 0 0" "$(cb_status cb)"
cb_msg cb resume 2>/dev/null
sleep 1
check_eq "resume does not revive a cancelled job" \
	"cancelled full $CS 0/$TOTAL 0 0 0 0 0" "$(cb_status cb)"
dmsetup remove cb

# --- cancel of a running job ---------------------------------------------------
$CB_PY stamp "$SRC" --seed 56
check "create running at 2 MiB/s" cb_create cb "$SRC" "$TGT" full speed 2097152
sleep 1.5
check "cancel while running" cb_msg cb cancel
check_eq "state cancelled" cancelled "$(cb_get cb state)"
sleep 0.5
c1=$(cb_status cb)
$CB_PY stamp $DM --seed 57
sleep 1
check_eq "nothing moves after cancel, writes are not intercepted" \
	"$c1" "$(cb_status cb)"
check "writes after cancel reach the source" $CB_PY verify "$SRC" --seed 57
dmsetup remove cb

# --- trace events ------------------------------------------------------------------
T=/sys/kernel/tracing
[ -d $T/events ] || mount -t tracefs nodev $T 2>/dev/null
if [ -d $T/events/cowbackup ]; then
	echo 0 >$T/tracing_on
	echo >$T/trace
	echo 1 >$T/events/cowbackup/enable
	echo 1 >$T/tracing_on
	$CB_PY stamp "$SRC" --seed 58
	cb_create cb "$SRC" "$TGT" full paused speed 1048576
	$CB_PY stamp $DM --seed 59 --first 0 --count 8
	cb_msg cb resume
	sleep 1
	echo 0 >$T/tracing_on
	trace=$(cat $T/trace)
	echo 0 >$T/events/cowbackup/enable
	for ev in cowbackup_copy_start cowbackup_copy_done cowbackup_throttle; do
		check "trace event $ev fires" grep -q "$ev:" <<<"$trace"
	done
	dmsetup remove cb
else
	not_ok "trace events: no $T/events/cowbackup"
fi

cb_check_klog
cb_cleanup
done_testing
