#!/bin/bash
# `make stress` (issue 12, section 3): cowbackup-ctl jobs over and over
# for COWBACKUP_STRESS_SECONDS (default 1800) on two LVs at once:
#
# - a mounted ext4 LV under fio with crc32c verify the whole time: backup
#   (start, copy, finish) or start + cancel + finish in turn; every
#   completed backup must be e2fsck-clean;
# - a raw LV stamped with a known point in time before each job: random
#   writers (logged), view readers checking every read against the point in
#   time, and storms of pause/resume/set-speed, LV suspend/resume and
#   same-table reloads of the job's device while they run; each cycle
#   ends in finish (the target must equal the point in time for sync=full)
#   or cancel + finish, and the source must hold exactly the logged writes.
#
# Every cycle must leave no job device behind. The summary counts cycles,
# reads verified and mismatches (must be 0); the kernel log must stay
# clean and the module must unload at the end.
# Size it with a kernel parameter, e.g.
#   COWBACKUP_VM_APPEND=COWBACKUP_STRESS_SECONDS=300 tests/vm/run stress
# disks: 2
# disk-size: 320M
# timeout: 2700
. "$(dirname "$0")/../lib.sh"
. "$REPO/tests/vm/tests/data/target-lib.sh"

SECS=${COWBACKUP_STRESS_SECONDS:-1800}
SEED=${COWBACKUP_STRESS_SEED:-$RANDOM}
RANDOM=$SEED
MNT=/tmp/stress-fs
ST=/tmp/stress
read -r -a D <<<"$COWBACKUP_DISKS"
diag "seed $SEED, ${SECS}s"

cleanup() {
	[ -n "${FIO_PID:-}" ] && kill "$FIO_PID" 2>/dev/null
	[ -n "${FS_PID:-}" ] && kill "$FS_PID" 2>/dev/null
	wait 2>/dev/null
	umount "$MNT" 2>/dev/null
	"$CTL" recover >/dev/null 2>&1
	vgchange -an vg0 >/dev/null 2>&1
}
trap cleanup EXIT

rm -rf "$ST" && mkdir -p "$ST" "$MNT"
pvcreate -q "${D[0]}" "${D[1]}" >/dev/null &&
	vgcreate -q vg0 "${D[0]}" "${D[1]}" >/dev/null &&
	lvcreate -q -y -L 96M -n fs vg0 >/dev/null &&
	lvcreate -q -y -L 96M -n fbak vg0 >/dev/null &&
	lvcreate -q -y -L 48M -n raw vg0 >/dev/null &&
	lvcreate -q -y -L 48M -n rbak vg0 >/dev/null || bail "cannot create the LVs"
mkfs.ext4 -q -E lazy_itable_init=0,lazy_journal_init=0 /dev/vg0/fs &&
	mount /dev/vg0/fs "$MNT" || bail "cannot make and mount ext4 on vg0/fs"
FS_TABLE=$(dmsetup table vg0-fs)
RAW_TABLE=$(dmsetup table vg0-raw)
RAW=/dev/mapper/vg0-raw
RAWS=$(cb_size $RAW)
END=$(($(date +%s) + SECS))

# count NAME: one more NAME (a file per counter, shared with subshells).
count() { echo x >>"$ST/$1"; }
counted() { [ -f "$ST/$1" ] && wc -l <"$ST/$1" || echo 0; }
# fail WHAT: a mismatch or a broken invariant, kept for the summary.
fail() {
	echo "$*" >>"$ST/failures"
	diag "FAIL: $*"
}
no_job_left() { # no_job_left LV DMNAME TABLE
	local left
	left=$(dmsetup ls | awk '{print $1}' | grep -E "^(cowbackup-$2-|$2-snap$)")
	[ -z "$left" ] || fail "$1: devices left after finish: $left"
	[ "$(dmsetup table "$2")" = "$3" ] || fail "$1: table not restored: $(dmsetup table "$2")"
}

# ---- the mounted ext4 LV: fio verify all the time, jobs in turn --------
fio --name=stress --directory="$MNT" --size=12M --nrfiles=4 \
	--rw=randwrite --bsrange=4k-64k --ioengine=psync --fsync=8 \
	--verify=crc32c --verify_backlog=64 --verify_fatal=1 \
	--time_based --runtime="$SECS" --output="$ST/fio.out" >/dev/null 2>&1 &
