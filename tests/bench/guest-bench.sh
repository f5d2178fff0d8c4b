#!/bin/bash
# Guest side of `make bench` (started by tests/bench/run through
# tests/vm/run --exec). Measures, on brd RAM disks and on virtio disks:
#  - 4 KiB O_DIRECT write IOPS at QD1 and QD32 through a sync=full
#    cowbackup job, for first writes to clusters (one 4 KiB write per
#    64 KiB cluster of a paused job, so each needs a copy-out) and for
#    writes to settled clusters (the same job afterwards: still
#    intercepting, every cluster copied), against dm-linear on the same
#    device with the same I/O pattern;
#  - background copy throughput at speed 0 against dd between the devices;
#  - the cowbackup-snap view's read throughput against a plain read;
#  - memory of a sync=none job before and after many random writes.
# Prints "RESULT <devices> <metric> <value>" lines for the host side.
#
# Environment: BENCH_RUNTIME (seconds per random-write run, default 5),
# BENCH_NONE_WRITES (writes for the sync=none memory run, default 1000000),
# BENCH_REPS (repetitions, median reported, default 3), BENCH_MB (device
# size, default 512).
set -u

RUNTIME=${BENCH_RUNTIME:-5}
NONE_WRITES=${BENCH_NONE_WRITES:-1000000}
REPS=${BENCH_REPS:-3}
MB=${BENCH_MB:-512}
read -r -a D <<<"${COWBACKUP_DISKS:-}"

log() { echo "# $*" >&2; }
result() { echo "RESULT $*"; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }
median() { tr ' ' '\n' | grep . | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
mbps() { awk -v s="$1" -v t="$2" 'BEGIN { printf "%.0f", s * 512 / t / 1e6 }'; }

# fio_iops DEV QD PATTERN: write IOPS of one fio run over the first
# $REGION bytes of DEV (the last MiB is never written, so a paused job
# keeps uncopied clusters and stays live: completion would end
# interception and the "settled" numbers would measure plain pass-through).
#   strided: one 4 KiB write per 64 KiB (size-bound)
#   random:  random 4 KiB writes for $RUNTIME seconds
fio_iops() {
	local dev=$1 qd=$2 pat=$3 args
	if [ "$pat" = strided ]; then
		args=(--rw=write:60k)
	else
		args=(--rw=randwrite --norandommap --time_based --runtime="$RUNTIME")
	fi
	fio --name=bench --filename="$dev" --direct=1 --ioengine=libaio \
		--iodepth="$qd" --bs=4k --randrepeat=0 --size="$REGION" \
		"${args[@]}" --output-format=json 2>/dev/null |
		python3 -c 'import json, sys
print(round(json.load(sys.stdin)["jobs"][0]["write"]["iops"]))'
}

cb_table() {
	echo "0 $(blockdev --getsz "$1") cowbackup $1 $2 $3${4:+ $4}"
}

state() { dmsetup status "$1" | awk '{print $4}'; }

# wait_done DEV: block on dm events until the job is no longer running.
wait_done() {
	local ev
	while :; do
		ev=$(dmsetup info -c --noheadings -o events "$1" | tr -d ' ')
		case $(state "$1") in
		running | paused) dmsetup wait "$1" "$ev" >/dev/null ;;
		*) return ;;
		esac
	done
}

