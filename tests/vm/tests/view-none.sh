#!/bin/bash
# sync=none with the cowbackup-snap view ("fleecing"): no background copy,
# only copy-out of clusters about to change; the view shows the
# point-in-time (PIT) image byte for byte while the origin takes new data,
# also with readers and writers running at the same time; after `cancel`
# the view's reads fail with EIO and writes pass straight through.
# disks: 0
# mem: 1G
# timeout: 420
. "$(dirname "$0")/../lib.sh"
. "$REPO/tests/vm/tests/data/target-lib.sh"

# Loop devices over tmpfs: unlike brd they take discards, so the
# writers' discards are copy-on-write triggers too.
SRC=$(cb_loop $((32 << 20)))
TGT=$(cb_loop $((32 << 20)))
DM=/dev/mapper/cb
VIEW=/dev/mapper/cbv
S=$(cb_size "$SRC")
LOG=/tmp/cbvn
diag "loop $SRC -> $TGT, $S sectors"

# --- stamped source, sync=none, view, random writers --------------------
$CB_PY stamp "$SRC" --seed 201 --holes 4
$CB_PY stamp "$TGT" --seed 99
TOTAL=$(cb_clusters "$S" 128)
check "create sync=none" cb_create cb "$SRC" "$TGT" none
check_eq "initial status" "running none 128 0/$TOTAL 0 0 0 0 0" "$(cb_status cb)"
check "create the view" cb_view_create cbv "$SRC" "$TGT"
diag "view status: $(dmsetup status cbv)"
sleep 1
check_eq "no background copy with sync=none" \
	"running none 128 0/$TOTAL 0 0 0 0 0" "$(cb_status cb)"
check "view equals the PIT image before any write" \
	$CB_PY verify $VIEW --seed 201 --holes 4

rm -rf "${LOG:?}".*
check "random writers (writes, discards, write-zeroes) on the origin" \
	$CB_PY writers $DM --jobs 4 --seconds 30 --ops 40 --max-len 65536 \
	--seed 201 --log $LOG.1
st=$(cb_status cb)
diag "status after the writers: $st"
check_eq "still running, no background copies, no errors" \
	"running none 0 0" "$(cb_get cb state) $(cb_get cb sync) $(cb_get cb bg) $(cb_get cb errors)"
cow=$(cb_get cb cow)
zero=$(cb_get cb zero)
check "copy-out happened ($cow clusters)" test "$cow" -gt 0
check_eq "settled = clusters copied out" \
	"$((cow + zero))" "$(cb_get cb settled)"
check "not everything settled" test "$(cb_get cb settled)" -lt "$TOTAL"
check "the whole view equals the PIT image (O_DIRECT)" \
	$CB_PY verify $VIEW --seed 201 --holes 4
check "the origin holds exactly the new data" \
	$CB_PY check-source "$SRC" --seed 201 --holes 4 --log $LOG.1
check "the dm device reads the new data too" \
	$CB_PY check-source $DM --seed 201 --holes 4 --log $LOG.1

# --- readers on the view while fio writes to the origin ------------------
fio --name=origin --filename=$DM --direct=1 --ioengine=libaio --iodepth=4 \
	--rw=randwrite --bsrange=512-128k --numjobs=2 --time_based \
	--runtime=8 --randrepeat=0 --output=/tmp/cbfio.out >/dev/null 2>&1 &
fiopid=$!
$CB_PY reader $VIEW --seed 201 --holes 4 --seconds 8 --rseed 1 >/tmp/cbr1 &
r1=$!
$CB_PY reader $VIEW --seed 201 --holes 4 --seconds 8 --rseed 2 \
	--max-len 4096 >/tmp/cbr2 &
r2=$!
wait $r1
rc1=$?
wait $r2
rc2=$?
wait $fiopid
rcf=$?
diag "$(cat /tmp/cbr1 /tmp/cbr2)"
check_eq "fio wrote to the origin without errors" 0 $rcf
check_eq "reader (up to 256 KiB) saw only PIT data" 0 $rc1
check_eq "reader (up to 4 KiB) saw only PIT data" 0 $rc2
check "after the storm, the whole view equals the PIT image" \
	$CB_PY verify $VIEW --seed 201 --holes 4
diag "status: $(cb_status cb)"

# --- cancel -----------------------------------------------------------------------
check "cancel" cb_msg cb cancel
check_eq "state cancelled" cancelled "$(cb_get cb state)"
check "view read of a copied cluster fails with EIO" \
	$CB_PY readerr $VIEW --offset 0 --length 65536
check "view read at the end fails with EIO" \
	$CB_PY readerr $VIEW --offset $(((S - 8) * 512)) --length 4096
check "view read fails with EIO (dd)" \
	bash -c "dd if=$VIEW of=/dev/null bs=64k count=1 iflag=direct 2>&1 | grep -q 'Input/output error'"
c=$(cb_status cb)
$CB_PY stamp $DM --seed 202 --first 0 --count 4096
check_eq "writes after cancel are not intercepted" "$c" "$(cb_status cb)"
check "writes after cancel reach the origin" \
	$CB_PY verify "$SRC" --seed 202 --count 4096
check "remove the view" dmsetup remove cbv
check "remove the job" dmsetup remove cb

# --- a hot 4 MiB region with 4 KiB clusters: maximum contention ------------------
$CB_PY stamp "$SRC" --seed 203
HOT=8192
check "create sync=none, cluster_size 8" \
	cb_create cb "$SRC" "$TGT" none cluster_size 8
check "create the view" cb_view_create cbv "$SRC" "$TGT"
fio --name=hot --filename=$DM --direct=1 --ioengine=libaio --iodepth=8 \
	--rw=randwrite --bsrange=512-64k --numjobs=2 --size=$((HOT * 512)) \
	--time_based --runtime=8 --randrepeat=0 --output=/tmp/cbfio.out \
	>/dev/null 2>&1 &
fiopid=$!
pids=""
for r in 1 2 3; do
	$CB_PY reader $VIEW --seed 203 --seconds 8 --rseed $r --first 0 \
		--count $HOT --max-len $((r * 16384)) >/tmp/cbr$r &
	pids="$pids $!"
done
rcs=0
for p in $pids; do
	wait "$p" || rcs=$((rcs + 1))
done
wait $fiopid
rcf=$?
diag "$(cat /tmp/cbr1 /tmp/cbr2 /tmp/cbr3)"
check_eq "hot region: fio wrote without errors" 0 $rcf
check_eq "hot region: 3 readers saw only PIT data" 0 $rcs
check "hot region: the whole view equals the PIT image" \
	$CB_PY verify $VIEW --seed 203
diag "status: $(cb_status cb)"
check "cancel" cb_msg cb cancel
check "view reads fail after cancel" $CB_PY readerr $VIEW
dmsetup remove cbv
dmsetup remove cb

cb_check_klog
cb_cleanup
done_testing
