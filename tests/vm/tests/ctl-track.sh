#!/bin/bash
# cowbackup-ctl track enable|disable|status|resume on a mounted ext4 LV
# (two segments) under a writer, never unmounted while tracked: the
# metadata device refusals (too small, the volume itself, mounted, an ext4
# signature without --force, held by another tracker, no history for
# resume) and the volume refusals (not dm, tracked twice, enable and
# disable during a job), each one line with exit 1; --force over a
# signature; status (text and --json) with dirty
# clusters; list and the safety checks never take tracker devices for
# jobs or targets; a backup of a tracked LV is exact and keeps it
# tracked; disable restores the exact original table and a re-enable on
# the same metadata says bypassed; a simulated reboot (the stack removed
# top-down, the LV activated again, `track resume --all`) keeps the
# history, epoch and validity, and a write before the re-arm makes the
# map invalid (bypassed) and says so; COWBACKUP_CTL_KILL_AT at every step
# of enable and disable, then `recover`: tracked or untracked cleanly;
# lvextend of a tracked LV detaches the tracker (status says so) and a
# new enable replaces it; e2fsck clean at the end.
# disks: 2
# disk-size: 192M
# timeout: 600
# cpus: 1
. "$(dirname "$0")/../lib.sh"

MNT=/tmp/cb-track
M2=/tmp/cb-m2
BAKMNT=/tmp/cb-bak
export COWBACKUP_CONF_DIR=/tmp/cb-conf
CONF=$COWBACKUP_CONF_DIR/tracked
read -r -a D <<<"$COWBACKUP_DISKS"

cleanup() {
	[ -n "${WRITER_PID:-}" ] && kill -CONT -- -"$WRITER_PID" 2>/dev/null
	[ -n "${WRITER_PID:-}" ] && kill -- -"$WRITER_PID" 2>/dev/null
	umount "$BAKMNT" "$M2" "$MNT" 2>/dev/null
	"$CTL" recover >/dev/null 2>&1
	dmsetup remove tiny 2>/dev/null
	vgchange -an vg0 >/dev/null 2>&1
}
trap cleanup EXIT

pvcreate -q "${D[0]}" "${D[1]}" >/dev/null && vgcreate -q vg0 "${D[0]}" "${D[1]}" >/dev/null ||
	bail "cannot create VG vg0"
# Two segments on two disks: the tracked table has two linear lines.
lvcreate -q -y -L 64M -n data vg0 "${D[0]}" >/dev/null &&
	lvextend -q -L +32M vg0/data "${D[1]}" >/dev/null &&
	lvcreate -q -y -L 96M -n bak vg0 >/dev/null &&
	lvcreate -q -y -L 4M -n meta vg0 >/dev/null &&
	lvcreate -q -y -L 4M -n meta2 vg0 >/dev/null &&
	lvcreate -q -y -L 4M -n fsmeta vg0 >/dev/null &&
	lvcreate -q -y -L 8M -n other vg0 >/dev/null || bail "cannot create LVs"
dd if=/dev/zero of=/dev/vg0/meta bs=1M count=4 oflag=direct status=none
dd if=/dev/zero of=/dev/vg0/meta2 bs=1M count=4 oflag=direct status=none
mkfs.ext4 -q -E lazy_itable_init=0,lazy_journal_init=0 /dev/vg0/data ||
	bail "mkfs failed"
mkfs.ext4 -q /dev/vg0/fsmeta || bail "mkfs of fsmeta failed"
mkdir -p "$MNT" "$M2" "$BAKMNT"
mount /dev/vg0/data "$MNT" || bail "mount failed"
mkdir -p "$MNT/data" "$MNT/live"
for i in $(seq 0 9); do
	head -c $(((i % 3 + 1) << 20)) /dev/urandom >"$MNT/data/f$i"
done
head -c 3M /dev/urandom >"$MNT/static.bin"
STATIC=$(sha256sum <"$MNT/static.bin")
sync
ORIG=$(dmsetup table vg0-data)
check_eq "the LV has two linear segments" 2 "$(echo "$ORIG" | grep -c linear)"
start_live_writer "$MNT" 10 4

