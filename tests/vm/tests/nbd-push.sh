#!/bin/bash
# Push mode (issue 15): a backup TARGET given as nbd://HOST[:PORT]/EXPORT
# (a qemu-nbd server on the loopback, serving a file) is connected with
# nbd-client for the job and disconnected at finish. A mounted ext4 LV
# under load is backed up there: the file holds the point in time (every
# file's checksum as of the start; fsck-clean). A
# connection killed mid-job ends the job per on_target_error and the LV
# stays writable and clean. Unreachable or too small servers and bad URIs
# give one clear line and leave no NBD device connected.
# disks: 2
# disk-size: 128M
# timeout: 480
. "$(dirname "$0")/../lib.sh"

read -r -a D <<<"$COWBACKUP_DISKS"
MNT=/tmp/cb-push X=/tmp/cb-pushx
URI=nbd://127.0.0.1:10810/bak
trap 'kill -CONT -- -$WRITER_PID 2>/dev/null; kill -- -$WRITER_PID 2>/dev/null;
	"$CTL" finish --force vg0-data >/dev/null 2>&1; umount $MNT 2>/dev/null;
	"$CTL" recover >/dev/null 2>&1; pkill -x qemu-nbd; cleanup_dm' EXIT

command -v nbd-client >/dev/null || bail "nbd-client is not installed (make deps)"
ip link set lo up || bail "no loopback"
modprobe nbd || bail "no nbd module"
pvcreate -q "${D[0]}" "${D[1]}" >/dev/null && vgcreate -q vg0 "${D[0]}" "${D[1]}" >/dev/null &&
	lvcreate -q -y -L 48M -n data vg0 "${D[0]}" >/dev/null || bail "cannot create LVs"
mkfs.ext4 -q -E lazy_itable_init=0,lazy_journal_init=0 /dev/vg0/data || bail "mkfs failed"
mkdir -p $MNT $X
mount /dev/vg0/data $MNT || bail "cannot mount"
for i in 0 1 2 3 4 5 6 7; do
	dd if=/dev/urandom of=$MNT/f$i bs=1M count=3 status=none
done
sync

# serve NAME FILE SIZE PORT: a qemu-nbd server of a new file.
serve() {
	truncate -s "$3" "$2" &&
		qemu-nbd -f raw -x "$1" --bind=127.0.0.1 --port="$4" \
			--persistent --fork --pid-file="$2.pid" "$2"
}
# connected: the /dev/nbd devices that have a connection.
connected() {
	local p
	for p in /sys/block/nbd*/pid; do
		[ -e "$p" ] && echo "${p%/pid}"
	done
}

serve bak $X/bak.raw 48M 10810 || bail "cannot start qemu-nbd"
serve small $X/small.raw 16M 10811 || bail "cannot start qemu-nbd"

# ---- bad URIs, unreachable and too small servers ------------------------
for bad in nbd://127.0.0.1 "nbd://127.0.0.1:0/bak" "nbd+unix:///bak"; do
	out=$("$CTL" backup vg0/data "$bad" --quiet 2>&1)
	check_eq "target '$bad': exit 2" 2 "$?"
	check_eq "target '$bad': one line naming it" 1 "$(grep -c -- "$bad" <<<"$out")"
done
out=$("$CTL" backup vg0/data nbd://127.0.0.1:10899/bak --quiet 2>&1)
rc=$?
diag "$out"
check_eq "an unreachable server: exit 1" 1 "$rc"
check "... one line that says it cannot connect" \
	grep -q "^cowbackup-ctl: nbd://127.0.0.1:10899/bak: cannot connect" <<<"$out"
out=$("$CTL" backup vg0/data nbd://127.0.0.1:10811/small --quiet 2>&1)
rc=$?
diag "$out"
check_eq "a server that is too small: exit 1" 1 "$rc"
check "... says the target is too small" grep -qi "small" <<<"$out"
check_eq "no NBD device is left connected" "" "$(connected)"
check_fail "no job was left" "$CTL" status vg0-data

# ---- a live backup to the server --------------------------------------------
start_writer $MNT
sleep 1
# The point in time: the writer held still and the filesystem flushed
# (freeze and thaw), every file's checksum; then the job, then the writer.
kill -STOP -- -"$WRITER_PID"
fsfreeze -f $MNT && fsfreeze -u $MNT || bail "fsfreeze failed"
(cd $MNT && sha256sum f*) >$X/pit.sha256 || bail "cannot checksum the files"
check "start a job onto $URI" "$CTL" start vg0/data $URI --speed 8M
kill -CONT -- -"$WRITER_PID"
DEV=$("$CTL" status --json vg0-data | sed -n 's/.*"target": "\([^"]*\)".*/\1/p')
diag "the target is $DEV"
check "the job writes to a kernel NBD device" bash -c "[[ '$DEV' == /dev/nbd* ]]"
check "the job completes while the LV is written" "$CTL" wait vg0-data
check "finish" "$CTL" finish vg0-data
check_eq "finish disconnected the NBD device" "" "$(connected)"
check "the server's file is a clean filesystem" fsck.ext4 -n -f $X/bak.raw
mkdir -p $X/m
check "it mounts" mount -o ro,loop $X/bak.raw $X/m
check "every file is as it was at the point in time" \
	bash -c "cd $X/m && sha256sum --quiet -c $X/pit.sha256"
umount $X/m
kill -- -"$WRITER_PID" 2>/dev/null
wait "$WRITER_PID" 2>/dev/null

# backup (one shot) again over the earlier backup: --force.
out=$("$CTL" backup vg0/data $URI --quiet 2>&1)
check_eq "backup over an earlier backup without --force: exit 1" 1 "$?"
check "backup --force onto $URI" "$CTL" backup vg0/data $URI --force --quiet
check_eq "backup disconnected the NBD device" "" "$(connected)"
check "the server's file is a clean filesystem" fsck.ext4 -n -f $X/bak.raw

# ---- the connection is killed mid-job ---------------------------------------
check "start a slow job onto $URI" "$CTL" start vg0/data $URI --force --speed 1M
sleep 2
kill "$(cat $X/bak.raw.pid)"
dd if=/dev/urandom of=$MNT/after bs=64K count=64 conv=fsync status=none
check "the LV stays writable after the server went away" test -s $MNT/after
check "the job ends failed (on_target_error=report)" \
	wait_state cowbackup-vg0-data-cow failed 120
check "finish" "$CTL" finish vg0-data
check_eq "no NBD device is left connected" "" "$(connected)"
check "recover finds nothing" bash -c "'$CTL' recover | grep -q 'nothing to do'"
check "the LV still holds what was written" test -s $MNT/after

# With --on-target-error stop the background copy pauses instead (no
# guest write meanwhile: its failed copy-out would break the job).
serve bak $X/bak.raw 48M 10810 || bail "cannot restart qemu-nbd"
check "start a slow job onto $URI, on_target_error stop" \
	"$CTL" start vg0/data $URI --force --speed 1M --on-target-error stop
sleep 2
kill "$(cat $X/bak.raw.pid)"
check "the job pauses (on_target_error=stop)" \
	wait_state cowbackup-vg0-data-cow paused 120
dd if=/dev/urandom of=$MNT/after2 bs=64K count=16 conv=fsync status=none
check "the LV stays writable" test -s $MNT/after2
check "finish --force" "$CTL" finish --force vg0-data
check_eq "no NBD device is left connected" "" "$(connected)"
umount $MNT
check "the source filesystem is clean" fsck.ext4 -n -f /dev/vg0/data
done_testing
