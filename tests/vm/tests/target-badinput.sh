#!/bin/bash
# Bad table lines and bad messages: each is refused with a clear error,
# leaves no device behind, touches no data, and oopses nothing.
# disks: 3
# disk-size: 32M
# timeout: 180
# cpus: 1
. "$(dirname "$0")/../lib.sh"
. "$REPO/tests/vm/tests/data/target-lib.sh"

# Nothing here needs two CPUs; one avoids slow cross-CPU wake-ups of
# the many short commands under TCG.
taskset -pc 0 $$ >/dev/null 2>&1

read -r -a D <<<"$COWBACKUP_DISKS"
SRC=${D[0]}
TGT=${D[1]}
SMALL=/dev/mapper/cbsmall
S=$(cb_size "$SRC")
diag "source $SRC ($S sectors), target $TGT"

$CB_PY stamp "$SRC" --seed 41
$CB_PY stamp "$TGT" --seed 42
SRC_MD5=$(cb_md5 "$SRC")
TGT_MD5=$(cb_md5 "$TGT")
cb_linear cbsmall "$TGT" $((S - 8)) || bail "cannot create $SMALL"

# bad_table DESC REGEX TABLE-ARGS...: "0 $S cowbackup" + args must fail.
bad_table() {
	local desc=$1 re=$2
	shift 2
	cb_expect_fail "table refused: $desc" "$re" \
		dmsetup create cbbad --table "0 $S cowbackup $*"
	if dmsetup info cbbad >/dev/null 2>&1; then
		not_ok "no device left behind: $desc" "$(dmsetup table cbbad 2>&1)"
		dmsetup remove cbbad
	fi
}

# Argument count and devices.
bad_table "no arguments" 'arg|requires|invalid' ""
bad_table "source only" 'arg|requires|invalid' "$SRC"
bad_table "no sync mode" 'arg|requires|sync|invalid' "$SRC $TGT"
bad_table "missing source device" 'device|source|lookup|open' \
	"/dev/nonexistent $TGT full"
bad_table "missing target device" 'device|target|lookup|open' \
	"$SRC /dev/nonexistent full"
bad_table "source and target the same device" 'same|differ|identical' \
	"$SRC $SRC full"
bad_table "target smaller than the source" 'small|size|short' \
	"$SRC $SMALL full"

# Sync mode.
bad_table "unknown sync mode 'fast'" 'sync' "$SRC $TGT fast"
bad_table "sync mode in capitals 'FULL'" 'sync' "$SRC $TGT FULL"
bad_table "empty-looking sync mode '0'" 'sync' "$SRC $TGT 0"

# Optional argument count.
bad_table "optional count larger than the words given" 'arg|count|invalid' \
	"$SRC $TGT full 2 cluster_size"
bad_table "words left over after the optional arguments" 'arg|count|many|unknown|invalid' \
	"$SRC $TGT full 1 cluster_size 8"
bad_table "optional count not a number" 'arg|count|invalid' \
	"$SRC $TGT full x paused"
bad_table "optional count negative" 'arg|count|invalid' \
	"$SRC $TGT full -1 paused"
bad_table "optional count huge" 'arg|count|invalid' \
	"$SRC $TGT full 4294967297 paused"

# Cluster size.
bad_table "cluster_size not a power of two (12)" 'cluster' \
	"$SRC $TGT full 2 cluster_size 12"
bad_table "cluster_size too small (4)" 'cluster' \
	"$SRC $TGT full 2 cluster_size 4"
bad_table "cluster_size 0" 'cluster' "$SRC $TGT full 2 cluster_size 0"
bad_table "cluster_size too big (32768)" 'cluster' \
	"$SRC $TGT full 2 cluster_size 32768"
bad_table "cluster_size 2^32+8 (would wrap to 8)" 'cluster' \
	"$SRC $TGT full 2 cluster_size 4294967304"
bad_table "cluster_size 2^64+128 (would wrap to 128)" 'cluster' \
	"$SRC $TGT full 2 cluster_size 18446744073709551744"
bad_table "cluster_size with a suffix (64k)" 'cluster' \
	"$SRC $TGT full 2 cluster_size 64k"
bad_table "cluster_size negative" 'cluster' \
	"$SRC $TGT full 2 cluster_size -128"
bad_table "cluster_size without a value" 'cluster|arg' \
	"$SRC $TGT full 1 cluster_size"

# Speed.
bad_table "speed garbage" 'speed' "$SRC $TGT full 2 speed fast"
bad_table "speed with trailing garbage" 'speed' "$SRC $TGT full 2 speed 100x"
bad_table "speed negative" 'speed' "$SRC $TGT full 2 speed -1"
bad_table "speed 2^64 overflows" 'speed' \
	"$SRC $TGT full 2 speed 18446744073709551616"
bad_table "speed without a value" 'speed|arg' "$SRC $TGT full 1 speed"

# Workers.
bad_table "max_workers 0" 'worker' "$SRC $TGT full 2 max_workers 0"
bad_table "max_workers 1025" 'worker' "$SRC $TGT full 2 max_workers 1025"
bad_table "max_workers 2^32+1 (would wrap to 1)" 'worker' \
	"$SRC $TGT full 2 max_workers 4294967297"
bad_table "max_workers garbage" 'worker' "$SRC $TGT full 2 max_workers two"

# Policies.
bad_table "on_source_error unknown policy" 'source|policy|error' \
	"$SRC $TGT full 2 on_source_error retry"
