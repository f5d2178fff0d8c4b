#!/bin/bash
# Job control from cowbackup-ctl: set-speed, pause, resume, cancel, wait's
# exit status, a paused job with a point-in-time view (--snapshot) read
# while the source changes, Ctrl-C during backup, a stacked job on a loop
# device, and sync=top from a loop device's sparse file (one with data,
# one with nothing allocated, completed at start).
# disks: 2
# disk-size: 128M
# timeout: 360
# cpus: 1
. "$(dirname "$0")/../lib.sh"

read -r -a D <<<"$COWBACKUP_DISKS"
trap '"$CTL" recover >/dev/null 2>&1; cleanup_dm; losetup -D' EXIT

pvcreate -q "${D[0]}" "${D[1]}" >/dev/null && vgcreate -q vg0 "${D[0]}" "${D[1]}" >/dev/null &&
	lvcreate -q -y -L 48M -n data vg0 >/dev/null &&
	lvcreate -q -y -L 48M -n bak vg0 >/dev/null &&
	lvcreate -q -y -L 48M -n bak2 vg0 >/dev/null || bail "cannot create LVs"
fill_pattern /dev/vg0/data 21 || bail "cannot fill vg0/data"
SUM=$(md5_direct /dev/vg0/data)
ORIG=$(dmsetup table vg0-data)
SIZE=$((48 << 20))

field() {	# field JOB KEY: one value of status --json
	"$CTL" status --json "$1" | sed -n "s/^  \"$2\": \"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\}$/\1/p"
}
leftovers() {
	dmsetup ls | awk '$1 ~ /^cowbackup-|-snap$/ { print $1 }' | tr '\n' ' '
}

# ---- speed, pause, resume, cancel ----------------------------------------
# The job must still run when `cancel` comes, 9 ctl calls after the start.
# Beyond timeout scale x4 (the debug kernel under udev, beside other
# guests) such a call can take 10 s, and at 1-2 MiB/s the 48 MiB were
# copied before the pause: there the speeds are 128K and 256K.
if [ "$SCALE" -gt 4 ]; then
	S1=128K S1B=131072 S2=256K S2B=262144 S2TXT="256 KiB/s (262144 bytes/s)"
else
	S1=1M S1B=1048576 S2=2M S2B=2097152 S2TXT="2 MiB/s (2097152 bytes/s)"
fi
check "start with --speed $S1" "$CTL" start vg0/data vg0/bak --speed $S1
check_eq "state running" running "$(field vg0-data state)"
check_eq "speed $S1" $S1B "$(field vg0-data speed)"
check "set-speed $S2" bash -c "$CTL set-speed vg0-data $S2 | grep -q 'limited to $S2TXT'"
check_eq "speed now $S2" $S2B "$(field vg0-data speed)"
check "pause" "$CTL" pause vg0-data
check_eq "state paused" paused "$(field vg0-data state)"
a=$(field vg0-data background_copies)
sleep 1
check_eq "no background copy while paused" "$a" "$(field vg0-data background_copies)"
check "resume" "$CTL" resume vg0/data
check_eq "state running again" running "$(field vg0-data state)"
sleep 2
b=$(field vg0-data background_copies)
check "background copy goes on after resume ($a -> $b)" test "$b" -gt "$a"
check "cancel" "$CTL" cancel vg0-data
check_eq "state cancelled" cancelled "$(field vg0-data state)"
"$CTL" wait vg0-data --quiet 2>/tmp/cb-wait.err
check_eq "wait on a cancelled job exits 1" 1 $?
check "wait says why" grep -q "vg0-data: job cancelled" /tmp/cb-wait.err
check "resume of a cancelled job is refused" bash -c "! $CTL resume vg0-data 2>/dev/null"
check "finish" "$CTL" finish vg0-data
check_eq "table restored" "$ORIG" "$(dmsetup table vg0-data)"
check_eq "no devices left" "" "$(leftovers)"

# ---- a paused job with its point-in-time view ------------------------------
check "start --paused --snapshot" bash -c \
	"$CTL start vg0/data vg0/bak --force --paused --snapshot | grep -q 'point-in-time view at /dev/mapper/vg0-data-snap'"
check_eq "status shows the view" /dev/mapper/vg0-data-snap "$(field vg0-data view)"
check_eq "the view reads the point in time" "$SUM" "$(md5_direct /dev/mapper/vg0-data-snap)"
fill_pattern /dev/vg0/data 22 $((4 << 20)) $((1 << 20)) || bail "write through the LV failed"
check "the source changed" test "$(md5_direct /dev/vg0/data)" != "$SUM"
check_eq "the view still reads the point in time" "$SUM" "$(md5_direct /dev/mapper/vg0-data-snap)"
check_eq "16 clusters were copied before the write" 16 "$(field vg0-data cow_copies)"
check "the view is read-only" bash -c "! dd if=/dev/zero of=/dev/mapper/vg0-data-snap bs=4k count=1 oflag=direct status=none 2>/dev/null"
check "resume" "$CTL" resume vg0-data
check "wait on a completing job exits 0" "$CTL" wait vg0-data --interval 1
check "wait on a completed job exits 0 at once" timeout 10 "$CTL" wait vg0-data --quiet
check "finish removes the view too" "$CTL" finish vg0-data
# The target is whole (its first and last MiB written) once finished.
check_eq "the target holds the point-in-time image" "$SUM" "$(md5_direct /dev/vg0/bak 0 $SIZE)"
check_eq "no devices left" "" "$(leftovers)"
SUM=$(md5_direct /dev/vg0/data)

