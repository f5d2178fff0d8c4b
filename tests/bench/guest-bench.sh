#!/bin/bash
# Guest side of `make bench` (started by tests/bench/run through
# tests/vm/run --exec). On brd RAM disks (and, shorter, on virtio disks):
#  - first writes: one 4 KiB O_DIRECT write per cluster ("strided") through
#    a fresh setup per repetition, at each cluster size of BENCH_CLUSTERS,
#    QD1 and QD32, for dm-linear (no copy), a paused sync=full cowbackup
#    job, dm-snapshot (snapshot-origin + persistent snapshot, COW on the
#    target disk, chunk = cluster) and a dm-thin snapshot (pool data on the
#    source and target disks, metadata on a third RAM disk; writes to the
#    origin thin volume break sharing with a fresh snapshot); fio's IOPS
#    and clat p50/p99 of each;
#  - the physical bound of a first write: dm-linear 4 KiB write IOPS (the
#    same strided pattern), the time per block of `dd bs=<cluster>
#    iflag=direct oflag=direct` from source to target, and dd's bs=1M
#    throughput;
#  - settled writes (a live job whose clusters are all copied) against
#    dm-linear: strided QD1/QD32, random QD1/QD32 and random with two fio
#    jobs (the guest has two vCPUs);
#  - background copy at speed 0 against dd, waited for with `dmsetup wait`
#    on the event counter, and the throttle error over a 4 s window;
#  - the cowbackup-snap view's read throughput against a plain read;
#  - memory of a sync=none job before and after many random writes;
#  - the cowbackup-track target (issue 13): 4 KiB random writes through a
#    tracker against dm-linear, to unmarked clusters (fresh tracker) and
#    to marked ones, QD1 and QD32; memory and metadata per TiB tracked
#    (a tracker over a 1 TiB dm-zero device), per cluster size.
# Every setup of one measurement runs alternately within each repetition.
#
# Output for the host side (tests/bench/report.py), on stdout:
#   REP <devices> <key> <value>    one line per repetition; a value
#                                  "@<file>" names fio's JSON output
#                                  (in BENCH_FIODIR, default /tmp/bench-fio)
#   INFO <devices> <key> <value>   constants of the run; "INFO all
#                                  complete 1" is the last line
# and progress notes ("# ...") on stderr.
#
# Environment (defaults in brackets; BENCH_QUICK=1 gives a smoke test):
# BENCH_REPS [5; quick 1], BENCH_MB device size [512; quick 96],
# BENCH_CLUSTERS ["4k 64k 1m"; "" skips the first writes],
# BENCH_VIRTIO_CLUSTERS [""; e.g. "64k" adds first writes on the virtio
# disks], BENCH_FIRST_WRITES writes per first-write run, at most one per
# cluster [2048; quick 512], BENCH_FIRST_MB at most this many MiB copied
# per first-write run [128; quick 32], BENCH_RUNTIME seconds per random
# run [3; quick 1], BENCH_NONE_WRITES [1000000; quick 20000],
# BENCH_FIODIR where fio's JSON goes [/tmp/bench-fio],
# BENCH_SECTIONS the parts to run, any of "brd virtio none track" (brd:
# first writes, settled writes, copy and view reads on brd; virtio: the
# same on the virtio disks; none: sync=none memory; track: the
# cowbackup-track target) [all four], BENCH_TRACK_WRITES writes per
# tracker first-write run, at most one per 64 KiB cluster [8192; quick
# 1024], BENCH_TRACK_CLUSTERS cluster sizes of the tracker memory
# measurement ["4k 64k 1m 8m"].
set -u
export LC_ALL=C

QUICK=${BENCH_QUICK:-0}
if [ "$QUICK" = 1 ]; then
	q_reps=1 q_mb=96 q_fw=512 q_fmb=32 q_rt=1 q_none=20000 q_tw=1024
else
	q_reps=5 q_mb=512 q_fw=2048 q_fmb=128 q_rt=3 q_none=1000000 q_tw=8192
