#!/bin/bash
# The fault matrix (issue 12, section 2): faults injected at random moments
# of live jobs, under random guest writes, and the contract checked after.
#
# A cell is FAULT x DEVICE x SYNC x POLICY:
#   FAULT   rerr  an `error` segment over a band of clusters, a quarter
#                 of the device from the first one not yet copied when
#                 the fault strikes, where the copier goes next (reads and
#                 writes there fail: copies cannot read the source, or
#                 write the target, and guest writes to the band fail)
#           werr  dm-flakey error_writes over the band (reads work)
#           drop  dm-flakey drop_writes over the band: writes "succeed"
#                 and are lost. Nothing above the device can see that:
#                 under the target a completed job's target silently
#                 misses the dropped copies (the view then serves stale
#                 data), under the source the guest's writes are lost
#                 but the point in time is intact. The cell only checks
#                 that the job notices no error; the losses are reported
#                 as diagnostics, never as failures.
#           gone  the whole device's table swapped to `error`
#           rdust dm-dust over the whole device, every 1 MiB block bad
#                 (debug kernel only: the distribution kernel has no
#                 dm-dust): reads fail, writes succeed (and heal their
#                 block: dm-dust's repair by rewrite). The
#                 copy-out whose source read fails, under a guest write
#                 that would succeed; under the target only view reads
#                 of copied clusters fail, never a copy
#   DEVICE  source, target, view-source, view-target (the fault under
#           that device; view-* also runs a reader on a cowbackup-snap
#           view through the fault)
#   SYNC    full, top (some clusters skipped), none
#   POLICY  report          on_*_error report, cow_error break_snapshot
#           ignore          on_*_error ignore, cow_error break_write
#           stop            on_*_error stop,   cow_error break_write
#           break_snapshot  on_*_error ignore, cow_error break_snapshot
#           break_write     on_*_error report, cow_error break_write
# The fault comes after a random delay from the job's start, or once a
# random number of clusters settled; it lasts a random 0.5-2 s, then the
# device heals. Per cell:
# - the job ends in the state its policy documents for the errors that
#   happened (the cowbackup_error trace events say which: copy-out or
#   background, source or target): failed after a report-policy or
#   break_snapshot error, paused after a stop-policy one (then `resume`),
#   otherwise completed (full, top) or still running (none); `errors`
#   equals the events counted;
# - every bio completes exactly once: the writers and the view reader
#   exit (a hang fails and dumps the blocked tasks), dm-linear devices
#   stacked on the job and on the view count exactly as many completed
#   bios as the processes issued, and no dm device of the stack has I/O
#   in flight afterwards (a double completion would be a kernel WARN or
#   worse, which fails the run);
# - the source holds the writers' data (stamped, replayed from their
#   logs): a write that got EIO left its sectors old or new when the
#   source failed it, and old when the job refused it (break_write);
#   target faults fail guest writes only under break_write;
# - a completed target is the point in time (top: skipped clusters
#   untouched), a running sync=none target holds it on every cluster the
#   `bitmap` reply names and the view shows it whole; a failed job's view
#   fails reads with EIO.
# target-errors.sh covers each policy alone with a fixed bad range and no
# load; target-thin-full.sh a thin target running out of space.
#
# Each run picks COWBACKUP_FAULT_CELLS (default 6) of the 240 cells at
# random, covering every value of every axis, from a seed it prints;
# COWBACKUP_FAULT_SEED repeats a run, COWBACKUP_FAULT_ALL=1 runs every cell
# (about 20 s each under TCG; give it a --timeout), and
# COWBACKUP_FAULT_CELL=fault/device/sync/policy (several joined by ',')
# runs the named ones. Pass them with COWBACKUP_VM_APPEND, e.g.
#   COWBACKUP_VM_APPEND=COWBACKUP_FAULT_SEED=1234 tests/vm/run target-fault-matrix
# disks: 0
# mem: 1G
# timeout: 300
. "$(dirname "$0")/../lib.sh"
. "$REPO/tests/vm/tests/data/target-lib.sh"