bench_pair() {
	local label=$1 src=$2 tgt=$3 s qd pat rep t lin cb
	local -A runs
	s=$(blockdev --getsz "$src")
	REGION=$((s * 512 - (1 << 20)))
	log "$label: $src -> $tgt, $((s / 2048)) MiB, $REPS repetitions"
	# Non-zero data everywhere, so copies are real copies.
	fio --name=fill --filename="$src" --direct=1 --ioengine=libaio \
		--iodepth=8 --bs=1M --rw=write >/dev/null 2>&1
	# dm-linear on the same source, alongside the cowbackup device, so
	# the two are measured alternately in the same conditions.
	dmsetup create bl --table "0 $s linear $src 0"

	# First writes: a fresh paused job per run, every write a copy-out.
	for rep in $(seq "$REPS"); do
		for qd in 1 32; do
			runs[lin_strided_$qd]+=" $(fio_iops /dev/mapper/bl $qd strided)"
			dmsetup create cb --table "$(cb_table "$src" "$tgt" full "1 paused")"
			runs[first_strided_$qd]+=" $(fio_iops /dev/mapper/cb $qd strided)"
			[ "$rep" = 1 ] && log "$label: after first writes qd$qd: $(dmsetup status cb)"
			dmsetup remove cb
		done
	done
	# Settled: one paused job whose region is copied; still intercepting.
	dmsetup create cb --table "$(cb_table "$src" "$tgt" full "1 paused")"
	fio_iops /dev/mapper/cb 32 strided >/dev/null
	log "$label: settled job: $(dmsetup status cb)"
	for rep in $(seq "$REPS"); do
		for pat in strided random; do
			for qd in 1 32; do
				runs[lin_${pat}_$qd]+=" $(fio_iops /dev/mapper/bl $qd $pat)"
				runs[settled_${pat}_$qd]+=" $(fio_iops /dev/mapper/cb $qd $pat)"
			done
		done
	done
	log "$label: after settled writes: $(dmsetup status cb)"
	dmsetup remove cb
	dmsetup remove bl
	for pat in strided random; do
		for qd in 1 32; do
			log "$label $pat qd$qd: linear${runs[lin_${pat}_$qd]}; settled${runs[settled_${pat}_$qd]}${runs[first_${pat}_$qd]:+; first${runs[first_${pat}_$qd]}}"
			result "$label linear_${pat}_qd$qd $(median <<<"${runs[lin_${pat}_$qd]}")"
			result "$label settled_${pat}_qd$qd $(median <<<"${runs[settled_${pat}_$qd]}")"
			[ -n "${runs[first_${pat}_$qd]:-}" ] &&
				result "$label first_${pat}_qd$qd $(median <<<"${runs[first_${pat}_$qd]}")"
		done
	done

	# Background copy at speed 0 (timed from resume to completed)
	# against dd between the same devices.
	# brd allocates its pages on first write: touch the whole target
	# first, or the first copy pays that and dd after it does not.
	dd if=/dev/zero of="$tgt" bs=1M oflag=direct status=none
	lin="" cb=""
	for rep in $(seq "$REPS"); do
		dmsetup create cb --table "$(cb_table "$src" "$tgt" full "1 paused")"
		t=$(now)
		dmsetup message cb 0 resume
		wait_done cb
		cb+=" $(mbps "$s" "$(elapsed "$t")")"
		[ "$rep" = 1 ] && log "$label: copy: $(dmsetup status cb)"
		dmsetup remove cb
		t=$(now)
		dd if="$src" of="$tgt" bs=1M iflag=direct oflag=direct status=none
		lin+=" $(mbps "$s" "$(elapsed "$t")")"
	done
	log "$label: copy MB/s:$cb; dd MB/s:$lin"
	result "$label copy_MBps $(median <<<"$cb")"
	result "$label dd_MBps $(median <<<"$lin")"

	# View reads: all from the source (sync=none, untouched), then all
	# from the target (completed sync=full), against a plain read.
	t=$(now)
	dd if="$src" of=/dev/null bs=1M iflag=direct status=none
	result "$label plain_read_MBps $(mbps "$s" "$(elapsed "$t")")"
	dmsetup create cb --table "$(cb_table "$src" "$tgt" none)"
	dmsetup create cbv --readonly --table "0 $s cowbackup-snap $src $tgt"
	t=$(now)
	dd if=/dev/mapper/cbv of=/dev/null bs=1M iflag=direct status=none
	result "$label view_source_read_MBps $(mbps "$s" "$(elapsed "$t")")"
	dmsetup remove cbv
	dmsetup remove cb
	dmsetup create cb --table "$(cb_table "$src" "$tgt" full)"
	wait_done cb
	dmsetup create cbv --readonly --table "0 $s cowbackup-snap $src $tgt"
	t=$(now)
	dd if=/dev/mapper/cbv of=/dev/null bs=1M iflag=direct status=none
	result "$label view_target_read_MBps $(mbps "$s" "$(elapsed "$t")")"
	dmsetup remove cbv
	dmsetup remove cb
}

meminfo() { awk -v k="$1:" '$1 == k {print $2}' /proc/meminfo; }

# Memory of a sync=none job (4 KiB clusters) across many random writes.
bench_none_memory() {
	local src=$1 tgt=$2 s a0 a1 a2 sl1 sl2 v
	s=$(blockdev --getsz "$src")
	sync
	echo 3 >/proc/sys/vm/drop_caches
	a0=$(meminfo MemAvailable) v=$(meminfo VmallocUsed)
	dmsetup create cb --table "$(cb_table "$src" "$tgt" none "2 cluster_size 8")"
	a1=$(meminfo MemAvailable) sl1=$(meminfo SUnreclaim)
	result "none memory_at_create_KiB $((a0 - a1))"
	result "none vmalloc_at_create_KiB $(($(meminfo VmallocUsed) - v))"
	fio --name=none --filename=/dev/mapper/cb --direct=1 --ioengine=libaio \
		--iodepth=32 --bs=4k --rw=randwrite --norandommap --randrepeat=0 \
		--number_ios="$NONE_WRITES" --io_size=$((NONE_WRITES * 4096)) \
		--output-format=json 2>/dev/null >/tmp/none.json
	sync
	echo 3 >/proc/sys/vm/drop_caches
	a2=$(meminfo MemAvailable) sl2=$(meminfo SUnreclaim)
	log "sync=none after writes: $(dmsetup status cb)"
	result "none writes $(python3 -c 'import json; print(json.load(open("/tmp/none.json"))["jobs"][0]["write"]["total_ios"])')"
	result "none memory_growth_after_writes_KiB $((a1 - a2))"
	result "none slab_growth_after_writes_KiB $((sl2 - sl1))"
	dmsetup remove cb
}

modprobe brd rd_nr=2 rd_size=$((MB * 1024)) max_part=0 || exit 1
REGION=0
bench_pair brd /dev/ram0 /dev/ram1
if [ ${#D[@]} -ge 2 ]; then
	bench_pair virtio "${D[0]}" "${D[1]}"
else
	log "no virtio scratch disks: skipping the virtio pair"
fi
bench_none_memory /dev/ram0 /dev/ram1