fi
REPS=${BENCH_REPS:-$q_reps}
MB=${BENCH_MB:-$q_mb}
FIRST_WRITES=${BENCH_FIRST_WRITES:-$q_fw}
FIRST_MB=${BENCH_FIRST_MB:-$q_fmb}
RUNTIME=${BENCH_RUNTIME:-$q_rt}
NONE_WRITES=${BENCH_NONE_WRITES:-$q_none}
CLUSTERS=${BENCH_CLUSTERS-4k 64k 1m}
VIRTIO_CLUSTERS=${BENCH_VIRTIO_CLUSTERS-}
FIODIR=${BENCH_FIODIR:-/tmp/bench-fio}
SECTIONS=${BENCH_SECTIONS-brd virtio none track}
TRACK_WRITES=${BENCH_TRACK_WRITES:-$q_tw}
TRACK_CLUSTERS=${BENCH_TRACK_CLUSTERS-4k 64k 1m 8m}
read -r -a D <<<"${COWBACKUP_DISKS:-}"

# section NAME: whether BENCH_SECTIONS selects NAME.
section() { [[ " $SECTIONS " == *" $1 "* ]]; }
log() { echo "# [${SECONDS}s] $*" >&2; }
# fd 3 is stdout, so REP lines printed inside $(...) still reach the host.
exec 3>&1
rep() { echo "REP $*" >&3; }
info() { echo "INFO $*" >&3; }
# Times from bash itself: no process start-up inside a measured interval.
now() { echo "$EPOCHREALTIME"; }
elapsed() {
	local e=$EPOCHREALTIME
	awk -v a="$1" -v b="$e" 'BEGIN { printf "%.3f", b - a }'
}
mbps() { awk -v s="$1" -v t="$2" 'BEGIN { printf "%.0f", s * 512 / t / 1e6 }'; }

# bytes 4k|64k|1m|65536 -> bytes
bytes() {
	local v=${1,,}
	case $v in
	*k) echo $((${v%k} << 10)) ;;
	*m) echo $((${v%m} << 20)) ;;
	*) echo "$v" ;;
	esac
}

# fio_run KEY DEV QD PATTERN [CLUSTER [WRITES]]: one fio run; its JSON
# output goes to $FIODIR/KEY.<n>.json (parsed on the host by report.py:
# no python start-up per run in the guest), a "REP <label> KEY @<file>"
# line names it, and the write IOPS are printed for the progress notes.
#   strided: WRITES writes, one 4 KiB write at the start of each CLUSTER
#            bytes (io_size bounds it: fio would otherwise wrap around
#            and rewrite the same clusters until size bytes are written)
#   random:  random 4 KiB writes over $REGION for $RUNTIME seconds
#   random2: the same with two fio jobs of QD/2 each (summed)
#   replay:  the writes listed in the fio iolog $IOLOG, in its order
fio_run() {
	local key=$1 dev=$2 qd=$3 pat=$4 cs=${5:-65536} n=${6:-0} args f
	case $pat in
	strided)
		if [ "$cs" -gt 4096 ]; then
			args=(--rw="write:$((cs - 4096))")
		else
			args=(--rw=write)
		fi
		args+=(--size=$((n * cs)) --io_size=$((n * 4096)))
		;;
	random)
		args=(--rw=randwrite --norandommap --time_based
			--runtime="$RUNTIME" --size="$REGION")
		;;
	random2)
		args=(--rw=randwrite --norandommap --time_based
			--runtime="$RUNTIME" --size="$REGION" --numjobs=2
			--group_reporting)
		qd=$((qd / 2))
		;;
	replay)
		# The writes of $IOLOG (fio iolog v2), in its order, as fast
		# as the queue depth allows.
		args=(--read_iolog="$IOLOG" --replay_redirect="$dev"
			--replay_no_stall=1)
		;;
	esac
	# Callers run this in $(...): a counter in a shell variable would not
	# survive, and every repetition would overwrite the first one's JSON.
	f=$(mktemp --suffix=.json "$FIODIR/$key.XXXXXX")
	fio --name=bench --filename="$dev" --direct=1 --ioengine=libaio \
		--iodepth="$qd" --bs=4k --randrepeat=0 "${args[@]}" \
		--output-format=json --output="$f" 2>>"$FIODIR/fio.err"
	[ "${key#*_}" = settle ] || rep "${key%%_*} ${key#*_} @$f"
	# The write section's "iops" (the read section comes first).
	sed -n '/"write" : {/,/"iops"/ s/.*"iops" : \([0-9.]*\).*/\1/p' "$f" |
		awk '{ printf "%.0f", $1; exit }'
}

# dd_secs ARGS...: dd's own elapsed time (without process start-up)
dd_secs() {
	dd "$@" 2>&1 | sed -n 's/.* copied, \([0-9.e+-]*\) s,.*/\1/p'
}

