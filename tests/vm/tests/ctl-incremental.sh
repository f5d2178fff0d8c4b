#!/bin/bash
# Incremental backups end to end (issue 13), on a tracked volume:
#
# raw LV, byte for byte: a full backup, then three incrementals, with
# random writes (fio, verify patterns), zero-outs and discards between
# them and a writer during each; every incremental copies only the
# tracker's frozen map (its export holds exactly those clusters, and
# every cluster that differs between two points in time is among them);
# the target, and each qcow2 chain restored to a fresh LV, equal the
# point in time (its sha256 taken with the writer stopped); qemu-img
# check and compare are clean. A clean teardown and re-creation of the
# stack (as at reboot) between the second and third keeps the chain. An
# incremental with nothing changed completes at start and succeeds.
#
# The invariant: a crash (metadata put back as it was while live,
# clean=0), a tracker bypassed by a table swap, a size change (lvextend
# detaches the tracker), a target that changed since its backup, another
# target: each makes the next backup a full one, with the reason printed,
# and --incremental-only refuses instead (exit 1, one line).
#
# ext4 LV mounted under a writer through a full backup and three
# incrementals (exports chained): each restore is e2fsck-clean and its
# files equal the point in time.
# disks: 2
# disk-size: 176M
# timeout: 1500
# cpus: 1
# udev: no (the tracker's insertion under udev is ctl-track's; this test
# is about the data of the chain, the same with or without udev)
. "$(dirname "$0")/../lib.sh"

read -r -a D <<<"$COWBACKUP_DISKS"
X=/tmp/cbi
MNT=/tmp/cbi-mnt
RMNT=/tmp/cbi-rmnt
cleanup() {
	[ -n "${WRITER_PID:-}" ] && kill -CONT -- -"$WRITER_PID" 2>/dev/null
	[ -n "${WRITER_PID:-}" ] && kill -- -"$WRITER_PID" 2>/dev/null
	umount "$RMNT" "$MNT" 2>/dev/null
	"$CTL" recover >/dev/null 2>&1
	cleanup_dm
	rm -rf $X
}
trap cleanup EXIT
mkdir -p $X $MNT $RMNT

pvcreate -q "${D[0]}" "${D[1]}" >/dev/null && vgcreate -q vg0 "${D[0]}" "${D[1]}" >/dev/null ||
	bail "cannot create VG"
for lv in raw:16 rmeta:4 rbk:20 rst:16 fs:32 fmeta:4 fbk:32 frst:32; do
	lvcreate -q -y -L "${lv#*:}M" -n "${lv%:*}" vg0 >/dev/null || bail "lvcreate ${lv%:*}"
done
RAW=/dev/vg0/raw
RAWB=$((16 << 20))
CS=65536
NCL=$(($(blockdev --getsize64 $RAW) / CS))

stop_writer() {
	[ -n "${WRITER_PID:-}" ] || return 0
	kill -- -"$WRITER_PID" 2>/dev/null
	wait "$WRITER_PID" 2>/dev/null
	WRITER_PID=
}

# changes N: N random 4 KiB writes with fio's verify headers, a zero-out
# and (where the disk takes it) a discard, at seeded random places.
changes() {
	local seed=$1 z
	fio --name=chg --filename=$RAW --rw=randwrite --bs=4k --direct=1 \
		--size=16M --io_size=$((48 * 4))k --randseed="$seed" \
		--verify=crc32c --do_verify=0 --eta=never --output=/dev/null ||
		bail "fio failed"
	z=$(((seed * 7 % (NCL - 4)) * CS))
	blkdiscard -z -o $z -l $((2 * CS)) $RAW || bail "zero-out failed"
	blkdiscard -o $((z + 3 * CS)) -l $CS $RAW 2>/dev/null || true
}

# The clusters whose data differs between two devices/files.
differing() {
	python3 - "$1" "$2" "$CS" <<'EOF'
import sys
a, b, cs = open(sys.argv[1], 'rb'), open(sys.argv[2], 'rb'), int(sys.argv[3])
n = 0
while True:
    x, y = a.read(cs), b.read(cs)
    if not x and not y:
        break
    n += x != y
print(n)
EOF
}

