#!/bin/bash
# Table and message fuzzing in the guest (issue 12, section 4): random
# and mutated table lines for cowbackup, cowbackup-snap and
# cowbackup-track, and random messages to a job and to a tracker. Nothing may oops
# (the bench fails the test on any BUG/WARNING in the console), every
# refused table must leave a "device-mapper: ..." reason in the kernel log
# and no device, the source's data must stay
# untouched, and the module must unload at the end (no leaked reference).
# COWBACKUP_FUZZ_SEED repeats a run; COWBACKUP_FUZZ_N sets the size
# (30 by default, a quick run; `make stress` passes 2000 as a kernel
# parameter: COWBACKUP_VM_APPEND=COWBACKUP_FUZZ_N=2000 tests/vm/run
# target-fuzz). Not in make check (time): target-badinput covers the
# refusals one by one there, and the host fuzzer the parser.
# disks: 2
# disk-size: 32M
# timeout: 420
. "$(dirname "$0")/../lib.sh"
. "$REPO/tests/vm/tests/data/target-lib.sh"

taskset -pc 0 $$ >/dev/null 2>&1
read -r -a D <<<"$COWBACKUP_DISKS"
SRC=${D[0]} TGT=${D[1]}
S=$(cb_size "$SRC")
SEED=${COWBACKUP_FUZZ_SEED:-$RANDOM}
N=${COWBACKUP_FUZZ_N:-30}
diag "seed $SEED, $N table lines per target"
trap 'cleanup_dm' EXIT

$CB_PY stamp "$SRC" --seed 51
SRC_MD5=$(cb_md5 "$SRC")

# One case per line: "T<TAB>target<TAB>table" or "M<TAB>message".
python3 - "$SEED" "$N" "$S" "$SRC" "$TGT" >/tmp/fuzz-cases <<'EOF'
import random, sys
seed, n, size, src, tgt = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
rnd = random.Random(seed)
words = ["full", "top", "none", "cluster_size", "speed", "max_workers",
         "on_source_error", "on_target_error", "cow_error", "paused",
         "report", "ignore", "stop", "break_snapshot", "break_write",
         "0", "1", "2", "3", "7", "8", "16", "128", "1024", "1025", "16384",
         "16385", "65536", "4294967295", "4294967296",
         "18446744073709551615", "18446744073709551616", "-1", "+5",
         "0x10", "1e3", "08", tgt, "/dev/null", "/dev/nonexistent",
         "checkpoint", "frozen", "current",
         "254:0", "7:0", "%s" % "x" * 300]
def junk():
    return "".join(rnd.choice("abcXYZ019_-+:/.,=\\'\"") for _ in range(rnd.randint(1, 12)))
def token():
    return junk() if rnd.random() < 0.2 else rnd.choice(words)
def mutate(ws):
    for _ in range(rnd.randint(1, 4)):
        op = rnd.random()
        i = rnd.randrange(len(ws) + 1)
        if op < 0.35 and ws:
            ws[min(i, len(ws) - 1)] = token()
        elif op < 0.6:
            ws.insert(i, token())
        elif op < 0.8 and ws:
            del ws[min(i, len(ws) - 1)]
        elif len(ws) > 1:
            j = rnd.randrange(len(ws)); k = rnd.randrange(len(ws))
            ws[j], ws[k] = ws[k], ws[j]
    return ws
valid = [
    [src, tgt, "full"],
    [src, tgt, "none", "2", "cluster_size", "128"],
    [src, tgt, "top", "3", "speed", "1048576", "paused"],
    [src, tgt, "full", "6", "max_workers", "4", "on_source_error", "stop", "cow_error", "break_write"],
]
valid_track = [
    [src, tgt],
    [src, tgt, "2", "cluster_size", "128"],
    [src, tgt, "2", "cluster_size", "8"],
]
for target in ("cowbackup", "cowbackup-snap", "cowbackup-track"):
    for _ in range(n):
        if target == "cowbackup-snap":
            ws = [src, tgt]
        elif target == "cowbackup-track":
            ws = list(rnd.choice(valid_track))
        else:
            ws = list(rnd.choice(valid))
        if rnd.random() < 0.15:
            ws = [token() for _ in range(rnd.randint(0, 8))]
        elif rnd.random() < 0.9:
            ws = mutate(ws)
        # The source may only be the source: a line naming it as the
        # target would rightly write to it.
        ws = [w if w != src or i == 0 else tgt for i, w in enumerate(ws)]
        length = rnd.choice([size, size, size, size + 8, size - 1, 8, 1])
        print("T\t%s\t0 %d %s %s" % (target, length, target, " ".join(ws)))
