# shellcheck shell=bash disable=SC2034 # variables are for the sourcing tests
# Helpers shared by the cowbackup target and view guest tests.
# Sourced after tests/vm/lib.sh (ok, not_ok, check, check_eq, diag, ...).

CB_DATA="$REPO/tests/vm/tests/data"
# cbdata: the C fast path (stamp, verify, readerr) of cbdata.py, which it
# runs for everything else. Built here once per change of its source;
# a Python start costs most of a second under TCG.
export CBDATA_PY="$CB_DATA/cbdata.py"
CB_BIN="$REPO/build/tests/cbdata"
if [ ! -x "$CB_BIN" ] || [ "$CB_DATA/cbdata.c" -nt "$CB_BIN" ]; then
	cb_tmp="$CB_BIN.$$.$RANDOM"
	mkdir -p "${CB_BIN%/*}" &&
		gcc -O2 -Wall -Wextra -Werror -o "$cb_tmp" "$CB_DATA/cbdata.c" &&
		mv -f "$cb_tmp" "$CB_BIN"
	rm -f "$cb_tmp"
fi
if [ -x "$CB_BIN" ]; then
	CB_PY=$CB_BIN
else
	CB_PY="python3 $CBDATA_PY"
fi
CB_TARGET=cowbackup
CB_VIEW=cowbackup-snap

# Size of a block device in 512-byte sectors.
cb_size() { blockdev --getsz "$1"; }

# "major:minor" of a block device, as dmsetup table prints it.
cb_mm() {
	local dev
	dev=$(readlink -f "$1")
	cat "/sys/class/block/${dev##*/}/dev"
}

# Build a table line: cb_table SRC TGT SYNC [OPT...]; length = source.
cb_table() {
	local src=$1 tgt=$2 sync=$3
	shift 3
	local line
	line="0 $(cb_size "$src") $CB_TARGET $src $tgt $sync"
	[ $# -gt 0 ] && line="$line $# $*"
	echo "$line"
}

# cb_create NAME SRC TGT SYNC [OPT...]: the point in time is now.
cb_create() {
	local name=$1
	shift
	dmsetup create "$name" --table "$(cb_table "$@")"
}

cb_view_create() {
	local name=$1 src=$2 tgt=$3
	dmsetup create "$name" --readonly \
		--table "0 $(cb_size "$src") $CB_VIEW $src $tgt"
}

cb_msg() {
	local name=$1
	shift
	dmsetup message "$name" 0 "$@"
}

# The status words after "<start> <len> cowbackup".
cb_status() { dmsetup status "$1" | cut -d' ' -f4-; }

# cb_get NAME FIELD: one INFO status field by its contract name.
cb_get() {
	local st
	local -a f
	st=$(cb_status "$1") || return 1
	read -r -a f <<<"$st"
	case $2 in
	state) echo "${f[0]}" ;;
	sync) echo "${f[1]}" ;;
	cluster) echo "${f[2]}" ;;
	settled) echo "${f[3]%/*}" ;;
	total) echo "${f[3]#*/}" ;;
	cow) echo "${f[4]}" ;;
	bg) echo "${f[5]}" ;;
	zero) echo "${f[6]}" ;;
	errors) echo "${f[7]}" ;;
	speed) echo "${f[8]}" ;;
	*) return 1 ;;
	esac
}

# cb_wait NAME REGEX TIMEOUT: wait until the state matches the extended
# regex (anchored); prints the last state seen, fails on timeout.
cb_wait() {
	local name=$1 re=$2 limit=$3 st i=0
	while :; do
		# A device that is gone will not change state: give up at once.
		st=$(cb_get "$name" state) || {
			echo "(no device $name)"
			return 1
		}
		if [[ $st =~ ^($re)$ ]]; then
			echo "$st"
			return 0
		fi
		if [ "$i" -ge $((limit * 10)) ]; then
			echo "$st"
			return 1
		fi
		sleep 0.1
		i=$((i + 1))
	done
}

# Wait for a terminal state; check it is the expected one.
cb_check_done() {
	local desc=$1 name=$2 want=$3 limit=${4:-120} st
	st=$(cb_wait "$name" 'completed|cancelled|failed' "$limit")
	if [ "$st" = "$want" ]; then
		ok "$desc"
	else
		not_ok "$desc" "state '$st' after ${limit}s, status: $(cb_status "$name")"
	fi
}

# cb_wait_writers LOGDIR SECS: wait (at most SECS) until `cbdata.py
# writers --log LOGDIR` opened its first log, i.e. the writers run (a
# Python start takes a while, seconds on the debug kernel).
cb_wait_writers() {
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		[ -e "$1/w0.log" ] && return 0
		sleep 0.1
	done
	return 1
}

# cb_tcg_secs SECS: a copy duration of SECS under TCG (timeout scale x4
# or less), stretched by the timeout scale beyond x4 (the debug kernel's
# x8), where every process start and dmsetup call is slower.
cb_tcg_secs() {
	echo $((SCALE > 4 ? $1 * SCALE / 4 : $1))
}

