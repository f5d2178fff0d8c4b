#!/bin/bash
# `start` against a concurrent `lvextend` (issue 11, item 2): start must
# read and check the LV's table only under LVM's VG lock, so it can never
# load a table older than the LV. The race is made deterministic: a
# background `flock` holds the VG lock, start blocks on it, start is then
# stopped (SIGSTOP, so it waits no longer), lvextend queues on the lock and
# gets it when the holder lets go; only after lvextend finished is start
# let go (SIGCONT). Afterwards the job covers the whole, larger LV; the
# job completes, finish restores a table of the LV's new size, LVM sees a
# healthy LV and the data and the backup are byte-exact.
# disks: 2
# disk-size: 128M
# timeout: 300
# cpus: 1
. "$(dirname "$0")/../lib.sh"

read -r -a D <<<"$COWBACKUP_DISKS"
HOLDER='' START=''
trap 'kill $HOLDER $START 2>/dev/null; kill -CONT $START 2>/dev/null; "$CTL" recover >/dev/null 2>&1; cleanup_dm' EXIT

pvcreate -q "${D[0]}" "${D[1]}" >/dev/null && vgcreate -q vg0 "${D[0]}" "${D[1]}" >/dev/null &&
	lvcreate -q -y -L 32M -n data vg0 "${D[0]}" >/dev/null &&
	lvcreate -q -y -L 64M -n bak vg0 "${D[1]}" >/dev/null || bail "cannot create LVs"
fill_pattern /dev/vg0/data 31 || bail "cannot fill vg0/data"
OLD=$((32 << 20))

LOCKDIR=/run/lock/lvm
LOCK=$LOCKDIR/V_vg0
mkdir -p "$LOCKDIR"

# A waiter on a flock shows in /proc/locks as a "->" line.
lock_waiters() { grep -c -- '->' /proc/locks; }
wait_waiters() { # N SECS
	local end=$((SECONDS + $(scaled "$2")))
	while [ $SECONDS -le $end ]; do
		[ "$(lock_waiters)" -ge "$1" ] && return 0
		sleep 0.1
	done
	return 1
}

# The holder is one process (exec), so killing it frees the lock.
(exec 9>"$LOCK" && flock 9 && exec sleep 1000) &
HOLDER=$!
sleep 0.5
"$CTL" start vg0/data vg0/bak --speed 0 >/tmp/start.out 2>&1 &
START=$!
if wait_waiters 1 30; then ok "start waits for the VG lock"; else not_ok "start waits for the VG lock" "$(cat /proc/locks)"; fi
kill -STOP "$START"
# A stopped waiter leaves the queue; the lock goes to lvextend.
lvextend -q -L +16M vg0/data "${D[0]}" >/tmp/lvextend.out 2>&1 &
LVX=$!
wait_waiters 1 30 || diag "lvextend did not queue on the lock"
kill "$HOLDER"; wait "$HOLDER" 2>/dev/null; HOLDER=''
wait "$LVX"
check_eq "lvextend succeeded" 0 $?
NEW=$(($(sectors /dev/vg0/data) * 512))
check_eq "the LV grew by 16 MiB" $((OLD + (16 << 20))) "$NEW"
kill -CONT "$START"
wait "$START"
rc=$?
cat /tmp/start.out | sed 's/^/# start: /'
if [ "$rc" = 0 ]; then
	ok "start succeeded after lvextend"
	jt=$(dmsetup table cowbackup-vg0-data-cow | awk '{s += $2} END {print s}')
	check_eq "the job covers the whole grown LV" $((NEW / 512)) "$jt"
	vt=$(dmsetup table vg0-data | awk '{s += $2} END {print s}')
	check_eq "the LV's live table covers its size" $((NEW / 512)) "$vt"
	check "the job completes" "$CTL" wait vg0-data
	check "finish" "$CTL" finish vg0-data
else
	# Refusing cleanly is allowed, as long as nothing is left behind.
	ok "start refused cleanly (exit $rc)"
fi
check_eq "no job devices left" "" "$(dmsetup ls | grep -o '^cowbackup-[^[:space:]]*')"
check_eq "vg0-data is active, not suspended" "ACTIVE" \
	"$(dmsetup info vg0-data | sed -n 's/^State: *//p')"
check_eq "table size equals the LV size" $((NEW / 512)) \
	"$(dmsetup table vg0-data | awk '{s += $2} END {print s}')"
attr=$(lvs --noheadings -o lv_attr vg0/data 2>/tmp/lvs.err | tr -d ' ')
check_eq "lvs: vg0/data active, table as LVM expects" "-wi-a-----" "$attr"
check_eq "lvs says nothing on stderr" "" "$(cat /tmp/lvs.err)"
check_eq "the old 32 MiB of vg0/data intact" "$(pattern_md5 31 0 "$OLD")" \
	"$(md5_direct /dev/vg0/data 0 "$OLD")"
check "reads beyond the old end work" dd if=/dev/vg0/data of=/dev/null bs=1M skip=32 count=16 iflag=direct status=none
if [ "$rc" = 0 ]; then
	check_eq "the backup holds the data" "$(pattern_md5 31 0 "$OLD")" \
		"$(md5_direct /dev/vg0/bak 0 "$OLD")"
fi
done_testing
