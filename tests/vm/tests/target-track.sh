#!/bin/bash
# The cowbackup-track target: byte-exact pass-through, exact change maps
# for writes, unaligned writes, discards and write-zeroes, checkpoints
# (only while suspended), the bitmap replies, persistence across a clean
# remove and a table reload, and every way the maps become invalid: fresh
# metadata, a crash (metadata copied while clean=0), length and cluster
# size changes, hostile metadata (bad magic, version, checksum, huge
# length, corrupt map), a reload that bypasses the tracker; a too small
# metadata device and bad table lines fail the load with a clear error;
# the module unloads at the end.
# disks: 2
# disk-size: 16M
# timeout: 300
. "$(dirname "$0")/../lib.sh"
. "$REPO/tests/vm/tests/data/target-lib.sh"

taskset -pc 0 $$ >/dev/null 2>&1
trap cb_cleanup EXIT

read -r -a D <<<"$COWBACKUP_DISKS"
META=${D[0]}
META2=${D[1]}
CS=128
DATA=$(cb_loop 32M) || bail "no loop device"
DATA2=$(cb_loop 32M) || bail "no second loop device"
S=$(cb_size "$DATA")
NC=$((S / CS))
LAST=$((NC - 1))
DM=/dev/mapper/tr
diag "data $DATA ($S sectors, $NC clusters of $CS), metadata $META"

tr_table() { echo "0 ${2:-$S} cowbackup-track ${1:-$DATA} ${3:-$META}${4:+ $4}"; }
tr_create() { dmsetup create "${5:-tr}" --table "$(tr_table "$@")"; }
# Status words after "<start> <len> cowbackup-track".
tr_status() { dmsetup status "${1:-tr}" | cut -d' ' -f4-; }
# The first seven fields (without the UUID).
tr_st() { tr_status "$@" | cut -d' ' -f1-7; }
tr_uuid() { tr_status "$@" | cut -d' ' -f8; }
tr_msg() { dmsetup message "${TR:-tr}" 0 "$@"; }
checkpoint() {
	dmsetup suspend "${1:-tr}" && dmsetup message "${1:-tr}" 0 checkpoint &&
		dmsetup resume "${1:-tr}"
}
zero_meta() { dd if=/dev/zero of="${1:-$META}" bs=1M count=1 oflag=direct status=none; }

# Refusals count when the kernel log has a line of this target.
CB_EXPECT_TARGETS='cowbackup(-track)?'

# Rewrite the header checksum after editing header fields (CRC32C of
# the first 512 bytes with bytes 12..15 zero).
reseal() {
	python3 - "$1" <<'EOF'
import os, struct, sys
fd = os.open(sys.argv[1], os.O_RDWR)
hdr = bytearray(os.pread(fd, 512, 0))
hdr[12:16] = bytes(4)
crc = 0xffffffff
for b in hdr:
    crc ^= b
    for _ in range(8):
        crc = (crc >> 1) ^ (0x82F63B78 & -(crc & 1))
hdr[12:16] = struct.pack("<I", crc ^ 0xffffffff)
os.pwrite(fd, bytes(hdr), 0)
os.fsync(fd)
EOF
}
# poke DEV OFFSET HEXBYTES: overwrite bytes of the metadata.
poke() {
	printf "$(echo "$3" | sed 's/../\\x&/g')" |
		dd of="$1" bs=1 seek="$2" conv=notrunc status=none
	sync
	blockdev --flushbufs "$1"
}

check "dmsetup targets lists cowbackup-track v1.0.0" \
	bash -c "dmsetup targets | grep -Eq '^cowbackup-track +v1\.0\.0$'"

# --- fresh metadata -----------------------------------------------------
$CB_PY stamp "$DATA" --seed 41 || bail "cannot stamp $DATA"
zero_meta
check "create on all-zero metadata" tr_create
check_eq "fresh tracker: no history, both maps invalid (new), epoch 1" \
	"invalid 1 0 0 $CS new new" "$(tr_st)"
UUID=$(tr_uuid)
check "status ends with a UUID" \
	bash -c "[[ '$UUID' =~ ^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$ ]]"
check_eq "table line" \
	"0 $S cowbackup-track $(cb_mm "$DATA") $(cb_mm "$META") 2 cluster_size $CS" \
	"$(dmsetup table tr)"
check "reads pass through byte-exact" \
	$CB_PY verify $DM --seed 41 --count "$S"