# Clusters covering SECTORS at CLUSTER sectors each.
cb_clusters() { echo $((($1 + $2 - 1) / $2)); }

# mkloop BYTES: a loop device over a sparse tmpfs file (supports
# discard and write-zeroes by punching holes).
cb_loop() {
	local f dev
	[ -e /dev/loop-control ] || modprobe loop 2>/dev/null
	f=$(mktemp /tmp/cbloop.XXXXXX)
	truncate -s "$1" "$f"
	dev=$(losetup -f --show "$f") || return 1
	echo "$dev"
}

# cb_brd COUNT MIB: brd RAM disks /dev/ram0..; prints nothing.
cb_brd() {
	modprobe brd rd_nr="$1" rd_size=$(($2 * 1024)) max_part=0
}

# A dm linear device over part of another: cb_linear NAME DEV [SECTORS].
cb_linear() {
	local n=${3:-$(cb_size "$2")}
	dmsetup create "$1" --table "0 $n linear $2 0"
}

# Marker in the kernel log; cb_kmsg_since MARK prints what followed.
cb_kmsg_mark() {
	local m="cbtest-mark-$RANDOM$RANDOM"
	echo "$m" >/dev/kmsg
	echo "$m"
}

cb_kmsg_since() { dmesg | sed -n "/$1/,\$p" | tail -n +2; }

# cb_expect_fail DESC REGEX CMD...: CMD must fail, and the kernel log must
# then hold a cowbackup error line matching REGEX (grep -E -i): the
# target's own ti->error / DMERR, not dmsetup's generic "Invalid argument".
# CB_EXPECT_TARGETS (a grep -E pattern, default cowbackup and
# cowbackup-snap) names the targets whose lines count.
cb_expect_fail() {
	local desc=$1 re=$2 mark out rc line
	shift 2
	mark=$(cb_kmsg_mark)
	out=$("$@" 2>&1)
	rc=$?
	line=$(cb_kmsg_since "$mark" | grep -E "${CB_EXPECT_TARGETS:-cowbackup(-snap)?}: " | grep -Ei -- "$re" | tail -1)
	if [ "$rc" -eq 0 ]; then
		not_ok "$desc" "command succeeded: $*"
		return 1
	fi
	if [ -n "$line" ]; then
		ok "$desc"
		diag "  ${line#*] }"
		return 0
	fi
	not_ok "$desc" "failed (rc $rc) but the kernel logged no cowbackup error matching /$re/; stderr: $out; kernel: $(cb_kmsg_since "$mark")"
	return 1
}

# cb_qlimits DMNAME: the queue limits a stacked device must take from
# below (logical block size, discard and write-zeroes sizes), on one line.
cb_qlimits() {
	local d f
	d=$(dmsetup info -c --noheadings -o blkdevname "$1")
	for f in logical_block_size discard_max_bytes write_zeroes_max_bytes; do
		printf '%s=%s ' $f "$(cat "/sys/block/$d/queue/$f")"
	done
}

# Kernel log must not show a crash or warning.
cb_check_klog() {
	local bad
	bad=$(dmesg | grep -E 'BUG:|WARNING:|Oops|general protection|hung_task|kernel BUG|UBSAN|list_add corruption|list_del corruption' | head -5)
	if [ -z "$bad" ]; then
		ok "kernel log has no BUG/WARNING/oops"
	else
		not_ok "kernel log has no BUG/WARNING/oops" "$bad"
	fi
}

# md5 of the first SECTORS sectors of DEV, read with O_DIRECT.
cb_md5() {
	local dev=$1 n=${2:-$(cb_size "$1")}
	if [ $((n % 2048)) -eq 0 ]; then
		dd if="$dev" iflag=direct bs=1M count=$((n / 2048)) status=none |
			md5sum | cut -d' ' -f1
	else
		dd if="$dev" iflag=direct bs=512 count="$n" status=none |
			md5sum | cut -d' ' -f1
	fi
}

# Remove every dm device (views first) and loop device this test made.
cb_cleanup() {
	local d
	for d in $(dmsetup ls --target "$CB_VIEW" 2>/dev/null | awk '{print $1}'); do
		dmsetup remove "$d" 2>/dev/null
	done
	for d in $(dmsetup ls --target "$CB_TARGET" 2>/dev/null | awk '{print $1}'); do
		dmsetup remove "$d" 2>/dev/null
	done
	dmsetup remove_all 2>/dev/null
	# cb_loop runs in $(...) subshells: find our loops by backing file.
	for d in $(losetup -n -O NAME,BACK-FILE 2>/dev/null |
		awk '$2 ~ /^\/tmp\/cbloop\./ {print $1}'); do
		losetup -d "$d" 2>/dev/null
	done
	rm -f /tmp/cbloop.*
}

# Is this guest running under KVM (fast) or TCG (slow)?
cb_is_kvm() { dmesg | grep -q 'Hypervisor detected: KVM'; }