leftovers() {
	dmsetup ls | awk '$1 ~ /^cowbackup-/ { print $1 }' | sort | tr '\n' ' '
}

# expect_err DESC EXIT LINE CMD...: CMD exits EXIT with exactly LINE on
# stderr (one line) and nothing changes.
expect_err() {
	local desc=$1 want_rc=$2 want=$3 rc
	shift 3
	"$@" >/tmp/cb-out 2>/tmp/cb-err
	rc=$?
	check_eq "$desc: exit $want_rc" "$want_rc" "$rc"
	check_eq "$desc: one error line" "$want" "$(cat /tmp/cb-err)"
}

# tracker_field EXPR: a python expression over the status --json object j.
tj() {
	"$CTL" track status vg0/data --json 2>/dev/null |
		python3 -c "import json, sys; j = json.load(sys.stdin); print($1)"
}

# ---- refusals before anything is tracked --------------------------------
expect_err "non-dm volume" 1 \
	"cowbackup-ctl: ${D[1]}: not a device-mapper device; only dm volumes (LVM LVs) can be tracked" \
	"$CTL" track enable "${D[1]}" --meta /dev/vg0/meta
expect_err "metadata device is the volume" 1 \
	"cowbackup-ctl: /dev/vg0/data: is vg0/data itself; the metadata needs a device of its own" \
	"$CTL" track enable vg0/data --meta /dev/vg0/data
dmsetup create tiny --table "0 16 linear /dev/vg0/other 0" || bail "cannot create tiny"
expect_err "metadata device too small" 1 \
	"cowbackup-ctl: /dev/mapper/tiny: too small for tracking vg0/data in clusters of 64 KiB: needs 24 sectors (12 KiB), has 16 (8 KiB)" \
	"$CTL" track enable vg0/data --meta /dev/mapper/tiny
expect_err "metadata device under the volume" 1 \
	"cowbackup-ctl: ${D[0]}: vg0/data is built on it; the metadata needs a device of its own" \
	"$CTL" track enable vg0/data --meta "${D[0]}"
dmsetup remove tiny
mount /dev/vg0/fsmeta "$M2" || bail "cannot mount fsmeta"
expect_err "metadata device mounted" 1 \
	"cowbackup-ctl: /dev/vg0/fsmeta: is mounted on $M2" \
	"$CTL" track enable vg0/data --meta /dev/vg0/fsmeta
umount "$M2"
expect_err "metadata device with an ext4 signature" 1 \
	"cowbackup-ctl: /dev/vg0/fsmeta: refusing metadata device: it carries a ext4 filesystem signature (override with --force)" \
	"$CTL" track enable vg0/data --meta /dev/vg0/fsmeta
expect_err "resume without a history" 1 \
	"cowbackup-ctl: vg0/data: no tracking history on /dev/vg0/meta; use 'track enable'" \
	"$CTL" track resume vg0/data --meta /dev/vg0/meta
"$CTL" track enable vg0/data >/dev/null 2>&1
check_eq "enable without --meta is a usage error" 2 $?
"$CTL" track frob vg0/data >/dev/null 2>&1
check_eq "an unknown subcommand is a usage error" 2 $?
check_eq "refusals changed nothing: the original table" "$ORIG" "$(dmsetup table vg0-data)"
check_eq "refusals left no devices" "" "$(leftovers)"
check "no list of tracked volumes written yet" test ! -e "$CONF"

# ---- enable under the writer ----------------------------------------------
C0=$(cat "$MNT/live/counter" 2>/dev/null || echo 0)
check "track enable" bash -c "'$CTL' track enable vg0/data --meta /dev/vg0/meta >/tmp/cb-en 2>&1"
diag "$(cat /tmp/cb-en)"
check "the success line" grep -Eq \
	"^vg0/data: tracking changes in clusters of 64 KiB on /dev/vg0/meta \(history [0-9a-f-]{36}, epoch 1, map invalid: new\)$" /tmp/cb-en
