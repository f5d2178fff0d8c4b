#!/bin/bash
# A slow target (issue 12, section 2): the target sits behind dm-delay
# with 200 ms on every write (reads undelayed). Guest writes must wait
# only for their own copy-outs: with the slow target suspended, so four
# writers' first writes to distinct clusters cannot get their copy-outs
# done, writes to an already-settled cluster complete (an ordering fact,
# not a timing threshold); the same with the target only slow is
# reported as diagnostics. fio then measures the first-write latency
# (p50/p99 clat, one writer and four at once) and the rewrite latency of
# settled clusters, alone and next to four first writers; the numbers
# are reported as diagnostics, not judged. Finally the job completes
# through the slow target and the target equals the point-in-time image
# byte for byte (O_DIRECT).
# disks: 2
# disk-size: 32M
# timeout: 300
. "$(dirname "$0")/../lib.sh"
. "$REPO/tests/vm/tests/data/target-lib.sh"

read -r -a D <<<"$COWBACKUP_DISKS"
SRC=${D[0]}
TGT=${D[1]}
S=$(cb_size "$SRC")
DM=/dev/mapper/sl-cb
WPIDS=()
cleanup() {
	local p
	dmsetup resume sl-delay 2>/dev/null
	for p in "${WPIDS[@]}"; do kill -- -"$p" 2>/dev/null; done
	cb_cleanup
}
trap cleanup EXIT

modprobe dm-delay || bail "no dm-delay module"
$CB_PY stamp "$SRC" --seed 51 || bail "cannot stamp $SRC"
check "dm-delay target: reads 0 ms, writes 200 ms" \
	dmsetup create sl-delay --table "0 $(cb_size "$TGT") delay $TGT 0 0 $TGT 0 200"
check "a paused sync=full job onto it" \
	cb_create sl-cb "$SRC" /dev/mapper/sl-delay full paused

# write4k CLUSTER: one 4 KiB O_DIRECT write at the start of a cluster.
write4k() {
	dd if=/dev/urandom of=$DM bs=4k count=1 seek=$(($1 * 16)) \
		oflag=direct conv=notrunc status=none
}

t0=$(date +%s%N)
check "first write to cluster 5" write4k 5
t1=$(date +%s%N)
diag "first write to cluster 5 took $(((t1 - t0) / 1000000)) ms"
check "it waited for its copy-out through the delay (>= 200 ms)" \
	test $((t1 - t0)) -ge 200000000
check_eq "one copy-out" 1 "$(cb_get sl-cb cow)"

alive() {
	local p n=0
	for p in "${WPIDS[@]}"; do kill -0 "$p" 2>/dev/null && n=$((n + 1)); done
	echo $n
}
# writers FIRST STEP N: four writers in the background, writer w making
# N first writes in a row to clusters FIRST + w * STEP + k (k < N).
writers() {
	local w
	WPIDS=()
	for w in 0 1 2 3; do
		setsid bash -c "
			for k in \$(seq 0 $(($3 - 1))); do
				dd if=/dev/urandom of=$DM bs=4k count=1 \
					seek=\$((($1 + $w * $2 + k) * 16)) \
					oflag=direct conv=notrunc status=none || exit 1
			done" &
		WPIDS+=($!)
	done
}
writers_wait() {
	local p rc=0
	for p in "${WPIDS[@]}"; do wait "$p" || rc=1; done
	WPIDS=()
	return $rc
}

# The ordering fact, with no timing in it: the slow target is suspended,
# so the copy-outs of four writers' first writes cannot complete. Writes
# to the settled cluster 5 must complete all the same (a write held
# behind the copy-outs would hang until the timeout).
check "suspend the slow target: copy-outs to it now wait" \
	dmsetup suspend sl-delay
writers 50 25 1
sleep 2
fine=0
for r in 1 2 3; do
	timeout "$(scaled 30)" dd if=/dev/urandom of=$DM bs=4k count=1 \
		seek=$((5 * 16)) oflag=direct conv=notrunc status=none &&
		fine=$((fine + 1))
done
n=$(alive)
diag "target suspended: $(cb_status sl-cb); first writers still waiting: $n"
check_eq "3 writes to the settled cluster completed while 4 first writes waited for their copy-outs" \
	"3 4" "$fine $n"
