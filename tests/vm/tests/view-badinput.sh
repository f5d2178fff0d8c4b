#!/bin/bash
# Bad input around the view and sync=top: bad cowbackup-snap table lines,
# a view on a device pair that has no job (mismatched or swapped devices),
# writes and discards to the view, and malformed or out-of-range `skip`
# and `bitmap` messages. Each gives a clear error, touches no data, and
# oopses nothing.
# disks: 0
# mem: 1G
# timeout: 240
# cpus: 1
. "$(dirname "$0")/../lib.sh"
. "$REPO/tests/vm/tests/data/target-lib.sh"

# Nothing here needs two CPUs; one avoids slow cross-CPU wake-ups of
# the many short commands under TCG.
taskset -pc 0 $$ >/dev/null 2>&1

cb_brd 3 16 || bail "cannot load brd"
SRC=/dev/ram0
TGT=/dev/ram1
OTHER=/dev/ram2
VIEW=/dev/mapper/cbv
S=$(cb_size "$SRC")

$CB_PY stamp "$SRC" --seed 501
$CB_PY stamp "$TGT" --seed 99
$CB_PY stamp "$OTHER" --seed 98
check "create a paused sync=top job" cb_create cb "$SRC" "$TGT" top paused
TOTAL=$(cb_get cb total)

# --- view table lines ---------------------------------------------------------------
bad_view() {
	local desc=$1 re=$2 len=$3
	shift 3
	cb_expect_fail "view refused: $desc" "$re" \
		dmsetup create cbbad --readonly --table "0 $len cowbackup-snap $*"
	if dmsetup info cbbad >/dev/null 2>&1; then
		not_ok "no device left behind: $desc"
		dmsetup remove cbbad
	fi
}
bad_view "no arguments" 'need|arg' "$S" ""
bad_view "one device" 'need|arg' "$S" "$SRC"
bad_view "three arguments" 'need|arg' "$S" "$SRC $TGT full"
bad_view "missing source" 'source|device|open' "$S" "/dev/nonexistent $TGT"
bad_view "missing target" 'target|device|open' "$S" "$SRC /dev/nonexistent"
bad_view "same device twice" 'same' "$S" "$SRC $SRC"
bad_view "longer than the source" 'long|small|size' $((S + 8)) "$SRC $TGT"

# --- a view on a pair without a job -------------------------------------------------
for pair in "$SRC $OTHER" "$TGT $SRC" "$OTHER $TGT"; do
	# shellcheck disable=SC2086
	set -- $pair
	if cb_view_create cbv "$1" "$2" 2>/dev/null; then
		check "view on $1 $2 (no job for the pair): reads fail with EIO" \
			$CB_PY readerr $VIEW
		dmsetup remove cbv
	else
		ok "view on $1 $2 (no job for the pair) refused at creation"
	fi
done

# --- writes to the view ----------------------------------------------------------
SRC_MD5=$(cb_md5 "$SRC")
TGT_MD5=$(cb_md5 "$TGT")
# Without --readonly the target itself must refuse writes.
if dmsetup create cbv --table "0 $S cowbackup-snap $SRC $TGT" 2>/dev/null; then
	check "write to a read-write view table fails with EIO" \
		bash -c "dd if=/dev/zero of=$VIEW bs=4k count=1 oflag=direct 2>&1 |
			grep -q 'Input/output error'"
	check "discard to the view fails" \
		bash -c "! blkdiscard -o 0 -l 65536 $VIEW 2>/dev/null"
	check "write-zeroes to the view fails" \
		bash -c "! blkdiscard -z -o 0 -l 65536 $VIEW 2>/dev/null"
	dmsetup remove cbv
else
	ok "a read-write view table is refused"
fi
check "create the view read-only" cb_view_create cbv "$SRC" "$TGT"
check "write to the read-only view fails" \
	bash -c "! dd if=/dev/zero of=$VIEW bs=4k count=1 oflag=direct 2>/dev/null"
check "the view still reads the PIT image" $CB_PY verify $VIEW --seed 501
check "source untouched by the view writes" test "$(cb_md5 "$SRC")" = "$SRC_MD5"
check "target untouched by the view writes" test "$(cb_md5 "$TGT")" = "$TGT_MD5"
check_eq "job untouched by the view writes" \
	"paused top 128 0/$TOTAL 0 0 0 0 0" "$(cb_status cb)"

# --- skip / bitmap -------------------------------------------------------------------
BEFORE=$(cb_status cb)
bad_msg() {
	local desc=$1
	shift
	cb_expect_fail "message refused: $desc" '.' dmsetup message cb 0 -- "$@"
	check_eq "status unchanged after: $desc" "$BEFORE" "$(cb_status cb)"
}
bad_msg "skip past the end" skip "$TOTAL" 1
bad_msg "skip overlapping the end" skip $((TOTAL - 3)) 4
bad_msg "skip with a huge count" skip 1 18446744073709551615
bad_msg "skip with a non-number" skip 1 lots
bad_msg "skip with a hex number" skip 0x10 1
bad_msg "skip with a plus sign" skip +1 1
bad_msg "skip with one number" skip 1
bad_msg "bitmap past the end" bitmap $((TOTAL + 1))
bad_msg "bitmap far past the end" bitmap 18446744073709551615
bad_msg "bitmap with a non-number" bitmap start
bad_msg "bitmap with a suffix" bitmap 1k
check_eq "bitmap of an untouched job" "next=end" "$(cb_msg cb bitmap 0)"

check "remove the view" dmsetup remove cbv
check "remove the job" dmsetup remove cb
cb_check_klog
cb_cleanup
done_testing
