#!/bin/bash
# cowbackup-ctl usability (issue 11, items 9 and 11): as non-root, one
# line "needs root" and no false "interrupted operations pending" nor
# "out of memory"; without device-mapper, "device-mapper not available";
# `recover --dry-run` prints what `recover` then does, after a kill at
# each step; `info` of an LV over a loop device; units: 200MB is
# 200*10^6 bytes/s, 200M is MiB/s, --speed below 64K/s, --interval nan
# and other nonsense exit 2 with one line; rates print as "4 MiB/s"; a
# table the kernel refuses is reported with the target's own reason.
# disks: 2
# disk-size: 128M
# timeout: 400
# cpus: 1
# udev: no (option parsing, messages and units; ctl-jobctl and ctl-kill
# cover the same device paths under udev)
. "$(dirname "$0")/../lib.sh"

read -r -a D <<<"$COWBACKUP_DISKS"
trap '"$CTL" recover >/dev/null 2>&1; cleanup_dm; losetup -D 2>/dev/null' EXIT

# expect DESC RC PATTERN CMD...: CMD exits RC and prints exactly one line
# on stderr, containing PATTERN.
expect() {
	local desc=$1 want=$2 pat=$3 rc lines
	shift 3
	"$@" >/tmp/cb-u.out 2>/tmp/cb-u.err
	rc=$?
	lines=$(wc -l </tmp/cb-u.err)
	if [ "$rc" -eq "$want" ] && [ "$lines" -eq 1 ] &&
		grep -qF -- "$pat" /tmp/cb-u.err; then
		ok "$desc"
	else
		not_ok "$desc" "command: $*" "exit $rc (wanted $want), $lines stderr line(s):" \
			"$(cat /tmp/cb-u.err)"
	fi
}
# A usage error that was not one may have started a job: end it.
usage() {
	expect "usage: $1" 2 "$2" "${@:3}"
	"$CTL" finish --force vg0-data >/dev/null 2>&1
}
json_key() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

pvcreate -q "${D[0]}" "${D[1]}" >/dev/null && vgcreate -q vg0 "${D[0]}" "${D[1]}" >/dev/null ||
	bail "cannot create VG"
for lv in data:32 bak:40; do
	lvcreate -q -y -L "${lv#*:}M" -n "${lv%:*}" vg0 >/dev/null || bail "lvcreate ${lv%:*}"
done
fill_pattern /dev/vg0/data 21
SUM=$(md5_direct /dev/vg0/data)

# ---- units and nonsense values (item 11) -----------------------------------
usage "--speed 1 is below the minimum" "start: --speed: '1' is below the minimum of 64 KiB/s" \
	"$CTL" start --speed 1 vg0/data vg0/bak
usage "--speed 1K/s is below the minimum" "'1K/s' is below the minimum" \
	"$CTL" backup --speed 1K/s vg0/data vg0/bak
usage "--speed overflow" "--speed: '99999999999999999999' is not a rate" \
	"$CTL" start --speed 99999999999999999999 vg0/data vg0/bak
usage "--speed 19EB overflow" "--speed: '19EB' is not a rate" \
	"$CTL" start --speed 19EB vg0/data vg0/bak
usage "--speed negative" "--speed: '-5M' is not a rate" \
	"$CTL" start --speed=-5M vg0/data vg0/bak
usage "--speed nan" "--speed: 'nan' is not a rate" \
	"$CTL" start --speed nan vg0/data vg0/bak
usage "--interval nan" "backup: --interval: 'nan' is not a number of seconds" \
	"$CTL" backup --interval nan vg0/data vg0/bak
usage "--interval inf" "--interval: 'inf' is not a number of seconds" \
	"$CTL" wait --interval inf vg0-data
usage "--interval negative" "--interval: '-1' is not a number of seconds" \
	"$CTL" wait --interval=-1 vg0-data
usage "--interval 1e999" "--interval: '1e999' is not a number of seconds" \
	"$CTL" wait --interval 1e999 vg0-data
usage "--interval hex" "--interval: '0x10' is not a number of seconds" \
	"$CTL" wait --interval 0x10 vg0-data
usage "set-speed 1" "set-speed: '1' is below the minimum" "$CTL" set-speed vg0-data 1
usage "set-speed nonsense" "set-speed: '5 M' is not a rate" "$CTL" set-speed vg0-data "5 M"
check_eq "nothing was started by bad units" "" "$(dmsetup ls | grep cowbackup)"

check "start --speed 200MB" "$CTL" start --paused --speed 200MB vg0/data vg0/bak
check_eq "200MB is 200*10^6 bytes/s" "200000000" \
	"$("$CTL" status --json vg0-data | json_key speed)"
check "set-speed 200M" "$CTL" set-speed vg0-data 200M
check_eq "200M is 200 MiB/s" "209715200" \
	"$("$CTL" status --json vg0-data | json_key speed)"
check_eq "set-speed prints the rate as MiB/s" \
	"vg0-data: background copy limited to 4 MiB/s (4194304 bytes/s)" \
	"$("$CTL" set-speed vg0-data 4MiB/s)"