dd if=$DM of=/dev/null bs=1M iflag=direct status=none
dd if=/dev/zero of=$DM bs=512 count=0 conv=fsync status=none
check_eq "reads and an empty flush mark nothing" "0" "$(tr_status | cut -d' ' -f3)"

# --- writes of every kind, counted cluster by cluster -----------------
# 2000 sectors at 1000: clusters 7..23 (17).
check "unaligned write through the tracker" \
	$CB_PY stamp $DM --seed 42 --first 1000 --count 2000
# 8 sectors at 252: straddles clusters 1 and 2.
check "write straddling two clusters" \
	$CB_PY stamp $DM --seed 43 --first 252 --count 8
check "discard of clusters 40..42" \
	blkdiscard -o $((40 * CS * 512)) -l $((3 * CS * 512)) $DM
check "write-zeroes (blkdiscard -z) of clusters 50..51" \
	blkdiscard -z -o $((50 * CS * 512)) -l $((2 * CS * 512)) $DM
check "FUA write to the last sector" \
	dd if=/dev/zero of=$DM bs=512 count=1 seek=$((S - 1)) \
	oflag=direct,dsync status=none
check "data reached the device (O_DIRECT)" \
	bash -c "$CB_PY verify $DATA --seed 42 --first 1000 --count 2000 &&
		 $CB_PY verify $DATA --seed 43 --first 252 --count 8 &&
		 $CB_PY verify $DATA --zero --first $((50 * CS)) --count $((2 * CS)) &&
		 $CB_PY verify $DATA --seed 41 --first 260 --count 740 &&
		 $CB_PY verify $DATA --seed 41 --first 3000 --count $((40 * CS - 3000))"
check "device and tracker read the same" \
	test "$(cb_md5 $DM)" = "$(cb_md5 "$DATA")"
MAP1="1+2 7+17 40+3 50+2 $LAST+1"
check_eq "current map counts the 25 clusters written" \
	"invalid 1 25 0 $CS new new" "$(tr_st)"
check_eq "bitmap current 0 lists exactly them" \
	"$MAP1 next=end" "$(tr_msg bitmap current 0)"
check_eq "bitmap current pages from a cluster inside a run" \
	"10+14 40+3 50+2 $LAST+1 next=end" "$(tr_msg bitmap current 10)"
check_eq "bitmap frozen 0 is empty before any checkpoint" \
	"next=end" "$(tr_msg bitmap frozen 0)"
$CB_PY stamp $DM --seed 44 --first 1024 --count 256
check_eq "rewriting marked clusters changes nothing" \
	"invalid 1 25 0 $CS new new" "$(tr_st)"

# --- checkpoints ------------------------------------------------------
cb_expect_fail "checkpoint refused while not suspended (EBUSY)" \
	"suspend the device first" dmsetup message tr 0 checkpoint
check_eq "refused checkpoint changed nothing" \
	"invalid 1 25 0 $CS new new" "$(tr_st)"
check "suspend, checkpoint, resume" checkpoint
check_eq "checkpoint: current -> frozen, epoch 2; the first epoch had no history" \
	"invalid 2 0 25 $CS new -" "$(tr_st)"
check_eq "bitmap frozen 0 lists the clusters of epoch 1" \
	"$MAP1 next=end" "$(tr_msg bitmap frozen 0)"
check_eq "bitmap current 0 is empty" "next=end" "$(tr_msg bitmap current 0)"
check_eq "UUID kept across a checkpoint" "$UUID" "$(tr_uuid)"

$CB_PY stamp $DM --seed 45 --first $((100 * CS)) --count $((2 * CS))
check_eq "epoch 2 counts its own writes" \
	"invalid 2 2 25 $CS new -" "$(tr_st)"
check "second checkpoint" checkpoint
check_eq "epoch 2's map is valid" "valid 3 0 2 $CS - -" "$(tr_st)"
check_eq "bitmap frozen 0 = clusters 100..101" \
	"100+2 next=end" "$(tr_msg bitmap frozen 0)"

# --- persistence ----------------------------------------------------------
$CB_PY stamp $DM --seed 46 --first $((300 * CS + 5)) --count 1
check "clean remove" dmsetup remove tr
check "re-create on the same metadata (as at boot)" tr_create
check_eq "maps, epoch and validity survive" "valid 3 1 2 $CS - -" "$(tr_st)"
check_eq "same history UUID" "$UUID" "$(tr_uuid)"
check_eq "frozen map survives" "100+2 next=end" "$(tr_msg bitmap frozen 0)"
check_eq "current map survives" "300+1 next=end" "$(tr_msg bitmap current 0)"

