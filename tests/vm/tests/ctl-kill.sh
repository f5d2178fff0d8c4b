#!/bin/bash
# cowbackup-ctl killed (SIGKILL) after every step of start and finish, via
# the COWBACKUP_CTL_KILL_AT hook; then `recover` (or the next start/finish)
# must leave a consistent state from the dm tables alone: the original
# table back (or a healthy job), no leftover devices, the source data
# intact. Also a mounted filesystem killed while frozen and suspended, and
# a stacked job on a partition.
# disks: 3
# disk-size: 128M
# timeout: 420
# cpus: 1
. "$(dirname "$0")/../lib.sh"

read -r -a D <<<"$COWBACKUP_DISKS"
MNT=/tmp/cb-kill
trap '"$CTL" recover >/dev/null 2>&1; umount $MNT 2>/dev/null; vgchange -an vg0 >/dev/null 2>&1' EXIT

pvcreate -q "${D[0]}" "${D[1]}" >/dev/null && vgcreate -q vg0 "${D[0]}" "${D[1]}" >/dev/null &&
	lvcreate -q -y -L 16M -n data vg0 >/dev/null &&
	lvcreate -q -y -L 16M -n bak vg0 >/dev/null &&
	lvcreate -q -y -L 24M -n fs vg0 >/dev/null &&
	lvcreate -q -y -L 24M -n fsbak vg0 >/dev/null || bail "cannot create LVs"
fill_pattern /dev/vg0/data 7 || bail "cannot fill vg0/data"
SUM=$(md5_direct /dev/vg0/data)
ORIG=$(dmsetup table vg0-data)

leftovers() {
	dmsetup ls | awk '$1 ~ /^cowbackup-|-snap$/ { print $1 }' | tr '\n' ' '
}

# consistent WHAT: the original table, nothing left over, data intact.
consistent() {
	check_eq "$1: the LV's table is the original" "$ORIG" "$(dmsetup table vg0-data)"
	check_eq "$1: no cowbackup devices left" "" "$(leftovers)"
	check "$1: the LV is active, not suspended" \
		bash -c "dmsetup info vg0-data | grep -Eq '^State: +ACTIVE'"
	check_eq "$1: source data intact" "$SUM" "$(md5_direct /dev/vg0/data)"
}

killed() {
	local step=$1
	shift
	COWBACKUP_CTL_KILL_AT=$step "$@" >/tmp/cb-out 2>&1
	check_eq "$step: the tool died by SIGKILL right after the step" 137 $?
}

# ---- start, killed after each step ---------------------------------------
for step in start-orig-created start-cow-created start-table-loaded \
	start-suspended start-resumed start-view-created; do
	opt=
	[ $step = start-view-created ] && opt=--snapshot
	killed $step "$CTL" start vg0/data vg0/bak $opt
	case $step in
	start-resumed | start-view-created)
		# The point in time was taken: a paused, healthy job remains.
		check_eq "$step: the job exists, paused (resume never sent)" paused \
			"$("$CTL" status vg0-data --json | sed -n 's/.*"state": "\(.*\)".*/\1/p')"
		check "$step: recover finds nothing to undo" \
			bash -c "$CTL recover | grep -q 'nothing to do'"
		check "$step: finish --force ends the job" "$CTL" finish --force vg0-data
		;;
	*)
		"$CTL" list >/dev/null 2>/tmp/cb-hint
		check "$step: list points at recover" grep -q "run 'cowbackup-ctl recover'" /tmp/cb-hint
		"$CTL" recover >/tmp/cb-rec 2>&1
		check_eq "$step: recover exits 0" 0 $?
		diag "$(cat /tmp/cb-rec)"
		check "$step: recover said what it did" grep -q "^recover: vg0-data: " /tmp/cb-rec
		;;
	esac
	consistent "$step"
done

