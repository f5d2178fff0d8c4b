#!/bin/bash
# The cowbackup target's basics: create with the contract's table line,
# status field by field, the canonical table line, copy-on-write and
# background copy checked byte-exact with O_DIRECT, pass-through after
# completion, a cowbackup segment at a non-zero table offset, lone
# first writes over brd (stages run from completions), remove, and rmmod
# refused while in use.
# disks: 3
# disk-size: 16M
# timeout: 180
. "$(dirname "$0")/../lib.sh"
. "$REPO/tests/vm/tests/data/target-lib.sh"

# Nothing here needs two CPUs; one avoids slow cross-CPU wake-ups of
# the many short commands under TCG.
taskset -pc 0 $$ >/dev/null 2>&1

read -r -a D <<<"$COWBACKUP_DISKS"
SRC=${D[0]}
TGT=${D[1]}
OTHER=${D[2]}
S=$(cb_size "$SRC")
CS=128
TOTAL=$(cb_clusters "$S" $CS)
DM=/dev/mapper/cb
diag "source $SRC ($S sectors), target $TGT, $TOTAL clusters of $CS sectors"

check "dmsetup targets lists cowbackup v1.0.0" \
	bash -c "dmsetup targets | grep -Eq '^cowbackup +v1\.0\.0$'"

$CB_PY stamp "$SRC" --seed 11 || bail "cannot stamp $SRC"
$CB_PY stamp "$TGT" --seed 99 || bail "cannot stamp $TGT"

# --- a paused job: only copy-on-write happens -------------------------
check "create with the contract's table line (paused)" \
	cb_create cb "$SRC" "$TGT" full paused
check_eq "initial status, every field" \
	"paused full $CS 0/$TOTAL 0 0 0 0 0" "$(cb_status cb)"
sleep 1
check_eq "paused job copies nothing in the background" \
	"paused full $CS 0/$TOTAL 0 0 0 0 0" "$(cb_status cb)"
check "reads through the dm device equal the source" \
	test "$(cb_md5 $DM)" = "$(cb_md5 "$SRC")"

# 2000 sectors at sector 1000: clusters 7..23 (17 clusters), unaligned.
check "unaligned write through the dm device succeeds" \
	$CB_PY stamp $DM --seed 12 --first 1000 --count 2000
check "source holds the new data (O_DIRECT)" \
	$CB_PY verify "$SRC" --seed 12 --first 1000 --count 2000
check "source outside the write is unchanged" \
	$CB_PY verify "$SRC" --seed 11 --first 3000
check "dm device reads the new data" \
	$CB_PY verify $DM --seed 12 --first 1000 --count 2000
check "target holds the old data of the 17 written clusters" \
	$CB_PY verify "$TGT" --seed 11 --first $((7 * CS)) --count $((17 * CS))
check "target untouched before and after those clusters" \
	bash -c "$CB_PY verify $TGT --seed 99 --count $((7 * CS)) &&
		 $CB_PY verify $TGT --seed 99 --first $((24 * CS))"
check_eq "status after copy-on-write of 17 clusters" \
	"paused full $CS 17/$TOTAL 17 0 0 0 0" "$(cb_status cb)"

# Rewriting copied clusters costs no second copy.
$CB_PY stamp $DM --seed 13 --first 1024 --count 512
check_eq "rewrite of copied clusters copies nothing again" \
	"paused full $CS 17/$TOTAL 17 0 0 0 0" "$(cb_status cb)"
check "target still holds the point-in-time data there" \
	$CB_PY verify "$TGT" --seed 11 --first $((7 * CS)) --count $((17 * CS))

# A write of exactly one whole cluster still needs its old data copied.
$CB_PY stamp $DM --seed 14 --first $((100 * CS)) --count $CS
check "whole-cluster write: old data copied first" \
	$CB_PY verify "$TGT" --seed 11 --first $((100 * CS)) --count $CS
# O_DIRECT|O_DSYNC on a block device gives a REQ_FUA write.
check "FUA write to an uncopied cluster succeeds" \
	dd if=/dev/zero of=$DM bs=4k count=1 seek=$((200 * CS / 8)) \
	oflag=direct,dsync status=none