# Messages: first to a cowbackup job, then to a tracker.
msgs = {"fzjob": ["pause", "resume", "cancel", "speed", "skip", "bitmap"],
        "fztrack": ["checkpoint", "bitmap", "bitmap frozen",
                    "bitmap current"]}
for dev in ("fzjob", "fztrack"):
    for _ in range(n):
        ws = [rnd.choice(msgs[dev])] + [token() for _ in range(rnd.randint(0, 3))]
        if rnd.random() < 0.1:
            ws = [token() for _ in range(rnd.randint(0, 4))]
        print("M\t%s\t%s" % (dev, " ".join(ws)))
EOF
[ -s /tmp/fuzz-cases ] || bail "the case generator failed"

tables=0 accepted=0 refused=0 unexplained=0 left=0 msgs=0 msg_ok=0
# The device for the messages: a sync=none job (replaced once cancelled)
# or a tracker, whichever the case is for (both use TGT, so one at a time).
# A checkpoint needs the tracker suspended: half of the time it is.
msgdev() {
	if [ "$1" = fzjob ]; then
		dmsetup info fzjob >/dev/null 2>&1 && [ "$(dm_field fzjob 4)" != cancelled ] && return
		dmsetup remove fzjob >/dev/null 2>&1
		dmsetup create fzjob --table "0 $S cowbackup $SRC $TGT none" >/dev/null 2>&1
	else
		dmsetup remove fzjob >/dev/null 2>&1
		dmsetup info fztrack >/dev/null 2>&1 ||
			dmsetup create fztrack --table "0 $S cowbackup-track $SRC $TGT" >/dev/null 2>&1
		if [ $((RANDOM % 2)) = 0 ]; then
			dmsetup suspend fztrack >/dev/null 2>&1
		else
			dmsetup resume fztrack >/dev/null 2>&1
		fi
	fi
}
# The kernel log is read and cleared after each line (dmesg -c): reading
# a growing log each time would dominate the run under TCG. The console
# keeps everything for the bench's BUG/WARNING check.
dmesg -c >/dev/null
while IFS=$'\t' read -r kind a b; do
	if [ "$kind" = T ]; then
		tables=$((tables + 1))
		if dmsetup create fz --table "$b" >/dev/null 2>&1; then
			accepted=$((accepted + 1))
			dmsetup status fz >/dev/null 2>&1
			dmsetup table fz >/dev/null 2>&1
			dmsetup remove fz >/dev/null 2>&1 || dmsetup remove --force fz >/dev/null 2>&1
			dmesg -c >/dev/null
		else
			refused=$((refused + 1))
			# The target's reason, or dm's own when dm refuses the line
			# before the target sees it (e.g. a length that is not a
			# multiple of the logical block size).
			dmesg -c | grep -q "device-mapper: " ||
				{ unexplained=$((unexplained + 1)); diag "no reason logged for: $b"; }
			dmsetup info fz >/dev/null 2>&1 && { left=$((left + 1)); dmsetup remove fz; }
		fi
	else
		msgs=$((msgs + 1))
		msgdev "$a"
		# shellcheck disable=SC2086 # the message's words
		dmsetup message "$a" 0 $b >/dev/null 2>&1 && msg_ok=$((msg_ok + 1))
	fi
done </tmp/fuzz-cases
dmsetup remove fzjob >/dev/null 2>&1
dmsetup resume fztrack >/dev/null 2>&1
dmsetup remove fztrack >/dev/null 2>&1

diag "$tables table lines: $accepted accepted, $refused refused; $msgs messages, $msg_ok accepted"
check "some lines were accepted, some refused" test "$accepted" -gt 0 -a "$refused" -gt 0
check_eq "every refused line has a reason in the kernel log" 0 "$unexplained"
check_eq "no refused line left a device" 0 "$left"
check_eq "no device is left" "" "$(dmsetup ls 2>/dev/null | grep -v 'No devices found')"
check_eq "the source is untouched" "$SRC_MD5" "$(cb_md5 "$SRC")"
check "the module unloads (no reference leaked)" rmmod dm-cowbackup
done_testing