bad_table "on_target_error unknown policy" 'target|policy|error' \
	"$SRC $TGT full 2 on_target_error panic"
bad_table "cow_error unknown mode" 'cow' "$SRC $TGT full 2 cow_error ignore"
bad_table "on_source_error without a value" 'source|policy|arg' \
	"$SRC $TGT full 1 on_source_error"

# Unknown optional words.
bad_table "unknown optional argument" 'unknown|arg|invalid' \
	"$SRC $TGT full 1 turbo"
bad_table "unknown optional argument with value" 'unknown|arg|invalid' \
	"$SRC $TGT full 2 chunk_size 8"

# Table length beyond the source device.
cb_expect_fail "table refused: length beyond the source" \
	'small|size|beyond|exceed|too' \
	dmsetup create cbbad --table "0 $((S + 8)) cowbackup $SRC $TGT full"
dmsetup remove cbbad 2>/dev/null

# Duplicates: refusing is fine; if accepted, one value must win and the
# canonical table must not repeat the keyword.
if dmsetup create cbdup --table "0 $S cowbackup $SRC $TGT full 5 cluster_size 8 cluster_size 16 paused" 2>/dev/null; then
	t=$(dmsetup table cbdup)
	n=$(grep -o cluster_size <<<"$t" | wc -l)
	check "duplicate cluster_size accepted: table has it once" test "$n" -le 1
	check "duplicate cluster_size accepted: one value won" \
		bash -c "dmsetup status cbdup | grep -Eq ' cowbackup paused full (8|16) '"
	dmsetup remove cbdup
else
	ok "duplicate cluster_size refused"
fi

check "source data untouched by the refused tables" \
	test "$(cb_md5 "$SRC")" = "$SRC_MD5"
check "target data untouched by the refused tables" \
	test "$(cb_md5 "$TGT")" = "$TGT_MD5"

# A sane minimum table still works after all that.
check "valid table with '0' optional arguments" \
	dmsetup create cb --table "0 $S cowbackup $SRC $TGT full 0 "
dmsetup remove cb 2>/dev/null
check "valid table with every optional argument at a limit" \
	cb_create cb "$SRC" "$TGT" full cluster_size 16384 max_workers 1024 \
	speed 18446744073709551615 paused
check_eq "extreme values are shown as given" \
	"paused full 16384 18446744073709551615" \
	"$(cb_get cb state) $(cb_get cb sync) $(cb_get cb cluster) $(cb_get cb speed)"
dmsetup remove cb

# --- messages -----------------------------------------------------------
# A sync=top job, where skip is a meaningful message, so that a refusal
# can only come from the bad argument.
check "create a paused sync=top job for message tests" \
	cb_create cb "$SRC" "$TGT" top cluster_size 8 paused
TOTAL=$(cb_get cb total)
BEFORE=$(cb_status cb)

# bad_msg DESC WORDS...: the message must fail with a cowbackup error in
# the kernel log, and change nothing.
bad_msg() {
	local desc=$1
	shift
	# '--': words like -5 are message arguments, not dmsetup options.
	cb_expect_fail "message refused: $desc" '.' dmsetup message cb 0 -- "$@"
	check_eq "status unchanged after: $desc" "$BEFORE" "$(cb_status cb)"
}

bad_msg "unknown word" frobnicate
bad_msg "pause with an argument" pause now
bad_msg "resume with an argument" resume 1
bad_msg "cancel with an argument" cancel please
bad_msg "speed without a value" speed
bad_msg "speed garbage" speed fast
bad_msg "speed trailing garbage" speed 12abc
bad_msg "speed negative" speed -5
bad_msg "speed 2^64 overflows" speed 18446744073709551616
bad_msg "speed with two values" speed 1 2
bad_msg "skip without arguments" skip
bad_msg "skip without a count" skip 0
bad_msg "skip garbage" skip a b
bad_msg "skip negative start" skip -1 1
bad_msg "skip past the end" skip "$TOTAL" 1
bad_msg "skip running past the end" skip $((TOTAL - 1)) 2
bad_msg "skip start+count overflowing 64 bits" skip 18446744073709551615 2
bad_msg "skip huge count" skip 0 18446744073709551615
bad_msg "skip with three values" skip 0 1 2
bad_msg "bitmap without an argument" bitmap
bad_msg "bitmap garbage" bitmap x
bad_msg "bitmap negative" bitmap -1
bad_msg "bitmap past the end" bitmap $((TOTAL + 1))
bad_msg "bitmap 2^64" bitmap 18446744073709551616
bad_msg "bitmap with two values" bitmap 0 1

# At exactly the end, bitmap may answer next=end or refuse; never oops.
out=$(dmsetup message cb 0 bitmap "$TOTAL" 2>&1)
rc=$?
if [ $rc -eq 0 ]; then
	check_eq "bitmap at the end replies next=end" "next=end" "$out"
else
	ok "bitmap at the end refused"
fi

check "a good speed message still works" cb_msg cb speed 4096
check_eq "speed field follows the message" 4096 "$(cb_get cb speed)"
check "a good skip message still works" cb_msg cb skip $((TOTAL - 2)) 2
check_eq "skip of the last two clusters settles them" \
	"2/$TOTAL" "$(cb_get cb settled)/$(cb_get cb total)"
dmsetup remove cb

check "source data untouched" test "$(cb_md5 "$SRC")" = "$SRC_MD5"
cb_check_klog
cb_cleanup
done_testing