check "reload of the same table and resume" \
	bash -c "dmsetup reload tr --table '$(tr_table)' && dmsetup resume tr"
check_eq "a reload keeps the maps valid" "valid 3 1 2 $CS - -" "$(tr_st)"
check "suspend, checkpoint, reload, resume (as cowbackup-ctl will)" \
	bash -c "dmsetup suspend tr && dmsetup message tr 0 checkpoint &&
		 dmsetup reload tr --table '$(tr_table)' && dmsetup resume tr"
check_eq "the checkpoint carries over into the reloaded table" \
	"valid 4 0 1 $CS - -" "$(tr_st)"
check_eq "its frozen map" "300+1 next=end" "$(tr_msg bitmap frozen 0)"
check "whole device still reads the same through the tracker" \
	test "$(cb_md5 $DM)" = "$(cb_md5 "$DATA")"

# --- crash: the metadata copied while the tracker is live (clean=0) ---
$CB_PY stamp $DM --seed 47 --first $((200 * CS)) --count 8
dd if="$META" of="$META2" bs=1M count=1 iflag=direct oflag=direct status=none
mark=$(cb_kmsg_mark)
check "tracker on the crash copy" tr_create "$DATA2" "" "$META2" "" tr2
check_eq "crash copy: clean=0 makes both maps invalid" \
	"invalid 1 0 0 $CS unclean unclean" "$(tr_st tr2)"
check "a new history starts (new UUID)" test "$(tr_uuid tr2)" != "$UUID"
klog_has() { cb_kmsg_since "$1" | grep -q -- "$2"; }
check "the kernel log names the device and the reason" \
	klog_has "$mark" "cowbackup: .*cowbackup-track: metadata on .* unusable (unclean)"
$CB_PY stamp /dev/mapper/tr2 --seed 48 --first 0 --count 8
check "checkpoint of the invalid tracker" checkpoint tr2
check_eq "the frozen map stays invalid, the new epoch is valid" \
	"invalid 2 0 1 $CS unclean -" "$(tr_st tr2)"
check "next checkpoint" checkpoint tr2
check_eq "one epoch later the frozen map is valid" \
	"valid 3 0 0 $CS - -" "$(tr_st tr2)"
dmsetup remove tr2
cb_expect_fail "a second device cannot share the metadata device" \
	"in use by another cowbackup-track" tr_create "$DATA2" "" "$META" "" tr2

check "clean remove" dmsetup remove tr
check_eq "the live tracker's own metadata was clean: still valid" \
	"valid" "$(tr_create && tr_st | cut -d' ' -f1; dmsetup remove tr)"
dd if="$META" of=/tmp/good.meta bs=1M count=1 iflag=direct status=none
restore() { dd if=/tmp/good.meta of="$META" bs=1M oflag=direct status=none; }

# --- geometry changes -----------------------------------------------------
check "create with a shorter length" tr_create "" $((S - CS))
check_eq "length change: invalid" \
	"invalid 1 0 0 $CS length_changed length_changed" "$(tr_st)"
dmsetup remove tr
restore
check "create with another cluster size" tr_create "" "" "" "2 cluster_size 256"
check_eq "cluster size change: invalid" \
	"invalid 1 0 0 256 cluster_size_changed cluster_size_changed" "$(tr_st)"
dmsetup remove tr
restore
check_eq "the saved metadata is valid again" "valid" \
	"$(tr_create && tr_st | cut -d' ' -f1; dmsetup remove tr)"

# --- hostile metadata -----------------------------------------------------
hostile() {
	local desc=$1 want=$2 off=$3 bytes=$4 seal=${5:-}
	restore
	poke "$META" "$off" "$bytes"
	[ -n "$seal" ] && reseal "$META"
	if ! tr_create; then
		not_ok "$desc: create succeeds" "$(dmesg | tail -3)"
		return
	fi
	check_eq "$desc" "invalid 1 0 0 $CS $want $want" "$(tr_st)"
	dmsetup remove tr
}
hostile "wrong magic" bad_magic 0 58
hostile "unknown version" bad_version 8 09
hostile "flipped bit in the header" bad_checksum 33 ff
hostile "huge length, checksum not updated" bad_checksum 32 ffffffffffffffff
hostile "huge length, checksum resealed" bad_header 32 ffffffffffffffff seal
hostile "huge bit count, resealed" bad_header 64 ffffffffffffffff seal
hostile "corrupt frozen map" bad_bitmap 4096 ff
hostile "bit past the last cluster in the current map" bad_bitmap \
	$((4096 + 4096 + NC / 8)) 01
