#!/bin/bash
# The dm-cowbackup demo, run INSIDE the guest by `make demo`
# (tests/vm/run --disks 2 --disk-size 1G --exec scripts/demo.sh):
# a mounted ext4 LVM volume keeps being written while cowbackup-ctl backs
# it up without unmounting it; then the backup is verified against
# checksums taken at the point in time, and the result is printed.
set -u

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
run mkfs.ext4 -q /dev/demo/data || exit 1
mkdir -p "$MNT" "$BAKMNT"
run mount /dev/demo/data "$MNT" || exit 1
mkdir -p "$MNT/files" "$MNT/live"
for i in $(seq 0 39); do
	head -c $(((i % 8 + 1) << 20)) /dev/urandom >"$MNT/files/file$i"
done
sync
echo "40 files, $(du -sh "$MNT/files" | cut -f1) written"
ORIG_TABLE=$(dmsetup table demo-data)
run dmsetup table demo-data
run lvs demo

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
echo "writer running (pid $WPID), $(cat "$MNT/live/counter") rounds so far"

say "Checksums as of the point in time"
cat <<'TXT'
To know exactly what the backup must contain, the writer is stopped for a
moment (SIGSTOP), the filesystem frozen (fsfreeze flushes it), every file
checksummed, the filesystem thawed. The backup starts right after; its
suspend/resume is the point in time and nothing writes in between. The
writer continues as soon as the job is live.
TXT
kill -STOP -- -"$WPID"
sleep 0.5
fsfreeze -f "$MNT" && (cd "$MNT/files" && sha256sum file*) >/tmp/demo-pit.sha256
fsfreeze -u "$MNT"
NFILES=$(wc -l </tmp/demo-pit.sha256)
echo "$NFILES files checksummed"
( # let the writer go once the LV routes through the job
	for _ in $(seq 600); do
		"$CTL" status demo-data --json 2>/dev/null | grep -q '"detached": false' && break
		sleep 0.05
	done
	kill -CONT -- -"$WPID"
) &
RELEASER=$!

say "The backup, while the volume stays mounted and busy"
C0=$(cat "$MNT/live/counter")
echo "(progress: a bar when stdout is a terminal - the guest's serial console is one - else plain lines)"
run "$CTL" backup demo/data demo/backup --speed 64M
RC=$?
wait "$RELEASER"
C1=$(cat "$MNT/live/counter")
echo "the writer made $((C1 - C0)) rounds of fsync'ed writes during the backup"
[ "$RC" -eq 0 ] || fail "cowbackup-ctl backup exited with status $RC"
mountpoint -q "$MNT" || fail "$MNT is no longer mounted"
[ "$C1" -gt "$C0" ] || fail "the writer made no progress during the backup"
run dmsetup table demo-data
[ "$(dmsetup table demo-data)" = "$ORIG_TABLE" ] || fail "the volume's table differs from the original"
run lvs demo

say "Verification"
kill -- -"$WPID"
WPID=
echo '$ fsck.ext4 -fn /dev/demo/backup'
fsck.ext4 -fn /dev/demo/backup >/tmp/demo-fsck 2>&1
FSCK=$?
tail -n 1 /tmp/demo-fsck
[ "$FSCK" -eq 0 ] || fail "fsck -n of the backup reported problems (status $FSCK)"
if run mount -o ro,noload /dev/demo/backup "$BAKMNT"; then
	MATCH=$(cd "$BAKMNT/files" && sha256sum -c /tmp/demo-pit.sha256 2>/dev/null | grep -c ': OK$')
	echo "$MATCH of $NFILES files in the backup match their point-in-time checksums"
	[ "$MATCH" -eq "$NFILES" ] || fail "only $MATCH of $NFILES files match"
	LIVE=$(cd "$MNT/files" && sha256sum -c /tmp/demo-pit.sha256 2>/dev/null | grep -c ': OK$')
	echo "($LIVE of $NFILES live files still match: the writer changed the others after the point in time)"
	umount "$BAKMNT"
else
	fail "the backup does not mount"
fi

echo
if [ ${#FAILED[@]} -eq 0 ]; then
	printf '\033[1mVERIFICATION PASSED\033[0m: fsck clean, %s/%s files equal to the point in time, original table restored, volume mounted and written throughout\n' \
		"$NFILES" "$NFILES"
	exit 0
fi
printf '\033[1mVERIFICATION FAILED\033[0m:\n'
printf '  - %s\n' "${FAILED[@]}"
exit 1
