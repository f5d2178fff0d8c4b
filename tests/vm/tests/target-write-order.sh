#!/bin/bash
# Write ordering (issue 12, section 2): interception must never weaken the
# crash consistency of the volume being backed up. dm-log-writes sits
# under the SOURCE and records every write in the order it became durable;
# ext4 runs an fsync-heavy load (fio fsync=1 plus create/rename/unlink
# with fsync) on top of a sync=full cowbackup job: first paused (every
# first write goes through a copy-out), then resumed with a speed limit
# (the copier runs while the load does). The log is then replayed to a
# zeroed scratch disk and, at every mark and at a random sample of the
# FLUSH/FUA points (all of them with COWBACKUP_LOGWRITES_ALL=1; the seed
# is printed, COWBACKUP_LOGWRITES_SEED repeats it), the image is checked
# on a throw-away dm-snapshot: journal replay (e2fsck -E journal_only),
# then `e2fsck -fn` must be clean. A control run does the same without
# the cowbackup target. The replayed end state must equal the source
# byte for byte (so the replay itself is proven), and the backup target
# must equal the filesystem as it was when the job started.
# disks: 7
# disk-size: 128M
# mem: 1G
# timeout: 300
. "$(dirname "$0")/../lib.sh"
. "$REPO/tests/vm/tests/data/target-lib.sh"

REPLAY_PY="$REPO/tests/vm/tests/data/log-replay.py"
SAMPLE=${COWBACKUP_LOGWRITES_SAMPLE:-6}
SEED=${COWBACKUP_LOGWRITES_SEED:-$((RANDOM * 32768 + RANDOM))}
M=/tmp/wo-mnt
mkdir -p $M
read -r -a D <<<"$COWBACKUP_DISKS"
[ "${#D[@]}" -ge 7 ] || bail "needs 7 scratch disks"
S=$(cb_size "${D[0]}")

cleanup() {
	umount $M 2>/dev/null
	cb_cleanup
}
trap cleanup EXIT

modprobe dm-log-writes || bail "no dm-log-writes module"
modprobe dm-snapshot || bail "no dm-snapshot module"
# The copy-on-write store of the per-point snapshots.
cb_brd 1 64 || bail "cannot load brd"