FIO_PID=$!
(
	i=0
	while [ "$(date +%s)" -lt "$END" ]; do
		i=$((i + 1))
		if [ $((i % 3)) -eq 0 ]; then
			"$CTL" start vg0/fs vg0/fbak --force --speed 2M \
				>"$ST/fs.log" 2>&1 || fail "fs cycle $i: start: $(tail -n 1 "$ST/fs.log")"
			sleep 2
			"$CTL" cancel vg0-fs >>"$ST/fs.log" 2>&1 && count fs-cancelled
			"$CTL" finish vg0-fs --force >>"$ST/fs.log" 2>&1 ||
				fail "fs cycle $i: finish --force: $(tail -n 1 "$ST/fs.log")"
		else
			if "$CTL" backup vg0/fs vg0/fbak --force \
				--speed $(((RANDOM % 8 + 4) << 20)) >"$ST/fs.log" 2>&1; then
				e2fsck -fn /dev/vg0/fbak >"$ST/fsck.log" 2>&1 &&
					count fs-fsck-clean ||
					fail "fs cycle $i: backup not fsck-clean: $(tail -n 3 "$ST/fsck.log" | tr '\n' ' ')"
				count fs-backups
			else
				fail "fs cycle $i: backup: $(tail -n 1 "$ST/fs.log")"
			fi
		fi
		no_job_left "fs cycle $i" vg0-fs "$FS_TABLE"
	done
) &
FS_PID=$!

# ---- the raw LV: writers, view readers and storms -----------------------
storm() { # storm SECONDS: random control traffic on the raw LV's job
	local until=$(($(date +%s) + $1)) c=cowbackup-vg0-raw-cow t
	while [ "$(date +%s)" -lt "$until" ]; do
		case $((RANDOM % 5)) in
		0) "$CTL" pause vg0-raw >/dev/null 2>&1; sleep 0.3
		   "$CTL" resume vg0-raw >/dev/null 2>&1 ;;
		1) "$CTL" set-speed vg0-raw $(((RANDOM % 16 + 1) << 20)) >/dev/null 2>&1 ;;
		2) dmsetup suspend vg0-raw && dmsetup resume vg0-raw || fail "suspend/resume of vg0-raw failed" ;;
		3) t=$(dmsetup table $c) &&
			dmsetup reload $c --table "$t" && dmsetup resume $c ||
			fail "same-table reload of $c failed"
		   count reloads ;;
		4) sleep 0.5 ;;
		esac
		count storm-ops
		sleep 0.$((RANDOM % 5))
	done
}