TRACKED=$(dmsetup table vg0-data)
check_eq "the LV routes through the tracker, one linear line per segment" 2 \
	"$(echo "$TRACKED" | grep -c "linear $(dmsetup info -c --noheadings -o major,minor --separator : cowbackup-vg0-data-track) ")"
check_eq "the tracker's table (the kernel names the default cluster size)" \
	"0 $(sectors /dev/vg0/data) cowbackup-track $(dmsetup info -c --noheadings -o major,minor --separator : cowbackup-vg0-data-trackorig) $(dmsetup info -c --noheadings -o major,minor --separator : vg0-meta) 2 cluster_size 128" \
	"$(dmsetup table cowbackup-vg0-data-track)"
check_eq "the original table moved to the hidden device" "$ORIG" \
	"$(dmsetup table cowbackup-vg0-data-trackorig)"
check_eq "the list of tracked volumes" "vg0/data /dev/vg0/meta 128" "$(grep -v '^#' "$CONF")"
check "the filesystem stayed mounted" mountpoint -q "$MNT"
sleep 2
check "the filesystem takes writes" test "$(cat "$MNT/live/counter")" -gt "$C0"
expect_err "enable twice" 1 \
	"cowbackup-ctl: vg0/data: already tracked on /dev/mapper/vg0-meta (see 'cowbackup-ctl track status vg0/data')" \
	"$CTL" track enable vg0/data --meta /dev/vg0/meta2
expect_err "metadata device held by another tracker" 1 \
	"cowbackup-ctl: /dev/vg0/meta: is in use by cowbackup-vg0-data-track" \
	"$CTL" track enable vg0/other --meta /dev/vg0/meta

"$CTL" track enable vg0/other --meta /dev/vg0/fsmeta --force >/tmp/cb-out 2>/tmp/cb-err
check_eq "--force: enable over an ext4 signature" 0 $?
check_eq "  ... with a warning line" \
	"cowbackup-ctl: warning: /dev/vg0/fsmeta: it carries a ext4 filesystem signature (overwritten: --force)" \
	"$(cat /tmp/cb-err)"
check "  ... and a fresh history" grep -q "map invalid: new)$" /tmp/cb-out
check "  ... the signature is gone" bash -c "! blkid -p /dev/vg0/fsmeta >/dev/null 2>&1"
check "disable vg0/other" "$CTL" track disable vg0/other
check_eq "the list holds vg0/data only" "vg0/data /dev/vg0/meta 128" "$(grep -v '^#' "$CONF")"

# ---- status ---------------------------------------------------------------
"$CTL" track status vg0/data >/tmp/cb-st 2>&1
check_eq "status exits 0" 0 $?
diag "$(cat /tmp/cb-st)"
check "status: attached" grep -Eq "^  attached: +yes$" /tmp/cb-st
check "status: current map invalid (new)" grep -Eq "^  current map: +epoch 1, invalid \(new\)" /tmp/cb-st
check_eq "status --json: attached, volume, metadata, cluster size" \
	"True vg0/data vg0-data /dev/mapper/vg0-meta 65536 cowbackup-vg0-data-track" \
	"$(tj 'j["attached"], j["volume"], j["dm_name"], j["metadata"], j["cluster_size"], j["device"]')"
check_eq "status --json: epoch 1, current map invalid: new" "1 False new" \
	"$(tj 'j["epoch"], j["current"]["valid"], j["current"]["reason"]')"
check "status --json: the writer dirtied clusters (dirty_current > 0)" \
	test "$(tj 'j["current"]["dirty_clusters"]')" -gt 0
check_eq "status --json: dirty_bytes = clusters x 64 KiB" True \
	"$(tj 'j["current"]["dirty_bytes"] == j["current"]["dirty_clusters"] * 65536')"
check_eq "status --json without VOL lists the tracker" "1 vg0/data" \
	"$("$CTL" track status --json | python3 -c 'import json,sys; t=json.load(sys.stdin)["trackers"]; print(len(t), t[0]["volume"])')"
check_eq "list shows no jobs" "[]" \
	"$("$CTL" list --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["jobs"])')"
check "recover finds nothing to do" bash -c "'$CTL' recover | grep -q 'nothing to do'"
check_eq "recover left the tracker alone" "$TRACKED" "$(dmsetup table vg0-data)"