# load TAG SEED: the fsync-heavy filesystem load on $M. The same work
# for every run (fixed sizes, the fio seed given); marks go into the log
# between its pieces.
load() {
	local tag=$1 i
	# shellcheck disable=SC2016 # fio expands $jobnum and $filenum
	fio --name="wo-$tag" --directory=$M/fio --nrfiles=4 --filesize=512k \
		--filename_format='f.$jobnum.$filenum' --bs=4k --rw=randwrite \
		--fsync=1 --io_size=256k --numjobs=2 \
		--randseed="$2" --ioengine=psync --group_reporting \
		--output=/tmp/fio-"$tag".txt || return 1
	# fio's --fsync left its data dirty in about one run in three (Dirty:
	# 536 kB after it), so writeback wrote it in the next phase or not:
	# write it now, so that every run copies the same clusters out here.
	sync $M/fio/* || return 1
	logmark "$tag-fio"
	for i in $(seq 1 12); do
		dd if=/dev/urandom of=$M/meta/new bs=4k count=$((i % 5 + 1)) \
			conv=fsync status=none || return 1
		mv $M/meta/new $M/meta/f$((i % 7)) &&
			sync $M/meta &&
			rm -f $M/meta/f$(((i + 3) % 7)) || return 1
	done
	return 0
}

# prefill DEV: the load's files, full of random data, on the fs on DEV.
prefill() {
	local j f
	mount -t ext4 "$1" $M || return 1
	mkdir -p $M/meta $M/fio || return 1
	for j in 0 1; do
		for f in 0 1 2 3; do
			dd if=/dev/urandom of=$M/fio/f.$j.$f bs=64k count=8 \
				status=none || return 1
		done
	done
	for f in 0 1 2 3 4 5 6; do
		dd if=/dev/urandom of=$M/meta/f$f bs=4k count=4 status=none || return 1
	done
	umount $M
}

LW=
logmark() { dmsetup message "$LW" 0 mark "$1"; }

# fsck_point: the check run by the replay tool at each point: a
# throw-away snapshot of the replayed image, journal recovery on it, then
# a read-only full check. Failing output is kept in /tmp/wo-fsck.<entry>.
# shellcheck disable=SC2016 # expanded by the replay tool's sh -c
FSCK_POINT='
	dmsetup create wo-snap --table "0 '$S' snapshot $REPLAY_DEV /dev/ram0 N 8" || exit 90
	e2fsck -E journal_only -y /dev/mapper/wo-snap >/tmp/wo-fsck.$LR_ENTRY 2>&1
	e2fsck -fn /dev/mapper/wo-snap >>/tmp/wo-fsck.$LR_ENTRY 2>&1
	rc=$?
	dmsetup remove wo-snap || rc=91
	[ $rc -eq 0 ] && rm -f /tmp/wo-fsck.$LR_ENTRY
	exit $rc'

# run NAME SRC LOG REPLAY [TGT]: one run, with a cowbackup job onto TGT
# when given. Sets RESULT to the replay tool's summary line.
run() {
	local name=$1 src=$2 log=$3 replay=$4 tgt=${5:-} fsdev pit out n
	local t0=$SECONDS
	LW=wo-lw-$name
	RESULT=
	check "$name: dm-log-writes under the source" \
		dmsetup create "$LW" --table "0 $S log-writes $src $log" || return
	check "$name: mkfs.ext4 through the log" \
		mkfs.ext4 -q -F -E nodiscard,lazy_itable_init=0,lazy_journal_init=0 \
		"/dev/mapper/$LW" || return
	logmark mkfs
	# Files with data (not holes) before the job starts, so the load's
	# first writes copy data out, not only zero clusters.
	check "$name: fill the files the load rewrites" prefill "/dev/mapper/$LW"
	logmark prefilled
	fsdev=/dev/mapper/$LW
	if [ -n "$tgt" ]; then
		pit=$(md5_direct "/dev/mapper/$LW")
		check "$name: a paused sync=full job on top" \
			cb_create wo-cb "/dev/mapper/$LW" "$tgt" full paused || return
		fsdev=/dev/mapper/wo-cb
	fi
	check "$name: mount ext4" mount -t ext4 "$fsdev" $M || return
	logmark mounted
	check "$name: fsync load, copy-on-write path" load "$name-a" 1234
	logmark "$name-a-done"
	if [ -n "$tgt" ]; then
		diag "$name: after the paused phase: $(cb_status wo-cb)"
		check "$name: the load made copy-outs of data" \
			test "$(cb_get wo-cb cow)" -ge 16
		# 128 MiB at 1 MiB/s: the copier is busy for the whole phase.
		check "$name: resume with a speed limit" \
			bash -c "dmsetup message wo-cb 0 speed 1048576 &&
				 dmsetup message wo-cb 0 resume"
	fi
	check "$name: fsync load, second phase" load "$name-b" 5678
	logmark "$name-b-done"
	if [ -n "$tgt" ]; then
		diag "$name: after the running phase: $(cb_status wo-cb)"
		check_eq "$name: the copier was running throughout" \
			running "$(cb_get wo-cb state)"
		check "$name: it made background copies meanwhile" \
			test "$(cb_get wo-cb bg)" -gt 0
	fi
	check "$name: umount" umount $M
	logmark unmounted
	if [ -n "$tgt" ]; then
		cb_msg wo-cb speed 0
		cb_check_done "$name: the job completes" wo-cb completed "$(scaled 60)"
		check_eq "$name: the target is the filesystem as the job started" \
			"$pit" "$(md5_direct "$tgt")"
		check "$name: remove the job" dmsetup remove wo-cb
	fi
	diag "$name: log-writes status: $(dmsetup status "$LW" | cut -d' ' -f4-)"
	check "$name: remove dm-log-writes" dmsetup remove "$LW" || return
	blockdev --flushbufs "$log"
	n=$(python3 "$REPLAY_PY" list "$log" | tee /tmp/wo-"$name".entries | wc -l)
	diag "$name: $n log entries, $(grep -c FLUSH /tmp/wo-"$name".entries) FLUSH, $(grep -c FUA /tmp/wo-"$name".entries) FUA, $(grep -c MARK /tmp/wo-"$name".entries) marks"
	local -a opt=(--from-mark mkfs)
	if [ "${COWBACKUP_LOGWRITES_ALL:-0}" = 1 ]; then
		diag "$name: checking every flush/FUA point"
	else
		opt+=(--sample "$SAMPLE" --seed "$SEED")
	fi
	diag "$name: mkfs and load took $((SECONDS - t0)) s"
	t0=$SECONDS
	out=$(REPLAY_DEV=$replay python3 "$REPLAY_PY" replay "${opt[@]}" \
		--check "$FSCK_POINT" "$log" "$replay" 2>&1)
	RESULT=$(tail -n 1 <<<"$out")
	diag "$name: $RESULT"
	diag "$name: replay and checks took $((SECONDS - t0)) s"
	if [[ $RESULT == *" failed=0" ]]; then
		ok "$name: every checked point of the log is fsck-clean"
	else
		not_ok "$name: every checked point of the log is fsck-clean" "$out"
		for f in /tmp/wo-fsck.*; do
			[ -e "$f" ] && diag "$f:" "$(head -n 15 "$f")"
		done
		rm -f /tmp/wo-fsck.*
	fi
	check_eq "$name: the replayed end state is the source byte for byte" \
		"$(md5_direct "$src")" "$(md5_direct "$replay")"
}

diag "sample of $SAMPLE flush/FUA points per run, seed $SEED"
run control "${D[0]}" "${D[1]}" "${D[2]}"
CONTROL=$RESULT
run cowbackup "${D[3]}" "${D[4]}" "${D[5]}" "${D[6]}"
diag "control:   $CONTROL"
diag "cowbackup: $RESULT"

cb_check_klog
check "the log never ran out of space" \
	bash -c "! dmesg | grep -q 'Ran out of space on the logdev'"
done_testing