restore

# --- a reload that bypasses the tracker ---------------------------------
tr_create
check_eq "the saved metadata: valid, epoch 4" "valid 4 - -" \
	"$(tr_st | cut -d' ' -f1,2,6,7)"
mark=$(cb_kmsg_mark)
check "reload the device with a plain linear table and resume" \
	bash -c "dmsetup reload tr --table '0 $S linear $DATA 0' && dmsetup resume tr"
check "the kernel log says the maps are bypassed" \
	klog_has "$mark" "cowbackup-track: the device's new table does not track on .*(bypassed)"
$CB_PY stamp $DM --seed 49 --first $((400 * CS)) --count 8
check "reload the tracker" \
	bash -c "dmsetup reload tr --table '$(tr_table)' && dmsetup resume tr"
check_eq "writes while bypassed: both maps invalid (bypassed)" \
	"invalid 4 bypassed bypassed" "$(tr_st | cut -d' ' -f1,2,6,7)"
check "checkpoint" checkpoint
check_eq "the epoch after the bypass is valid again" \
	"invalid 5 0 bypassed -" "$(tr_st | cut -d' ' -f1,2,3,6,7)"
dmsetup remove tr
restore

# --- bad table lines -------------------------------------------------------
dmsetup create tiny --table "0 16 linear $META2 0"
cb_expect_fail "metadata device too small: ctr error" \
	"too small for the header and two maps" \
	dmsetup create tr --table "$(tr_table "" "" /dev/mapper/tiny)"
dmsetup remove tiny
cb_expect_fail "missing metadata device" "Need <dev> <meta dev>" \
	dmsetup create tr --table "0 $S cowbackup-track $DATA"
cb_expect_fail "cluster size not a power of two" "power of two" \
	tr_create "" "" "" "2 cluster_size 96"
cb_expect_fail "cluster size below 8 sectors" "power of two" \
	tr_create "" "" "" "2 cluster_size 4"
cb_expect_fail "unknown optional argument" "only cluster_size" \
	tr_create "" "" "" "2 speed 5"
cb_expect_fail "wrong optional argument count" "count does not match" \
	tr_create "" "" "" "3 cluster_size 8"
cb_expect_fail "cluster_size twice" "more than once" \
	tr_create "" "" "" "4 cluster_size 8 cluster_size 8"
cb_expect_fail "metadata device is the data device" "same device" \
	tr_create "" "" "$DATA"
cb_expect_fail "table longer than the device" "smaller than the target length" \
	tr_create "" $((S + CS))
cb_expect_fail "no such device" "Error opening" \
	tr_create /dev/nonexistent

# --- bad messages ------------------------------------------------------------
tr_create
cb_expect_fail "bitmap of an unknown map" "need frozen or current" \
	dmsetup message tr 0 bitmap both 0
cb_expect_fail "bitmap with a bad first cluster" "need a first cluster" \
	dmsetup message tr 0 bitmap frozen x
cb_expect_fail "bitmap past the end" "need a first cluster" \
	dmsetup message tr 0 bitmap current $((NC + 1))
check_eq "bitmap at the very end" "next=end" "$(tr_msg bitmap current $NC)"
cb_expect_fail "unknown message" "unknown message" \
	dmsetup message tr 0 frobnicate

# --- queue limits follow the data device, as dm-linear's do ------------------
cb_linear lin "$DATA"
check_eq "queue limits equal dm-linear's" "$(cb_qlimits lin)" "$(cb_qlimits tr)"
dmsetup remove lin

# --- module --------------------------------------------------------------------
check "rmmod refused while a tracker exists" \
	bash -c '! rmmod dm_cowbackup 2>/dev/null'
check "remove" dmsetup remove tr
check "rmmod works once no device uses the module" rmmod dm_cowbackup
check "module loads again" insmod "$REPO/kernel/dm-cowbackup.ko"

cb_check_klog
done_testing