# ---- safety: tracker devices and the metadata device are no targets ------
"$CTL" start vg0/other /dev/mapper/cowbackup-vg0-data-track >/dev/null 2>/tmp/cb-err
check_eq "the tracker device as a backup target: refused" 1 $?
check "  ... because it is a cowbackup-ctl device" grep -q "cowbackup-ctl device" /tmp/cb-err
"$CTL" start vg0/other /dev/mapper/cowbackup-vg0-data-trackorig >/dev/null 2>/tmp/cb-err
check_eq "the tracker's original-table device as a backup target: refused" 1 $?
"$CTL" start vg0/other /dev/vg0/meta --force >/dev/null 2>/tmp/cb-err
check_eq "the metadata device as a backup target: refused even with --force" 1 $?
diag "$(cat /tmp/cb-err)"
check "  ... because the tracker holds it" grep -q "cowbackup-vg0-data-track" /tmp/cb-err
check_eq "refused starts left only the tracker" \
	"cowbackup-vg0-data-track cowbackup-vg0-data-trackorig " "$(leftovers)"

# ---- a job on the tracked LV ---------------------------------------------
check "a job starts on the tracked LV" "$CTL" start vg0/data vg0/bak --sync none
expect_err "disable while a job runs" 1 \
	"cowbackup-ctl: vg0/data: in a cowbackup job (see 'cowbackup-ctl status vg0-data'); finish it before disabling tracking" \
	"$CTL" track disable vg0/data
check_eq "the tracker stays attached through the job" True "$(tj 'j["attached"]')"
expect_err "enable during a job" 1 \
	"cowbackup-ctl: vg0/data: in a cowbackup job (see 'cowbackup-ctl status vg0-data'); finish it first" \
	"$CTL" track enable vg0/data --meta /dev/vg0/meta2
check "the job finishes" "$CTL" finish --force vg0-data
check_eq "after the job: the LV routes through the tracker again" "$TRACKED" \
	"$(dmsetup table vg0-data)"

pit_checksums "$MNT" /tmp/cb-pit.sha256 || bail "cannot checksum the point in time"
D0=$(tj 'j["current"]["dirty_clusters"]')
"$CTL" backup vg0/data vg0/bak --force --speed 32M --interval 5 >/tmp/cb-bk 2>&1 &
BPID=$!
deadline=$(($(date +%s) + $(scaled 30)))
until "$CTL" status vg0-data --json 2>/dev/null | grep -q '"detached": false'; do
	[ "$(date +%s)" -ge "$deadline" ] || ! kill -0 $BPID 2>/dev/null && break
	sleep 0.05
done
kill -CONT -- -"$WRITER_PID"
wait $BPID
check_eq "backup of the tracked LV exits 0" 0 $?
diag "$(tr '\r' '\n' </tmp/cb-bk | grep -v '^$' | tail -n 2)"
check_eq "after the backup: the LV routes through the tracker" "$TRACKED" "$(dmsetup table vg0-data)"
# A backup of a tracked LV may checkpoint the tracker (incrementals):
# the clusters dirty before it are then in the frozen map.
check "the tracker kept the writes through the backup (frozen + current >= before)" \
	test "$(tj 'j["current"]["dirty_clusters"] + j["frozen"]["dirty_clusters"]')" -ge "$D0"
check "fsck -n of the backup is clean" fsck.ext4 -fn /dev/vg0/bak
if mount -o ro,noload /dev/vg0/bak "$BAKMNT"; then
	check "the backup equals the point in time" \
		bash -c "cd $BAKMNT/data && sha256sum --quiet -c /tmp/cb-pit.sha256"
	umount "$BAKMNT"
else
	not_ok "the backup mounts"
fi

# ---- disable, re-enable on the same metadata -----------------------------
check "track disable under the writer" bash -c "'$CTL' track disable vg0/data >/tmp/cb-dis 2>&1"
diag "$(cat /tmp/cb-dis)"
check_eq "disable restored the exact original table" "$ORIG" "$(dmsetup table vg0-data)"
check_eq "disable left no devices" "" "$(leftovers)"
check_eq "disable removed the volume from the list" "" "$(grep -v '^#' "$CONF")"
expect_err "disable of an untracked volume" 1 "cowbackup-ctl: vg0/data: not tracked" \
	"$CTL" track disable vg0/data
