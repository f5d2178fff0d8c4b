#!/bin/bash
# cowbackup-ctl refusals and exit codes: bad command lines exit 2 with a
# usage hint; every unsafe target (the source itself, mounted, in use,
# smaller, overlapping the source through dm tables or partitions,
# carrying a filesystem, LVM or partition-table signature) and every
# unsuitable source is refused with exit 1 and exactly one stderr line
# naming the device and the reason; --force overrides what it may. Also
# the documented JSON keys of status/list.
# disks: 3
# disk-size: 192M
# timeout: 300
# cpus: 1
. "$(dirname "$0")/../lib.sh"

read -r -a D <<<"$COWBACKUP_DISKS"
MNT=/tmp/cb-ref
trap 'kill $HOLDER 2>/dev/null; "$CTL" recover >/dev/null 2>&1; umount $MNT $MNT-2 2>/dev/null; cleanup_dm' EXIT

# expect DESC RC PATTERN CMD...: CMD exits RC and prints exactly one line
# on stderr, containing PATTERN.
expect() {
	local desc=$1 want=$2 pat=$3 rc lines
	shift 3
	"$@" >/tmp/cb-r.out 2>/tmp/cb-r.err
	rc=$?
	lines=$(wc -l </tmp/cb-r.err)
	if [ "$rc" -eq "$want" ] && [ "$lines" -eq 1 ] &&
		grep -qF -- "$pat" /tmp/cb-r.err; then
		ok "$desc"
	else
		not_ok "$desc" "command: $*" "exit $rc (wanted $want), $lines stderr line(s):" \
			"$(cat /tmp/cb-r.err)"
	fi
}
usage() { expect "usage: $1" 2 "$2" "${@:3}"; }
refuse() { expect "refused: $1" 1 "$2" "${@:3}"; }
nothing_left() {
	check_eq "$1: nothing was set up" "" \
		"$(dmsetup ls | awk '$1 ~ /^cowbackup-|-snap$/ { print $1 }' | tr '\n' ' ')"
}

pvcreate -q "${D[0]}" "${D[1]}" >/dev/null && vgcreate -q vg0 "${D[0]}" "${D[1]}" >/dev/null ||
	bail "cannot create VG"
for lv in data:32 bak:40 bak2:40 small:16 mnt:40 inuse:40 excl:40 fs:40 origin:16; do
	lvcreate -q -y -L "${lv#*:}M" -n "${lv%:*}" vg0 >/dev/null || bail "lvcreate ${lv%:*}"
done
fill_pattern /dev/vg0/data 3
# Partitions on the third disk: 1 = a PV, 2 = a plain source.
printf ',40M\n,40M\n' | sfdisk -q "${D[2]}" >/dev/null 2>&1 || bail "sfdisk failed"
P1=${D[2]}1 P2=${D[2]}2
for i in $(seq 50); do [ -b "$P2" ] && break; sleep 0.1; done

# ---- bad command lines: exit 2 and a hint -------------------------------
usage "no command" "no command given" "$CTL"
usage "unknown command" "unknown command 'frobnicate'" "$CTL" frobnicate
usage "unknown global option" "unknown global option '--bogus' (try 'cowbackup-ctl --help')" "$CTL" --bogus
usage "start without TARGET" "need SOURCE and TARGET" "$CTL" start vg0/data
usage "--sync bogus" "--sync: 'bogus' is not full, top or none" "$CTL" start --sync bogus vg0/data vg0/bak
usage "--cluster-size not a power of two" "--cluster-size: '3K'" "$CTL" start -c 3K vg0/data vg0/bak
usage "--cluster-size too big" "--cluster-size: '16M'" "$CTL" start -c 16M vg0/data vg0/bak
usage "--speed garbage" "--speed: 'fast'" "$CTL" start --speed fast vg0/data vg0/bak
usage "--max-workers 0" "--max-workers: '0'" "$CTL" start --max-workers 0 vg0/data vg0/bak
usage "--on-source-error bad" "--on-source-error: 'maybe'" "$CTL" start --on-source-error maybe vg0/data vg0/bak
usage "--cow-error bad" "--cow-error: 'never'" "$CTL" start --cow-error never vg0/data vg0/bak
usage "unknown start option" "start: invalid option or missing argument: '--bogus'" "$CTL" start --bogus vg0/data vg0/bak
usage "--top-map without --sync top" "--top-map needs --sync top" "$CTL" start --top-map /x.qcow2 vg0/data vg0/bak
usage "backup --sync none" "--sync none never completes" "$CTL" backup --sync none vg0/data vg0/bak
usage "set-speed garbage" "'slow' is not a rate" "$CTL" set-speed vg0-data slow
usage "status with two jobs" "too many arguments" "$CTL" status a b
usage "wait without JOB" "need JOB" "$CTL" wait
usage "recover with an argument" "takes no arguments" "$CTL" recover now
check "every usage error names the --help to try" grep -q "(try 'cowbackup-ctl recover --help')" /tmp/cb-r.err
check "--help exits 0" "$CTL" start --help
nothing_left "bad command lines"

