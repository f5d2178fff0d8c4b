#!/bin/bash
# cowbackup-ctl backup of a mounted, busy ext4 LVM volume: the volume spans
# two disks (two linear segments), a writer keeps rewriting files with
# fsync throughout, and the backup must equal the files as of the start.
#
# Exact point in time: the writer (its own process group) is stopped with
# SIGSTOP, the filesystem frozen (fsfreeze flushes it), every file
# checksummed, the filesystem thawed; then `backup` starts. Its suspend
# is the point in time, and nothing wrote between the checksums and it.
# The writer is let go (SIGCONT) only once the LV routes through the job
# ("detached": false in status --json, i.e. after the resume), so every
# later write goes through copy-before-write.
# disks: 2
# disk-size: 192M
# timeout: 300
# cpus: 1
. "$(dirname "$0")/../lib.sh"

MNT=/tmp/cb-data
BAKMNT=/tmp/cb-bak
LOG=/tmp/cb-backup.log
read -r -a D <<<"$COWBACKUP_DISKS"

cleanup() {
	[ -n "${WRITER_PID:-}" ] && kill -CONT -- -"$WRITER_PID" 2>/dev/null
	[ -n "${WRITER_PID:-}" ] && kill -- -"$WRITER_PID" 2>/dev/null
	[ -n "${MPID:-}" ] && kill "$MPID" 2>/dev/null
	umount "$BAKMNT" "$MNT" 2>/dev/null
	"$CTL" recover >/dev/null 2>&1
	vgchange -an vg0 >/dev/null 2>&1
}
trap cleanup EXIT

pvcreate -q "${D[0]}" "${D[1]}" >/dev/null && vgcreate -q vg0 "${D[0]}" "${D[1]}" >/dev/null ||
	bail "cannot create VG vg0"
# Two segments on two disks, so the hidden device gets a 2-line table.
lvcreate -q -y -L 64M -n data vg0 "${D[0]}" >/dev/null &&
	lvextend -q -L +32M vg0/data "${D[1]}" >/dev/null &&
	lvcreate -q -y -L 96M -n bak vg0 >/dev/null || bail "cannot create LVs"
mkfs.ext4 -q -E lazy_itable_init=0,lazy_journal_init=0 /dev/vg0/data ||
	bail "mkfs failed"
mkdir -p "$MNT" "$BAKMNT"
mount /dev/vg0/data "$MNT" || bail "mount failed"
mkdir -p "$MNT/data" "$MNT/live"
for i in $(seq 0 19); do
	head -c $(((i % 4 + 1) << 20)) /dev/urandom >"$MNT/data/f$i"
done
sync
ORIG_TABLE=$(dmsetup table vg0-data)
check_eq "source LV has two linear segments" 2 "$(dmsetup table vg0-data | grep -c linear)"

# The writer: rewrites parts of the files that exist at the point in time
# (so their old data must be copied out first) and writes new files, each
# with fsync; a counter proves the filesystem stays writable.
start_live_writer "$MNT" 20 16
sleep 2

# Mount watchdog: records any moment the filesystem is not mounted.
( while :; do mountpoint -q "$MNT" || echo "unmounted at $(date +%T.%N)"; sleep 0.2; done ) \
	>/tmp/cb-mountwatch &
MPID=$!

# The point in time, exactly.
pit_checksums "$MNT" /tmp/cb-pit.sha256 || bail "cannot checksum the point in time"
diag "checksummed $(wc -l </tmp/cb-pit.sha256) files at the point in time"

"$CTL" backup vg0/data vg0/bak --speed 16M --interval 2 >"$LOG" 2>&1 &
BPID=$!
# Let the writer go only once the LV routes through the job. (On the
# debug kernel under udev, start's dm and udev round trips took over
# 240 s: the bound is generous, and the writer stays stopped without it.)
deadline=$(($(date +%s) + $(scaled 120)))
until "$CTL" status vg0-data --json 2>/dev/null | grep -q '"detached": false'; do
	if [ "$(date +%s)" -ge "$deadline" ] || ! kill -0 $BPID 2>/dev/null; then
		break
	fi
	sleep 0.05
done
check "the job is live under the mounted LV" \
	bash -c "$CTL status vg0-data --json | grep -q '\"detached\": false'" ||
	bail "the job never went live: no point in time to check the backup against"
kill -CONT -- -"$WRITER_PID"
C0=$(cat "$MNT/live/counter" 2>/dev/null || echo 0)

# While the job runs: LVM sees the LV's own linear segments.
check "dmsetup shows the job device and the hidden device" \
	bash -c "dmsetup info cowbackup-vg0-data-cow >/dev/null && dmsetup info cowbackup-vg0-data-orig >/dev/null"
LVS=$(lvs --noheadings -o lv_attr vg0/data 2>/tmp/cb-lvs.err)
check_eq "lvs shows the LV active and open during the job" "-wi-ao----" "$(echo $LVS)"
diag "lvs stderr: $(cat /tmp/cb-lvs.err)"

wait $BPID
RC=$?
cat "$LOG" | tr '\r' '\n' | grep -v '^$' | tail -n 6 | sed 's/^/# /'
check_eq "backup exits 0" 0 "$RC"
check "backup reports completion" grep -q "backup complete" "$LOG"
COW=$(sed -n 's/.*(\([0-9]*\) copied on write.*/\1/p' "$LOG")
diag "copy-on-write copies: ${COW:-?}"
check "the writer forced copy-before-write (cow copies > 0)" test "${COW:-0}" -gt 0

C1=$(cat "$MNT/live/counter")
check "the filesystem stayed writable during the backup ($C0 -> $C1 writes)" \
	test "$C1" -gt "$C0"
check_eq "the filesystem stayed mounted throughout" "" "$(cat /tmp/cb-mountwatch)"
check_eq "dmsetup table of the LV equals the original" "$ORIG_TABLE" \
	"$(dmsetup table vg0-data)"
check_eq "no cowbackup devices are left" "" \
	"$(dmsetup ls | grep -E 'cowbackup|snap' || true)"
check "lvs works after the backup" bash -c "lvs vg0/data 2>&1 | grep -q data && ! lvs vg0/data 2>&1 | grep -q WARNING"
check "the live filesystem still takes writes" \
	bash -c "echo after >$MNT/live/after && sync && grep -q after $MNT/live/after"

kill -- -"$WRITER_PID"
WRITER_PID=
kill "$MPID"
MPID=

check "fsck -n of the backup is clean" fsck.ext4 -fn /dev/vg0/bak
check "the backup mounts read-only" mount -o ro,noload /dev/vg0/bak "$BAKMNT"
check "every file in the backup equals its point-in-time checksum" \
	bash -c "cd $BAKMNT/data && sha256sum --quiet -c /tmp/cb-pit.sha256"
check_eq "the backup holds exactly the files of the point in time" \
	"$(cut -d' ' -f3 /tmp/cb-pit.sha256 | sort | tr '\n' ' ')" \
	"$(cd "$BAKMNT/data" && ls | sort | tr '\n' ' ')"
check "the live files moved on (the backup is not just a copy of now)" \
	bash -c "! (cd $MNT/data && sha256sum --quiet -c /tmp/cb-pit.sha256 >/dev/null 2>&1)"
umount "$BAKMNT"
done_testing