check_eq "... and no copy-out completed meanwhile" 1 "$(cb_get sl-cb cow)"
check "resume the slow target" dmsetup resume sl-delay
check "the held first writes then complete and succeed" writers_wait
check_eq "5 copy-outs" 5 "$(cb_get sl-cb cow)"

# The same while the target is slow, not stopped: four writers, each 10
# first writes in a row (each waits >= 200 ms for its copy-out), and
# writes to the settled cluster meanwhile. Their times and how many
# writers were still busy are diagnostics only (TCG on a shared host
# stalls processes for seconds now and then).
writers 140 15 10
i=0
while [ "$(cb_get sl-cb cow)" -lt 9 ] && [ $i -lt $((100 * SCALE)) ]; do
	sleep 0.1
	i=$((i + 1))
done
for r in 1 2 3; do
	before=$(cb_get sl-cb cow)
	t0=$(date +%s%N)
	write4k 5
	t1=$(date +%s%N)
	diag "settled write $r while the target is slow: $(((t1 - t0) / 1000000)) ms (dd included), copy-outs done $before -> $(cb_get sl-cb cow), writers still busy: $(alive)"
done
check "the writers' 40 first writes all succeed" writers_wait
check_eq "5 + 40 copy-outs, none twice" 45 "$(cb_get sl-cb cow)"

# fio_lat NAME FIO-ARGS...: run fio, print "p50 p99" write clat in ms.
fio_lat() {
	local name=$1
	shift
	fio --name="$name" --filename=$DM --ioengine=psync --direct=1 \
		--bs=4k --rw=write:60k --output-format=json "$@" \
		--output=/tmp/"$name".json >/dev/null 2>&1 || return 1
	jq -r '.jobs[0].write | [.clat_ns.percentile["50.000000"],
		.clat_ns.percentile["99.000000"], .total_ios] |
		"\(.[0] / 1e6 | floor) \(.[1] / 1e6 | floor) \(.[2])"' /tmp/"$name".json
}
# One 4 KiB write per 64 KiB cluster: every write is a first write.
read -r p50 p99 n <<<"$(fio_lat first1 --offset=$((200 * 65536)) --number_ios=40)"
check "fio: 40 first writes, one writer" test "${n:-0}" -eq 40
diag "first-write latency, 1 writer, 40 writes: p50 ${p50} ms, p99 ${p99} ms"
read -r p50 p99 n <<<"$(fio_lat first4 --offset=$((300 * 65536)) \
	--offset_increment=$((30 * 65536)) --number_ios=10 --numjobs=4 \
	--group_reporting)"
check "fio: 4 writers x 10 first writes" test "${n:-0}" -eq 40
diag "first-write latency, 4 writers, 40 writes: p50 ${p50} ms, p99 ${p99} ms"
read -r p50 p99 n <<<"$(fio_lat settled --offset=$((200 * 65536)) --number_ios=40)"
check "fio: 40 rewrites of settled clusters" test "${n:-0}" -eq 40
diag "settled-cluster write latency, 1 writer, 40 writes: p50 ${p50} ms, p99 ${p99} ms"
# Settled-cluster writes (one every 50 ms) while four writers make first
# writes: the settled ones must not queue behind the copy-outs.
fio_lat busy4 --offset=$((420 * 65536)) --offset_increment=$((22 * 65536)) \
	--number_ios=10 --numjobs=4 --group_reporting >/tmp/busy4.lat &
fp=$!
read -r s50 s99 sn <<<"$(fio_lat busy1 --offset=$((200 * 65536)) \
	--number_ios=40 --thinktime=50000)"
wait $fp
read -r p50 p99 n </tmp/busy4.lat
check "fio: 40 settled writes next to 4 writers x 10 first writes" \
	test "${sn:-0}" -eq 40 -a "${n:-0}" -eq 40
diag "meanwhile: settled-cluster writes p50 ${s50} ms, p99 ${s99} ms; first writes p50 ${p50} ms, p99 ${p99} ms"
check_eq "165 copy-outs in all, none twice" 165 "$(cb_get sl-cb cow)"

check "resume" cb_msg sl-cb resume
cb_check_done "the job completes through the slow target" sl-cb completed "$(scaled 120)"
diag "status: $(cb_status sl-cb)"
check "the target is the point-in-time image (O_DIRECT)" \
	$CB_PY verify "$TGT" --seed 51 --count "$S"
check "remove" dmsetup remove sl-cb

cb_check_klog
done_testing