cb_table() {
	echo "0 $(blockdev --getsz "$1") cowbackup $1 $2 $3${4:+ $4}"
}

state() { dmsetup status "$1" | awk '{print $4}'; }
settled() { dmsetup status "$1" | awk '{split($7, a, "/"); print a[1]}'; }
events() { dmsetup info -c --noheadings -o events "$1" | tr -d ' '; }

# wait_done DEV: block on dm events until the job is no longer running or
# paused. The counter is read before the state, so a completion between
# the two makes `dmsetup wait` return at once: no event is lost and no
# process polls. DONE_T is the time the last `dmsetup wait` returned (or
# the state was first seen ended), so the start-up of the processes that
# read the state after the wake-up is not counted.
wait_done() {
	local ev
	DONE_T=""
	while :; do
		ev=$(events "$1")
		case $(state "$1") in
		running | paused)
			dmsetup wait "$1" "$ev" >/dev/null
			DONE_T=$EPOCHREALTIME
			;;
		*)
			[ -n "$DONE_T" ] || DONE_T=$EPOCHREALTIME
			return
			;;
		esac
	done
}

# first_one LABEL SETUP DEV CLUSTER WRITES QD NAME: one repetition of one
# setup's first writes; prints its IOPS.
first_one() {
	fio_run "$1_first_$2_$7_qd$6" "$3" "$6" strided "$4" "$5"
}

# first_writes LABEL SRC TGT: the first-write matrix and the bound.
first_writes() {
	local label=$1 src=$2 tgt=$3 clusters=$4 s cs name sec n r qd
	local dsz psz tsz summary t mb1
	s=$(blockdev --getsz "$src")
	dmsetup create bl --table "0 $s linear $src 0"
	# Pool data: the source disk, then the target disk (dm-thin allocates
	# from the start, so the origin sits on the source and its copies
	# go mostly to the target, as for the other setups).
	dmsetup create bdata --table "0 $s linear $src 0
$s $(blockdev --getsz "$tgt") linear $tgt 0"
	dsz=$(blockdev --getsz /dev/mapper/bdata)
	# dd's bs=1M throughput over FIRST_MB MiB (at most the device - 16 MiB)
	mb1=$((s / 2048 - 16))
	[ "$mb1" -gt "$FIRST_MB" ] && mb1=$FIRST_MB
	for name in $clusters; do
		cs=$(bytes "$name")
		sec=$((cs / 512))
		# Room for dm-snapshot's COW store (N chunks + header and
		# metadata) on the target, and a live cowbackup job.
		# At most FIRST_WRITES writes and FIRST_MB MiB of copies a run.
		n=$(((s * 512 - (16 << 20)) / cs))
		[ "$n" -gt "$FIRST_WRITES" ] && n=$FIRST_WRITES
		[ "$n" -gt $(((FIRST_MB << 20) / cs)) ] && n=$(((FIRST_MB << 20) / cs))
		info "$label writes_$name $n"
		info "$label cluster_bytes_$name $cs"
		log "$label first writes, $name clusters: $n writes per run, $REPS repetitions"
		# dm-thin: blocks from 64 KiB up; the origin is written once
		# (provisioned), each repetition takes a fresh snapshot of it.
		tsz=0
		if [ "$cs" -ge 65536 ]; then
			dd if=/dev/zero of=/dev/mapper/bmeta bs=4k count=1 oflag=direct status=none
			psz=$((dsz / sec * sec))
			tsz=$((n * sec))
			if ! { dmsetup create bpool --table "0 $psz thin-pool /dev/mapper/bmeta /dev/mapper/bdata $sec 0 2 skip_block_zeroing error_if_no_space" &&
				dmsetup message bpool 0 "create_thin 0" &&
				dmsetup create bthin --table "0 $tsz thin /dev/mapper/bpool 0" &&
				fio --name=fill --filename=/dev/mapper/bthin --direct=1 --ioengine=libaio \
					--iodepth=8 --bs=1M --rw=write >/dev/null 2>&1; }; then
				log "$label: dm-thin setup failed; no thin figures"
				tsz=0
			fi
		fi
		for r in $(seq "$REPS"); do
			summary=""
			# The bound's copy term: dd of n blocks of one cluster,
			# and dd's bs=1M throughput, both source -> target.
			t=$(dd_secs if="$src" of="$tgt" bs="$cs" count="$n" iflag=direct oflag=direct)
			rep "$label copy_block_us_$name $(awk -v t="$t" -v n="$n" 'BEGIN { printf "%.1f", t / n * 1e6 }')"
			t=$(dd_secs if="$src" of="$tgt" bs=1M count="$mb1" iflag=direct oflag=direct)
			rep "$label dd_1M_MBps $(awk -v t="$t" -v b=$((mb1 << 20)) 'BEGIN { printf "%.0f", b / t / 1e6 }')"
			for qd in 1 32; do
				summary+=" qd$qd: linear $(first_one "$label" linear /dev/mapper/bl "$cs" "$n" "$qd" "$name")"

				dmsetup create cb --table "$(cb_table "$src" "$tgt" full "3 cluster_size $sec paused")"
				summary+=" cowbackup $(first_one "$label" cowbackup /dev/mapper/cb "$cs" "$n" "$qd" "$name")"
				[ "$r$qd" = 11 ] && log "$label $name qd$qd cowbackup after: $(dmsetup status cb)"
				dmsetup remove cb

				# A zeroed header makes a new persistent store.
				dd if=/dev/zero of="$tgt" bs=4k count=1 oflag=direct status=none
				dmsetup create bsnap --table "0 $s snapshot $src $tgt P $sec"
				dmsetup create borig --table "0 $s snapshot-origin $src"
				summary+=" snapshot $(first_one "$label" snapshot /dev/mapper/borig "$cs" "$n" "$qd" "$name")"
				[ "$r$qd" = 11 ] && log "$label $name qd$qd snapshot after: $(dmsetup status bsnap)"
				dmsetup remove borig
				dmsetup remove bsnap

				if [ "$tsz" -gt 0 ]; then
					dmsetup suspend bthin
					dmsetup message bpool 0 "create_snap 1 0"
					dmsetup resume bthin
					summary+=" thin $(first_one "$label" thin /dev/mapper/bthin "$cs" "$n" "$qd" "$name")"
					[ "$r$qd" = 11 ] && log "$label $name qd$qd thin pool after: $(dmsetup status bpool)"
					dmsetup message bpool 0 "delete 1"
				fi
			done
			log "$label $name rep $r/$REPS:$summary"
		done
		if [ "$cs" -ge 65536 ]; then
			dmsetup remove bthin 2>/dev/null
			dmsetup remove bpool 2>/dev/null
		fi
	done
	dmsetup remove bdata
	dmsetup remove bl
}