check "re-enable on the same metadata" bash -c "'$CTL' track enable vg0/data --meta /dev/vg0/meta >/tmp/cb-en 2>&1"
diag "$(cat /tmp/cb-en)"
check "  ... says the map is invalid: bypassed" grep -q "map invalid: bypassed)$" /tmp/cb-en
check_eq "status --json: current map invalid, bypassed" "False bypassed" \
	"$(tj 'j["current"]["valid"], j["current"]["reason"]')"

# ---- a simulated reboot -------------------------------------------------
# A checkpoint (as a backup would take it) makes the current map valid.
checkpoint_lv() {
	dmsetup suspend vg0-data && dmsetup suspend cowbackup-vg0-data-track &&
		dmsetup message cowbackup-vg0-data-track 0 checkpoint
	dmsetup resume cowbackup-vg0-data-track
	dmsetup resume vg0-data
}
# shutdown: what systemd-shutdown does to the stack, top-down
shutdown_lv() {
	umount "$MNT" &&
		dmsetup remove vg0-data && dmsetup remove cowbackup-vg0-data-track &&
		dmsetup remove cowbackup-vg0-data-trackorig
}
check "checkpoint" checkpoint_lv
check_eq "after the checkpoint: the current map is valid" "True" "$(tj 'j["current"]["valid"]')"
sleep 2
kill -STOP -- -"$WRITER_PID"
sleep 0.5
sync
kill -- -"$WRITER_PID"
kill -CONT -- -"$WRITER_PID" 2>/dev/null
WRITER_PID=
sleep 0.5
UE=$(tj 'j["history"], j["epoch"], j["current"]["valid"]')
check "shutdown: unmount, remove the stack top-down" shutdown_lv
check "boot: the LV is activated again" lvchange -ay vg0/data
check "boot: track resume --all" bash -c "'$CTL' track resume --all >/tmp/cb-res 2>&1"
diag "$(cat /tmp/cb-res)"
check "  ... says the map is valid" grep -q "^vg0/data: tracking changes .* map valid)$" /tmp/cb-res
check "  ... and nothing about writes" bash -c "! grep -q written /tmp/cb-res"
check_eq "the same history and epoch as before the reboot, map valid" "$UE" \
	"$(tj 'j["history"], j["epoch"], j["current"]["valid"]')"
check "  ... and the success line names them" grep -q \
	"$(echo "$UE" | awk '{print "history " $1 ", epoch " $2}')" /tmp/cb-res
check_eq "the tracked table is back" "$TRACKED" "$(dmsetup table vg0-data)"
check "the list still holds the volume" grep -q "^vg0/data /dev/vg0/meta 128$" "$CONF"
expect_err "resume --all again: already tracked, exit 0" 0 "" "$CTL" track resume --all
check "reboot 1b: shutdown, activate" bash -c "dmsetup remove vg0-data cowbackup-vg0-data-track cowbackup-vg0-data-trackorig && lvchange -ay vg0/data"
check "reboot 1b: track resume VOL --meta METADEV" \
	bash -c "'$CTL' track resume vg0/data --meta /dev/vg0/meta >/tmp/cb-res 2>&1"
diag "$(cat /tmp/cb-res)"
check_eq "  ... same history and epoch, map valid" "$UE" \
	"$(tj 'j["history"], j["epoch"], j["current"]["valid"]')"
check "  ... and nothing about writes" bash -c "! grep -q written /tmp/cb-res"

# A reboot with a write before the re-arm: the history must say bypassed.
check "reboot 2: shutdown" bash -c "mount /dev/vg0/data $MNT && umount $MNT && dmsetup remove vg0-data cowbackup-vg0-data-track cowbackup-vg0-data-trackorig"
check "reboot 2: activate" lvchange -ay vg0/data
check "reboot 2: mount, write, unmount before the re-arm" \
	bash -c "mount /dev/vg0/data $MNT && echo early >$MNT/early && umount $MNT"
