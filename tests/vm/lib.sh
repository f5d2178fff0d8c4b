# Helpers for guest shell tests; source with
#	. "$(dirname "$0")/../lib.sh"
# Prints KTAP: one top-level `ok N - DESC` / `not ok N - DESC` per check,
# numbered automatically; end the test with done_testing.
# shellcheck shell=bash

REPO=${REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)}
# COWBACKUP_CTL runs the tests against another binary (e.g. an old build).
# shellcheck disable=SC2034 # used by the tests
CTL=${COWBACKUP_CTL:-$REPO/userspace/cowbackup-ctl}
# The guest's root is the host's, read-only: cowbackup-ctl's state
# (/var/lib/cowbackup) and configuration (/etc/cowbackup) go to tmpfs.
export COWBACKUP_STATE_DIR=${COWBACKUP_STATE_DIR:-/run/cowbackup-test/state}
export COWBACKUP_CONF_DIR=${COWBACKUP_CONF_DIR:-/run/cowbackup-test/etc}
# Timeouts given to the helpers are scaled like the bench's (x4 under TCG).
SCALE=${COWBACKUP_VM_TIMEOUT_SCALE:-1}

_t_n=0
_t_failed=0
# COWBACKUP_TAP_TIMES=1 (through COWBACKUP_VM_APPEND) follows every result
# with the seconds since the previous one: where a test spends its time.
_t_times=${COWBACKUP_TAP_TIMES:-0}
_t_last=${EPOCHREALTIME:-0}
_t_tmp=$(mktemp -d /tmp/vmtest.XXXXXX)

echo "TAP version 13"

# ------------------------------------------------------------- reporting

# diag MSG...: `# ` diagnostics, one per line of MSG.
diag() {
	printf '%s\n' "$*" | sed 's/^/# /'
}

# _t_time: the "# +N.Ns" line of COWBACKUP_TAP_TIMES=1.
_t_time() {
	local now=$EPOCHREALTIME
	[ "$_t_times" = 1 ] || return 0
	awk -v a="$_t_last" -v b="$now" 'BEGIN { printf "# +%.1fs\n", b - a }'
	_t_last=$now
}

ok() {
	_t_n=$((_t_n + 1))
	echo "ok $_t_n - $1"
	_t_time
}

# not_ok DESC [DIAG...]
not_ok() {
	local d
	_t_n=$((_t_n + 1))
	_t_failed=$((_t_failed + 1))
	echo "not ok $_t_n - $1"
	_t_time
	shift
	for d in "$@"; do diag "$d"; done
}

# skip DESC REASON
skip() {
	_t_n=$((_t_n + 1))
	echo "ok $_t_n - $1 # SKIP $2"
	_t_time
}

# check DESC CMD...: ok when CMD exits 0; else not_ok with its status and
# the tail of its output. CMD runs in this shell (functions work), its
# output is captured and only shown on failure.
check() {
	local desc=$1 rc
	shift
	"$@" >"$_t_tmp/check.out" 2>&1
	rc=$?
	if [ "$rc" -eq 0 ]; then
		ok "$desc"
	else
		not_ok "$desc" "command: $*" "exit status: $rc"
		tail -n 20 "$_t_tmp/check.out" | sed 's/^/#   /'
	fi
	return "$rc"
}

# check_fail DESC CMD...: ok when CMD exits non-zero (an expected failure).
check_fail() {
	local desc=$1 rc
	shift
	"$@" >"$_t_tmp/check.out" 2>&1
	rc=$?
	if [ "$rc" -ne 0 ]; then
		ok "$desc"
		return 0
	fi
	not_ok "$desc" "command: $*" "succeeded but was expected to fail"
	tail -n 20 "$_t_tmp/check.out" | sed 's/^/#   /'
	return 1
}

# check_eq DESC EXPECTED ACTUAL: exact string equality.
check_eq() {
	if [ "$2" = "$3" ]; then
		ok "$1"
		return 0
	fi
	not_ok "$1" "expected: '$2'" "actual:   '$3'"
	return 1
}

