#!/bin/bash
# Error policies. Source and target are dm devices over brd whose tables
# are swapped to put an `error` segment (or dm-flakey) under a range of
# clusters, then swapped back to heal them:
# - on_target_error / on_source_error report -> failed, stop -> paused
#   with the error counted and `resume` retries, ignore -> the job keeps
#   running, retries, and completes once the device heals;
# - cow_error break_snapshot: the guest write succeeds, the job fails;
#   break_write: the guest write gets EIO, the source keeps its old data,
#   the job carries on; and NCHAIN such failures in a row, each copy-out
#   failing inside submit_bio() after the one before it released its
#   write, run one after the other, not nested; a write that needs more
#   copy-outs than there are buffers fails with the one that failed.
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

# set_dev NAME RAMDEV healthy|error|flakey [FIRST LEN]: error fails the
# LEN sectors from FIRST, by default the bad clusters ($A, $L).
set_dev() {
	local name=$1 dev=$2 mode=$3 a=${4:-$A} l=${5:-$L} table
	case $mode in
	healthy) table="0 $N linear $dev 0" ;;
	error) table="0 $a linear $dev 0
$a $l error
$((a + l)) $((N - a - l)) linear $dev $((a + l))" ;;
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

# --- break_write, every copy buffer taken: a chain of failing copy-outs -------
# max_workers 1 gives the job two copy buffers. NCHAIN first writes
# (fio, one per cluster from CHAIN0 on) arrive while the target is
# suspended: the first two claim the buffers, read their clusters and
# hold them, their target writes queued; the rest park for a buffer.
# Then the source fails reads of the other clusters and the target
# resumes. Each finish releases the parked writes, the next one's
# copy-out fails inside submit_bio(), and its finish must not run inside
# the finish before it (6a0e5f5: before that fix the chain nested up to
# NCHAIN finishes deep on one kernel stack).
NCHAIN=200
CHAIN0=40
setup
check "copy-out chain: create paused, max_workers 1, break_write" \
	cb_create cb $SRC $TGT full max_workers 1 cow_error break_write paused
# Count the writes submitted to the job (block_bio_queue on its dev_t):
# dm does not account a bio in /sys/block/*/inflight before it leaves
# the target.
TI=$T/instances/chain
mkdir -p $TI
IFS=: read -r maj min <<<"$(dmsetup info -c --noheadings -o major,minor cb)"
echo "dev == $(((maj << 20) | min))" >$TI/events/block/block_bio_queue/filter
echo 1 >$TI/events/block/block_bio_queue/enable
dmsetup suspend cbt
timeout "$(scaled 300)" fio --name=chain --filename=$DM --direct=1 \
	--ioengine=libaio --iodepth=$NCHAIN --bs=4k --rw=write:$((CS * 512 - 4096)) \
	--offset=$((CHAIN0 * CS * 512)) --size=$((NCHAIN * CS * 512)) \
	--io_size=$((NCHAIN * 4096)) --buffer_pattern=0x5a5a5a5a \
	--continue_on_error=all --output=/tmp/chain.fio >/dev/null 2>&1 &
fio_pid=$!
queued() { grep -c 'block_bio_queue' $TI/trace; }
i=0
while [ "$(queued)" -lt $NCHAIN ] && [ $i -lt "$(scaled 600)" ]; do
	sleep 0.1
	i=$((i + 1))
done
check_eq "copy-out chain: $NCHAIN writes reached the job" $NCHAIN "$(queued)"
echo 0 >$TI/events/block/block_bio_queue/enable
rmdir $TI
# Reads of the clusters after the first two fail from now on; their
# writes would still succeed, but none gets that far.
a=$(((CHAIN0 + 2) * CS))
l=$(((NCHAIN - 2) * CS))
set_dev cbs /dev/ram0 error $a $l
dmsetup resume cbt
wait $fio_pid
diag "copy-out chain: fio exit $?, $(cb_status cb)"
check_eq "copy-out chain: job not failed" paused "$(cb_get cb state)"
check_eq "copy-out chain: one error per failed copy-out" $((NCHAIN - 2)) \
	"$(cb_get cb errors)"
check_eq "copy-out chain: two copy-outs succeeded" 2 "$(cb_get cb cow)"
set_dev cbs /dev/ram0 healthy
check "copy-out chain: the two first writes were copied out first" \
	$CB_PY verify $TGT --seed 71 --first $((CHAIN0 * CS)) --count $((2 * CS))
check_eq "copy-out chain: ... and applied" "5a5a5a5a 5a5a5a5a" "$(for c in 0 1; do
	dd if=$SRC iflag=direct,skip_bytes skip=$(((CHAIN0 + c) * CS * 512)) \
		bs=4096 count=1 status=none | head -c 4 | od -An -tx4 | tr -d ' '
done | xargs)"
check "copy-out chain: the failed writes left the source as it was" \
	$CB_PY verify $SRC --seed 71 --first $a --count $l
check "copy-out chain: ... and the target too" \
	$CB_PY verify $TGT --seed 99 --first $a --count $l
dmsetup remove cb

# --- break_write, writes that need more copy-outs than there are buffers -----
# A 4 MiB write over clusters 96..159, whose reads all fail, needs four
# 1 MiB copy-outs; max_workers 1 gives the job two buffers. The block
# layer splits the write into pieces that do not line up with the
# copies, so a piece can claim one copy-out and find no buffer for the
# next. Every piece must fail with the copy-outs it needed. Before a
# piece waited on its own copies' cells, it waited for any free buffer,
# claimed its failed clusters again on every release, and never
# completed: the errors counter climbed without end.
setup
b=$(((BADC - 4) * CS))
bl=$((64 * CS))
set_dev cbs /dev/ram0 error $b $bl
check "write over four copies: create paused, max_workers 1, break_write" \
	cb_create cb $SRC $TGT full max_workers 1 cow_error break_write paused
dd if=/dev/zero of=$DM bs=4M count=1 oflag=direct,seek_bytes \
	seek=$((b * 512)) status=none 2>/tmp/big.err &
dd_pid=$!
i=0
while kill -0 $dd_pid 2>/dev/null && [ $i -lt "$(scaled 300)" ]; do
	sleep 0.1
	i=$((i + 1))
done
if kill -0 $dd_pid 2>/dev/null; then
	not_ok "write over four copies: the write completes" "$(cb_status cb)"
	bail "a write is stuck in the job: nothing after this can clean up"
fi
ok "write over four copies: the write completes"
wait $dd_pid
check_eq "write over four copies: the write failed (dd exit 1)" 1 "$?"
check "write over four copies: ... with EIO" grep -q 'Input/output error' /tmp/big.err
check_eq "write over four copies: job not failed" paused "$(cb_get cb state)"
e1=$(cb_get cb errors)
sleep 1
check "write over four copies: errors counted, and no more after ($e1)" \
	test "$e1" -ge 1 -a "$e1" -le 8 -a "$(cb_get cb errors)" = "$e1"
set_dev cbs /dev/ram0 healthy
check "write over four copies: the source kept its old data" \
	$CB_PY verify $SRC --seed 71 --first $b --count $bl
dmsetup remove cb

check "the cowbackup_error trace event fired" \
	grep -q 'cowbackup_error:' $T/trace

cb_check_klog
cb_cleanup
done_testing