# ---- Ctrl-C during backup ------------------------------------------------
"$CTL" backup vg0/data vg0/bak --force --speed 1M --interval 1 >/tmp/cb-int.out 2>/tmp/cb-int.err &
BPID=$!
for i in $(seq $((50 * SCALE))); do
	[ "$(field vg0-data state 2>/dev/null)" = running ] && break
	sleep 0.2
done
kill -INT $BPID
wait $BPID
check_eq "backup exits 1 after Ctrl-C" 1 $?
diag "$(cat /tmp/cb-int.err)"
check "it says the job was cancelled and finished" \
	grep -q "backup interrupted: job cancelled and finished; /dev/mapper/vg0-bak holds an incomplete backup" /tmp/cb-int.err
check_eq "table restored after Ctrl-C" "$ORIG" "$(dmsetup table vg0-data)"
check_eq "no devices left after Ctrl-C" "" "$(leftovers)"
check_eq "source untouched" "$SUM" "$(md5_direct /dev/vg0/data)"

# ---- a stacked job on a loop device --------------------------------------
[ -e /dev/loop-control ] || modprobe loop 2>/dev/null
truncate -s 32M /tmp/cb-loop.img
LOOP=$(losetup -f --show /tmp/cb-loop.img) || bail "losetup failed"
fill_pattern "$LOOP" 23
LSUM=$(md5_direct "$LOOP")
J=cowbackup-${LOOP##*/}
check "start on a loop device makes a dm device on top" bash -c \
	"$CTL start $LOOP vg0/bak2 --force --paused | grep -q 'use /dev/mapper/$J instead of $LOOP'"
check_eq "the job is named after it" "$J" "$(field "$LOOP" name)"
fill_pattern /dev/mapper/$J 24 0 $((1 << 20))
check "resume and wait" bash -c "$CTL resume $J >/dev/null && $CTL wait $J --quiet"
check "finish removes the unused job device" "$CTL" finish "$J"
check_eq "the target holds the loop device's point in time" "$LSUM" "$(md5_direct /dev/vg0/bak2 0 $((32 << 20)))"
check_eq "no devices left" "" "$(leftovers)"
check_eq "the write went through to the loop device" \
	"$(pattern_md5 24 0 $((1 << 20)))" "$(md5_direct "$LOOP" 0 $((1 << 20)))"
losetup -d "$LOOP"

# ---- sync=top from a sparse file behind a loop device --------------------
rm -f /tmp/cb-sparse.img
truncate -s 32M /tmp/cb-sparse.img
LOOP=$(losetup -f --show /tmp/cb-sparse.img) || bail "losetup failed"
fill_pattern "$LOOP" 25 0 $((1 << 20))
fill_pattern "$LOOP" 26 $((16 << 20)) $((1 << 20))
J=cowbackup-${LOOP##*/}
"$CTL" start "$LOOP" vg0/bak2 --force --sync top >/tmp/cb-top.out 2>&1
check_eq "start --sync top on a sparse loop device" 0 $?
diag "$(cat /tmp/cb-top.out)"
check "480 of 512 clusters are holes, skipped" grep -q "480 of 512 clusters unallocated in the top layer, skipped" /tmp/cb-top.out
check "wait" "$CTL" wait "$J" --quiet
check_eq "only the 32 allocated clusters were copied" 32 "$(field "$J" background_copies)"
check_eq "the allocated data is on the target" \
	"$(pattern_md5 26 $((16 << 20)) $((1 << 20)))" "$(md5_direct /dev/vg0/bak2 $((16 << 20)) $((1 << 20)))"
check "finish" "$CTL" finish "$J"
losetup -d "$LOOP"
check_eq "no devices left" "" "$(leftovers)"

# ---- sync=top with nothing allocated: every cluster skipped --------------
# The job is completed before its copy would be resumed; start succeeds.
rm -f /tmp/cb-sparse.img
truncate -s 32M /tmp/cb-sparse.img
LOOP=$(losetup -f --show /tmp/cb-sparse.img) || bail "losetup failed"
J=cowbackup-${LOOP##*/}
"$CTL" start "$LOOP" vg0/bak2 --force --sync top >/tmp/cb-top.out 2>&1
check_eq "start --sync top with nothing allocated (exit 0)" 0 $? ||
	diag "$(cat /tmp/cb-top.out)"
check "all 512 clusters are holes, skipped" grep -q "512 of 512 clusters unallocated in the top layer, skipped" /tmp/cb-top.out
check_eq "the job is completed at once" completed "$(field "$J" state)"
check "finish" "$CTL" finish "$J"
losetup -d "$LOOP"
check_eq "no devices left" "" "$(leftovers)"

# ---- lvextend during a job: detected and reported, never silent ----------
check "start a slow job" "$CTL" start vg0/data vg0/bak --force --speed 1M
lvextend -q -L +4M vg0/data >/dev/null 2>&1
check_eq "status --json reports the LV detached from the job" true "$(field vg0-data detached)"
"$CTL" list >/dev/null 2>/tmp/cb-hint
check "list points at recover" grep -q "run 'cowbackup-ctl recover'" /tmp/cb-hint
"$CTL" finish --force vg0-data >/tmp/cb-fin.out 2>&1
check_eq "finish of the lost job exits 1" 1 $?
check "and says the table was replaced and the backup is incomplete" \
	grep -q "its table was replaced by another program (lvextend, lvchange --refresh?): the job is lost and its backup incomplete" /tmp/cb-fin.out
check_eq "the job devices are gone" "" "$(leftovers)"
check_eq "the LV has LVM's new table" 2 "$(dmsetup table vg0-data | grep -c linear)"
check_eq "list shows no job" "no cowbackup jobs" "$("$CTL" list 2>&1)"
done_testing
