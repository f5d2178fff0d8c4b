#!/bin/bash
# Who owns a job. A target device takes one live job: a second mapped
# device with the same source/target pair, or another source on the same
# target, is refused at table load. A reload of the same device hands the
# job over (same point in time) only while it is running or paused; after
# cancel the same table starts a new point in time; a completed job stays
# completed.
# disks: 0
# mem: 1G
# timeout: 300
. "$(dirname "$0")/../lib.sh"
. "$REPO/tests/vm/tests/data/target-lib.sh"

MB=16
SRC=$(cb_loop $((MB << 20)))
SRC2=$(cb_loop $((MB << 20)))
TGT=$(cb_loop $((MB << 20)))
S=$(cb_size "$SRC")
TOTAL=$(cb_clusters "$S" 128)

# --- a second live job on the same target ---------------------------------
$CB_PY stamp "$SRC" --seed 501
$CB_PY stamp "$TGT" --seed 99
check "job a: paused sync=full" cb_create a "$SRC" "$TGT" full paused
cb_expect_fail "job b on the same source/target pair is refused" \
	'in use|another|already' cb_create b "$SRC" "$TGT" full paused
cb_expect_fail "job c from another source on the same target is refused" \
	'in use|another|already' cb_create c "$SRC2" "$TGT" full paused
check_fail "no device b or c was left behind" \
	bash -c 'dmsetup info b || dmsetup info c'
# The issue's data loss: a write through a, then b resumed, left post-PIT
# data on the target. With b refused, a's point in time stands.
dd if=/dev/zero of=/dev/mapper/a oflag=direct bs=64K seek=3 count=1 \
	status=none
check "job a resumes and completes" cb_msg a resume
cb_check_done "job a completes" a completed 120
check "target equals a's point in time" $CB_PY verify "$TGT" --seed 501
check "the reload of a's own table is still a handover" \
	bash -c "dmsetup reload a --table '$(dmsetup table a)' && dmsetup resume a"
check_eq "a completed job reloaded stays completed" completed \
	"$(cb_get a state)"
check "remove a" dmsetup remove a
check "after a is gone the target takes a new job" \
	cb_create b "$SRC2" "$TGT" full paused
dmsetup remove b

# --- reload after cancel: a new point in time ------------------------------
$CB_PY stamp "$SRC" --seed 502
$CB_PY stamp "$TGT" --seed 99
check "job: paused sync=full" cb_create cb "$SRC" "$TGT" full paused
check "write to one cluster (copy-out)" \
	dd if=/dev/zero of=/dev/mapper/cb oflag=direct bs=4K seek=16 count=1 \
	status=none
check "cancel" cb_msg cb cancel
check_eq "cancelled" cancelled "$(cb_get cb state)"
# The same job line, paused so that the new job can be looked at.
table=$(cb_table "$SRC" "$TGT" full paused)
check "reload the same table after cancel" \
	bash -c "dmsetup reload cb --table '$table' && dmsetup resume cb"
st=$(cb_status cb)
diag "status after the reload: $st"
check_eq "the reload starts a new job from nothing" \
	"paused full 128 0/$TOTAL 0 0 0 0" "$(echo "$st" | cut -d' ' -f1-8)"
check "resume the new job" cb_msg cb resume
cb_check_done "the new job completes" cb completed 120
# New point in time: the reload. The source then held seed 502 with one
# 4 KiB block of zeros at sector 128.
dd if=/dev/mapper/cb iflag=direct bs=1M status=none | md5sum >/tmp/cbho.src
dd if="$TGT" iflag=direct bs=1M count=$MB status=none | md5sum >/tmp/cbho.tgt
check_eq "target equals the source at the reload" \
	"$(cat /tmp/cbho.src)" "$(cat /tmp/cbho.tgt)"
dmsetup remove cb

cb_check_klog
cb_cleanup
done_testing
