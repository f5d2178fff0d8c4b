#!/bin/bash
# Integrity under load. The source is stamped with a known point-in-time
# (PIT) pattern (every sector names its seed and number; every 5th MiB is
# zeros so zero detection is exercised), the target with junk. A paused
# sync=full job goes live, four writer processes start random writes
# (512 B .. 1 MiB, unaligned to clusters), discards (BLKDISCARD) and
# write-zeroes (BLKZEROOUT) through the dm device, the copier is resumed
# at a limited speed so writes race it, then released. Each writer owns
# interleaved zones whose edges fall inside clusters, and logs every op,
# so the final source is known exactly. When the job is completed:
# - the target, read with O_DIRECT, equals the PIT image byte for byte;
# - the source holds exactly the logged writes;
# - every cluster was settled exactly once (cow + background + zero ==
#   total), and later writes pass straight through.
# Repeated for cluster sizes 4 KiB, 64 KiB, 1 MiB and for a device whose
# size is not a multiple of the cluster size (8 MiB clusters); a final round uses fio
# (4 jobs, mixed sizes, crc32c verify) as an independent writer.
# disks: 0
# mem: 1G
# timeout: 900
. "$(dirname "$0")/../lib.sh"
. "$REPO/tests/vm/tests/data/target-lib.sh"

DM=/dev/mapper/cb
if cb_is_kvm; then MB=64; WSECS=6; else MB=16; WSECS=3; fi
diag "devices of $MB MiB, writers run ${WSECS}s"

# run_case NAME CLUSTER SRC_BYTES TGT_BYTES SEED
run_case() {
	local name=$1 cs=$2 sbytes=$3 tbytes=$4 seed=$5
	local src tgt s total log=/tmp/cblog.$name st cow bg zero
	src=$(cb_loop "$sbytes")
	tgt=$(cb_loop "$tbytes")
	s=$(cb_size "$src")
	total=$(cb_clusters "$s" "$cs")
	diag "$name: $s sectors, cluster $cs, $total clusters, target $(cb_size "$tgt") sectors"
	$CB_PY stamp "$src" --seed "$seed" --holes 5
	$CB_PY stamp "$tgt" --seed 99
	rm -rf "${log:?}".*

	if ! check "$name: create paused, cluster_size $cs" \
		cb_create cb "$src" "$tgt" full cluster_size "$cs" paused; then
		cb_cleanup
		return
	fi
	# The writers keep off the last quarter of the device (the last half
	# with few, large clusters), so that the copier has work of its own
	# and the job is still running when they stop.
	local lim=$((s * 3 / 4))
	[ "$cs" -ge 2048 ] && lim=$((s / 2))
	$CB_PY writers $DM --jobs 4 --seconds "$WSECS" --seed "$seed" \
		--limit-sectors $lim --log "$log.1" &
	local writers=$!
	# The copier starts once the writers do, so that they race it.
	cb_wait_writers "$log.1" 30
	# 1/24 of the device per second: the copier is still busy when the
	# writers stop.
	cb_msg cb speed $((sbytes / 24))
	cb_msg cb resume
	wait $writers
	check_eq "$name: concurrent writers finished without I/O errors" 0 $?
	check "$name: job still intercepting when the writers stopped" \
		bash -c "dmsetup status cb | grep -q ' cowbackup running '"
	cb_msg cb speed 0
	cb_check_done "$name: job completes" cb completed 120
	st=$(cb_status cb)
	diag "$name: status $st"
	cow=$(cb_get cb cow)
	bg=$(cb_get cb bg)
	zero=$(cb_get cb zero)
	check_eq "$name: all clusters settled, no errors" \
		"$total/$total 0" "$(cb_get cb settled)/$(cb_get cb total) $(cb_get cb errors)"
	check_eq "$name: each cluster settled exactly once (cow+bg+zero)" \
		"$total" $((cow + bg + zero))
	check "$name: writes caused copy-on-write ($cow)" test "$cow" -gt 0
	check "$name: background copy did work ($bg)" test "$bg" -gt 0
	# The zero holes are 1 MiB: larger clusters are never all zeros.
	if [ "$cs" -le 2048 ]; then
		check "$name: zero clusters found ($zero)" test "$zero" -gt 0
	fi
	check "$name: target equals the point-in-time image" \
		$CB_PY verify "$tgt" --seed "$seed" --holes 5 --count "$s"
	if [ "$(cb_size "$tgt")" -gt "$s" ]; then
		check "$name: target beyond the source size untouched" \
			$CB_PY verify "$tgt" --seed 99 --first "$s"
	fi
	check "$name: source holds exactly what the writers wrote" \
		$CB_PY check-source "$src" --seed "$seed" --holes 5 \
		--log "$log.1"

	# After completion interception has stopped.
	check "$name: writers after completion" \
		$CB_PY writers $DM --jobs 2 --seconds 1 --seed $((seed + 500)) \
		--log "$log.2"
	check_eq "$name: no copy-on-write after completion" \
		"$st" "$(cb_status cb)"
	check "$name: target still equals the point-in-time image" \
		$CB_PY verify "$tgt" --seed "$seed" --holes 5 --count "$s"
	check "$name: source holds both phases of writes" \
		$CB_PY check-source "$src" --seed "$seed" --holes 5 \
		--log "$log.1" --log "$log.2"
	dmsetup remove cb
	rm -rf "${log:?}".*
	cb_cleanup
}

