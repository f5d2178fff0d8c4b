#!/bin/bash
# Graded --force (issue 11, items 1, 3 and 10): a target that could destroy
# the source or another live device is refused even with --force, with
# exit 1, one stderr line naming the device and the cause, nothing set up
# and the data of the source and of the endangered device unchanged:
# a dm-linear over the source's PV shifted by 4 MiB, the source's own PV,
# a partition that is a PV of another active VG and the disk under it, a
# device held by a running cowbackup job (directly or through another dm
# device), a mounted target, a smaller one, and LVM-internal sub-LVs
# (thin pool _tdata/_tmeta, raid1 _rimage_/_rmeta_) as target or source.
# --force still overrides a filesystem signature (an earlier backup).
# disks: 3
# disk-size: 256M
# timeout: 400
# cpus: 1
. "$(dirname "$0")/../lib.sh"

read -r -a D <<<"$COWBACKUP_DISKS"
MNT=/tmp/cb-force
trap '"$CTL" finish --force vg0-lv2 >/dev/null 2>&1; "$CTL" recover >/dev/null 2>&1; umount $MNT 2>/dev/null; cleanup_dm' EXIT

# expect DESC RC PATTERN CMD...: CMD exits RC and prints exactly one line
# on stderr, containing PATTERN (and no "continuing: --force").
expect() {
	local desc=$1 want=$2 pat=$3 rc lines
	shift 3
	"$@" >/tmp/cb-f.out 2>/tmp/cb-f.err
	rc=$?
	lines=$(wc -l </tmp/cb-f.err)
	if [ "$rc" -eq "$want" ] && [ "$lines" -eq 1 ] &&
		grep -qF -- "$pat" /tmp/cb-f.err &&
		{ [ "$want" -eq 0 ] || ! grep -q "continuing: --force" /tmp/cb-f.err; }; then
		ok "$desc"
	else
		not_ok "$desc" "command: $*" "exit $rc (wanted $want), $lines stderr line(s):" \
			"$(cat /tmp/cb-f.err)"
	fi
}
# A refusal that did not happen started a job: finish it so that the
# next check starts from a clean slate.
refuse() {
	expect "refused even with --force: $1" 1 "$2" "${@:3}"
	"$CTL" finish --force vg0-data >/dev/null 2>&1
}
jobs_now() {
	dmsetup ls | awk '$1 ~ /^cowbackup-|-snap$/ { print $1 }' | sort | tr '\n' ' '
}
nothing_new() {
	check_eq "$1: no job device was added" "$2" "$(jobs_now)"
}
LVMQ="--config global{thin_check_executable=\"\"}"

pvcreate -q "${D[0]}" "${D[1]}" >/dev/null && vgcreate -q vg0 "${D[0]}" "${D[1]}" >/dev/null ||
	bail "cannot create VG"
# data first: it starts at extent 0 of the first disk.
for lv in data:32 bak:40 lv2:32 bak2:40 mnt:40 small:16 fs:40; do
	lvcreate -q -y -L "${lv#*:}M" -n "${lv%:*}" vg0 "${D[0]}" >/dev/null || bail "lvcreate ${lv%:*}"
done
fill_pattern /dev/vg0/data 11
fill_pattern /dev/vg0/lv2 12
SUM=$(md5_direct /dev/vg0/data)
SUM2=$(md5_direct /dev/vg0/lv2)
# Partition 1 of the third disk is the PV of a second, active VG.
printf ',64M\n,64M\n' | sfdisk -q "${D[2]}" >/dev/null 2>&1 || bail "sfdisk failed"
P1=${D[2]}1
for i in $(seq 50); do [ -b "$P1" ] && break; sleep 0.1; done
pvcreate -q "$P1" >/dev/null && vgcreate -q vg1 "$P1" >/dev/null &&
	lvcreate -q -y -L 48M -n other vg1 >/dev/null || bail "cannot create vg1"
fill_pattern /dev/vg1/other 13
SUM_OTHER=$(md5_direct /dev/vg1/other)

# ---- overlap with the source -----------------------------------------------
read -r _ _ _ pv off <<<"$(dmsetup table vg0-data)"
dmsetup create shifted --table "0 81920 linear $pv $((off + 8192))" || bail "cannot create shifted"
refuse "dm-linear over the source's PV shifted by 4 MiB" \
	"/dev/mapper/shifted: refusing target: it overlaps the source on ${D[0]}" \
	"$CTL" start --force --paused vg0/data shifted
dmsetup remove shifted
refuse "the source's own PV" \
	"${D[0]}: refusing target: it overlaps the source on ${D[0]}" \
	"$CTL" start --force --paused vg0/data "${D[0]}"
check_eq "the VG still has its PV" "LVM2_member" "$(blkid -o value -s TYPE "${D[0]}")"
refuse "the source itself" "/dev/mapper/vg0-data: refusing target: it is the source device" \
	"$CTL" start --force vg0/data /dev/mapper/vg0-data

# ---- devices of another active VG ----------------------------------------
refuse "a PV of another active VG in use" \
	"$P1: refusing target: it is in use by vg1-other" \
	"$CTL" start --force --paused vg0/data "$P1"
refuse "the disk under a PV of another active VG" \
	"${D[2]}: refusing target: partition ${P1#/dev/} is in use by vg1-other" \
	"$CTL" start --force --paused vg0/data "${D[2]}"