# Clusters allocated in an image's top layer (data or zero entries).
top_clusters() {
	qemu-img map --output=json "$1" | python3 -c '
import json, sys
print(sum(e["length"] for e in json.load(sys.stdin)
          if e["depth"] == 0 and (e["data"] or e["zero"])) // '"$CS"')'
}

# sum DEV [BYTES]: sha256 of the first BYTES (the raw LV's size) of DEV.
sum() { head -c "${2:-$RAWB}" "$1" | sha256sum | cut -d' ' -f1; }

# ------------------------------------------------------------ raw chain
head -c 16M /dev/urandom >$RAW
check "track enable on the raw LV" "$CTL" track enable vg0/raw --meta vg0/rmeta

# The full backup: --incremental without a base says why and copies all.
head -c 16M $RAW >$X/pit.prev
"$CTL" start vg0/raw vg0/rbk --incremental >$X/out 2>$X/err
check_eq "first --incremental: started" 0 $?
check "first --incremental: full, tracking has just started" \
	grep -q "full backup: the change map since epoch 1 is invalid (new: tracking has just started" $X/out
check "first --incremental: a checkpoint starts epoch 2" \
	grep -q "tracking checkpoint: epoch 2 starts" $X/out
start_writer $RAW
"$CTL" wait vg0-raw >/dev/null
stop_writer
"$CTL" export vg0-raw $X/full.qcow2 --format qcow2 >/dev/null 2>&1
check_eq "full: export" 0 $?
"$CTL" finish vg0-raw >$X/out 2>&1
check "full: finish records it as the base (epoch 2)" \
	grep -q "recorded as the base of the next incremental backup (history .*, epoch 2)" $X/out
prev=full.qcow2

for i in 1 2 3; do
	if [ $i = 3 ]; then
		# A clean shutdown and boot: the stack goes top down, LVM
		# activates the LV with its own table, the tracker is re-armed.
		dmsetup remove vg0-raw cowbackup-vg0-raw-track cowbackup-vg0-raw-trackorig &&
			lvchange -ay vg0/raw
		check_eq "reboot: stack down and LV active again" 0 $?
		"$CTL" track resume vg0/raw --meta vg0/rmeta >$X/out 2>&1
		check_eq "reboot: track resume" 0 $?
		check "reboot: the map is still valid" \
			bash -c "$CTL track status vg0/raw --json | python3 -c 'import json,sys; t=json.load(sys.stdin); t=t[0] if isinstance(t,list) else t; t=t.get(\"volumes\",[t])[0] if \"volumes\" in t else t; sys.exit(0 if t[\"current\"][\"valid\"] else 1)'"
	fi
	changes $((i * 1000 + 7))
	pit=$(sum $RAW)
	head -c 16M $RAW >$X/pit.now
	"$CTL" start vg0/raw vg0/rbk --incremental >$X/out 2>$X/err
	check_eq "inc $i: started" 0 $?
	n=$(sed -n 's/.*incremental backup: \([0-9]*\) of '"$NCL"' clusters.*/\1/p' $X/out)
	check "inc $i: incremental, $n of $NCL clusters changed" test -n "$n" -a "${n:-0}" -gt 0 -a "${n:-0}" -lt "$NCL"
	check "inc $i: status --json: tracking.incremental, $n changed clusters" \
		bash -c "$CTL status vg0-raw --json | python3 -c 'import json,sys; t=json.load(sys.stdin)[\"tracking\"]; sys.exit(0 if t[\"incremental\"] and t[\"checkpointed\"] and t[\"changed_clusters\"] == $n else 1)'"
	d=$(differing $X/pit.prev $X/pit.now)
	check "inc $i: the $d clusters that differ from the last point in time are within the $n of the map" \
		test "$d" -gt 0 -a "$d" -le "${n:-0}"
	start_writer $RAW
	"$CTL" wait vg0-raw >/dev/null
	stop_writer
	"$CTL" export vg0-raw $X/inc$i.qcow2 --format qcow2 --backing $prev >/dev/null 2>&1
	check_eq "inc $i: export over $prev" 0 $?
	check_eq "inc $i: the export holds exactly the map's clusters" "$n" "$(top_clusters $X/inc$i.qcow2)"
	"$CTL" finish vg0-raw >$X/out 2>&1
	check "inc $i: recorded as the next base" grep -q "recorded as the base" $X/out
	check_eq "inc $i: the target equals the point in time" "$pit" "$(sum /dev/vg0/rbk)"
	check "inc $i: qemu-img check" qemu-img check -q $X/inc$i.qcow2
	check "inc $i: qemu-img compare chain vs point in time" \
		qemu-img compare -q -f qcow2 -F raw $X/inc$i.qcow2 $X/pit.now
	"$CTL" restore $X/inc$i.qcow2 /dev/vg0/rst --force >/dev/null 2>&1
	check_eq "inc $i: restore of the chain" 0 $?
	check_eq "inc $i: restored chain equals the point in time" "$pit" "$(sum /dev/vg0/rst)"
	mv $X/pit.now $X/pit.prev
	prev=inc$i.qcow2
done

# Nothing changed since the last backup (one more incremental takes the
# writer's changes first): the frozen map is empty, the skips settle every
# cluster before the copy is resumed, and start still succeeds.
"$CTL" backup vg0/raw vg0/rbk --incremental -q >/dev/null 2>&1
pit=$(sum $RAW)
"$CTL" start vg0/raw vg0/rbk --incremental >$X/out 2>$X/err
check_eq "nothing changed: start (exit 0)" 0 $? ||
	diag "nothing changed: cowbackup-ctl said: $(head -c 600 $X/err)"
check "nothing changed: 0 of $NCL clusters to copy" \
	grep -q "incremental backup: 0 of $NCL clusters" $X/out
check "nothing changed: the job is completed at once" \
	bash -c "$CTL status vg0-raw --json | python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)[\"state\"] == \"completed\" else 1)'"
"$CTL" finish vg0-raw >$X/out 2>&1
check "nothing changed: finish records it as the base" grep -q "recorded as the base" $X/out
check_eq "nothing changed: the target equals the point in time" "$pit" "$(sum /dev/vg0/rbk)"

# ------------------------------------------------------------ invariant
# expect_full WHAT PATTERN: --incremental-only refuses with PATTERN, then
# --incremental runs a full backup saying PATTERN, exact, and the base.
expect_full() {
	local what=$1 pat=$2 tgt=${3:-/dev/vg0/rbk} pit
	"$CTL" start vg0/raw $tgt --incremental-only >$X/out 2>$X/err
	check_eq "$what: --incremental-only refused (exit 1)" 1 $?
	check "$what: one error line naming the reason" \
		bash -c "[ \$(wc -l <$X/err) = 1 ] && grep -q 'no incremental backup possible: .*$pat' $X/err" ||
		diag "$what: cowbackup-ctl said: $(head -c 600 $X/err)"
	check "$what: nothing left behind" bash -c "! dmsetup info cowbackup-vg0-raw-cow >/dev/null 2>&1"
	changes $((RANDOM + 1))
	pit=$(sum $RAW)
	"$CTL" backup vg0/raw $tgt --incremental ${4:-} -q >$X/out 2>$X/err
	check_eq "$what: backup --incremental runs (exit 0)" 0 $? ||
		diag "$what: cowbackup-ctl said: $(head -c 600 $X/err)"
	check "$what: full backup, reason printed" grep -q "full backup: .*$pat" $X/out
	check_eq "$what: the full backup is exact" "$pit" "$(sum $tgt)"
}

# A target changed since its backup: one byte in its first MiB, inverted
# (a fixed value would be no change once in 256 runs).
python3 -c 'import os
f = os.open("/dev/vg0/rbk", os.O_RDWR)
os.pwrite(f, bytes([os.pread(f, 1, 4096)[0] ^ 0xff]), 4096)
os.fsync(f)' || bail "cannot change the target"
expect_full "changed target" "changed since the last backup"
# Another target than the last backup's.
expect_full "other target" "does not hold the last backup" /dev/vg0/rst --force

# A crash: the metadata as a power cut leaves it (clean=0, copied while
# live), put back after the stack went down.
"$CTL" backup vg0/raw vg0/rbk --incremental -q >/dev/null 2>&1
dd if=/dev/vg0/rmeta of=$X/meta.live bs=4K status=none
dmsetup remove vg0-raw cowbackup-vg0-raw-track cowbackup-vg0-raw-trackorig &&
	dd if=$X/meta.live of=/dev/vg0/rmeta bs=4K conv=fsync status=none &&
	lvchange -ay vg0/raw && "$CTL" track resume vg0/raw --meta vg0/rmeta >/dev/null 2>&1
check_eq "crash: stack re-armed over the unclean metadata" 0 $?
expect_full "crash" "unclean"
# After that full backup, incrementals work again.
changes 4242
pit=$(sum $RAW)
"$CTL" backup vg0/raw vg0/rbk --incremental -q >$X/out 2>&1
check "after the full backup: incremental again" grep -q "incremental backup: " $X/out
check_eq "after the full backup: exact" "$pit" "$(sum /dev/vg0/rbk)"

# Killed right after the checkpoint, inside the freeze: the guard resumes
# the volume on its old table, recover removes the job's devices, and the
# chain is broken (the checkpoint's backup never completed).
COWBACKUP_CTL_KILL_AT=start-checkpointed "$CTL" start vg0/raw vg0/rbk --incremental >/dev/null 2>&1
check "killed after the checkpoint: recover" "$CTL" recover
check "killed after the checkpoint: the LV routes through the tracker again" \
	bash -c "dmsetup table vg0-raw | grep -q \"\$(dmsetup info -c --noheadings -o major,minor cowbackup-vg0-raw-track | tr -d ' ')\""
expect_full "killed after the checkpoint" "a backup after it did not complete"

# A table swap that bypasses the tracker: the kernel marks the maps.
T=$(dmsetup table cowbackup-vg0-raw-track)
lo=$(echo "$T" | cut -d' ' -f4)
dmsetup reload cowbackup-vg0-raw-track --table "0 $(blockdev --getsz $RAW) linear $lo 0" &&
	dmsetup suspend cowbackup-vg0-raw-track && dmsetup resume cowbackup-vg0-raw-track &&
	dd if=/dev/urandom of=$RAW bs=64K count=1 seek=5 oflag=direct status=none &&
	dmsetup reload cowbackup-vg0-raw-track --table "$T" &&
	dmsetup suspend cowbackup-vg0-raw-track && dmsetup resume cowbackup-vg0-raw-track
check_eq "bypass: tracker swapped out and back" 0 $?
expect_full "bypass" "bypassed"

check "bypass done: track status --json says the next backup is incremental" \
	bash -c "$CTL track status vg0/raw --json | python3 -c 'import json,sys; n=json.load(sys.stdin)[\"next_backup\"]; sys.exit(0 if n[\"kind\"] == \"incremental\" and n[\"reason\"] is None else 1)'"

# A size change: lvextend replaces the LV's table, the tracker is detached.
lvextend -q -L +4M vg0/raw >/dev/null 2>&1
check_eq "size change: lvextend of the tracked LV" 0 $?
check "size change: track status says detached" \
	bash -c "$CTL track status vg0/raw 2>&1 | grep -qi detached"
"$CTL" start vg0/raw vg0/rbk --incremental-only >$X/out 2>$X/err
check_eq "size change: --incremental-only refused" 1 $?
check "size change: the reason is the detached tracker" grep -q "detached" $X/err
check "size change: track status --json: next backup full, tracker detached" \
	bash -c "$CTL track status vg0/raw --json | python3 -c 'import json,sys; n=json.load(sys.stdin)[\"next_backup\"]; sys.exit(0 if n[\"kind\"] == \"full\" and \"detached\" in n[\"reason\"] else 1)'"

# ------------------------------------------------------------ ext4 chain
FS=/dev/vg0/fs
mkfs.ext4 -q -E lazy_itable_init=0,lazy_journal_init=0 $FS || bail "mkfs failed"
mount $FS $MNT || bail "mount failed"
mkdir -p $MNT/data $MNT/live
for i in $(seq 0 11); do head -c $(((i % 4 + 1) << 19)) /dev/urandom >$MNT/data/f$i; done
sync
start_live_writer $MNT 12 6
check "ext4: track enable while mounted and written" \
	"$CTL" track enable vg0/fs --meta vg0/fmeta
"$CTL" start vg0/fs vg0/fbk >/dev/null 2>&1
check_eq "ext4: full backup" 0 $?
"$CTL" wait vg0-fs >/dev/null &&
	"$CTL" export vg0-fs $X/f0.qcow2 --format qcow2 >/dev/null 2>&1 &&
	"$CTL" finish vg0-fs >/dev/null 2>&1
check_eq "ext4: full export" 0 $?
prev=f0.qcow2
for i in 1 2 3; do
	sleep 2
	pit_checksums $MNT $X/f.sha || bail "cannot checksum"
	"$CTL" start vg0/fs vg0/fbk --incremental >$X/out 2>&1
	check "ext4 inc $i: incremental" grep -q "incremental backup: " $X/out
	kill -CONT -- -"$WRITER_PID"
	"$CTL" wait vg0-fs >/dev/null
	"$CTL" export vg0-fs $X/f$i.qcow2 --format qcow2 --backing $prev >/dev/null 2>&1
	check_eq "ext4 inc $i: export" 0 $?
	"$CTL" finish vg0-fs >/dev/null 2>&1
	check_eq "ext4 inc $i: finish" 0 $?
	"$CTL" restore $X/f$i.qcow2 /dev/vg0/frst --force >/dev/null 2>&1
	check_eq "ext4 inc $i: restore" 0 $?
	check "ext4 inc $i: e2fsck clean" e2fsck -fn /dev/vg0/frst
	mount -o ro,noload /dev/vg0/frst $RMNT &&
		check "ext4 inc $i: files equal the point in time" \
			bash -c "cd $RMNT/data && sha256sum --quiet -c $X/f.sha"
	umount $RMNT 2>/dev/null
	check_eq "ext4 inc $i: target equals the restored chain" \
		"$(sum /dev/vg0/fbk 32M)" "$(sum /dev/vg0/frst 32M)"
	prev=f$i.qcow2
done
done_testing
