#!/bin/bash
# cowbackup-ctl under hostile use (issue 12, section 4):
# - random command lines (commands, options and values from a vocabulary
#   with garbage mixed in): every run exits 0, 1 or 2, never by a signal,
#   and a failure says why in one line starting "cowbackup-ctl:";
# - concurrent invocations: two `start`s of one source (exactly one wins),
#   starts of two sources at once (both win), and pause/resume/set-speed/
#   status/cancel/finish racing on one job;
# - a target that vanishes (its table swapped to `error`) during `backup`,
#   and a source LV removed between commands: clear errors;
# after each part `recover` leaves no job device and the source's data and
# table are as before. COWBACKUP_CTLFUZZ_SEED repeats a run.
# disks: 2
# disk-size: 128M
# timeout: 420
# cpus: 1
. "$(dirname "$0")/../lib.sh"

read -r -a D <<<"$COWBACKUP_DISKS"
SEED=${COWBACKUP_CTLFUZZ_SEED:-$RANDOM}
RANDOM=$SEED
N=${COWBACKUP_CTLFUZZ_N:-40}
trap '"$CTL" recover >/dev/null 2>&1; cleanup_dm' EXIT
diag "seed $SEED, $N random command lines"

pvcreate -q "${D[0]}" "${D[1]}" >/dev/null && vgcreate -q vg0 "${D[0]}" "${D[1]}" >/dev/null &&
	lvcreate -q -y -L 24M -n a vg0 >/dev/null &&
	lvcreate -q -y -L 24M -n b vg0 >/dev/null &&
	lvcreate -q -y -L 24M -n abak vg0 >/dev/null &&
	lvcreate -q -y -L 24M -n bbak vg0 >/dev/null || bail "cannot create LVs"
fill_pattern /dev/vg0/a 31 && fill_pattern /dev/vg0/b 32 || bail "cannot fill the LVs"
SUM_A=$(md5_direct /dev/vg0/a)
SUM_B=$(md5_direct /dev/vg0/b)
TAB_A=$(dmsetup table vg0-a)
TAB_B=$(dmsetup table vg0-b)

leftovers() {
	dmsetup ls | awk '$1 ~ /^cowbackup-|-snap$/ { print $1 }' | tr '\n' ' '
}
# finish_all: finish every job there is (random lines may start a job
# of any LV: the source of a job X has the hidden device cowbackup-X-cow).
finish_all() {
	local j
	for j in $(dmsetup ls | awk '$1 ~ /^cowbackup-.*-cow$/ { sub(/^cowbackup-/, "", $1); sub(/-cow$/, "", $1); print $1 }'); do
		"$CTL" finish "$j" --force >/dev/null 2>&1
	done
}
# tidy PART: recover, then the sources must be as they were.
tidy() {
	finish_all
	"$CTL" recover >/dev/null 2>&1
	check_eq "$1: no job device left after recover" "" "$(leftovers)"
	check_eq "$1: vg0/a table as before" "$TAB_A" "$(dmsetup table vg0-a)"
	check_eq "$1: vg0/b table as before" "$TAB_B" "$(dmsetup table vg0-b)"
	check_eq "$1: vg0/a data as before" "$SUM_A" "$(md5_direct /dev/vg0/a)"
	check_eq "$1: vg0/b data as before" "$SUM_B" "$(md5_direct /dev/vg0/b)"
}

# ---- random command lines ---------------------------------------------------
CMDS=(backup start status list wait pause resume cancel set-speed finish
	recover info map export bogus "" --help --version -x)
WORDS=(vg0/a vg0/b vg0/abak vg0/bbak vg0-a /dev/vg0/a /dev/mapper/vg0-b
	/dev/null /etc/passwd /nonexistent /tmp "" " " - -- --force --json
	--sync full top none bogus --speed 0 1M 63K 1e9 -5 99999999999999999999T
	--cluster-size 4K 3K 8M 16M --max-workers 0 1 1025 --snapshot
	--on-source-error --on-target-error report ignore stop --cow-error
	break_write --top-map --export nbd://127.0.0.1/x --format qcow2 vmdk raw
	/tmp/out.img --dry-run --quiet --interval nan 0.1 --new-uuid
	"$(head -c 300 /dev/zero | tr '\0' a)" $'a\nb' '%s%n%s' "vg0/a;id")
