#!/bin/bash
# Guest side of `make bench-remote` (tests/vm/run --exec): a job's target
# local, behind dm-delay (2 ms per write), and on a kernel NBD device
# connected by nbd-client to qemu-nbd over the loopback, all three over
# the same RAM disk; the source is another RAM disk. Per target and
# repetition (the targets alternate within each repetition):
#  - first writes: BENCH_FIRST_WRITES 4 KiB O_DIRECT writes, one per
#    64 KiB cluster, QD1, into a paused sync=full job (each waits for its
#    cluster's copy-out to the target): IOPS and completion latency p50
#    and p99 (fio);
#  - the bound of a first write: 64 KiB O_DIRECT writes straight to the
#    target, QD1 (the copy-out's own write): completion latency p50;
#  - background copy at speed 0, from resume to completion: MB/s.
# Prints every repetition and the medians as a Markdown table on stdout.
#
# Environment: BENCH_REPS [5], BENCH_MB device size [128],
# BENCH_FIRST_WRITES [512], BENCH_DELAY_MS [2].
set -u
export LC_ALL=C
REPS=${BENCH_REPS:-5}
MB=${BENCH_MB:-128}
WRITES=${BENCH_FIRST_WRITES:-512}
DELAY=${BENCH_DELAY_MS:-2}
PORT=10820
log() { echo "# [${SECONDS}s] $*" >&2; }
die() { echo "remote-targets: $*" >&2; exit 1; }

for m in brd dm-delay nbd; do
	modprobe "$m" $([ $m = brd ] && echo "rd_nr=2 rd_size=$((MB * 1024))") ||
		die "modprobe $m failed"
done
ip link set lo up
SRC=/dev/ram0 RAM=/dev/ram1
S=$(blockdev --getsz $SRC)
dd if=/dev/urandom of=$SRC bs=1M count="$MB" oflag=direct status=none ||
	die "cannot fill $SRC"

dmsetup create rt-delay --table "0 $S delay $RAM 0 0 $RAM 0 $DELAY" ||
	die "cannot create the dm-delay target"
qemu-nbd -f raw --cache=none -x t --bind=127.0.0.1 --port=$PORT \
	--persistent --fork --pid-file=/tmp/rt-qemu-nbd.pid $RAM ||
	die "cannot start qemu-nbd"
nbd-client 127.0.0.1 $PORT /dev/nbd0 -N t -b 512 >/dev/null 2>&1 ||
	die "nbd-client failed"
declare -A TGT=([local]=$RAM [delay]=/dev/mapper/rt-delay [nbd]=/dev/nbd0)
ORDER="local delay nbd"

state() { dmsetup status cb | awk '{print $4}'; }

# first TARGET: "IOPS P50_US P99_US" of the first writes.
first() {
	local f=/tmp/rt-fio.json
	dmsetup create cb --table "0 $S cowbackup $SRC $1 full 1 paused" || return 1
	fio --name=fw --filename=/dev/mapper/cb --direct=1 --ioengine=libaio \
		--iodepth=1 --bs=4k --rw=write:60k --size=$((WRITES * 65536)) \
		--io_size=$((WRITES * 4096)) --output-format=json --output=$f \
		>/dev/null 2>&1
	dmsetup remove cb
	python3 - "$f" <<'EOF'
import json, sys
w = json.load(open(sys.argv[1]))["jobs"][0]["write"]
p = w["clat_ns"]["percentile"]
print(f'{w["iops"]:.0f} {p["50.000000"] / 1e3:.0f} {p["99.000000"] / 1e3:.0f}')
EOF
}

# bound TARGET: p50 (us) of 64 KiB O_DIRECT writes to TARGET itself, QD1.
bound() {
	local f=/tmp/rt-fio.json
	fio --name=bound --filename="$1" --direct=1 --ioengine=libaio \
		--iodepth=1 --bs=64k --rw=write --size=$((WRITES * 65536)) \
		--output-format=json --output=$f >/dev/null 2>&1
	python3 - "$f" <<'EOF2'
import json, sys
w = json.load(open(sys.argv[1]))["jobs"][0]["write"]
print(f'{w["clat_ns"]["percentile"]["50.000000"] / 1e3:.0f}')
EOF2
}

# copy TARGET: MB/s of the background copy, resume to completion.
copy() {
	local t0 t1
	dmsetup create cb --table "0 $S cowbackup $SRC $1 full 1 paused" || return 1
	dmsetup message cb 0 resume
	t0=$EPOCHREALTIME
	while [ "$(state)" = running ]; do sleep 0.05; done
	t1=$EPOCHREALTIME
	[ "$(state)" = completed ] || log "copy to $1 ended $(state)"
	dmsetup remove cb
	awk -v s="$S" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f\n", s * 512 / (b - a) / 1e6 }'
}

declare -A ROWS
for r in $(seq "$REPS"); do
	for t in $ORDER; do
		fw=$(first "${TGT[$t]}") || die "first writes on $t failed"
		bd=$(bound "${TGT[$t]}") || die "bound of $t failed"
		cp=$(copy "${TGT[$t]}") || die "copy to $t failed"
		ROWS[$t]+="$fw $bd $cp"$'\n'
		log "rep $r/$REPS $t: first IOPS/p50/p99 $fw, 64K write p50 $bd, copy $cp MB/s"
	done
done

med() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
echo "| target | first-write IOPS (QD1) | p50 us | p99 us | bound: 64K write p50 us | copy MB/s | repetitions (IOPS p50 p99 bound MB/s) |"
echo "|---|---|---|---|---|---|---|"
for t in $ORDER; do
	rows=${ROWS[$t]}
	printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$t" \
		"$(awk '{print $1}' <<<"$rows" | med)" \
		"$(awk '{print $2}' <<<"$rows" | med)" \
		"$(awk '{print $3}' <<<"$rows" | med)" \
		"$(awk '{print $4}' <<<"$rows" | med)" \
		"$(awk '{print $5}' <<<"$rows" | med)" \
		"$(awk 'NF { printf "%s%s/%s/%s/%s/%s", sep, $1, $2, $3, $4, $5; sep = ", " }' <<<"$rows")"
done
nbd-client -d /dev/nbd0 >/dev/null 2>&1
kill "$(cat /tmp/rt-qemu-nbd.pid)"
dmsetup remove rt-delay
