#!/bin/bash
# Life cycle of a running job: many suspend/resume cycles under writes
# (the copier is quiet while suspended, the data is right at the end), a
# reload of the same table, `dmsetup remove` while copying, while
# suspended and while paused, and rmmod once everything is gone.
# disks: 0
# mem: 1G
# timeout: 480
. "$(dirname "$0")/../lib.sh"
. "$REPO/tests/vm/tests/data/target-lib.sh"

DM=/dev/mapper/cb
if cb_is_kvm; then MB=64; else MB=32; fi
M=$((MB << 20))
SRC=$(cb_loop $M)
TGT=$(cb_loop $M)
S=$(cb_size "$SRC")
TOTAL=$(cb_clusters "$S" 128)
LOG=/tmp/cblc
diag "loop $SRC -> $TGT, $MB MiB, $TOTAL clusters"

# --- 20 suspend/resume cycles under writes --------------------------------
$CB_PY stamp "$SRC" --seed 81 --holes 7
$CB_PY stamp "$TGT" --seed 99
rm -rf "${LOG:?}".*
check "create at 1/16 device per second" \
	cb_create cb "$SRC" "$TGT" full speed $((M / 16))
$CB_PY writers $DM --jobs 3 --seconds 10 --seed 81 --log $LOG.1 &
writers=$!
fails=0
for i in $(seq 1 20); do
	if [ $((i % 2)) -eq 0 ]; then flag=--noflush; else flag=; fi
	# shellcheck disable=SC2086
	dmsetup suspend $flag cb || fails=$((fails + 1))
	if [ "$i" = 10 ]; then
		a=$(cb_status cb)
		ta=$(cb_md5 "$TGT")
		sleep 1
		check_eq "suspended: status does not move" "$a" "$(cb_status cb)"
		check_eq "suspended: nothing is written to the target" \
			"$ta" "$(cb_md5 "$TGT")"
	fi
	dmsetup resume cb || fails=$((fails + 1))
	sleep 0.3
done
check_eq "20 suspend/resume cycles (half with --noflush) succeed" 0 $fails
wait $writers
check_eq "writers saw no I/O error across the cycles" 0 $?
check "job still going after the cycles" \
	bash -c "dmsetup status cb | grep -Eq ' cowbackup (running|completed) '"
cb_msg cb speed 0
cb_check_done "job completes after the cycles" cb completed 120
check "target equals the point-in-time image" \
	$CB_PY verify "$TGT" --seed 81 --holes 7
check "source holds exactly the writes" \
	$CB_PY check-source "$SRC" --seed 81 --holes 7 --log $LOG.1
dmsetup remove cb

# --- reload of the same table while running --------------------------------
$CB_PY stamp "$SRC" --seed 82
$CB_PY stamp "$TGT" --seed 99
rm -rf "${LOG:?}".*
check "create at 1/16 device per second" \
	cb_create cb "$SRC" "$TGT" full speed $((M / 16))
table=$(dmsetup table cb)
sleep 1
before=$(cb_status cb)
check "reload the same table while running" \
	bash -c "dmsetup reload cb --table '$table' && dmsetup resume cb"
after=$(cb_status cb)
diag "status before reload: $before"
diag "status after reload:  $after"
check_eq "table unchanged by the reload" "$table" "$(dmsetup table cb)"
# A reload of the same pair continues the job (same point in time, same
# progress); no write happened since the first load, so the data checks
# below would also hold for a restarted job.
check "job still intercepting after the reload" \
	bash -c "dmsetup status cb | grep -Eq ' cowbackup (running|completed) '"
s_before=$(echo "$before" | awk '{split($4, a, "/"); print a[1]}')
check "job keeps its progress across the reload ($s_before settled before)" \
	test "$(cb_get cb settled)" -ge "$s_before"
$CB_PY writers $DM --jobs 3 --seconds 3 --seed 82 --log $LOG.1
check_eq "writes after the reload succeed" 0 $?
cb_msg cb speed 0
cb_check_done "reloaded job completes" cb completed 120
check "target equals the point-in-time image of the first load" \
	$CB_PY verify "$TGT" --seed 82
check "source holds exactly the writes" \
	$CB_PY check-source "$SRC" --seed 82 --log $LOG.1
dmsetup remove cb

# --- reload after copy-outs: copied clusters must not be copied again -------
$CB_PY stamp "$SRC" --seed 85
$CB_PY stamp "$TGT" --seed 99
check "create paused" cb_create cb "$SRC" "$TGT" full paused
$CB_PY stamp $DM --seed 86 --first 1000 --count 3000
check_eq "copy-outs before the reload" 25 "$(cb_get cb cow)"
check "reload the same table" \
	bash -c "dmsetup reload cb --table '$(dmsetup table cb)' && dmsetup resume cb"
check_eq "copy-out count kept across the reload" 25 "$(cb_get cb cow)"
# Rewrite the same clusters: the target must keep the point-in-time data.
$CB_PY stamp $DM --seed 87 --first 1000 --count 3000
check "target keeps the PIT data of clusters copied before the reload" \
	$CB_PY verify "$TGT" --seed 85 --first $((7 * 128)) --count $((25 * 128))
cb_msg cb resume
cb_check_done "job completes after the reload" cb completed 120
check "target equals the point-in-time image of the first load" \
	$CB_PY verify "$TGT" --seed 85
dmsetup remove cb

# --- remove while copying -----------------------------------------------------
$CB_PY stamp "$SRC" --seed 83
check "create at 1/16 device per second" \
	cb_create cb "$SRC" "$TGT" full speed $((M / 16))
sleep 1
exec 3<$DM
check "remove refused while the device is open" \
	bash -c '! dmsetup remove cb 2>/dev/null'
exec 3<&-
t0=$(date +%s)
check "remove while the copier runs" dmsetup remove cb
check "remove returned promptly" test $(($(date +%s) - t0)) -le 10
check "the pair can be used again: create" \
	cb_create cb "$SRC" "$TGT" full
cb_check_done "new job on the same pair completes" cb completed 120
check "target equals the source" $CB_PY verify "$TGT" --seed 83
dmsetup remove cb

# --- remove while suspended, while paused, after failure-free cancel ---------
check "create for remove-while-suspended" \
	cb_create cb "$SRC" "$TGT" full speed $((M / 16))
sleep 0.5
dmsetup suspend cb
check "remove while suspended" dmsetup remove cb
check "create paused" cb_create cb "$SRC" "$TGT" full paused
$CB_PY stamp $DM --seed 84 --first 100 --count 100
check "remove while paused with copied clusters" dmsetup remove cb
check "create running" cb_create cb "$SRC" "$TGT" full speed 1048576
check "cancel" cb_msg cb cancel
check "remove after cancel" dmsetup remove cb

# --- module unload ---------------------------------------------------------------
check "no cowbackup device left" \
	bash -c "! dmsetup ls --target cowbackup | grep -q '^cb'"
check "rmmod after all jobs are gone" rmmod dm_cowbackup
insmod "$REPO/kernel/dm-cowbackup.ko"

cb_check_klog
cb_cleanup
done_testing