signalled=0 badrc=0 unclear=0 ran=0 ok0=0
for ((i = 0; i < N; i++)); do
	args=("${CMDS[RANDOM % ${#CMDS[@]}]}")
	for ((k = RANDOM % 6; k > 0; k--)); do
		args+=("${WORDS[RANDOM % ${#WORDS[@]}]}")
	done
	rm -f /tmp/out.img
	timeout 60 "$CTL" "${args[@]}" </dev/null >/tmp/fz.out 2>/tmp/fz.err
	rc=$?
	ran=$((ran + 1))
	# `wait` and `backup` may wait on a job a random `pause` stopped.
	if [ $rc -eq 124 ] && [[ ${args[0]} == wait || ${args[0]} == backup ]]; then
		"$CTL" resume vg0-a >/dev/null 2>&1
		"$CTL" resume vg0-b >/dev/null 2>&1
	elif [ $rc -ge 124 ]; then
		signalled=$((signalled + 1))
		diag "rc $rc: cowbackup-ctl $(printf '%q ' "${args[@]}")"
	elif [ $rc -gt 2 ]; then
		badrc=$((badrc + 1))
		diag "exit $rc: cowbackup-ctl $(printf '%q ' "${args[@]}")"
	elif [ $rc -ne 0 ]; then
		# Usage text may follow a usage error; the first line says why.
		if ! head -n 1 /tmp/fz.err | grep -q '^cowbackup-ctl: .'; then
			unclear=$((unclear + 1))
			diag "unclear error (rc $rc): cowbackup-ctl $(printf '%q ' "${args[@]}")" \
				"stderr: $(head -c 200 /tmp/fz.err)"
		fi
	else
		ok0=$((ok0 + 1))
	fi
	# Whatever got started is stopped again (the next lines may meet it).
	if [ -n "$(leftovers)" ] && [ $((i % 10)) -eq 9 ]; then
		finish_all
	fi
done
diag "$ran command lines: $ok0 succeeded"
check_eq "no run killed by a signal or hung" 0 "$signalled"
check_eq "every exit status is 0, 1 or 2" 0 "$badrc"
check_eq "every failure starts with one 'cowbackup-ctl: ' line" 0 "$unclear"
# A random line may have backed up one of the LVs onto another (e.g.
# `backup vg0/abak vg0/a`): as told. So the data is checked from here on,
# after the LVs are filled again.
finish_all
"$CTL" recover >/dev/null 2>&1
check_eq "random command lines: no job device left after recover" "" "$(leftovers)"
check_eq "random command lines: vg0/a table as before" "$TAB_A" "$(dmsetup table vg0-a)"
check_eq "random command lines: vg0/b table as before" "$TAB_B" "$(dmsetup table vg0-b)"
fill_pattern /dev/vg0/a 31 && fill_pattern /dev/vg0/b 32 || bail "cannot fill the LVs again"

# ---- concurrent invocations ----------------------------------------------------
"$CTL" start vg0/a vg0/abak --force --speed 1M >/tmp/s1.out 2>&1 &
p1=$!
"$CTL" start vg0/a vg0/bbak --force --speed 1M >/tmp/s2.out 2>&1 &
p2=$!
wait $p1; r1=$?
wait $p2; r2=$?
check_eq "two starts of one source: exactly one succeeds" "0 1" "$(printf '%s\n' $r1 $r2 | sort | tr '\n' ' ' | sed 's/ $//')"
check "the loser says why in one line" \
	grep -qh '^cowbackup-ctl: .*vg0' /tmp/s1.out /tmp/s2.out