check_eq "status prints the limit as MiB/s" "Speed limit:       4 MiB/s (4194304 bytes/s)" \
	"$("$CTL" status vg0-data | grep '^Speed limit')"

# ---- non-root (item 9) ----------------------------------------------------------
chmod 755 /tmp
asuser() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
for cmd in "list" "status" "status vg0-data" "recover" "recover --dry-run" \
	"start vg0/data vg0/bak" "finish vg0-data" "pause vg0-data"; do
	# shellcheck disable=SC2086
	expect "as non-root: $cmd says it needs root" 1 \
		"cowbackup-ctl: needs root: cannot open /dev/mapper/control: Permission denied" \
		asuser "$CTL" $cmd
	if grep -q "interrupted\|out of memory" /tmp/cb-u.err; then
		not_ok "as non-root: $cmd: no false note" "$(cat /tmp/cb-u.err)"
	fi
done
check "the job is untouched" test "$("$CTL" status --json vg0-data | json_key state)" = paused
check "finish it" "$CTL" finish --force vg0-data

# ---- device-mapper not available -----------------------------------------------
grep -v device-mapper /proc/misc >/tmp/misc
expect "without device-mapper: list" 1 \
	"cowbackup-ctl: device-mapper not available (no device-mapper in /proc/misc; load dm-mod)" \
	unshare -m sh -c "mount --bind /tmp/misc /proc/misc && mount -t tmpfs none /dev/mapper && exec $CTL list"

# ---- recover --dry-run predicts recover (item 9) --------------------------------
for step in start-orig-created start-cow-created start-table-loaded start-suspended \
	finish-table-loaded finish-suspended finish-resumed; do
	case $step in
	finish-*)
		"$CTL" start --paused vg0/data vg0/bak >/dev/null 2>&1 || diag "start failed"
		COWBACKUP_CTL_KILL_AT=$step "$CTL" finish --force vg0-data >/dev/null 2>&1 ;;
	*)
		COWBACKUP_CTL_KILL_AT=$step "$CTL" start --paused vg0/data vg0/bak >/dev/null 2>&1 ;;
	esac
	"$CTL" recover --dry-run >/tmp/dry.out 2>/tmp/dry.err
	drc=$?
	dmsetup ls | sort >/tmp/dry.ls.before
	"$CTL" recover >/tmp/real.out 2>/tmp/real.err
	rrc=$?
	check_eq "$step: recover --dry-run exit status is recover's" "$rrc" "$drc"
	check_eq "$step: recover --dry-run prints what recover does" \
		"$(cat /tmp/real.out /tmp/real.err)" \
		"$(sed 's/: would /: /' /tmp/dry.out /tmp/dry.err)"
	check "$step: recover did something" grep -q "^recover: vg0-data: " /tmp/real.out
	check_eq "$step: nothing left" "" "$(dmsetup ls | grep cowbackup)"
done
check_eq "the source is unchanged" "$SUM" "$(md5_direct /dev/vg0/data)"

# ---- a kernel refusal says why (item 9) ------------------------------------------
# 1 PiB in 4 KiB clusters needs more bitmap than the target allows: the
# kernel refuses the table; the tool must say the target's reason.
PIB=$((1 << 41))
dmsetup create bigs --table "0 $PIB zero" && dmsetup create bigt --table "0 $PIB zero" ||
	bail "cannot create the zero devices"
expect "a kernel refusal names the target's reason" 1 \
	"bigs: the cowbackup table was rejected: cowbackup: Cannot allocate cluster bitmaps" \
	"$CTL" start --paused -c 4K bigs bigt
check "and not just 'see dmesg'" bash -c '! grep -q "see dmesg" /tmp/cb-u.err'
check_eq "nothing was left behind" "" "$(dmsetup ls | grep cowbackup)"
check_eq "the source keeps its table" "0 $PIB zero" "$(dmsetup table bigs | sed 's/ *$//')"
dmsetup remove bigs; dmsetup remove bigt

# ---- info of an LV over a loop device (item 9) ------------------------------------
truncate -s 64M /tmp/loop.img
LOOP=$(losetup -f --show /tmp/loop.img) || bail "losetup failed"
pvcreate -q "$LOOP" >/dev/null && vgcreate -q vgl "$LOOP" >/dev/null &&
	lvcreate -q -y -L 16M -n lv vgl >/dev/null || bail "cannot create vgl on $LOOP"
mkfs.ext4 -q /dev/vgl/lv
check "info /dev/vgl/lv" "$CTL" info /dev/vgl/lv
check "it is raw, 16 MiB, ext4 inside" \
	python3 -c 'import json,subprocess,sys
j = json.loads(subprocess.check_output([sys.argv[1], "info", "--json", "/dev/vgl/lv"]))
assert j["format"] == "raw", j
assert j["virtual-size"] == 16 << 20, j
' "$CTL"
vgchange -q -an vgl >/dev/null
done_testing