echo "vg0/gone /dev/vg0/meta2 128" >>"$CONF"
"$CTL" track resume --all >/tmp/cb-res 2>/tmp/cb-reserr
check_eq "resume --all with a missing volume exits 1" 1 $?
diag "$(cat /tmp/cb-res /tmp/cb-reserr)"
check_eq "  ... one line for the missing volume" \
	"cowbackup-ctl: vg0/gone: not active (no such device); not re-armed, skipped" \
	"$(cat /tmp/cb-reserr)"
check "  ... the written volume is re-armed and said so" grep -qx \
	"vg0/data: written before tracking was re-armed; the next backup will be a full one" /tmp/cb-res
check_eq "  ... its current map is invalid: bypassed" "False bypassed" \
	"$(tj 'j["current"]["valid"], j["current"]["reason"]')"
sed -i '/^vg0\/gone /d' "$CONF"
mount /dev/vg0/data "$MNT" || bail "cannot mount again"
check_eq "static data intact after the reboots" "$STATIC" "$(sha256sum <"$MNT/static.bin")"

# Reboot 3: 'lvchange --refresh' puts LVM's own table back, so the tracker
# no longer sees the LV's writes, but the clean shutdown that follows
# would save its map as valid. The boot unit's stop command must mark the
# history bypassed first.
UNIT=$REPO/systemd/cowbackup-track.service
STOP_CMD=$(sed -n 's|^ExecStop=/usr/sbin/cowbackup-ctl|'"$CTL"'|p' "$UNIT")
check "the boot unit has a stop command" test -n "$STOP_CMD"
check "checkpoint: a valid map again" checkpoint_lv
check_eq "  ... valid" True "$(tj 'j["current"]["valid"]')"
check "lvchange --refresh of the tracked, mounted LV" lvchange --refresh vg0/data
check "a write the tracker cannot see" bash -c "echo unseen >$MNT/unseen && sync"
check "shutdown: the unit's stop command, after the unmount" \
	bash -c "umount $MNT && ${STOP_CMD:-false} >/tmp/cb-stop 2>&1"
diag "$(cat /tmp/cb-stop)"
check "  ... it marked the history bypassed" grep -q "^recover: vg0-data: .*history marked bypassed" /tmp/cb-stop
check "shutdown: remove what is left of the stack" bash -c "dmsetup remove vg0-data && { ! dmsetup info cowbackup-vg0-data-track >/dev/null 2>&1 || dmsetup remove cowbackup-vg0-data-track cowbackup-vg0-data-trackorig; } && lvchange -ay vg0/data"
check "boot: track resume --all" bash -c "'$CTL' track resume --all >/tmp/cb-res 2>&1"
diag "$(cat /tmp/cb-res)"
check_eq "  ... the map is invalid: bypassed" "False bypassed" \
	"$(tj 'j["current"]["valid"], j["current"]["reason"]')"
mount /dev/vg0/data "$MNT" || bail "cannot mount again"
check_eq "  ... the unseen write is there" unseen "$(cat "$MNT/unseen")"
start_live_writer "$MNT" 10 4