check "FUA write: old data copied first" \
	$CB_PY verify "$TGT" --seed 11 --first $((200 * CS)) --count $CS
check "fsync of the dm device succeeds" \
	dd if=/dev/zero of=$DM bs=512 count=0 conv=fsync status=none
check_eq "status counts 19 copy-on-write clusters" \
	"paused full $CS 19/$TOTAL 19 0 0 0 0" "$(cb_status cb)"

# --- resume: the background copy finishes the job -------------------
check "resume message" cb_msg cb resume
cb_check_done "job completes" cb completed 60
check_eq "final status: every cluster settled once" \
	"completed full $CS $TOTAL/$TOTAL 19 $((TOTAL - 19)) 0 0 0" "$(cb_status cb)"
check "target equals the point-in-time image byte for byte" \
	$CB_PY verify "$TGT" --seed 11 --count "$S"

# --- after completion writes pass straight through -------------------
$CB_PY stamp $DM --seed 15 --first 0 --count 4096
check "write after completion reaches the source" \
	$CB_PY verify "$SRC" --seed 15 --count 4096
check "write after completion leaves the target alone" \
	$CB_PY verify "$TGT" --seed 11 --count "$S"
check_eq "no copy-on-write after completion" \
	"completed full $CS $TOTAL/$TOTAL 19 $((TOTAL - 19)) 0 0 0" "$(cb_status cb)"

# --- the table line ---------------------------------------------------
SMM=$(cb_mm "$SRC")
TMM=$(cb_mm "$TGT")
table=$(dmsetup table cb)
diag "table: $table"
check "table starts with '0 $S cowbackup $SMM $TMM full'" \
	bash -c "[[ '$table ' == '0 $S cowbackup $SMM $TMM full '* ]]"
check "dmsetup remove" dmsetup remove cb
check "device is gone after remove" bash -c '! dmsetup info cb >/dev/null 2>&1'

$CB_PY stamp "$SRC" --seed 21
OPTS="cluster_size 256 speed 1048576 max_workers 3 on_source_error stop on_target_error ignore cow_error break_write"
check "create with every optional argument" \
	cb_create cb "$SRC" "$TGT" full $OPTS paused
check_eq "status shows cluster size, speed and paused state" \
	"paused full 256 0/$(cb_clusters "$S" 256) 0 0 0 0 1048576" "$(cb_status cb)"
table=$(dmsetup table cb)
diag "table: $table"
read -r -a tw <<<"$table"
check_eq "table: fixed fields" "0 $S cowbackup $SMM $TMM full" "${tw[*]:0:6}"
check_eq "table: optional argument count matches the words that follow" \
	"$((${#tw[@]} - 7))" "${tw[6]:-none}"
for pair in "cluster_size 256" "max_workers 3" "on_source_error stop" \
	"on_target_error ignore" "cow_error break_write"; do
	check "table echoes non-default '$pair'" \
		bash -c "[[ ' $table ' == *' $pair '* ]]"
done
check "reload of the canonical table line succeeds" \
	bash -c "dmsetup reload cb --table '$table' && dmsetup resume cb"
check_eq "canonical table line is stable across reload" \
	"$table" "$(dmsetup table cb)"
check_eq "job keeps its settings across the reload" \
	"256 1048576" "$(cb_get cb cluster) $(cb_get cb speed)"
check "speed 0 and resume" \
	bash -c "dmsetup message cb 0 speed 0 && dmsetup message cb 0 resume"
cb_check_done "job with options completes" cb completed 60
check "target equals the point-in-time image" \
	$CB_PY verify "$TGT" --seed 21 --count "$S"
dmsetup remove cb

# --- a cowbackup segment at a non-zero table offset --------------------
$CB_PY stamp "$SRC" --seed 31
$CB_PY stamp "$TGT" --seed 99
check "create a table whose cowbackup segment starts at sector 2048" \
	dmsetup create cb --table "0 2048 linear $OTHER 0
2048 $S cowbackup $SRC $TGT full 1 paused"
$CB_PY stamp $DM --seed 32 --first $((2048 + 500)) --count 8
check "write lands at the right source offset" \
	$CB_PY verify "$SRC" --seed 32 --first 500 --count 8 --shift 2048
