#!/bin/bash
# Nested LVM stays invisible during a job (issue 11, item 7). A VM disk LV
# (vg0/vmdisk) holds a guest PV and VG (guestvg). The host's LVM does not
# scan LVs (scan_lvs=0, the default), so it never sees guestvg. While a
# job runs, the same bytes are on the job's hidden devices (-orig, -cow),
# on the point-in-time view and on the target's staging device: none of
# them may show guestvg to `pvs`/`vgs`, nor make LVM print duplicate-PV
# warnings, with scan_lvs=0 and with scan_lvs=1 (where only the LV itself
# may show it). cowbackup-ctl gives those devices dm UUIDs that LVM's
# device filter treats as LV internals (userspace/devuuid.h). One warning
# is expected for every in-place job, nested or not: LVM notices that
# vg0/vmdisk's table points at the job device instead of its PV
# ("Device mismatch detected ... accessing .../cowbackup-vg0-vmdisk-cow");
# it is allowed here and documented in the manual.
# disks: 2
# disk-size: 128M
# timeout: 300
# cpus: 1
. "$(dirname "$0")/../lib.sh"

read -r -a D <<<"$COWBACKUP_DISKS"
trap '"$CTL" recover >/dev/null 2>&1; cleanup_dm' EXIT
SCAN1='devices { scan_lvs = 1 }'

pvcreate -q "${D[0]}" "${D[1]}" >/dev/null && vgcreate -q vg0 "${D[0]}" "${D[1]}" >/dev/null &&
	lvcreate -q -y -L 48M -n vmdisk vg0 "${D[0]}" >/dev/null &&
	lvcreate -q -y -L 48M -n bak vg0 "${D[1]}" >/dev/null || bail "cannot create LVs"
# The guest's PV and VG, written as the guest would (LVM told to look
# inside LVs only for this), then the guest VG deactivated on the host.
pvcreate -q --config "$SCAN1" /dev/vg0/vmdisk >/dev/null &&
	vgcreate -q --config "$SCAN1" guestvg /dev/vg0/vmdisk >/dev/null &&
	lvcreate -q -y --config "$SCAN1" -L 8M -n root guestvg >/dev/null &&
	vgchange -q -an --config "$SCAN1" guestvg >/dev/null || bail "cannot create the nested VG"
pgrep -x systemd-udevd >/dev/null && udevadm settle

# warnings: LVM warnings in stdin, but the expected one.
warnings() {
	grep -iE 'warning|duplicate|not using' |
		grep -v 'Device mismatch detected for vg0/vmdisk which is accessing /dev/mapper/cowbackup-vg0-vmdisk-cow instead of'
}
# lvm_view: `pvs` and `vgs` output with stderr, for checks.
lvm_view() {
	pvs --noheadings -o pv_name,vg_name 2>&1
	vgs --noheadings -o vg_name 2>&1
}
# no_guest TAG [scan0]: with the default config LVM shows neither guestvg
# nor a warning; with scan_lvs=1 (unless "scan0") guestvg only on the LV
# itself. A finished backup is a second copy of the guest PV: LVM rightly
# warns about it when told to scan LVs.
no_guest() {
	local out pvs1 vmdisk
	out=$(lvm_view)
	diag "$1: pvs/vgs: $(echo "$out" | tr -s ' \n' ' ')"
	check_eq "$1: scan_lvs=0: guestvg not visible" "" \
		"$(echo "$out" | grep guestvg)"
	check_eq "$1: scan_lvs=0: no LVM warning" "" \
		"$(echo "$out" | warnings)"
	[ "${2:-}" = scan0 ] && return
	pvs1=$(pvs --noheadings -o pv_name,vg_name --config "$SCAN1" 2>&1)
	vmdisk=$(readlink -f /dev/vg0/vmdisk)
	diag "$1: scan_lvs=1: $(echo "$pvs1" | tr -s ' \n' ' ')"
	check_eq "$1: scan_lvs=1: guestvg only on vg0/vmdisk" "$vmdisk" \
		"$(echo "$pvs1" | awk '$2 == "guestvg" { print $1 }' | xargs -r -n1 readlink -f | sort -u | tr '\n' ' ' | sed 's/ $//')"
	check_eq "$1: scan_lvs=1: no other LVM warning" "" \
		"$(echo "$pvs1" | warnings)"
}

no_guest "before the job"
check "start a paused job with a point-in-time view" \
	"$CTL" start vg0/vmdisk vg0/bak --paused --snapshot
pgrep -x systemd-udevd >/dev/null && udevadm settle
diag "devices: $(dmsetup info -c --noheadings -o name,uuid | tr '\n' ' ')"
no_guest "during the job"

# pvscan --cache as udev's 69-lvm.rules would run it for each device.
for d in /sys/class/block/dm-*; do
	pvscan --cache "/dev/${d##*/}" >/dev/null 2>&1
done
no_guest "after pvscan --cache of every dm device"

# LVM still works on the host VG and refuses nothing it should not.
check "lvs vg0 works during the job" lvs vg0
check "resume" "$CTL" resume vg0-vmdisk
check "the job completes" "$CTL" wait vg0-vmdisk
check "finish" "$CTL" finish vg0-vmdisk
no_guest "after finish" scan0
check_eq "the backup holds the guest PV" "guestvg" \
	"$(pvs --noheadings -o vg_name --config "$SCAN1" /dev/vg0/bak 2>/dev/null | tr -d ' ')"
done_testing
