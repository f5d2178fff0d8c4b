#!/bin/bash
# The suspend window is bounded (issue 11, item 8): cowbackup-ctl killed
# (SIGKILL) while the LV under a mounted filesystem is suspended, in start
# and in finish, must not leave it suspended until someone runs
# `recover`: a guard process resumes it at once (start: the original
# table; finish: the original table too). The filesystem takes writes
# again without `recover`; `recover` then tidies up, and nothing is lost.
# Also: udev cookies (SysV semaphores) a killed run left behind are
# removed by `recover`.
# disks: 2
# disk-size: 128M
# timeout: 300
# cpus: 1
. "$(dirname "$0")/../lib.sh"

read -r -a D <<<"$COWBACKUP_DISKS"
MNT=/tmp/cb-wd
trap 'umount $MNT 2>/dev/null; "$CTL" recover >/dev/null 2>&1; cleanup_dm' EXIT

pvcreate -q "${D[0]}" "${D[1]}" >/dev/null && vgcreate -q vg0 "${D[0]}" "${D[1]}" >/dev/null &&
	lvcreate -q -y -L 32M -n fs vg0 "${D[0]}" >/dev/null &&
	lvcreate -q -y -L 32M -n bak vg0 "${D[1]}" >/dev/null || bail "cannot create LVs"
ORIG=$(dmsetup table vg0-fs)
mkfs.ext4 -q /dev/vg0/fs && mkdir -p $MNT && mount /dev/vg0/fs $MNT || bail "cannot mount vg0/fs"
head -c 4M /dev/urandom >$MNT/file && sync
FSUM=$(md5sum <$MNT/file)

state() { dmsetup info vg0-fs | sed -n 's/^State: *//p'; }
# active_within SECS: the LV is ACTIVE (not SUSPENDED) within SECS x scale.
active_within() {
	local end=$((SECONDS + $(scaled "$1")))
	while [ $SECONDS -le $end ]; do
		[ "$(state)" = ACTIVE ] && return 0
		sleep 0.2
	done
	return 1
}

# ---- killed in start, while suspended ------------------------------------
COWBACKUP_CTL_KILL_AT=start-suspended "$CTL" start vg0/fs vg0/bak --force >/tmp/wd.out 2>&1
check_eq "start: killed while the LV was suspended" 137 $?
if active_within 10; then ok "start: the LV is resumed without recover"; else
	not_ok "start: the LV is resumed without recover" "state: $(state)"
	"$CTL" recover >/dev/null 2>&1	# else the writes below hang
fi
check_eq "start: the original table is live" "$ORIG" "$(dmsetup table vg0-fs)"
check "start: the filesystem takes writes without recover" \
	timeout "$(scaled 20)" bash -c "echo x >$MNT/new && sync"
check "start: recover tidies up" "$CTL" recover
# The target's staging device (incomplete-backup marker) is not the
# guard's business: 'finish' removes it when recover leaves it.
if dmsetup info cowbackup-vg0-fs-tgt >/dev/null 2>&1; then
	diag "recover left the staging device cowbackup-vg0-fs-tgt; finish removes it"
	"$CTL" finish vg0-fs >/dev/null 2>&1
	dmsetup remove cowbackup-vg0-fs-tgt >/dev/null 2>&1
fi
check_eq "start: no job devices left" "" "$(dmsetup ls | awk '$1 ~ /^cowbackup-/ {print $1}')"
check_eq "start: the file is intact" "$FSUM" "$(md5sum <$MNT/file)"

# ---- killed in finish, while suspended -----------------------------------
check "a job runs to completion" bash -c "$CTL start vg0/fs vg0/bak --force >/dev/null && $CTL wait --quiet vg0-fs"
COWBACKUP_CTL_KILL_AT=finish-suspended "$CTL" finish vg0-fs >/tmp/wd.out 2>&1
check_eq "finish: killed while the LV was suspended" 137 $?
if active_within 10; then ok "finish: the LV is resumed without recover"; else
	not_ok "finish: the LV is resumed without recover" "state: $(state)"
	"$CTL" recover >/dev/null 2>&1	# else the writes below hang
fi
check_eq "finish: the original table is live" "$ORIG" "$(dmsetup table vg0-fs)"
check "finish: the filesystem takes writes without recover" \
	timeout "$(scaled 20)" bash -c "echo y >$MNT/new2 && sync"
check "finish: recover tidies up" "$CTL" recover
if dmsetup info cowbackup-vg0-fs-tgt >/dev/null 2>&1; then
	diag "recover left the staging device cowbackup-vg0-fs-tgt; removed here"
	dmsetup remove cowbackup-vg0-fs-tgt >/dev/null 2>&1
fi
check_eq "finish: no job devices left" "" "$(dmsetup ls | awk '$1 ~ /^cowbackup-/ {print $1}')"
check_eq "finish: the file is intact" "$FSUM" "$(md5sum <$MNT/file)"
umount $MNT
check "the filesystem is clean" fsck.ext4 -n -f /dev/vg0/fs

# ---- leaked udev cookies -------------------------------------------------
# A run killed inside dm_udev_wait() leaves its cookie semaphore behind,
# at zero once udev completed it. Make one the same way.
if cookie=$(dmsetup udevcreatecookie 2>/dev/null) && [ -n "$cookie" ]; then
	dmsetup udevcomplete "$cookie" >/dev/null 2>&1
	# listed CK: dmsetup udevcookies lists cookie CK (hex, any spelling)
	listed() {
		local c
		for c in $(dmsetup udevcookies | awk 'NR > 1 {print $1}'); do
			[ $((c)) -eq $(($1)) ] && return 0
		done
		return 1
	}
	check "a leaked cookie is listed" listed "$cookie"
	sleep 6
	# Cookies untouched for COWBACKUP_COOKIE_MIN_AGE s (default 300) go.
	young=$(dmsetup udevcreatecookie)	# a live waiter's, say
	check "recover" env COWBACKUP_COOKIE_MIN_AGE=5 "$CTL" recover
	check_fail "recover removed the leaked cookie" listed "$cookie"
	check "recover kept a fresh cookie" listed "$young"
	dmsetup udevcomplete "$young" >/dev/null 2>&1
	dmsetup udevreleasecookie "$young" >/dev/null 2>&1
else
	skip "leaked udev cookies are removed by recover" "no udev cookie support (DM_DISABLE_UDEV)"
fi
done_testing