cb_brd 2 8 || bail "cannot load brd"
modprobe dm-flakey || bail "no dm-flakey"
trap 'cb_cleanup' EXIT

N=$(cb_size /dev/ram0)
CS=128
TOTAL=$(cb_clusters "$N" $CS)
# A range fault covers a quarter of the device from the first cluster not
# yet copied when it strikes: where the background copy goes next.
BADN=$((TOTAL / 4))
A=0
L=$((BADN * CS))
SRC=/dev/mapper/cbs
TGT=/dev/mapper/cbt
DM=/dev/mapper/cb
PIT=71
OLDTGT=99
# Background copy speed: a full copy (8 MiB) takes 8 s or more under TCG
# (copy-outs count against the rate too), so faults land before, during
# and after it.
SPEED=$(((8 << 20) / $(cb_tcg_secs 8)))
# The writers' and the reader's deadline (scaled) in case nothing stops them.
WSECS=30
W=/tmp/fm
mkdir -p $W

T=/sys/kernel/tracing
[ -d $T/events ] || mount -t tracefs nodev $T 2>/dev/null
echo 1 >$T/events/cowbackup/cowbackup_error/enable ||
	bail "cannot enable the cowbackup_error trace event"
echo 4096 >$T/buffer_size_kb
echo 1 >$T/tracing_on

FAULTS=(rerr werr drop gone)
HAVE_DUST=no
if modprobe dm-dust 2>/dev/null; then
	HAVE_DUST=yes
	FAULTS+=(rdust)
fi
DEVICES=(source target view-source view-target)
SYNCS=(full top none)
POLICIES=(report ignore stop break_snapshot break_write)

# ------------------------------------------------------------------ devices

# set_dev NAME RAMDEV healthy|rerr|werr|drop|gone|rdust-armed|rdust:
# (re)load the table. rdust-armed loads dm-dust with every block bad but
# read failures off (set-up: a message per block, seconds each on the
# debug kernel, hence 1 MiB blocks), rdust turns them on.
set_dev() {
	local name=$1 dev=$2 table band b
	case $3 in
	rdust)
		dmsetup message "$name" 0 enable >/dev/null
		return
		;;
	rdust-armed)
		table="0 $N dust $dev 0 $((1 << 20))"
		dmsetup reload "$name" --table "$table" && dmsetup resume "$name" &&
			dmsetup message "$name" 0 quiet || return 1
		for ((b = 0; b < N / 2048; b++)); do
			dmsetup message "$name" 0 addbadblock $b || return 1
		done
		return
		;;
	healthy) table="0 $N linear $dev 0" ;;
	gone) table="0 $N error" ;;
	rerr) band="$A $L error" ;;
	werr) band="$A $L flakey $dev $A 0 1 1 error_writes" ;;
	drop) band="$A $L flakey $dev $A 0 1 1 drop_writes" ;;
	esac
	if [ -n "$band" ]; then
		table=$band
		[ "$A" -gt 0 ] && table="0 $A linear $dev 0
$table"
		[ $((A + L)) -lt "$N" ] && table="$table
$((A + L)) $((N - A - L)) linear $dev $((A + L))"
	fi
	if dmsetup info "$name" >/dev/null 2>&1; then
		dmsetup reload "$name" --table "$table" && dmsetup resume "$name"
	else
		dmsetup create "$name" --table "$table"
	fi
}

# dm_sys NAME: its /sys/block directory, from the map dm_sys_scan made
# after the devices were created (every process start costs under TCG).
declare -A DM_SYS
dm_sys_scan() {
	local name minor
	DM_SYS=()
	while IFS=: read -r name minor; do
		DM_SYS[$name]=/sys/block/dm-$minor
	done < <(dmsetup info -c --noheadings --separator : -o name,minor)
}
dm_sys() {
	echo "${DM_SYS[$1]}"
}

