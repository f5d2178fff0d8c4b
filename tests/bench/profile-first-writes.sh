#!/bin/bash
# Where a first write's time goes: perf (cpu-clock, every CPU, call
# graphs) over strided 4 KiB O_DIRECT first writes at QD1 through a
# paused full job with 64 KiB clusters on brd, and over the same writes
# through dm-linear. Runs in a guest, which has the host's perf over 9p:
#
#   tests/vm/run --exec 'bash $REPO/tests/bench/profile-first-writes.sh'
#
# Reports go to build/bench/profile/ (flat and cumulative for the job,
# flat for dm-linear, samples by command). PROFILE_WRITES (4000) writes
# per run, at most one per cluster of the 256 MiB source.
set -uo pipefail
OUT=$REPO/build/bench/profile
N=${PROFILE_WRITES:-4000}
mkdir -p "$OUT" || exit 1
command -v perf >/dev/null || { echo "profile: no perf (make deps installs linux-perf)" >&2; exit 1; }
modprobe brd rd_nr=2 rd_size=262144 max_part=0 || exit 1
# Both disks hold data, so no brd page is allocated during the runs.
for d in /dev/ram0 /dev/ram1; do
	fio --name=fill --filename=$d --direct=1 --ioengine=libaio \
		--iodepth=8 --bs=1M --rw=write >/dev/null 2>&1 || exit 1
done
echo -1 >/proc/sys/kernel/perf_event_paranoid
echo 0 >/proc/sys/kernel/kptr_restrict
s=$(blockdev --getsz /dev/ram0)

# profile NAME DEV: the writes through DEV under perf record.
profile() {
	perf record -q -o "/tmp/perf.$1" -a -g -e cpu-clock -F 4000 -- \
		fio --name=fw --filename="$2" --direct=1 --ioengine=libaio \
		--iodepth=1 --bs=4k --rw=write:61440 --size=$((N * 65536)) \
		--io_size=$((N * 4096)) --output-format=json >"$OUT/fio.$1.json" 2>&1
}
report() {
	perf report -i "/tmp/perf.$1" --stdio "${@:2}" 2>/dev/null | grep -v '^$'
}

dmsetup create plin --table "0 $s linear /dev/ram0 0" || exit 1
profile linear /dev/mapper/plin
dmsetup remove plin
dmsetup create pcb --table "0 $s cowbackup /dev/ram0 /dev/ram1 full 3 cluster_size 128 paused" || exit 1
profile cowbackup /dev/mapper/pcb
dmsetup status pcb
dmsetup remove pcb

report cowbackup --no-children --sort sym | head -400 >"$OUT/cowbackup-flat.txt"
report cowbackup --children --sort sym -g none | head -200 >"$OUT/cowbackup-cumulative.txt"
report cowbackup --sort comm -g none | head -40 >"$OUT/cowbackup-comm.txt"
report linear --no-children --sort sym -g none | head -100 >"$OUT/linear-flat.txt"
echo "profile: reports in $OUT"