# settled LABEL SRC TGT: a paused job whose clusters are all copied,
# except the last MiB, which no benchmark writes (so the job stays live
# and every write is looked at), against dm-linear.
settled_writes() {
	local label=$1 src=$2 tgt=$3 s r pat qd summary dev v order
	s=$(blockdev --getsz "$src")
	REGION=$((s * 512 - (1 << 20)))
	dmsetup create bl --table "0 $s linear $src 0"
	dmsetup create cb --table "$(cb_table "$src" "$tgt" full "1 paused")"
	fio_run "${label}_settle" /dev/mapper/cb 32 strided 65536 $((REGION / 65536)) >/dev/null
	log "$label settled job: $(dmsetup status cb)"
	for r in $(seq "$REPS"); do
		summary=""
		# ABBA: dm-linear first in odd repetitions, the job in even ones.
		if [ $((r % 2)) = 1 ]; then order="linear settled"; else order="settled linear"; fi
		for pat in strided:1 strided:32 random:1 random:32 random2:32; do
			qd=${pat#*:} pat=${pat%:*}
			for dev in $order; do
				if [ $dev = linear ]; then
					v=$(fio_run "${label}_${dev}_${pat}_qd$qd" /dev/mapper/bl "$qd" "$pat" 65536 $((REGION / 65536)))
				else
					v=$(fio_run "${label}_${dev}_${pat}_qd$qd" /dev/mapper/cb "$qd" "$pat" 65536 $((REGION / 65536)))
				fi
				summary+=" $dev $pat qd$qd $v;"
			done
		done
		log "$label settled rep $r/$REPS:$summary"
	done
	log "$label after settled writes: $(dmsetup status cb)"
	dmsetup remove cb
	dmsetup remove bl
}

# copy LABEL SRC TGT: background copy at speed 0 against dd (neither
# counting process start-up), then the throttle over 4 s.
copy_speed() {
	local label=$1 src=$2 tgt=$3 s r t c0 c1 t0 sp cl c d
	s=$(blockdev --getsz "$src")
	for r in $(seq "$REPS"); do
		dmsetup create cb --table "$(cb_table "$src" "$tgt" full "1 paused")"
		# From the return of the resume message (the copy starts at its
		# ioctl, at the end of the process) to the wake-up on completion.
		dmsetup message cb 0 resume
		t=$EPOCHREALTIME
		wait_done cb
		c=$(mbps "$s" "$(awk -v a="$t" -v b="$DONE_T" 'BEGIN { printf "%.3f", b - a }')")
		[ "$r" = 1 ] && log "$label copy: $(dmsetup status cb)"
		dmsetup remove cb
		# dd's own timing, without its start-up.
		d=$(mbps "$s" "$(dd_secs if="$src" of="$tgt" bs=1M iflag=direct oflag=direct)")
		rep "$label copy_MBps $c"
		rep "$label dd_MBps $d"
		log "$label copy rep $r/$REPS: copy $c MB/s, dd $d MB/s"
	done
	# Throttle: speed = an eighth of the device per second, so 4 s copy
	# half of it; bytes copied (settled clusters x cluster size) between
	# two status readings about 4 s apart, against speed x their interval.
	sp=$((s * 512 / 8))
	cl=65536
	info "$label throttle_speed $sp"
	for r in $(seq "$REPS"); do
		dmsetup create cb --table "$(cb_table "$src" "$tgt" full "3 speed $sp paused")"
		dmsetup message cb 0 resume
		# Each reading's time is taken when its dmsetup returns: the
		# ioctl is at the end of the process, after its start-up.
		c0=$(settled cb)
		t0=$EPOCHREALTIME
		sleep 4
		c1=$(settled cb)
		t=$(elapsed "$t0")
		rep "$label throttle_ratio $(awk -v a="$c0" -v b="$c1" -v c=$cl -v t="$t" -v sp=$sp 'BEGIN { printf "%.4f", (b - a) * c / (sp * t) }')"
		[ "$r" = 1 ] && log "$label throttle: $c0 -> $c1 clusters in $t s at $sp B/s: $(dmsetup status cb)"
		dmsetup remove cb
	done
}

# view LABEL SRC TGT: reads through cowbackup-snap, all from the source
# (sync=none, untouched), then all from the target (completed sync=full),
# against a plain read (dd's own timing).
view_reads() {
	local label=$1 src=$2 tgt=$3 s t
	s=$(blockdev --getsz "$src")
	rep "$label plain_read_MBps $(mbps "$s" "$(dd_secs if="$src" of=/dev/null bs=1M iflag=direct)")"
	dmsetup create cb --table "$(cb_table "$src" "$tgt" none)"
	dmsetup create cbv --readonly --table "0 $s cowbackup-snap $src $tgt"
	rep "$label view_source_read_MBps $(mbps "$s" "$(dd_secs if=/dev/mapper/cbv of=/dev/null bs=1M iflag=direct)")"
	dmsetup remove cbv
	dmsetup remove cb
	dmsetup create cb --table "$(cb_table "$src" "$tgt" full)"
	wait_done cb
	dmsetup create cbv --readonly --table "0 $s cowbackup-snap $src $tgt"
	rep "$label view_target_read_MBps $(mbps "$s" "$(dd_secs if=/dev/mapper/cbv of=/dev/null bs=1M iflag=direct)")"
	dmsetup remove cbv
	dmsetup remove cb
}

bench_pair() {
	local label=$1 src=$2 tgt=$3 clusters=$4 s
	s=$(blockdev --getsz "$src")
	log "$label: $src -> $tgt, $((s / 2048)) MiB"
	# brd allocates a page on its first write: write every page of the
	# target once, so no setup pays for it. Then non-zero data all over
	# the source, so copies are real copies (no zero detection).
	dd if=/dev/zero of="$tgt" bs=1M count=$((s / 2048)) oflag=direct status=none
	fio --name=fill --filename="$src" --direct=1 --ioengine=libaio \
		--iodepth=8 --bs=1M --rw=write >/dev/null 2>&1
	[ -n "$clusters" ] && first_writes "$label" "$src" "$tgt" "$clusters"
	settled_writes "$label" "$src" "$tgt"
	copy_speed "$label" "$src" "$tgt"
	view_reads "$label" "$src" "$tgt"
}

meminfo() { awk -v k="$1:" '$1 == k {print $2}' /proc/meminfo; }

# Memory of a sync=none job (4 KiB clusters) across many random writes.
bench_none_memory() {
	local src=$1 tgt=$2 a0 a1 a2 sl1 sl2 v
	sync
	echo 3 >/proc/sys/vm/drop_caches
	a0=$(meminfo MemAvailable) v=$(meminfo VmallocUsed)
	dmsetup create cb --table "$(cb_table "$src" "$tgt" none "2 cluster_size 8")"
	a1=$(meminfo MemAvailable) sl1=$(meminfo SUnreclaim)
	info "none memory_at_create_KiB $((a0 - a1))"
	info "none vmalloc_at_create_KiB $(($(meminfo VmallocUsed) - v))"
	fio --name=none --filename=/dev/mapper/cb --direct=1 --ioengine=libaio \
		--iodepth=32 --bs=4k --rw=randwrite --norandommap --randrepeat=0 \
		--number_ios="$NONE_WRITES" --io_size=$((NONE_WRITES * 4096)) \
		--output-format=json 2>/dev/null >/tmp/none.json
	sync
	echo 3 >/proc/sys/vm/drop_caches
	a2=$(meminfo MemAvailable) sl2=$(meminfo SUnreclaim)
	log "sync=none after writes: $(dmsetup status cb)"
	info "none writes $(python3 -c 'import json; print(json.load(open("/tmp/none.json"))["jobs"][0]["write"]["total_ios"])')"
	info "none memory_growth_after_writes_KiB $((a1 - a2))"
	info "none slab_growth_after_writes_KiB $((sl2 - sl1))"
	dmsetup remove cb
}

# meta_sectors LEN CLUSTER_SECTORS: the metadata device size of a tracker,
# by the admin guide's formula: 8 + 2M sectors, M = ceil(N / 8) bytes
# rounded up to 4 KiB, in sectors (kernel/track_meta.c).
meta_sectors() {
	local n=$((($1 + $2 - 1) / $2))
	echo $((8 + 2 * ((n + 32767) / 32768 * 8)))
}

# meminfo_all: "MemAvailable VmallocUsed Slab SUnreclaim" (KiB), page
# caches dropped first.
meminfo_all() {
	sync
	echo 3 >/proc/sys/vm/drop_caches
	awk '$1 == "MemAvailable:" { a = $2 } $1 == "VmallocUsed:" { v = $2 }
		$1 == "Slab:" { s = $2 } $1 == "SUnreclaim:" { u = $2 }
		END { print a, v, s, u }' /proc/meminfo
}

# mem_delta KEY BEFORE AFTER: one REP line per field, KiB taken (MemAvailable
# falls, the others grow; all reported as "taken").
mem_delta() {
	local key=$1 b a
	read -r -a b <<<"$2"
	read -r -a a <<<"$3"
	rep "track ${key}_avail_KiB $((b[0] - a[0]))"
	rep "track ${key}_vmalloc_KiB $((a[1] - b[1]))"
	rep "track ${key}_slab_KiB $((a[2] - b[2]))"
	rep "track ${key}_sunreclaim_KiB $((a[3] - b[3]))"
	echo "avail $((b[0] - a[0])) vmalloc $((a[1] - b[1])) slab $((a[2] - b[2])) sunreclaim $((a[3] - b[3])) KiB"
}

# track_bench SRC SCRATCH: the cowbackup-track target (issue 13).
#  1. 4 KiB O_DIRECT writes through a tracker (64 KiB clusters, metadata
#     on a slice of SCRATCH) against dm-linear, both over SRC, QD1 and
#     QD32, alternately (linear first in odd repetitions, the tracker
#     first in even ones): (a) first writes: one write to each of a random permutation of
#     clusters (the same fio iolog for both in a repetition) through a
#     fresh tracker (metadata header zeroed: a new history, empty map);
#     (b) marked clusters: random writes for RUNTIME s over the device,
#     every cluster of which was written through the tracker first.
#  2. Memory and metadata per TiB tracked: a tracker over a 1 TiB dm-zero
#     device, metadata on SCRATCH sized by the formula (one sector less
#     must be refused), /proc/meminfo before the create and after its
#     resume, at each cluster size of TRACK_CLUSTERS; a dm-linear device
#     over the same zero device is created the same way as a control (the
#     cost of any mapped device).
track_bench() {
	local src=$1 scr=$2 s ms n r qd v summary name cs sec tib tms b a
	local ctl trk order dev
	s=$(blockdev --getsz "$src")
	dmsetup targets | grep -q '^cowbackup-track ' || {
		log "track: no cowbackup-track target in this module; section skipped"
		return
	}
	modprobe dm-zero 2>/dev/null
	# Every page of SRC allocated once (brd allocates on first write).
	fio --name=fill --filename="$src" --direct=1 --ioengine=libaio \
		--iodepth=8 --bs=1M --rw=write >/dev/null 2>&1
	REGION=$((s * 512))
	ms=$(meta_sectors "$s" 128)
	dmsetup create tmeta --table "0 $ms linear $scr 0" || return
	dd if=/dev/zero of=/dev/mapper/tmeta bs=512 count="$ms" oflag=direct status=none
	dmsetup create bl --table "0 $s linear $src 0" || return
	n=$((s / 128))
	[ "$n" -gt "$TRACK_WRITES" ] && n=$TRACK_WRITES
	info "track tracker_writes $n"
	info "track cluster_bytes 65536"
	info "track meta_sectors_dev $ms"
	log "track: writes through cowbackup-track (64 KiB clusters, $ms metadata sectors) vs dm-linear on $src, $((s / 2048)) MiB; first-write runs of $n writes; $REPS repetitions"
	IOLOG=/tmp/track-first.iolog
	for r in $(seq "$REPS"); do
		summary=""
		# A fresh random permutation of n distinct clusters per repetition.
		{
			echo "fio version 2 iolog"
			echo "$src add"
			echo "$src open"
			shuf -i 0-$((s / 128 - 1)) -n "$n" | awk -v f="$src" '{ print f " write " $1 * 65536 " 4096" }'
			echo "$src close"
		} >"$IOLOG"
		# Odd repetitions run dm-linear first, even ones the tracker
		# (ABBA over two repetitions): a drift within a repetition, or
		# a cost of going second, does not favour either.
		if [ $((r % 2)) = 1 ]; then order="linear tracker"; else order="tracker linear"; fi
		for qd in 1 32; do
			summary+=" first qd$qd:"
			for dev in $order; do
				if [ $dev = linear ]; then
					v=$(fio_run "track_linear_first_qd$qd" /dev/mapper/bl "$qd" replay)
					summary+=" linear $v"
					continue
				fi
				dd if=/dev/zero of=/dev/mapper/tmeta bs=4k count=1 oflag=direct status=none
				dmsetup create tr --table "0 $s cowbackup-track $src /dev/mapper/tmeta 2 cluster_size 128" || return
				[ "$r$qd" = 11 ] && log "track fresh: $(dmsetup status tr)"
				v=$(fio_run "track_tracker_first_qd$qd" /dev/mapper/tr "$qd" replay)
				summary+=" tracker $v"
				[ "$r$qd" = 11 ] && log "track after first writes: $(dmsetup status tr)"
				dmsetup remove tr
			done
			summary+=";"
		done
		# Marked: every cluster written through a fresh tracker first.
		dd if=/dev/zero of=/dev/mapper/tmeta bs=4k count=1 oflag=direct status=none
		dmsetup create tr --table "0 $s cowbackup-track $src /dev/mapper/tmeta 2 cluster_size 128" || return
		fio --name=mark --filename=/dev/mapper/tr --direct=1 --ioengine=libaio \
			--iodepth=8 --bs=1M --rw=write >/dev/null 2>&1
		[ "$r" = 1 ] && log "track all marked: $(dmsetup status tr)"
		for qd in 1 32; do
			summary+=" marked qd$qd:"
			for dev in $order; do
				if [ $dev = linear ]; then
					v=$(fio_run "track_linear_marked_qd$qd" /dev/mapper/bl "$qd" random)
				else
					v=$(fio_run "track_tracker_marked_qd$qd" /dev/mapper/tr "$qd" random)
				fi
				summary+=" $dev $v"
			done
			summary+=";"
		done
		dmsetup remove tr
		log "track rep $r/$REPS:$summary"
	done
	dmsetup remove bl
	dmsetup remove tmeta

	# Memory and metadata per TiB.
	tib=$((1 << 31))
	dmsetup create tzero --table "0 $tib zero" || return
	info "track tracked_sectors $tib"
	for name in $TRACK_CLUSTERS; do
		cs=$(bytes "$name")
		sec=$((cs / 512))
		tms=$(meta_sectors "$tib" "$sec")
		if [ "$tms" -gt "$(blockdev --getsz "$scr")" ]; then
			log "track memory $name: metadata needs $tms sectors, $scr has $(blockdev --getsz "$scr"); skipped (raise BENCH_MB)"
			continue
		fi
		info "track cluster_bytes_mem_$name $cs"
		info "track meta_sectors_$name $tms"
		# One sector less than the formula must be refused.
		dmsetup create tmeta --table "0 $((tms - 1)) linear $scr 0" || return
		if dmsetup create ttr --table "0 $tib cowbackup-track /dev/mapper/tzero /dev/mapper/tmeta 2 cluster_size $sec" 2>/dev/null; then
			info "track meta_minus1_refused_$name 0"
			dmsetup remove ttr
		else
			info "track meta_minus1_refused_$name 1"
		fi
		dmsetup remove tmeta
		dmsetup create tmeta --table "0 $tms linear $scr 0" || return
		# brd pages of the metadata allocated before any reading.
		dd if=/dev/zero of=/dev/mapper/tmeta bs=512 count="$tms" oflag=direct status=none
		log "track memory, $name clusters: $tms metadata sectors, $REPS repetitions"
		for r in $(seq "$REPS"); do
			b=$(meminfo_all)
			dmsetup create tlin --table "0 $tib linear /dev/mapper/tzero 0" || return
			a=$(meminfo_all)
			ctl=$(mem_delta "ctl_$name" "$b" "$a")
			dmsetup remove tlin
			dd if=/dev/zero of=/dev/mapper/tmeta bs=4k count=1 oflag=direct status=none
			b=$(meminfo_all)
			dmsetup create ttr --table "0 $tib cowbackup-track /dev/mapper/tzero /dev/mapper/tmeta 2 cluster_size $sec" || return
			a=$(meminfo_all)
			trk=$(mem_delta "mem_$name" "$b" "$a")
			[ "$r" = 1 ] && log "track memory $name: $(dmsetup status ttr)"
			dmsetup remove ttr
			log "track memory $name rep $r/$REPS: tracker $trk; dm-linear $ctl"
		done
		dmsetup remove tmeta
	done
	dmsetup remove tzero
}

log "settings: sections '$SECTIONS', reps $REPS, $MB MiB devices, clusters '$CLUSTERS' (virtio '$VIRTIO_CLUSTERS'), first-write runs of at most $FIRST_WRITES writes and $FIRST_MB MiB copied, random runs ${RUNTIME}s, tracker first-write runs of at most $TRACK_WRITES writes, tracker memory at '$TRACK_CLUSTERS'"
for w in $SECTIONS; do
	case $w in
	brd | virtio | none | track) ;;
	*) log "BENCH_SECTIONS: unknown section '$w' (brd virtio none track)"; exit 1 ;;
	esac