# stat_field NAME N: field N of /sys/block/dm-X/stat (1 reads completed,
# 5 writes completed, 9 in flight).
stat_field() {
	awk -v n="$2" '{ print $n }' "$(dm_sys "$1")/stat"
}

# inflight NAME: "reads writes" in flight.
inflight() {
	awk '{ print $1 + $2 }' "$(dm_sys "$1")/inflight"
}

# wait_exit SECS PID...: wait for the processes; 1 if any is still there.
wait_exit() {
	local limit=$(($(date +%s) + $(scaled "$1"))) p alive
	shift
	while :; do
		alive=
		for p in "$@"; do
			kill -0 "$p" 2>/dev/null && alive="$alive $p"
		done
		[ -z "$alive" ] && return 0
		[ "$(date +%s)" -ge "$limit" ] && break
		sleep 0.2
	done
	diag "still running:$alive"
	for p in $alive; do
		diag "$(ps -o pid,stat,wchan:30,args -p "$p" | tail -n +2)"
		for c in $(pgrep -P "$p"); do
			diag "  child $(ps -o pid,stat,wchan:30,args -p "$c" | tail -n +2)"
			diag "$(cat /proc/"$c"/stack 2>/dev/null)"
		done
	done
	echo w >/proc/sysrq-trigger
	return 1
}

# ---------------------------------------------------------------- policies

# policy_opts POLICY: the table's optional arguments.
policy_opts() {
	case $1 in
	report) echo on_source_error report on_target_error report cow_error break_snapshot ;;
	ignore) echo on_source_error ignore on_target_error ignore cow_error break_write ;;
	stop) echo on_source_error stop on_target_error stop cow_error break_write ;;
	break_snapshot) echo on_source_error ignore on_target_error ignore cow_error break_snapshot ;;
	break_write) echo on_source_error report on_target_error report cow_error break_write ;;
	esac
}
bg_policy() {
	case $1 in
	report | break_write) echo report ;;
	stop) echo stop ;;
	*) echo ignore ;;
	esac
}
cow_policy() {
	case $1 in
	report | break_snapshot) echo break_snapshot ;;
	*) echo break_write ;;
	esac
}

# trace_count KIND DEVICE: cowbackup_error events of this cell.
trace_count() {
	grep -c "cowbackup_error: .*kind=$1 device=$2" $T/trace
}

# ------------------------------------------------------------------- top

# top_skips: random skipped runs; sets SKIPEXT and TOPEXT ("a+b ...").
top_skips() {
	local -a skipped=()
	local i c s len k prev run
	for i in 1 2 3 4; do
		s=$((RANDOM % TOTAL))
		len=$((4 + RANDOM % 24))
		for ((c = s; c < s + len && c < TOTAL; c++)); do
			skipped[c]=1
		done
	done
	SKIPEXT="" TOPEXT=""
	prev="" run=0
	for ((c = 0; c <= TOTAL; c++)); do
		if [ $c -eq $TOTAL ]; then k=end
		elif [ -n "${skipped[c]:-}" ]; then k=skip
		else k=top; fi
		if [ "$k" != "$prev" ]; then
			if [ "$prev" = skip ]; then SKIPEXT="$SKIPEXT $run+$((c - run))"
			elif [ "$prev" = top ]; then TOPEXT="$TOPEXT $run+$((c - run))"; fi
			run=$c
			prev=$k
		fi
	done
}

# ------------------------------------------------------------------- cells

declare -a SUMMARY

