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
# disks: 2
# disk-size: 128M
# timeout: 300
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
umount $MNT
check "the backup is a clean filesystem" fsck.ext4 -n -f /dev/vg0/bak
done_testing
