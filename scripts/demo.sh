#!/bin/bash
# The dm-cowbackup demo, run INSIDE the guest by `make demo`
# (tests/vm/run --disks 2 --disk-size 1G --exec scripts/demo.sh):
# a mounted ext4 LVM volume keeps being written while cowbackup-ctl backs
# it up without unmounting it; then the backup is verified against
# checksums taken at the point in time. Then the round trip of incremental
# backups: the volume's writes are tracked from the start, an incremental
# backup copies only what changed, its export chains onto the full one's,
# and the chain restored to a fresh volume is verified the same way.
set -u

# The guest's root is the host's, read-only: state and config in tmpfs.
export COWBACKUP_STATE_DIR=/run/demo/state COWBACKUP_CONF_DIR=/run/demo/etc

REPO=${REPO:-$(cd "$(dirname "$0")/.." && pwd -P)}
CTL=$REPO/userspace/cowbackup-ctl
MNT=/tmp/demo-data
BAKMNT=/tmp/demo-bak
read -r -a D <<<"${COWBACKUP_DISKS:?no scratch disks: run this through make demo}"
FAILED=()

say() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }
fail() { FAILED+=("$*"); printf 'FAILED: %s\n' "$*"; }

cleanup() {
	[ -n "${WPID:-}" ] && kill -CONT -- -"$WPID" 2>/dev/null && kill -- -"$WPID" 2>/dev/null
	umount "$BAKMNT" "$MNT" 2>/dev/null
}
trap cleanup EXIT

say "A volume group on two disks, a 512 MiB ext4 volume, mounted"
run pvcreate -q "${D[0]}" "${D[1]}" || exit 1
run vgcreate -q demo "${D[0]}" "${D[1]}" || exit 1
run lvcreate -q -y -L 512M -n data demo "${D[0]}" || exit 1
run lvcreate -q -y -L 512M -n backup demo "${D[1]}" || exit 1
run lvcreate -q -y -L 4M -n data_cbt demo || exit 1
run mkfs.ext4 -q /dev/demo/data || exit 1
mkdir -p "$MNT" "$BAKMNT"
run mount /dev/demo/data "$MNT" || exit 1
mkdir -p "$MNT/files" "$MNT/live"
for i in $(seq 0 39); do
	head -c $(((i % 8 + 1) << 20)) /dev/urandom >"$MNT/files/file$i"
done
sync
echo "40 files, $(du -sh "$MNT/files" | cut -f1) written"
LVM_TABLE=$(dmsetup table demo-data)
run dmsetup table demo-data
run lvs demo

say "Change tracking: which clusters get written, kept on demo/data_cbt"
run "$CTL" track enable demo/data --meta demo/data_cbt || fail "track enable failed"
run "$CTL" track status demo/data
echo "(demo-data now maps linearly onto the tracker; a backup job stacks on top of that table and puts it back at finish)"
ORIG_TABLE=$(dmsetup table demo-data)

say "Writers: rewrite parts of those files and write new ones, with fsync"
writer() {
	local i=0
	while :; do
		i=$((i + 1))
		dd if=/dev/urandom of="$MNT/files/file$((i % 40))" bs=4K count=32 \
			seek=$((i * 13 % 256)) conv=notrunc,fsync status=none
		dd if=/dev/urandom of="$MNT/live/new$((i % 32))" bs=64K count=16 \
			conv=fsync status=none
		echo "$i" >"$MNT/live/counter"
	done
}
export -f writer
export MNT
setsid bash -c writer &
WPID=$!
sleep 2
# The writer's round count; its file is empty for a moment while rewritten.
rounds() {
	local c
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		c=$(cat "$MNT/live/counter" 2>/dev/null)
		[ -n "$c" ] && break
		sleep 0.1
	done
	echo "${c:-0}"
}
echo "writer running (pid $WPID), $(rounds) rounds so far"

say "Checksums as of the point in time"
cat <<'TXT'
To know exactly what the backup must contain, the writer is stopped for a
moment (SIGSTOP), the filesystem frozen (fsfreeze flushes it), every file
checksummed, the filesystem thawed. The backup starts right after; its
suspend/resume is the point in time and nothing writes in between. The
writer continues as soon as the job is live.
TXT
pit_checksums() {
	kill -STOP -- -"$WPID"
	sleep 0.5
	fsfreeze -f "$MNT" && (cd "$MNT/files" && sha256sum file*) >"$1"
	fsfreeze -u "$MNT"
	NFILES=$(wc -l <"$1")
	echo "$NFILES files checksummed"
	( # let the writer go once the LV routes through the job
		for _ in $(seq 600); do
			"$CTL" status demo-data --json 2>/dev/null | grep -q '"detached": false' && break
			sleep 0.05
		done
		kill -CONT -- -"$WPID"
	) &
	RELEASER=$!
}
pit_checksums /tmp/demo-pit.sha256