# ---- unsafe targets: exit 1, one line, device and reason -----------------
refuse "target is the source" "/dev/mapper/vg0-data: refusing target: it is the source device" \
	"$CTL" start vg0/data vg0/data
refuse "target is the source, even with --force" "it is the source device" \
	"$CTL" start --force vg0/data /dev/vg0/data

mkfs.ext4 -q /dev/vg0/mnt && mkdir -p $MNT && mount /dev/vg0/mnt $MNT || bail "mount failed"
refuse "mounted target" "/dev/mapper/vg0-mnt: refusing target: it is mounted on $MNT" \
	"$CTL" start vg0/data vg0/mnt

dmsetup create holder --table "0 $(sectors /dev/vg0/inuse) linear /dev/vg0/inuse 0" ||
	bail "cannot create holder"
refuse "target held by a dm device" "/dev/mapper/vg0-inuse: refusing target: it is in use by holder" \
	"$CTL" start vg0/data vg0/inuse

python3 -c 'import os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_EXCL)
print("held", flush=True)
time.sleep(600)' /dev/vg0/excl >/tmp/cb-held &
HOLDER=$!
for i in $(seq 100); do grep -q held /tmp/cb-held && break; sleep 0.1; done
refuse "target opened exclusively elsewhere" \
	"/dev/mapper/vg0-excl: refusing target: it is in use (cannot open it exclusively)" \
	"$CTL" start vg0/data vg0/excl
kill $HOLDER

refuse "target smaller than the source" \
	"/dev/mapper/vg0-small: refusing target: it is smaller than the source (16 MiB (16777216 bytes) < 32 MiB (33554432 bytes))" \
	"$CTL" start vg0/data vg0/small

# A dm device over the very extents of vg0/data on the first disk.
read -r _ _ _ pv off <<<"$(dmsetup table vg0-data)"
dmsetup create ovl --table "0 81920 linear $pv $off" || bail "cannot create ovl"
refuse "target overlapping the source through dm tables" \
	"/dev/mapper/ovl: refusing target: it overlaps the source on ${D[0]}" \
	"$CTL" start vg0/data ovl
# ovl runs 8 MiB into the next LV: while it lives, that LV is refused too.
dmsetup remove ovl
refuse "whole disk overlapping a partition source" \
	"${D[2]}: refusing target: it overlaps the source on ${D[2]}" \
	"$CTL" start "$P2" "${D[2]}"

mkfs.ext4 -q /dev/vg0/fs
refuse "target with a filesystem" \
	"/dev/mapper/vg0-fs: refusing target: it carries a ext4 filesystem signature" \
	"$CTL" start vg0/data vg0/fs
pvcreate -q "$P1" >/dev/null 2>&1 || diag "pvcreate $P1 failed"
refuse "target with an LVM signature" \
	"$P1: refusing target: it carries an LVM physical volume signature" \
	"$CTL" start vg0/data "$P1"
refuse "target with a partition table" \
	"${D[2]}: refusing target: it carries a dos partition table" \
	"$CTL" start vg0/data "${D[2]}"