done
info "all reps $REPS"
info "all sections ${SECTIONS// /,}"
info "all mb $MB"
dmsetup targets | grep -q '^cowbackup ' || {
	log "the cowbackup target is not loaded (was kernel/dm-cowbackup.ko being rebuilt at boot?)"
	exit 1
}
modprobe brd rd_nr=3 rd_size=$((MB * 1024)) max_part=0 || exit 1
modprobe dm-snapshot || exit 1
modprobe dm-thin-pool || exit 1
# dm-thin metadata: up to 64 MiB of the third RAM disk, allocated once.
meta=$(( $(blockdev --getsz /dev/ram2) < 131072 ? $(blockdev --getsz /dev/ram2) : 131072 ))
dmsetup create bmeta --table "0 $meta linear /dev/ram2 0" || exit 1
dd if=/dev/zero of=/dev/mapper/bmeta bs=1M count=$((meta / 2048)) oflag=direct status=none
mkdir -p "$FIODIR" || exit 1
REGION=0
t0=$(now)
if section brd; then
	bench_pair brd /dev/ram0 /dev/ram1 "$CLUSTERS"
	log "brd done after $(elapsed "$t0") s"
fi
if ! section virtio; then
	:
elif [ ${#D[@]} -ge 2 ]; then
	bench_pair virtio "${D[0]}" "${D[1]}" "$VIRTIO_CLUSTERS"
	log "virtio done after $(elapsed "$t0") s"
else
	log "no virtio scratch disks: skipping the virtio pair"
fi
dmsetup remove bmeta
if section none; then
	bench_none_memory /dev/ram0 /dev/ram1
	log "sync=none memory done after $(elapsed "$t0") s"
fi
if section track; then
	track_bench /dev/ram0 /dev/ram1
	log "track done after $(elapsed "$t0") s"
fi
log "all done after $(elapsed "$t0") s"
info "all complete 1"