# bail MSG: a fatal problem; records a failure and ends the test.
bail() {
	not_ok "$1"
	echo "Bail out! $1"
	exit 1
}

# done_testing: print the plan; exit 1 if any check failed.
done_testing() {
	rm -rf "$_t_tmp"
	echo "1..$_t_n"
	[ "$_t_failed" -eq 0 ] && exit 0
	exit 1
}

# ---------------------------------------------------------------- helpers

# scaled SECS: SECS times the bench's timeout scale.
scaled() {
	echo $(($1 * SCALE))
}

# Pipelines between two vCPUs are slow under TCG (cross-CPU wake-ups cost
# milliseconds); the helpers run theirs in a subshell pinned to one CPU.
_t_cpu=$(($(nproc) - 1))
_pinned() {
	[ "$_t_cpu" -gt 0 ] && taskset -pc "$_t_cpu" "$BASHPID" >/dev/null
	return 0
}

# disk N: path of the Nth scratch disk (1-based).
disk() {
	local -a d
	read -r -a d <<<"${COWBACKUP_DISKS:-}"
	if [ "$1" -lt 1 ] || [ "$1" -gt ${#d[@]} ]; then
		bail "disk $1: only ${#d[@]} scratch disk(s) (add '# disks: N' to the test header)"
	fi
	echo "${d[$(($1 - 1))]}"
}

# sectors DEV: size in 512-byte sectors.
sectors() {
	blockdev --getsz "$1"
}

# md5_direct DEV [OFFSET_BYTES LEN_BYTES]: md5 of DEV (or of a range; both
# multiples of 512) read with O_DIRECT, so no page cache can hide stale data.
md5_direct() {
	local s
	if [ $# -ge 3 ]; then
		s=$(_pinned; dd if="$1" iflag=direct,skip_bytes,count_bytes \
			skip="$2" count="$3" bs=1M status=none | md5sum)
	else
		s=$(_pinned; dd if="$1" iflag=direct bs=1M status=none | md5sum)
	fi
	echo "${s%% *}"
}

# The test pattern is AES-128-CTR keystream keyed by the seed: every 16
# bytes of the device get their own value, so every 4 KiB block differs
# from every other (a misplaced block is detected), no block is zero, and
# any range can be generated on its own (the counter starts at OFFSET/16).

# pattern_stream SEED OFFSET LEN: the pattern bytes for [OFFSET, OFFSET+LEN)
# of a device (OFFSET a multiple of 16) on stdout.
pattern_stream() {
	local key
	key=$(printf 'cowbackup-pattern:%s' "$1" | md5sum)
	head -c "$3" /dev/zero |
		openssl enc -aes-128-ctr -nosalt -K "${key%% *}" \
			-iv "$(printf '%032x' $(($2 / 16)))"
}

# fill_pattern DEV SEED [OFFSET_BYTES LEN_BYTES]: write the pattern with
# O_DIRECT to all of DEV or to a range (multiples of 4096).
fill_pattern() {
	local dev=$1 seed=$2 off=${3:-0} len=${4:-}
	[ -n "$len" ] || len=$(($(blockdev --getsize64 "$dev") - off))
	(
		_pinned
		set -o pipefail
		pattern_stream "$seed" "$off" "$len" |
			dd of="$dev" oflag=direct,seek_bytes seek="$off" bs=1M \
				iflag=fullblock status=none
	)
}

# pattern_md5 SEED OFFSET_BYTES LEN_BYTES: md5 the pattern has in a range.
pattern_md5() {
	local s
	s=$(_pinned; pattern_stream "$1" "$2" "$3" | md5sum)
	echo "${s%% *}"
}

# dm_field DMDEV N: the Nth whitespace-separated field of the first line of
# `dmsetup status DMDEV` (1 = start, 3 = target type, 4 = first own field).
dm_field() {
	dmsetup status "$1" 2>/dev/null | awk -v n="$2" 'NR == 1 { print $n }'
}

# wait_state DMDEV STATE TIMEOUT: poll the cowbackup state (status field 4)
# until it is STATE; fails after TIMEOUT (scaled) seconds.
wait_state() {
	local dev=$1 want=$2 limit now state
	limit=$(($(date +%s) + $(scaled "$3")))
	while :; do
		state=$(dm_field "$dev" 4)
		[ "$state" = "$want" ] && return 0
		now=$(date +%s)
		if [ "$now" -ge "$limit" ]; then
			diag "wait_state $dev: still '$state' after $(scaled "$3")s, wanted '$want'" \
				"status: $(dmsetup status "$dev" 2>&1 | head -n 1)"
			return 1
		fi
		sleep 0.1
	done
}

# start_writer PATH: rewrite PATH in a loop, in a process group of its own
# whose id is left in WRITER_PID: files PATH/f0..f7 (64 KiB x 16, fsync)
# when PATH is a directory, else random 64 KiB pieces of the block device
# PATH (O_DIRECT). `kill -STOP -- -$WRITER_PID` holds it still.
start_writer() {
	WRITER_PATH=$1 setsid bash -c '
		if [ -d "$WRITER_PATH" ]; then
			i=0
			while :; do
				dd if=/dev/urandom of="$WRITER_PATH/f$((i % 8))" \
					bs=64K count=16 conv=notrunc,fsync status=none
				i=$((i + 1))
			done
		fi
		n=$(( $(blockdev --getsize64 "$WRITER_PATH") / 65536 ))
		while :; do
			dd if=/dev/urandom of="$WRITER_PATH" bs=64K count=1 \
				seek=$(((RANDOM * 32768 + RANDOM) % n)) \
				oflag=direct conv=notrunc status=none
		done' &
	WRITER_PID=$!
}

# start_live_writer MNT NFILES NLIVE: a busy filesystem on MNT. Rewrites
# 64 KiB inside MNT/data/f0..f<NFILES-1> (files of the point in time, whose
# old data must be copied out first) and writes MNT/live/w0..w<NLIVE-1>,
# each with fsync; MNT/live/counter proves it stays writable. Its process
# group id is left in WRITER_PID.
start_live_writer() {
	WRITER_MNT=$1 WRITER_NFILES=$2 WRITER_NLIVE=$3 setsid bash -c '
		i=0
		while :; do
			i=$((i + 1))
			dd if=/dev/urandom of="$WRITER_MNT/data/f$((i % WRITER_NFILES))" \
				bs=4K count=16 seek=$((i * 7 % 200)) \
				conv=notrunc,fsync status=none
			dd if=/dev/urandom of="$WRITER_MNT/live/w$((i % WRITER_NLIVE))" \
				bs=64K count=8 conv=fsync status=none
			# rename, so that a reader never sees the file truncated
			echo $i >"$WRITER_MNT/live/counter.new" &&
				mv -f "$WRITER_MNT/live/counter.new" "$WRITER_MNT/live/counter"
		done' &
	WRITER_PID=$!
}

# pit_checksums MNT FILE: the point in time of the files MNT/data/f*: the
# writer stopped (it stays stopped), the filesystem flushed (a freeze and
# thaw), every file's sha256 into FILE.
pit_checksums() {
	kill -STOP -- -"$WRITER_PID" &&
		sleep 0.5 &&
		fsfreeze -f "$1" &&
		(cd "$1/data" && sha256sum f*) >"$2" &&
		fsfreeze -u "$1"
}

# cleanup_dm: remove every dm device (for traps; ignores errors).
cleanup_dm() {
	dmsetup remove_all --force >/dev/null 2>&1
	dmsetup remove_all --force >/dev/null 2>&1
	return 0
}

# kmsg_mark: remember this point of the kernel log; kmsg_since prints what
# the kernel logged after it.
kmsg_mark() {
	_t_kmsg_mark="cowbackup-test-mark-$$-$RANDOM$RANDOM"
	echo "$_t_kmsg_mark" >/dev/kmsg
}

kmsg_since() {
	dmesg | sed -n "/${_t_kmsg_mark:-^}/,\$p" | sed 1d
}
