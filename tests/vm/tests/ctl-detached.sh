#!/bin/bash
# A job whose LV is reloaded by LVM (lvchange --refresh, lvextend) is
# detached: writes no longer pass through it, so its backup has failed
# (issue 11, item 5). `backup` exits 1 saying so instead of "backup
# complete"; `status`, `status --json`, `list` and `wait` say detached /
# failed and exit 1; `export` refuses the job without --force; `finish`
# removes the job's devices; the target stays marked incomplete
# throughout.
# disks: 2
# disk-size: 128M
# timeout: 400
# cpus: 1
. "$(dirname "$0")/../lib.sh"

read -r -a D <<<"$COWBACKUP_DISKS"
X=/tmp/cbd
trap '"$CTL" recover >/dev/null 2>&1; cleanup_dm' EXIT
mkdir -p $X

pvcreate -q "${D[0]}" "${D[1]}" >/dev/null && vgcreate -q vg0 "${D[0]}" "${D[1]}" >/dev/null &&
	lvcreate -q -y -L 48M -n data vg0 "${D[0]}" >/dev/null &&
	lvcreate -q -y -L 64M -n bak vg0 "${D[1]}" >/dev/null || bail "cannot create LVs"
fill_pattern /dev/vg0/data 31 || bail "cannot fill vg0/data"

field() {	# field KEY: one value of status --json vg0-data
	"$CTL" status --json vg0-data 2>/dev/null |
		sed -n "s/^  \"$1\": \"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\}$/\1/p"
}
wait_percent() {	# wait_percent N: until the job is N% done
	local i
	for i in $(seq 1 $((600 * SCALE))); do
		[ "$(field percent)" -ge "$1" ] 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
marked() {	# marked DESC: vg0/bak carries the incomplete header
	check_eq "$1: the target is marked incomplete" \
		"COWBACKUP INCOMPLETE BACKUP" "$(head -c 27 /dev/vg0/bak | tr -d '\0')"
}
leftovers() {
	dmsetup ls | awk '$1 ~ /^cowbackup-/ { print $1 }' | tr '\n' ' '
}

# ---- 1. backup, lvchange --refresh while it runs -----------------------------
# The refresh must land while the job copies: on a slower kernel (timeout
# scale beyond x4, the debug kernel) lvchange under udev takes tens of
# seconds, longer than the whole copy at 4 MiB/s.
speed=4M
[ "$SCALE" -gt 4 ] && speed=512K
"$CTL" backup vg0/data vg0/bak --speed $speed --interval 1 >$X/b.out 2>$X/b.err &
BPID=$!
check "the job reaches 10%" wait_percent 10
check "lvchange --refresh during the backup" lvchange --refresh vg0/data
wait $BPID
check_eq "backup exits 1" 1 $?
check "backup says the job was detached" \
	grep -q "vg0-data: backup failed: the job was detached" $X/b.err
check "backup does not claim success" bash -c "! grep -q 'backup complete' $X/b.out"
diag "$(tail -n 3 $X/b.out; cat $X/b.err)"
marked "backup"
check_eq "no cowbackup devices left" "" "$(leftovers)"

# ---- 2. start, lvextend: status, list, wait, export, finish ------------------
check "start" "$CTL" start vg0/data vg0/bak --speed 2M --force
check "lvextend during the job" lvextend -q -L +4M vg0/data
"$CTL" status vg0-data >$X/s.out 2>$X/s.err
check_eq "status exits 1" 1 $?
check "status shows failed (detached)" grep -q "^State: *failed (detached)" $X/s.out
check "status explains on stderr" grep -q "vg0-data: backup failed: the job was detached" $X/s.err
check_eq "status --json: state failed" failed "$(field state)"
check_eq "status --json: detached" true "$(field detached)"
check_eq "status --json: backup incomplete" incomplete "$(field backup)"
"$CTL" status --json vg0-data >/dev/null 2>&1
check_eq "status --json exits 1" 1 $?
"$CTL" list >$X/l.out 2>$X/l.err
check_eq "list exits 1" 1 $?
check "list shows the job detached and incomplete" \
	grep -q "^vg0-data  *detached .* incomplete " $X/l.out
diag "$(cat $X/l.out)"
"$CTL" wait vg0-data --quiet >$X/w.out 2>$X/w.err
check_eq "wait exits 1" 1 $?
check "wait says detached" grep -q "vg0-data: backup failed: the job was detached" $X/w.err
"$CTL" export vg0-data $X/d.qcow2 --format qcow2 >$X/e.out 2>$X/e.err
check_eq "export of the detached job exits 1" 1 $?
check "export says incomplete" grep -q "vg0-data: incomplete backup: the job was detached" $X/e.err
check "no export written" test ! -e $X/d.qcow2
marked "lvextend"
"$CTL" finish vg0-data >$X/f.out 2>$X/f.err
check_eq "finish exits 1: the backup failed" 1 $?
check "finish says the backup failed" grep -q "vg0-data: job finished, but the backup failed: the job was detached" $X/f.err
diag "$(cat $X/f.out $X/f.err)"
check_eq "no cowbackup devices left" "" "$(leftovers)"
marked "after finish"
check_fail "info refuses the target" "$CTL" info /dev/vg0/bak
check_eq "the LV keeps its LVM table" "$(dmsetup table vg0-data | wc -l)" \
	"$(dmsetup table vg0-data | grep -c linear)"
done_testing