read -r _ _ _ pv1 off1 <<<"$(dmsetup table vg1-other)"
dmsetup create alias1 --table "0 81920 linear $pv1 $off1" || bail "cannot create alias1"
refuse "a dm-linear over another live LV's extents" \
	"/dev/mapper/alias1: refusing target: it overlaps vg1-other (a live device) on ${D[2]}" \
	"$CTL" start --force --paused vg0/data alias1
dmsetup remove alias1
check_eq "vg1/other unchanged" "$SUM_OTHER" "$(md5_direct /dev/vg1/other)"

# ---- mounted, smaller --------------------------------------------------------
mkfs.ext4 -q /dev/vg0/mnt && mkdir -p $MNT && mount /dev/vg0/mnt $MNT || bail "mount failed"
refuse "mounted target" "/dev/mapper/vg0-mnt: refusing target: it is mounted on $MNT" \
	"$CTL" start --force --paused vg0/data vg0/mnt
umount $MNT
refuse "smaller target" \
	"/dev/mapper/vg0-small: refusing target: it is smaller than the source (16 MiB (16777216 bytes) < 32 MiB (33554432 bytes))" \
	"$CTL" start --force --paused vg0/data vg0/small
nothing_new "refusals so far" ""

# ---- a target held by another cowbackup job (item 3) -------------------------
check "a first job writes to vg0/bak" "$CTL" start --paused vg0/lv2 vg0/bak
BEFORE=$(jobs_now)
refuse "target of a running job" \
	"/dev/mapper/vg0-bak: refusing target: it is the target of cowbackup job vg0-lv2" \
	"$CTL" start --force --paused vg0/data vg0/bak
read -r _ _ _ pvt offt <<<"$(dmsetup table vg0-bak)"
dmsetup create bakalias --table "0 81920 linear $pvt $offt" || bail "cannot create bakalias"
refuse "a dm-linear over a running job's target" \
	"/dev/mapper/bakalias: refusing target: it overlaps the target of cowbackup job vg0-lv2" \
	"$CTL" start --force --paused vg0/data bakalias
dmsetup remove bakalias
refuse "the source of a running job" \
	"refusing target: it is the source of cowbackup job vg0-lv2" \
	"$CTL" start --force --paused vg0/data vg0/lv2
refuse "a job's hidden device" \
	"refusing target: it is a cowbackup-ctl device" \
	"$CTL" start --force --paused vg0/data cowbackup-vg0-lv2-orig
nothing_new "job-held targets" "$BEFORE"
check "the first job finishes" "$CTL" finish --force vg0-lv2
check_eq "vg0/lv2 unchanged" "$SUM2" "$(md5_direct /dev/vg0/lv2)"

# ---- LVM-internal sub-LVs (item 10) ------------------------------------------
if lvcreate -q -y $LVMQ -L 16M -T vg0/pool "${D[1]}" >/dev/null 2>&1; then
	refuse "thin pool metadata sub-LV as target" \
		"/dev/mapper/vg0-pool_tmeta: refusing target: it is an LVM-internal sub-LV (_tmeta)" \
		"$CTL" start --force --paused vg0/data vg0/pool_tmeta
	refuse "thin pool data sub-LV as target" \
		"/dev/mapper/vg0-pool_tdata: refusing target: it is an LVM-internal sub-LV (_tdata)" \
		"$CTL" start --force --paused vg0/data vg0/pool_tdata
	refuse "thin pool data sub-LV as source" \
		"/dev/mapper/vg0-pool_tdata: refusing source: it is an LVM-internal sub-LV (_tdata)" \
		"$CTL" start --force --paused vg0/pool_tdata vg0/bak2
	refuse "the thin pool's own device as source" "vg0-pool" \
		"$CTL" start --paused vg0/pool vg0/bak2
else
	not_ok "thin pool created"
fi
if lvcreate -q -y --type raid1 -m 1 -L 8M -n r vg0 >/dev/null 2>&1; then
	refuse "raid image sub-LV as target" \
		"/dev/mapper/vg0-r_rimage_1: refusing target: it is an LVM-internal sub-LV (_rimage_)" \
		"$CTL" start --force --paused vg0/small vg0/r_rimage_1
	refuse "raid metadata sub-LV as source" \
		"/dev/mapper/vg0-r_rmeta_0: refusing source: it is an LVM-internal sub-LV (_rmeta_)" \
		"$CTL" start --paused vg0/r_rmeta_0 vg0/bak2
else
	not_ok "raid1 LV created"
fi
nothing_new "sub-LVs" ""

# ---- what --force may still override -----------------------------------------
mkfs.ext4 -q /dev/vg0/fs
expect "without --force a filesystem signature is refused" 1 \
	"/dev/mapper/vg0-fs: refusing target: it carries a ext4 filesystem signature (override with --force)" \
	"$CTL" start --paused vg0/data vg0/fs
expect "--force reuses a target with a filesystem signature (one warning)" 0 \
	"warning: /dev/mapper/vg0-fs: it carries a ext4 filesystem signature (continuing: --force)" \
	"$CTL" start --force --paused vg0/data vg0/fs
check "and the job finishes" "$CTL" finish --force vg0-data
check_eq "the source is unchanged" "$SUM" "$(md5_direct /dev/vg0/data)"
check_eq "vg1/other is unchanged" "$SUM_OTHER" "$(md5_direct /dev/vg1/other)"
check "the VGs are intact" vgck -q vg0 vg1
done_testing
