#!/bin/bash
# Duplicate filesystem UUIDs under udev (issue 11, item 6). While a job
# runs, the source's filesystem shows on the job's hidden dm devices and
# on the target too (here the target is reused: it holds an earlier
# backup, so it has the source's UUID from the start, as in a nightly
# cron job with --force). A `udevadm trigger --action=add` (as at boot)
# must leave /dev/disk/by-uuid/<UUID> and by-label/<LABEL> on the source,
# and `mount UUID=` must mount the source. udev/60-cowbackup.rules does it
# (installed by the bench in --udev mode). Without udev there are no such
# links: those checks are skipped, the job itself must still work.
# Then `backup --new-uuid` gives the backup its own UUID (and udev its own
# link), and its refusals: a cancelled job, data that is no filesystem.
# disks: 2
# disk-size: 128M
# timeout: 300
# cpus: 1
. "$(dirname "$0")/../lib.sh"

read -r -a D <<<"$COWBACKUP_DISKS"
MNT=/tmp/cb-uuid MNT2=/tmp/cb-uuid2
trap 'umount $MNT2 $MNT 2>/dev/null; "$CTL" recover >/dev/null 2>&1; cleanup_dm' EXIT

pvcreate -q "${D[0]}" "${D[1]}" >/dev/null && vgcreate -q vg0 "${D[0]}" "${D[1]}" >/dev/null &&
	lvcreate -q -y -L 48M -n data vg0 "${D[0]}" >/dev/null &&
	lvcreate -q -y -L 48M -n bak vg0 "${D[1]}" >/dev/null || bail "cannot create LVs"
mkfs.ext4 -q -L cbdata /dev/vg0/data || bail "mkfs failed"
mkdir -p $MNT $MNT2
mount /dev/vg0/data $MNT || bail "cannot mount vg0/data"
dd if=/dev/urandom of=$MNT/file bs=1M count=4 status=none && sync
UUID=$(blkid -p -o value -s UUID /dev/vg0/data)
SRCDEV=$(readlink -f /dev/vg0/data)

udev=0
pgrep -x systemd-udevd >/dev/null && udev=1
diag "udev running: $udev, source $SRCDEV, UUID $UUID"

# link NAME: where /dev/disk/NAME points, or "missing".
link() { readlink -f "/dev/disk/$1" 2>/dev/null || echo missing; }

if [ $udev = 1 ]; then
	udevadm settle
	check_eq "before: by-uuid is the source" "$SRCDEV" "$(link by-uuid/$UUID)"
fi
# An earlier backup on the target: the same filesystem UUID and label
# (udev may now give the links to it: two devices, one UUID).
dd if=/dev/vg0/data of=/dev/vg0/bak bs=1M iflag=direct oflag=direct status=none ||
	bail "cannot copy to vg0/bak"
[ $udev = 1 ] && udevadm settle && diag "with an old backup on vg0/bak, by-uuid -> $(link by-uuid/$UUID)"

check "start a paused job (reusing the target: --force)" \
	"$CTL" start vg0/data vg0/bak --paused --force
if [ $udev = 1 ]; then
	udevadm settle
	check_eq "after start: by-uuid is the source" "$SRCDEV" "$(link by-uuid/$UUID)"
fi
# Some copy-before-write, so the target gets source blocks too.
dd if=/dev/urandom of=$MNT/file2 bs=1M count=2 conv=fsync status=none

if [ $udev = 1 ]; then
	udevadm trigger --action=add
	udevadm settle
	check_eq "during the job, after trigger: by-uuid is the source" \
		"$SRCDEV" "$(link by-uuid/$UUID)"
	check_eq "during the job, after trigger: by-label is the source" \
		"$SRCDEV" "$(link by-label/cbdata)"
	# No other device claims the UUID in udev's database.
	claim=()
	for d in /sys/class/block/*; do
		n=/dev/${d##*/}
		u=$(udevadm info -q property -n "$n" 2>/dev/null | sed -n 's/^ID_FS_UUID=//p')
		[ "$u" = "$UUID" ] && claim+=("$(readlink -f "$n")")
	done
	check_eq "udev: only the source carries the UUID" "$SRCDEV" "${claim[*]}"
	# The source is mounted already: a second mount of the same device
	# succeeds; one of another device with this UUID would too.
	check "mount UUID= during the job" mount UUID="$UUID" $MNT2
	check_eq "mount UUID= mounted the source" "$SRCDEV" \
		"$(readlink -f "$(findmnt -n -o SOURCE $MNT2)")"
	umount $MNT2 2>/dev/null