cycle=0
while [ "$(date +%s)" -lt "$END" ]; do
	cycle=$((cycle + 1))
	seed=$((SEED * 1000 + cycle))
	sync_mode=$([ $((RANDOM % 3)) -eq 0 ] && echo none || echo full)
	cs=$(((4 << (RANDOM % 3 * 4)) ))K
	$CB_PY stamp $RAW --seed "$seed" --holes 4 || fail "cycle $cycle: stamp"
	log=$ST/wlog.$cycle
	if ! "$CTL" start vg0/raw vg0/rbak --force --snapshot --sync $sync_mode \
		--cluster-size $cs --speed 4M >"$ST/raw.log" 2>&1; then
		fail "cycle $cycle: start --sync $sync_mode -c $cs: $(tail -n 1 "$ST/raw.log")"
		continue
	fi
	w=$((RANDOM % 6 + 4))
	$CB_PY writers $RAW --jobs 2 --seconds $w --seed "$seed" --log "$log" \
		--max-len 131072 >"$ST/writers.out" 2>&1 &
	wp=$!
	$CB_PY reader /dev/mapper/vg0-raw-snap --seconds $w --seed "$seed" \
		--holes 4 --rseed "$cycle" >"$ST/reader.out" 2>&1 &
	rp=$!
	storm $w
	wait $wp || fail "cycle $cycle: writers failed: $(grep -m2 'failed:\|Error' "$ST/writers.out" | tr '\n' ' ')"
	wait $rp || fail "cycle $cycle: view reader: $(grep -m1 'expected\|failed' "$ST/reader.out")"
	read -r reads bad < <(sed -n 's/^# reader: \([0-9]*\) reads, \([0-9]*\) bad sectors/\1 \2/p' "$ST/reader.out")
	echo "${reads:-0}" >>"$ST/reads"
	[ "${bad:-0}" -eq 0 ] || echo "$bad" >>"$ST/mismatches"
	if [ $sync_mode = full ] && [ $((RANDOM % 3)) -ne 0 ]; then
		"$CTL" set-speed vg0-raw 0 >/dev/null 2>&1
		"$CTL" resume vg0-raw >/dev/null 2>&1
		"$CTL" wait vg0-raw >>"$ST/raw.log" 2>&1 ||
			fail "cycle $cycle: wait: $(tail -n 1 "$ST/raw.log")"
		# The target is marked incomplete until finish.
		if "$CTL" finish vg0-raw >>"$ST/raw.log" 2>&1; then
			$CB_PY verify /dev/vg0/rbak --seed "$seed" --holes 4 --count "$RAWS" \
				>"$ST/verify.out" 2>&1 && count targets-verified ||
				{ fail "cycle $cycle: target differs from the point in time: $(head -n 2 "$ST/verify.out" | tr '\n' ' ')"
				  echo 1 >>"$ST/mismatches"; }
		else
			fail "cycle $cycle: finish: $(tail -n 1 "$ST/raw.log")"
		fi
	else
		# A sync=none job may have completed meanwhile: then there is
		# nothing to cancel, and finish --force just finishes it.
		"$CTL" cancel vg0-raw >>"$ST/raw.log" 2>&1 && count raw-cancelled
		"$CTL" finish vg0-raw --force >>"$ST/raw.log" 2>&1 ||
			fail "cycle $cycle: finish --force: $(tail -n 1 "$ST/raw.log")"
	fi
	$CB_PY check-source $RAW --seed "$seed" --holes 4 --log "$log" \
		>"$ST/source.out" 2>&1 && count sources-verified ||
		{ fail "cycle $cycle: source lost writes: $(head -n 2 "$ST/source.out" | tr '\n' ' ')"
		  echo 1 >>"$ST/mismatches"; }
	no_job_left "raw cycle $cycle" vg0-raw "$RAW_TABLE"
	rm -rf "$log"
done

wait $FS_PID
wait $FIO_PID
fio_rc=$?
reads=$(awk '{s += $1} END {print s + 0}' "$ST/reads" 2>/dev/null)
mism=$(awk '{s += $1} END {print s + 0}' "$ST/mismatches" 2>/dev/null)
diag "raw cycles $cycle ($(counted raw-cancelled) cancelled, $(counted targets-verified) targets verified, $(counted sources-verified) sources verified)" \
	"view reads verified ${reads:-0}, mismatches ${mism:-0}" \
	"storm operations $(counted storm-ops) ($(counted reloads) same-table reloads)" \
	"ext4 backups $(counted fs-backups) ($(counted fs-fsck-clean) fsck-clean), cancelled $(counted fs-cancelled)" \
	"fio: $(grep -m1 -o 'WRITE: bw=[^,]*' "$ST/fio.out" 2>/dev/null)"
check "raw cycles ran ($cycle)" test "$cycle" -gt 0
check "ext4 backups ran ($(counted fs-backups))" test "$(counted fs-backups)" -gt 0
check_eq "mismatches (view reads, targets, sources)" 0 "${mism:-0}"
check_eq "fio verify on the mounted LV" 0 "$fio_rc"
check "no failure in any cycle" test ! -s "$ST/failures"
[ -s "$ST/failures" ] && diag "failures:" "$(head -n 20 "$ST/failures")"
umount "$MNT" && check "e2fsck of the source after the run" e2fsck -fn /dev/vg0/fs
"$CTL" recover >/dev/null 2>&1
vgchange -an vg0 >/dev/null 2>&1
cb_check_klog
check "the module unloads (no leaked reference)" rmmod dm-cowbackup
done_testing