check_eq "one job runs" 1 "$("$CTL" list 2>/dev/null | grep -c 'vg0-a')"
tidy "two starts of one source"

"$CTL" start vg0/a vg0/abak --force --speed 1M >/tmp/s1.out 2>&1 &
p1=$!
"$CTL" start vg0/b vg0/bbak --force --speed 1M >/tmp/s2.out 2>&1 &
p2=$!
wait $p1; r1=$?
wait $p2; r2=$?
check_eq "starts of two sources at once both succeed" "0 0" "$r1 $r2"
check_eq "two jobs run" 2 "$("$CTL" list 2>/dev/null | grep -cE 'vg0-(a|b)')"
tidy "starts of two sources"

check "start a job to race on" "$CTL" start vg0/a vg0/abak --force --speed 1M --snapshot
pids=()
for ((k = 0; k < 12; k++)); do
	case $((RANDOM % 6)) in
	0) cmd=(pause vg0-a) ;;
	1) cmd=(resume vg0-a) ;;
	2) cmd=(set-speed vg0-a $(((RANDOM % 8 + 1) << 20))) ;;
	3) cmd=(status vg0-a --json) ;;
	4) cmd=(cancel vg0-a) ;;
	5) cmd=(finish vg0-a --force) ;;
	esac
	"$CTL" "${cmd[@]}" >/tmp/race.$k.out 2>&1 &
	pids+=($!)
	echo "${cmd[*]}" >/tmp/race.$k.cmd
done
bad=0
for k in "${!pids[@]}"; do
	wait "${pids[k]}"
	rc=$?
	if [ $rc -gt 1 ] || { [ $rc -eq 1 ] && ! grep -q '^cowbackup-ctl: .' /tmp/race.$k.out; }; then
		bad=$((bad + 1))
		diag "race: '$(cat /tmp/race.$k.cmd)' exit $rc: $(head -c 200 /tmp/race.$k.out)"
	fi
done
check_eq "racing commands on one job: each exits 0 or 1 with a reason" 0 "$bad"
check "finish after the race" bash -c "$CTL finish vg0-a --force >/dev/null 2>&1 || $CTL recover >/dev/null"
tidy "commands racing on one job"

# ---- devices that vanish ------------------------------------------------------
# The target is a dm device of our own over vg0/bbak, swapped to `error`
# while `backup` copies.
TS=$(blockdev --getsz /dev/vg0/bbak)
dmsetup create fztgt --table "0 $TS linear /dev/vg0/bbak 0" || bail "cannot create fztgt"
"$CTL" backup vg0/a /dev/mapper/fztgt --force --speed 2M >/tmp/vanish.out 2>&1 &
bp=$!
sleep 3
dmsetup suspend --noflush fztgt && dmsetup reload fztgt --table "0 $TS error" &&
	dmsetup resume fztgt
wait $bp
rc=$?
check_eq "backup onto a target that turns into errors exits 1" 1 "$rc"
check "it says the job failed" grep -qi 'failed\|error' /tmp/vanish.out
diag "$(tail -n 2 /tmp/vanish.out)"
tidy "a target that vanishes during backup"
dmsetup remove fztgt

check "start a job on vg0/b" "$CTL" start vg0/b vg0/bbak --force --speed 1M
# Someone removes the job's visible device behind the tool's back.
dmsetup remove --force vg0-b >/dev/null 2>&1
"$CTL" status vg0-b >/tmp/gone.out 2>&1
rc=$?
check "status of a job whose device was removed exits 1 or 0 with words" \
	bash -c "[ $rc -le 1 ] && [ -s /tmp/gone.out ]"
"$CTL" recover >/tmp/gone-recover.out 2>&1
check "recover copes with the removed device" test $? -le 1
check_eq "no job device left" "" "$(leftovers)"
lvchange -an vg0/b >/dev/null 2>&1
check "vg0/b activates again" lvchange -ay vg0/b
check_eq "vg0/b data as before" "$SUM_B" "$(md5_direct /dev/vg0/b)"

done_testing