else
	skip "by-uuid and by-label stay on the source" "no udev"
fi

check "resume" "$CTL" resume vg0-data
check "the job completes" "$CTL" wait vg0-data
check "finish" "$CTL" finish vg0-data
if [ $udev = 1 ]; then
	udevadm settle
	check_eq "after finish: by-uuid is the source" "$SRCDEV" "$(link by-uuid/$UUID)"
fi
check_eq "without --new-uuid the backup keeps the source's UUID" "$UUID" \
	"$(blkid -p -o value -s UUID /dev/vg0/bak)"

# backup --new-uuid: a fresh UUID while the target is still hidden, then
# udev may link it under that UUID; the source keeps its own and its links.
dd if=/dev/urandom of=$MNT/file3 bs=1M count=1 conv=fsync status=none
out=$("$CTL" backup vg0/data vg0/bak --force --new-uuid --quiet 2>&1)
rc=$?
diag "$out"
check_eq "backup --new-uuid exits 0" 0 "$rc"
NEW=$(blkid -p -o value -s UUID /dev/vg0/bak)
check "the backup got a new UUID ($NEW)" test -n "$NEW" -a "$NEW" != "$UUID"
check "the new UUID is the one reported" grep -q "new ext4 filesystem UUID $NEW" <<<"$out"
check_eq "the source kept its UUID" "$UUID" "$(blkid -p -o value -s UUID /dev/vg0/data)"
if [ $udev = 1 ]; then
	udevadm settle
	check_eq "after --new-uuid: by-uuid of the source is the source" "$SRCDEV" "$(link by-uuid/$UUID)"
	check_eq "after --new-uuid: by-uuid of the new UUID is the backup" \
		"$(readlink -f /dev/vg0/bak)" "$(link by-uuid/$NEW)"
fi
check "mount UUID=<new> mounts the backup" mount -o ro UUID="$NEW" $MNT2
check_eq "mount UUID=<new> mounted vg0/bak" "$(readlink -f /dev/vg0/bak)" \
	"$(readlink -f "$(findmnt -n -o SOURCE $MNT2)")"
check "the backup holds the file written before the job" cmp $MNT/file3 $MNT2/file3
umount $MNT2 2>/dev/null
check "the backup is a clean filesystem" fsck.ext4 -n -f /dev/vg0/bak

# Refusals: not a filesystem --new-uuid knows; a job that did not complete.
check "start a job for --new-uuid on a cancelled job" \
	"$CTL" start vg0/data vg0/bak --force --paused
check "cancel it" "$CTL" cancel vg0-data
out=$("$CTL" finish vg0-data --new-uuid 2>&1)
rc=$?
diag "$out"
check_eq "finish --new-uuid of a cancelled job exits 1" 1 "$rc"
check "... and says the backup is not complete" grep -q "not complete" <<<"$out"
check_fail "... but the job is finished" "$CTL" status vg0-data
umount $MNT
lvcreate -q -y -L 8M -n raw vg0 >/dev/null && lvcreate -q -y -L 8M -n rawbak vg0 >/dev/null &&
	dd if=/dev/urandom of=/dev/vg0/raw bs=1M count=8 oflag=direct status=none ||
	bail "cannot make the raw LVs"
out=$("$CTL" backup vg0/raw vg0/rawbak --new-uuid --quiet 2>&1)
rc=$?
diag "$out"
check_eq "backup --new-uuid of raw data exits 1" 1 "$rc"
check "... says the filesystem is unknown" grep -q "no filesystem blkid knows" <<<"$out"
check "... and that the backup is complete" grep -q "backup is complete" <<<"$out"
check "... which it is" cmp /dev/vg0/raw /dev/vg0/rawbak
done_testing