# ---- finish, killed after each step --------------------------------------
for step in finish-view-removed finish-table-loaded finish-suspended \
	finish-resumed finish-cow-removed; do
	opt=
	[ $step = finish-view-removed ] && opt=--snapshot
	"$CTL" start vg0/data vg0/bak --force $opt >/dev/null 2>&1 &&
		"$CTL" wait vg0-data --quiet
	check_eq "$step: the job completed" 0 $?
	# Until finish, the first and last MiB wait on the staging device
	# (the target is marked incomplete): read the backup through it.
	check_eq "$step: the backup equals the source" "$SUM" "$(md5_direct /dev/mapper/cowbackup-vg0-data-tgt 0 $((16 << 20)))"
	killed $step "$CTL" finish vg0-data
	"$CTL" recover >/tmp/cb-rec 2>&1
	check_eq "$step: recover exits 0" 0 $?
	diag "$(cat /tmp/cb-rec)"
	if [ $step = finish-view-removed ]; then
		# Nothing was swapped yet: the job is healthy, only viewless.
		check "$step: the job lives on without its view" \
			bash -c "$CTL status --json vg0-data | grep -q '\"view\": null'"
		check "$step: finish again" "$CTL" finish vg0-data
	fi
	consistent "$step"
done

# ---- the next start/finish recovers by itself ----------------------------
killed start-suspended "$CTL" start vg0/data vg0/bak --force
check "after a killed start, start again rolls it back and starts" \
	"$CTL" start vg0/data vg0/bak --force --paused
killed finish-suspended "$CTL" finish --force vg0-data
# The guard already made the original table live; finish removes the rest.
check "after a killed finish, finish again completes it" \
	bash -c "$CTL finish vg0-data 2>&1 | grep -Eq 'complete an interrupted finish|original table in place'"
consistent "start/finish after a kill"

# ---- a mounted filesystem, killed while frozen and suspended -------------
mkfs.ext4 -q /dev/vg0/fs && mkdir -p $MNT && mount /dev/vg0/fs $MNT ||
	bail "cannot mount vg0/fs"
head -c 4M /dev/urandom >$MNT/file && sync
FSUM=$(md5sum <$MNT/file)
killed start-suspended "$CTL" start vg0/fs vg0/fsbak --force
# The suspend guard resumes the LV as soon as the tool is dead (see
# ctl-watchdog.sh); recover then removes the job's devices.
check "the guard thaws the filesystem without recover" \
	timeout "$(scaled 10)" bash -c "until dmsetup info vg0-fs | grep -Eq '^State: +ACTIVE'; do sleep 0.2; done"
check "recover tidies up" "$CTL" recover
check "the mounted filesystem takes writes again" \
	timeout 20 bash -c "echo x >$MNT/new && sync"
check_eq "its file is intact" "$FSUM" "$(md5sum <$MNT/file)"
check "a backup of it works after the recovery" \
	"$CTL" backup vg0/fs vg0/fsbak --force --quiet
killed finish-suspended bash -c "$CTL start vg0/fs vg0/fsbak --force >/dev/null && $CTL wait --quiet vg0-fs && $CTL finish vg0-fs"
check "recover completes the finish under the mounted filesystem" "$CTL" recover
check "the filesystem takes writes after that" \
	timeout 20 bash -c "echo y >$MNT/new2 && sync"
check_eq "no cowbackup devices left (mounted case)" "" "$(leftovers)"
umount $MNT

# ---- a stacked job on a partition (not device-mapper) --------------------
echo ',24M' | sfdisk -q "${D[2]}" >/dev/null 2>&1 || bail "cannot partition ${D[2]}"
PLAIN=${D[2]}1
for i in $(seq 50); do [ -b "$PLAIN" ] && break; sleep 0.1; done
fill_pattern "$PLAIN" 9 || bail "cannot fill $PLAIN"
PSUM=$(md5_direct "$PLAIN")
PNAME=cowbackup-${PLAIN##*/}
lvcreate -q -y -L 28M -n pbak vg0 >/dev/null || bail "cannot create vg0/pbak"
for step in start-created start-table-loaded; do
	killed $step "$CTL" start "$PLAIN" vg0/pbak --force
	check "$step (stacked): recover succeeds" "$CTL" recover
	check_eq "$step (stacked): no job device left" "" "$(leftovers)"
	check_eq "$step (stacked): $PLAIN intact" "$PSUM" "$(md5_direct "$PLAIN")"
done
killed start-resumed "$CTL" start "$PLAIN" vg0/pbak --force
check "start-resumed (stacked): the job lives on" "$CTL" status "$PNAME"
check "start-resumed (stacked): finish --force removes it" "$CTL" finish --force "$PNAME"
check_eq "stacked: no job device left" "" "$(leftovers)"
done_testing
