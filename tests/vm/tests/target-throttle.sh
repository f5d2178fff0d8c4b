#!/bin/bash
# Throttling: `speed` bounds the background copy (64 MiB at 8 MiB/s takes
# about 8 s), a speed change applies while running, and copy-on-write for
# guest writes is never delayed by the limiter. Loose bounds only; the
# exact accuracy is the benchmark's business.
# disks: 0
# mem: 1G
# timeout: 240
. "$(dirname "$0")/../lib.sh"
. "$REPO/tests/vm/tests/data/target-lib.sh"

cb_brd 2 64 || bail "cannot load brd"
SRC=/dev/ram0
TGT=/dev/ram1
DM=/dev/mapper/cb
if cb_is_kvm; then HI=20; else HI=120; fi
diag "brd $SRC -> $TGT, 64 MiB, upper bound ${HI}s"

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
fge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'; }

$CB_PY stamp "$SRC" --seed 61

# --- 64 MiB at 8 MiB/s ---------------------------------------------------------
t0=$(now)
check "create at speed 8388608" cb_create cb "$SRC" "$TGT" full speed 8388608
check_eq "speed field" 8388608 "$(cb_get cb speed)"
cb_check_done "throttled job completes" cb completed $((HI + 10))
t=$(secs "$t0" "$(now)")
diag "64 MiB at 8 MiB/s took ${t}s"
check "took at least 6 s (${t}s)" fge "$t" 6
check "took at most ${HI} s (${t}s)" fge "$HI" "$t"
check "target equals the point-in-time image" $CB_PY verify "$TGT" --seed 61
dmsetup remove cb

# --- the largest speed is as good as unlimited ------------------------------
$CB_PY stamp "$SRC" --seed 64
t0=$(now)
check "create at speed 2^64-1" \
	cb_create cb "$SRC" "$TGT" full speed 18446744073709551615
cb_check_done "job at the largest speed completes" cb completed $((HI + 10))
t=$(secs "$t0" "$(now)")
if cb_is_kvm; then lim=5; else lim=30; fi
check "speed 2^64-1 does not throttle (${t}s < ${lim}s)" fge "$lim" "$t"
check "target equals the point-in-time image" $CB_PY verify "$TGT" --seed 64
dmsetup remove cb

# --- a speed change applies while running ------------------------------------
# Rates in clusters per second over windows timed around the readings
# (a dmsetup call takes seconds on the debug kernel): both windows are
# over-estimated, so both checks lean lenient.
$CB_PY stamp "$SRC" --seed 62
check "create at 2 MiB/s" cb_create cb "$SRC" "$TGT" full speed 2097152
total=$(cb_get cb total)
sleep 1
t0=$(now)
a0=$(cb_get cb settled)
sleep 2
a1=$(cb_get cb settled)
t1=$(now)
slow=$(awk -v n=$((a1 - a0)) -v t="$(secs "$t0" "$t1")" 'BEGIN { printf "%.1f", n / t }')
# The fast window runs from the last slow reading to completion: the
# rest of the device, some of it still at 2 MiB/s before the message.
check "speed 16 MiB/s" cb_msg cb speed 16777216
cb_check_done "job completes at 16 MiB/s" cb completed 60
t2=$(secs "$t1" "$(now)")
fast=$(awk -v n=$((total - a1)) -v t="$t2" 'BEGIN { printf "%.1f", n / t }')
diag "clusters per second: $slow at 2 MiB/s ($((a1 - a0)) in $(secs "$t0" "$t1") s), $fast after the change to 16 MiB/s ($((total - a1)) in $t2 s)"
# 2 MiB/s is 32 clusters per second; allow bursts but not a free run.
check "2 MiB/s holds the copier back ($slow clusters/s)" fge 80 "$slow"
check "raising the speed speeds the copy up ($fast vs $slow clusters/s)" \
	awk -v f="$fast" -v s="$slow" 'BEGIN { exit !(f > 2 * s) }'
check "target equals the point-in-time image" $CB_PY verify "$TGT" --seed 62
dmsetup remove cb

# --- copy-on-write is never delayed ----------------------------------------------
# At 4 KiB/s the background copy would need hours; 200 guest writes into
# 200 uncopied clusters must still go at device speed.
$CB_PY stamp "$SRC" --seed 63
check "create at 4096 bytes/s" cb_create cb "$SRC" "$TGT" full speed 4096
t0=$(now)
for i in $(seq 0 199); do
	echo "$((i * 2 * 128 + 7))"
done | python3 -c "
import os, sys, mmap
fd = os.open('$DM', os.O_WRONLY | os.O_DIRECT)
buf = mmap.mmap(-1, 4096)
buf[:] = b'w' * 4096
for line in sys.stdin:
    os.pwritev(fd, [buf], int(line) * 512)
os.close(fd)
"
rc=$?
t=$(secs "$t0" "$(now)")
check_eq "200 guest writes into uncopied clusters succeed" 0 "$rc"
diag "200 copy-on-write writes took ${t}s"
if cb_is_kvm; then lim=5; else lim=40; fi
check "copy-on-write not throttled (${t}s < ${lim}s)" fge "$lim" "$t"
# The copier may have sent one merged copy (up to 1 MiB, 16 clusters)
# before the limiter held it back.
cow=$(cb_get cb cow)
check "at least 184 of the 200 clusters copied out ($cow)" test "$cow" -ge 184
check "target holds the old data of a written cluster" \
	$CB_PY verify "$TGT" --seed 63 --first $((199 * 2 * 128)) --count 128
cb_msg cb speed 0
cb_check_done "job completes" cb completed 60
check "target equals the point-in-time image" $CB_PY verify "$TGT" --seed 63
dmsetup remove cb

cb_check_klog
cb_cleanup
done_testing