M=$((MB << 20))
run_case c4k 8 $M $M 101
run_case c64k 128 $M $M 102
run_case c1m 2048 $M $M 103
# 3.5 KiB past a MiB boundary with the largest clusters (8 MiB): the
# last cluster holds 7 sectors; the target is larger than the source.
run_case odd8m 16384 $((M + 3584)) $((M + (1 << 20))) 104

# --- fio as the writer ----------------------------------------------------------
src=$(cb_loop $M)
tgt=$(cb_loop $M)
$CB_PY stamp "$src" --seed 106 --holes 5
$CB_PY stamp "$tgt" --seed 99
if check "fio: create at 1/8 device per second" \
	cb_create cb "$src" "$tgt" full cluster_size 16 speed $((M / 8)); then
	quarter=$((M / 4))
	fio --name=cbverify --filename=$DM --direct=1 --ioengine=libaio \
		--iodepth=8 --rw=randwrite --bsrange=512-1m --randrepeat=0 \
		--numjobs=4 --size=$quarter --offset_increment=$quarter \
		--verify=crc32c --do_verify=1 --verify_fatal=1 --verify_state_save=0 \
		--group_reporting --output=/tmp/cbfio.out >/dev/null 2>&1
	rc=$?
	check_eq "fio: 4 jobs of mixed-size writes verified (crc32c)" 0 $rc
	[ $rc -ne 0 ] && diag "$(tail -20 /tmp/cbfio.out)"
	check "fio: job was still running during the writes" \
		bash -c "dmsetup status cb | grep -Eq ' cowbackup (running|completed) '"
	cb_msg cb speed 0
	cb_check_done "fio: job completes" cb completed 120
	check "fio: target equals the point-in-time image" \
		$CB_PY verify "$tgt" --seed 106 --holes 5
	check "fio: source equals what the dm device reads" \
		test "$(cb_md5 "$src")" = "$(cb_md5 $DM)"
	dmsetup remove cb
fi
cb_cleanup

# --- one bio-sized request over every cluster: more copy-outs than the
# copy pool holds must queue up, not deadlock ---------------------------------------
src=$(cb_loop $M)
tgt=$(cb_loop $M)
for op in discard zeroout write; do
	$CB_PY stamp "$src" --seed 107
	$CB_PY stamp "$tgt" --seed 99
	cb_create cb "$src" "$tgt" full cluster_size 8 paused
	case $op in
	discard) timeout 120 blkdiscard $DM ;;
	zeroout) timeout 120 blkdiscard -z $DM ;;
	write) timeout 120 dd if=/dev/zero of=$DM bs=$M count=1 \
		oflag=direct status=none ;;
	esac
	check_eq "whole-device $op on a paused 4 KiB-cluster job completes" 0 $?
	# Copy-out settled every cluster: the paused job is complete.
	check_eq "$op: every cluster copied out first" \
		"completed $(cb_get cb total)/$(cb_get cb total)" \
		"$(cb_get cb state) $(cb_get cb settled)/$(cb_get cb total)"
	check "$op: target equals the point-in-time image" \
		$CB_PY verify "$tgt" --seed 107
	check "$op: source reads back zeros" $CB_PY verify "$src" --zero
	dmsetup remove cb
done
cb_cleanup

cb_check_klog
done_testing