# ---- kill points ----------------------------------------------------------
killed() {
	local step=$1
	shift
	COWBACKUP_CTL_KILL_AT=$step "$@" >/tmp/cb-out 2>&1
	check_eq "$step: the tool died by SIGKILL right after the step" 137 $?
}
recovered() {
	local step=$1
	"$CTL" recover >/tmp/cb-rec 2>&1
	check_eq "$step: recover exits 0" 0 $?
	diag "$(cat /tmp/cb-rec)"
	check "$step: the LV is active, not suspended" \
		bash -c "dmsetup info vg0-data | grep -Eq '^State: +ACTIVE'"
	check "$step: the filesystem is mounted and takes writes" \
		bash -c "echo $step >$MNT/live/step && sync"
}
untracked() {
	check_eq "$1: untracked: the original table" "$ORIG" "$(dmsetup table vg0-data)"
	check_eq "$1: untracked: no devices left" "" "$(leftovers)"
}
tracked() {
	check_eq "$1: tracked: the LV routes through the tracker" "$TRACKED" "$(dmsetup table vg0-data)"
	check_eq "$1: tracked: status attached" True "$(tj 'j["attached"]')"
}
check "kill setup: disable" "$CTL" track disable vg0/data
for step in track-orig-created track-dev-created track-table-loaded \
	track-suspended track-resumed; do
	killed $step "$CTL" track enable vg0/data --meta /dev/vg0/meta
	case $step in
	track-resumed)
		recovered $step
		tracked $step
		check "$step: disable" "$CTL" track disable vg0/data
		;;
	*)
		"$CTL" list >/dev/null 2>/tmp/cb-hint
		check "$step: list points at recover" grep -q "run 'cowbackup-ctl recover'" /tmp/cb-hint
		recovered $step
		check "$step: recover said what it did" grep -q "^recover: vg0-data: " /tmp/cb-rec
		untracked $step
		;;
	esac
done
# bypass-linear: inside the bypass, the tracker's own table is linear for
# a moment; recover must load the tracking table back.
for step in bypass-linear untrack-bypassed untrack-table-loaded \
	untrack-suspended untrack-resumed untrack-dev-removed; do
	"$CTL" track enable vg0/data --meta /dev/vg0/meta >/dev/null 2>&1 ||
		not_ok "$step: enable"
	killed $step "$CTL" track disable vg0/data
	recovered $step
	case $step in
	bypass-linear | untrack-bypassed)
		if [ $step = bypass-linear ]; then
			check "$step: recover loaded the tracking table back" \
				grep -q "^recover: vg0-data: load the tracking table back into cowbackup-vg0-data-track" /tmp/cb-rec
		fi
		tracked $step
		check_eq "$step: the history says bypassed" bypassed "$(tj 'j["current"]["reason"]')"
		check "$step: disable" "$CTL" track disable vg0/data
		;;
	*)
		check "$step: recover said what it did" grep -q "^recover: vg0-data: " /tmp/cb-rec
		untracked $step
		;;
	esac
done

# ---- lvextend of a tracked LV --------------------------------------------
check "enable before lvextend" "$CTL" track enable vg0/data --meta /dev/vg0/meta
lvextend -q -L +8M vg0/data >/tmp/cb-lvx 2>&1
check_eq "lvextend of the tracked LV works" 0 $?
diag "$(cat /tmp/cb-lvx)"
"$CTL" track status vg0/data >/tmp/cb-st 2>&1
check_eq "status of a detached tracker exits 1" 1 $?
check "status says detached" grep -qx \
	"vg0/data: detached: writes are not tracked; run 'track enable' again" /tmp/cb-st
check_eq "status --json: attached false" False "$(tj 'j["attached"]')"
check "the filesystem on the extended LV takes writes" bash -c "echo x >$MNT/live/x && sync"
EXT=$(dmsetup table vg0-data)
check "recover leaves a detached tracker for track enable" bash -c "'$CTL' recover | grep -q 'nothing to do'"
check "enable again replaces the detached tracker" bash -c "'$CTL' track enable vg0/data --meta /dev/vg0/meta >/tmp/cb-en 2>&1"
diag "$(cat /tmp/cb-en)"
check_eq "  ... attached again" True "$(tj 'j["attached"]')"
check_eq "  ... the map is invalid" False "$(tj 'j["current"]["valid"]')"
check "disable" "$CTL" track disable vg0/data
check_eq "disable restored the extended LV's table" "$EXT" "$(dmsetup table vg0-data)"
check_eq "no devices left" "" "$(leftovers)"

# ---- the end: the filesystem is clean ------------------------------------
kill -- -"$WRITER_PID"
WRITER_PID=
sleep 0.5
umount "$MNT" || not_ok "unmount"
check "e2fsck of the volume is clean" e2fsck -fn /dev/vg0/data
mount /dev/vg0/data "$MNT" && sync && echo 3 >/proc/sys/vm/drop_caches
check_eq "static data intact" "$STATIC" "$(sha256sum <"$MNT/static.bin")"
umount "$MNT"
done_testing