# run_cell FAULT DEVICE SYNC POLICY
run_cell() {
	local fault=$1 dev=$2 sync=$3 pol=$4
	local c="[$fault $dev $sync $pol]"
	local side=${dev#view-} view=no ram dmname
	local fails0=$_t_failed t0=$SECONDS mark
	local -a opts
	local w0 r0 wpid rpid=
	local trigger at_settled at_state delay dur st want errs
	local cow_src cow_tgt bg_src bg_tgt nerr fatal may_pause
	local ops nfail rline reads eio bad rrc wrc d n ext
	[ "$dev" != "$side" ] && view=yes
	if [ "$fault" = rdust ] && [ $HAVE_DUST = no ]; then
		skip "$c" "no dm-dust in this kernel (the debug kernel has it)"
		return
	fi
	if [ "$side" = source ]; then dmname=cbs ram=/dev/ram0; else dmname=cbt ram=/dev/ram1; fi
	rm -rf $W/log $W/*.out
	for d in cbvo cbv cbo cb; do
		dmsetup remove $d >/dev/null 2>&1
	done

	# --- set up: stamped devices, the job, the stack ------------------------
	set_dev cbs /dev/ram0 healthy && set_dev cbt /dev/ram1 healthy &&
		$CB_PY stamp $SRC --seed $PIT && $CB_PY stamp $TGT --seed $OLDTGT ||
		{ not_ok "$c set up the devices"; return; }
	if [ "$fault" = rdust ]; then
		set_dev $dmname $ram rdust-armed || { not_ok "$c arm dm-dust"; return; }
	fi
	echo >$T/trace
	mark=$(cb_kmsg_mark)
	# Loaded paused: the background copy starts with the load, below.
	read -r -a opts <<<"speed $SPEED $(policy_opts "$pol") paused"
	if ! cb_create cb $SRC $TGT "$sync" "${opts[@]}"; then
		not_ok "$c create the job"
		return
	fi
	TOPEXT="" SKIPEXT=""
	if [ "$sync" = top ]; then
		top_skips
		for ext in $SKIPEXT; do
			cb_msg cb skip "${ext%+*}" "${ext#*+}"
		done
	fi
	dmsetup create cbo --table "0 $N linear $DM 0" ||
		{ not_ok "$c stack a linear device on the job"; return; }
	if [ $view = yes ]; then
		cb_view_create cbv $SRC $TGT &&
			dmsetup create cbvo --readonly --table "0 $N linear /dev/mapper/cbv 0" ||
			{ not_ok "$c create the view"; return; }
	fi
	dm_sys_scan
	w0=$(stat_field cbo 5)
	[ $view = yes ] && r0=$(stat_field cbvo 1)

	TIMES="set-up $((SECONDS - t0))"
	# --- load, fault at a random moment, heal -------------------------------
	# The load runs until the device healed, plus a random while.
	rm -f $W/stop
	$CB_PY writers /dev/mapper/cbo --jobs 2 --seconds $((WSECS * SCALE)) \
		--until $W/stop --interval 0.1 --seed $((RANDOM + 1)) \
		--log $W/log --keep-going --trim 0 --zero 0 --max-len 16384 \
		>$W/writers.out 2>&1 &
	wpid=$!
	if [ $view = yes ]; then
		# sync=top: skipped clusters show the source as it is now.
		$CB_PY reader /dev/mapper/cbvo --seed $PIT --seconds $((WSECS * SCALE)) \
			--until $W/stop --eio-ok --rseed $RANDOM ${TOPEXT:+--extents "$TOPEXT"} \
			>$W/reader.out 2>&1 &
		rpid=$!
	fi
	# The job starts once the writers do.
	cb_wait_writers $W/log 10
	cb_msg cb resume
	if [ $((RANDOM % 2)) = 0 ]; then
		delay=$((RANDOM % 1500))
		trigger="after ${delay} ms"
		sleep "$((delay / 1000)).$(printf %03d $((delay % 1000)))"
	else
		if [ "$sync" = none ]; then
			n=$((1 + RANDOM % (TOTAL / 8)))
		else
			n=$((1 + RANDOM % (TOTAL * 3 / 4)))
		fi
		trigger="once $n clusters settled"
		for ((d = 0; d < 50; d++)); do
			[ "$(cb_get cb settled)" -ge $n ] && break
			sleep 0.1
		done
		[ $d -eq 50 ] && trigger="$trigger (not reached in 5 s)"
	fi
	ext=$(cb_msg cb bitmap 0)
	case $ext in
	0+*) BADC=${ext%% *} BADC=$((${BADC#0+})) ;;
	*) BADC=0 ;;
	esac
	[ $((BADC + BADN)) -gt "$TOTAL" ] && BADC=$((TOTAL - BADN))
	A=$((BADC * CS))
	set_dev $dmname $ram "$fault" || not_ok "$c inject the fault"
	# The job as the fault found it (a table swap takes a while).
	at_settled=$(cb_get cb settled)
	at_state=$(cb_get cb state)
	dur=$((500 + RANDOM % 1000))
	sleep "$((dur / 1000)).$(printf %03d $((dur % 1000)))"
	set_dev $dmname $ram healthy || not_ok "$c heal the device"
	sleep "0.$((RANDOM % 10))"
	touch $W/stop
	case $fault in
	gone | rdust) ;;
	*) trigger="$trigger on clusters $BADC..$((BADC + BADN - 1))" ;;
	esac
	kill -0 $wpid 2>/dev/null || trigger="$trigger, writers done"
	diag "$c fault $trigger (job $at_state, $at_settled/$TOTAL settled), for $dur ms"

	# --- every process exits, every bio completed once ----------------------
	if ! wait_exit 60 $wpid $rpid; then
		bail "$c writers or the view reader hang"
	fi
	wait $wpid
	wrc=$?
	check_eq "$c writers exit cleanly" 0 $wrc || cat $W/writers.out | sed 's/^/#   /'
	ops=$(cat $W/log/*.log | wc -l)
	nfail=$(cat $W/log/*.log | grep -c '^E')
	check_eq "$c the job's stack completed each of the $ops writes once" \
		$ops $(($(stat_field cbo 5) - w0))
	if [ $view = yes ]; then
		wait $rpid
		rrc=$?
		rline=$(grep '^# reader:.*reads' $W/reader.out | tail -1)
		read -r reads eio bad < <(sed 's/[^0-9 ]//g' <<<"${rline#\# reader: }")
		reads=${reads:-0} eio=${eio:-0} bad=${bad:-0}
		diag "$c view reader: $rline"
		check_eq "$c the view's stack completed each of the $((reads + eio)) reads once" \
			$((reads + eio)) $(($(stat_field cbvo 1) - r0))
		if [ "$fault $side" = "drop target" ]; then
			[ "${bad:-0}" -gt 0 ] &&
				diag "$c the view served $bad stale sectors from the dropped copies (undetectable)"
		else
			check_eq "$c the view reader saw only point-in-time data or EIO" 0 $rrc ||
				sed 's/^/#   /' $W/reader.out | head -20
		fi
	fi

	TIMES="$TIMES, load $((SECONDS - t0))"
	# --- the job's state follows its policy --------------------------------
	cb_msg cb speed 0
	# Copy-outs and background copies in flight end quickly now.
	sleep 0.5
	cow_src=$(trace_count cow source)
	cow_tgt=$(trace_count cow target)
	bg_src=$(trace_count background source)
	bg_tgt=$(trace_count background target)
	nerr=$((cow_src + cow_tgt + bg_src + bg_tgt))
	fatal=no may_pause=no
	if [ $((cow_src + cow_tgt)) -gt 0 ] && [ "$(cow_policy "$pol")" = break_snapshot ]; then
		fatal=yes
	fi
	if [ $((bg_src + bg_tgt)) -gt 0 ]; then
		case $(bg_policy "$pol") in
		report) fatal=yes ;;
		stop) may_pause=yes ;;
		esac
	fi
	diag "$c errors: copy-out source $cow_src target $cow_tgt, background source $bg_src target $bg_tgt; writes $ops, $nfail failed"
	if [ "$sync" = none ]; then
		st=$(cb_wait cb 'failed|running|paused|completed|cancelled' 1)
	else
		st=$(cb_wait cb 'failed|paused|completed|cancelled' 60)
	fi
	if [ $fatal = no ] && [ $may_pause = yes ] && [ "$sync" != none ]; then
		if [ "$st" = completed ]; then
			# Copy-before-write runs while paused: the guest's writes
			# copied the clusters the copier had left.
			diag "$c paused, then copy-outs settled the last clusters: completed"
		else
			check_eq "$c on_*_error stop: the job paused" paused "$st"
			cb_msg cb resume
			st=$(cb_wait cb 'failed|paused|completed|cancelled' 60)
		fi
	fi
	want=failed
	if [ $fatal = no ]; then
		if [ "$sync" = none ]; then want=running; else want=completed; fi
	fi
	errs=$(cb_get cb errors)
	if [ "$st" = failed ] && [ $want != failed ] && [ "$errs" = $((nerr + 1)) ] &&
		cb_kmsg_since "$mark" | grep -q 'flushing the target failed'; then
		# The target was gone when completion flushed it.
		diag "$c the flush before completed failed: failed, as documented"
		want=failed
		nerr=$((nerr + 1))
	fi
	check_eq "$c the job is $want" $want "$st" || diag "status: $(cb_status cb)"
	check_eq "$c errors counts every failed copy" $nerr "$errs"
	case "$fault $side" in
	"werr source" | "drop source" | "drop target" | "rdust target")
		check_eq "$c no copy failed (the fault never meets a copy)" 0 "$errs" ;;
	esac
	if [ "$side" = target ] && [ "$(cow_policy "$pol")" = break_snapshot ]; then
		check_eq "$c target faults never fail a guest write (break_snapshot)" 0 $nfail
	fi

	# --- nothing left in flight, anywhere -----------------------------------
	for d in cbo cb cbs cbt ${rpid:+cbv cbvo}; do
		for ((n = 0; n < 50; n++)); do
			[ "$(inflight $d)" = 0 ] && break
			sleep 0.1
		done
		check_eq "$c no I/O in flight on $d" 0 "$(inflight $d)"
	done

	TIMES="$TIMES, state $((SECONDS - t0))"
	# --- the source holds what the writers wrote ----------------------------
	local -a srcargs=(--seed "$PIT" --log "$W/log")
	[ "$side" = target ] && srcargs+=(--failed old)
	[ "$fault $side" = "drop source" ] && srcargs+=(--skip "$A+$L")
	check "$c the source holds the writers' data" \
		$CB_PY check-source $SRC "${srcargs[@]}"
	if [ "$fault $side" = "drop source" ]; then
		n=$($CB_PY check-source $SRC --seed $PIT --log $W/log |
			awk '/sectors differ/ { print $3 }')
		diag "$c ${n:-0} sectors of the band lost by drop_writes under the source (undetectable above it)"
	fi

	TIMES="$TIMES, source $((SECONDS - t0))"
	# --- the target and the view hold the point in time ---------------------
	if [ "$fault $side" = "drop target" ]; then
		n=$($CB_PY verify $TGT --seed $PIT 2>&1 | awk '/sectors differ/ { print $3 }')
		diag "$c drop_writes under the target: job $st, ${n:-0} target sectors differ from the point in time (undetectable by the job)"
	elif [ "$st" = completed ] && [ "$sync" = full ]; then
		check "$c the completed target is the point in time" \
			$CB_PY verify $TGT --seed $PIT
	elif [ "$st" = completed ] && [ "$sync" = top ]; then
		check "$c the completed target is the point in time on the top clusters" \
			$CB_PY verify $TGT --seed $PIT --extents "$TOPEXT" --cluster $CS
		[ -n "$SKIPEXT" ] && check "$c skipped clusters untouched" \
			$CB_PY verify $TGT --seed $OLDTGT --extents "$SKIPEXT" --cluster $CS
	elif [ "$st" = running ]; then
		ext=$(cb_msg cb bitmap 0)
		check "$c the running job's copied clusters are the point in time" \
			$CB_PY verify $TGT --seed $PIT --extents "$ext" --cluster $CS
		if [ $view = yes ]; then
			check "$c the view shows the point in time" \
				$CB_PY verify /dev/mapper/cbvo --seed $PIT
		fi
	fi
	if [ "$st" = failed ] && [ $view = yes ]; then
		check "$c the failed job's view fails reads with EIO" \
			$CB_PY readerr /dev/mapper/cbvo
	fi

	TIMES="$TIMES, target $((SECONDS - t0))"
	# --- tear down ----------------------------------------------------------
	for d in cbvo cbv cbo cb; do
		dmsetup info $d >/dev/null 2>&1 || continue
		dmsetup remove $d || not_ok "$c remove $d"
	done
	if [ $_t_failed -eq "$fails0" ]; then
		SUMMARY+=("ok     $fault/$dev/$sync/$pol: $st, errors $errs, writes $ops ($nfail EIO)")
	else
		SUMMARY+=("NOT OK $fault/$dev/$sync/$pol: $st, errors $errs, writes $ops ($nfail EIO)")
	fi
}

# ------------------------------------------------------------- the matrix

ALL=()
for f in "${FAULTS[@]}"; do
	for d in "${DEVICES[@]}"; do
		for s in "${SYNCS[@]}"; do
			for p in "${POLICIES[@]}"; do
				ALL+=("$f/$d/$s/$p")
			done
		done
	done
done

SEED=${COWBACKUP_FAULT_SEED:-$(($(date +%s%N) % 32768))}
RANDOM=$SEED
NCELLS=${COWBACKUP_FAULT_CELLS:-6}
if [ -n "${COWBACKUP_FAULT_CELL:-}" ]; then
	IFS=, read -r -a CELLS <<<"$COWBACKUP_FAULT_CELL"
elif [ "${COWBACKUP_FAULT_ALL:-0}" = 1 ]; then
	CELLS=("${ALL[@]}")
else
	# Shuffle, then take cells that add an axis value not yet covered
	# until every value is, then any.
	# (RANDOM in this shell: a subshell would reseed it.)
	KEYED=()
	for x in "${ALL[@]}"; do KEYED+=("$RANDOM $x"); done
	mapfile -t SHUF < <(printf '%s\n' "${KEYED[@]}" | sort -n | cut -d' ' -f2)
	declare -A SEEN
	CELLS=()
	for x in "${SHUF[@]}"; do
		[ ${#CELLS[@]} -ge "$NCELLS" ] && break
		IFS=/ read -r f d s p <<<"$x"
		if [ -z "${SEEN[f$f]:-}" ] || [ -z "${SEEN[d$d]:-}" ] ||
			[ -z "${SEEN[s$s]:-}" ] || [ -z "${SEEN[p$p]:-}" ]; then
			CELLS+=("$x")
			SEEN[f$f]=1 SEEN[d$d]=1 SEEN[s$s]=1 SEEN[p$p]=1
		fi
	done
	for x in "${SHUF[@]}"; do
		[ ${#CELLS[@]} -ge "$NCELLS" ] && break
		[[ " ${CELLS[*]} " == *" $x "* ]] || CELLS+=("$x")
	done
fi
diag "fault matrix: seed $SEED (COWBACKUP_FAULT_SEED=$SEED repeats it), ${#CELLS[@]} of ${#ALL[@]} cells"
diag "$N sectors, $TOTAL clusters of $CS sectors; range faults cover $BADN clusters"

for x in "${CELLS[@]}"; do
	IFS=/ read -r f d s p <<<"$x"
	t0=$SECONDS
	run_cell "$f" "$d" "$s" "$p"
	diag "cell $x took $((SECONDS - t0)) s (seconds from its start: $TIMES)"
done

diag "cells run (seed $SEED):"
for x in "${SUMMARY[@]}"; do diag "  $x"; done
cb_check_klog
done_testing