refuse "nonexistent target" "vg0/nope: no such active logical volume" \
	"$CTL" start vg0/data vg0/nope
nothing_left "refused targets"

# ---- unsuitable sources --------------------------------------------------
lvcreate -q -y -s -L 8M -n sn1 vg0/origin >/dev/null || bail "cannot create a snapshot"
refuse "source whose table cannot be doubled" \
	"vg0-origin: its table uses the 'snapshot-origin' target" \
	"$CTL" start vg0/origin vg0/bak
mkfs.ext4 -q "$P2" && mkdir -p $MNT-2 && mount "$P2" $MNT-2 || bail "cannot mount $P2"
refuse "plain source in use" "$P2: in use (mounted or held)" \
	"$CTL" start "$P2" vg0/bak
umount $MNT-2
refuse "nonexistent source" "nosuchdev: no such dm device or block device" \
	"$CTL" start nosuchdev vg0/bak
nothing_left "refused sources"

# ---- --force overrides a signature --------------------------------------
expect "--force starts despite a filesystem signature (one warning line)" 0 \
	"warning: /dev/mapper/vg0-fs: it carries a ext4 filesystem signature (continuing: --force)" \
	"$CTL" start --force --paused --snapshot vg0/data vg0/fs

# ---- job state refusals --------------------------------------------------
refuse "source already in a job" "vg0-data: already in a cowbackup job" \
	"$CTL" start vg0/data vg0/bak
refuse "finish of a paused job without --force" \
	"vg0-data: the job is still paused (0.0%); cancel it first or use 'finish --force'" \
	"$CTL" finish vg0-data
refuse "status of a device that is no job" "vg0/bak: not a cowbackup job" \
	"$CTL" status vg0/bak
refuse "status of nothing" "vg0/none: no such active logical volume" \
	"$CTL" status vg0/none

# ---- JSON keys -------------------------------------------------------------
KEYS="name state sync cluster_size settled_clusters total_clusters settled_bytes total_bytes cow_copies background_copies zero_clusters errors speed source target view percent"
"$CTL" status --json vg0/data >/tmp/cb-status.json
check "status --json holds every documented key with its type" \
	python3 - /tmp/cb-status.json "$KEYS" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
ints = {"cluster_size", "settled_clusters", "total_clusters", "settled_bytes",
        "total_bytes", "cow_copies", "background_copies", "zero_clusters",
        "errors", "speed", "percent"}
for k in sys.argv[2].split():
    assert k in j, k
    assert isinstance(j[k], int if k in ints else str), (k, j[k])
assert j["name"] == "vg0-data" and j["state"] == "paused" and j["sync"] == "full"
assert j["cluster_size"] == 65536 and j["total_clusters"] == 512
assert j["total_bytes"] == 32 << 20 and j["percent"] == 0
assert j["source"] == "/dev/mapper/vg0-data" and j["target"] == "/dev/mapper/vg0-fs"
assert j["view"] == "/dev/mapper/vg0-data-snap"
PY
"$CTL" list --json >/tmp/cb-list.json
check "list --json is {\"jobs\": [one job with the same keys]}" \
	python3 - /tmp/cb-list.json "$KEYS" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
assert list(j) == ["jobs"] and len(j["jobs"]) == 1
for k in sys.argv[2].split():
    assert k in j["jobs"][0], k
PY
check "finish --force ends it" "$CTL" finish --force vg0-data
"$CTL" list --json >/tmp/cb-list.json
check_eq "list --json without jobs" '{"jobs":[]}' "$(tr -d ' \n' </tmp/cb-list.json)"
"$CTL" start --paused vg0/data vg0/bak >/dev/null
"$CTL" status --json vg0-data >/tmp/cb-status.json
check "view is null without --snapshot" \
	python3 -c 'import json,sys; assert json.load(open(sys.argv[1]))["view"] is None' /tmp/cb-status.json
"$CTL" cancel vg0-data >/dev/null
refuse "pause of a cancelled job" "vg0-data: cannot pause: the job is already cancelled" \
	"$CTL" pause vg0-data
check "finish of a cancelled job" "$CTL" finish vg0-data
nothing_left "the end"
done_testing