check "source elsewhere unchanged" \
	bash -c "$CB_PY verify $SRC --seed 31 --count 500 &&
		 $CB_PY verify $SRC --seed 31 --first 508"
check "the right cluster was copied out" \
	$CB_PY verify "$TGT" --seed 31 --first $((3 * CS)) --count $CS
check_eq "one copy-on-write" 1 "$(dmsetup status cb | awk '$3 == "cowbackup" {print $8}')"
dmsetup message cb 2048 resume
i=0
while [ $i -lt 600 ] && ! dmsetup status cb | grep -q ' cowbackup completed '; do
	sleep 0.1
	i=$((i + 1))
done
check "offset segment job completes" \
	bash -c "dmsetup status cb | grep -q ' cowbackup completed '"
check "target equals the point-in-time image" \
	$CB_PY verify "$TGT" --seed 31 --count "$S"
dmsetup remove cb

# --- queue limits follow the source, as dm-linear's do ------------------------
# A cowbackup device must not promise discard or write-zeroes support the
# source lacks (brd has neither), nor hide what it has (virtio).
modprobe brd rd_nr=2 rd_size=$((S / 2)) max_part=0
for dev in "$SRC" /dev/ram0; do
	cb_linear cblin "$dev"
	cb_create cb "$dev" "$TGT" full paused
	want=$(cb_qlimits cblin)
	check_eq "queue limits over ${dev#/dev/} equal dm-linear's ($want)" \
		"$want" "$(cb_qlimits cb)"
	dmsetup remove cb
	dmsetup remove cblin
done

# --- a lone writer over devices that complete in submit_bio() ---------
# brd completes I/O inside submit_bio(), so a lone writer's copy-outs run
# their stages from their own completions, in the writer's task (after
# eight lone writes in a row: cow.c, copy_out_local()). One process
# writes 4 KiB into each of 48 clusters, then across the boundary of
# clusters 50 and 51, one O_DIRECT write at a time.
BS=/dev/ram0 BT=/dev/ram1
$CB_PY stamp $BS --seed 41 || bail "cannot stamp $BS"
$CB_PY stamp $BT --seed 98 || bail "cannot stamp $BT"
check "create over brd (paused)" cb_create cb $BS $BT full paused
lone=""
for i in $(seq 0 47); do lone+=" $((i * 16 + 3))+1"; done
lone+=" $((50 * 16 + 15))+2"
check "48 + 1 lone 4 KiB writes through the job" \
	$CB_PY stamp $DM --seed 42 --extents "$lone" --cluster 8
check_eq "50 copy-outs, no background copy" "50 0" \
	"$(cb_status cb | cut -d' ' -f5-6)"
check "the 50 copied-out clusters on the target hold the point in time" \
	$CB_PY verify $BT --seed 41 --extents "0+48 50+2" --cluster $CS
check "the source holds the new writes" \
	$CB_PY verify $BS --seed 42 --extents "$lone" --cluster 8
check "resume" cb_msg cb resume
cb_check_done "the brd job completes" cb completed 60
check "the brd target equals the point-in-time image" \
	$CB_PY verify $BT --seed 41
dmsetup remove cb

# --- module reference counting ------------------------------------------
check "create for the rmmod test" cb_create cb "$SRC" "$TGT" full paused
check "rmmod refused while a cowbackup device exists" \
	bash -c '! rmmod dm_cowbackup 2>/dev/null'
check "device still works after the refused rmmod" \
	bash -c "dmsetup status cb | grep -q ' cowbackup paused '"
check "remove" dmsetup remove cb
check "rmmod works once no device uses the module" rmmod dm_cowbackup
check "target type gone after rmmod" \
	bash -c '! dmsetup targets | grep -q "^cowbackup "'
check "module loads again" insmod "$REPO/kernel/dm-cowbackup.ko"
check "create after reload of the module" \
	cb_create cb "$SRC" "$TGT" full
cb_check_done "job completes after module reload" cb completed 60
dmsetup remove cb

cb_check_klog
cb_cleanup
done_testing