say "The backup, while the volume stays mounted and busy"
C0=$(rounds)
echo "(progress: a bar when stdout is a terminal - the guest's serial console is one - else plain lines)"
run "$CTL" backup demo/data demo/backup --speed 64M
RC=$?
wait "$RELEASER"
C1=$(rounds)
echo "the writer made $((C1 - C0)) rounds of fsync'ed writes during the backup"
[ "$RC" -eq 0 ] || fail "cowbackup-ctl backup exited with status $RC"
mountpoint -q "$MNT" || fail "$MNT is no longer mounted"
[ "$C1" -gt "$C0" ] || fail "the writer made no progress during the backup"
run dmsetup table demo-data
[ "$(dmsetup table demo-data)" = "$ORIG_TABLE" ] || fail "the volume's table differs from the original"
run lvs demo

# verify DEV SUMS: fsck clean, every file equal to the point in time.
verify() {
	local match live
	echo "\$ fsck.ext4 -fn $1"
	fsck.ext4 -fn "$1" >/tmp/demo-fsck 2>&1
	FSCK=$?
	tail -n 1 /tmp/demo-fsck
	[ "$FSCK" -eq 0 ] || fail "fsck -n of $1 reported problems (status $FSCK)"
	if run mount -o ro,noload "$1" "$BAKMNT"; then
		match=$(cd "$BAKMNT/files" && sha256sum -c "$2" 2>/dev/null | grep -c ': OK$')
		echo "$match of $NFILES files in $1 match their point-in-time checksums"
		[ "$match" -eq "$NFILES" ] || fail "only $match of $NFILES files of $1 match"
		live=$(cd "$MNT/files" && sha256sum -c "$2" 2>/dev/null | grep -c ': OK$')
		echo "($live of $NFILES live files still match: the writer changed the others after the point in time)"
		umount "$BAKMNT"
	else
		fail "$1 does not mount"
	fi
}

say "Verification"
verify /dev/demo/backup /tmp/demo-pit.sha256

say "The full backup as the base of an image chain"
mkdir -p /tmp/demo-img
run lvcreate -q -y -L 400M -n images demo || exit 1
run mkfs.ext4 -q /dev/demo/images && run mount /dev/demo/images /tmp/demo-img ||
	fail "no place for the images"
run "$CTL" export --all /dev/demo/backup /tmp/demo-img/full.qcow2 --format qcow2 ||
	fail "export of the full backup failed"

say "An incremental backup: only what changed since the full one"
sleep 3
pit_checksums /tmp/demo-pit2.sha256
run "$CTL" start demo/data demo/backup --incremental | tee /tmp/demo-inc.out
[ "${PIPESTATUS[0]}" -eq 0 ] || fail "incremental start failed"
wait "$RELEASER"
grep -q "incremental backup: " /tmp/demo-inc.out || fail "the backup was not incremental"
run "$CTL" wait demo-data || fail "the incremental job did not complete"
run "$CTL" export demo-data /tmp/demo-img/incr.qcow2 --format qcow2 --backing full.qcow2 ||
	fail "export of the incremental backup failed"
run "$CTL" finish demo-data || fail "finish failed"
run "$CTL" info /tmp/demo-img/incr.qcow2
ls -sh /tmp/demo-img
verify /dev/demo/backup /tmp/demo-pit2.sha256

say "Restore of the chain (incr.qcow2 over full.qcow2) to a fresh volume"
kill -- -"$WPID"
WPID=
run lvcreate -q -y -L 512M -n restored demo || exit 1
run "$CTL" restore /tmp/demo-img/incr.qcow2 /dev/demo/restored --verify ||
	fail "restore failed"
verify /dev/demo/restored /tmp/demo-pit2.sha256
A=$(sha256sum </dev/demo/restored | cut -c1-16)
B=$(sha256sum </dev/demo/backup | cut -c1-16)
echo "sha256 restored $A..., backup $B..."
[ "$A" = "$B" ] || fail "the restored chain differs from the incremental backup"
umount /tmp/demo-img

say "Tracking off again: the volume's own LVM table is back"
run "$CTL" track disable demo/data || fail "track disable failed"
run dmsetup table demo-data
[ "$(dmsetup table demo-data)" = "$LVM_TABLE" ] || fail "the volume's table differs from LVM's after track disable"

echo
if [ ${#FAILED[@]} -eq 0 ]; then
	printf '\033[1mVERIFICATION PASSED\033[0m: full and incremental backups and the restored chain fsck clean, %s/%s files equal to their points in time, the restored chain byte for byte the incremental backup, original table restored, volume mounted and written throughout\n' \
		"$NFILES" "$NFILES"
	exit 0
fi
printf '\033[1mVERIFICATION FAILED\033[0m:\n'
printf '  - %s\n' "${FAILED[@]}"
exit 1
