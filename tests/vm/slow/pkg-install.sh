#!/bin/bash
# The Debian packages, installed the way a user would: `dpkg -i` of
# dm-cowbackup-dkms and cowbackup-ctl (built on the host by `make deb`,
# which `make check-pkg` runs first) in a writable copy of this guest's root,
# DKMS builds the module there against the installed 6.1 headers,
# `modprobe dm-cowbackup` loads the DKMS-built module, and the installed
# /usr/sbin/cowbackup-ctl backs up a mounted, busy LV; the backup's files
# equal their checksums at the point in time (as in ctl-live-lvm).
#
# The guest's root is the host's, read-only, so the test makes an
# overlayfs (tmpfs upper over /) and chroots into it with /proc, /sys,
# /dev, /run and /tmp bound; the repository is hidden under an empty
# tmpfs inside it, so nothing can come from the checkout. The module
# guest-init loaded from the checkout is unloaded first.
# DKMS compiles the module under TCG: minutes, hence the timeout. With
# the 2-core host at load 7-10, dpkg -i took 1067-1121 s of 1390-1465 s
# runs (23-25 min wall); dpkg --purge (dkms remove, depmod) about 200 s.
# disks: 1
# disk-size: 320M
# timeout: 900
# mem: 1536M
. "$(dirname "$0")/../lib.sh"

DEBDIR=$REPO/build/deb
R=/var/tmp/pkgroot/root
MNT=/tmp/cb-data
BAKMNT=/tmp/cb-bak
LOG=/tmp/cb-backup.log
D1=$(disk 1)

# in_root CMD...: run CMD in the installed system, with a plain PATH.
in_root() {
	chroot "$R" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
		HOME=/root LANG=C DM_DISABLE_UDEV=1 LVM_SYSTEM_DIR="$LVM_SYSTEM_DIR" \
		DEBIAN_FRONTEND=noninteractive "$@"
}
export -f in_root
export R

cleanup() {
	[ -n "${WRITER_PID:-}" ] && kill -CONT -- -"$WRITER_PID" 2>/dev/null
	[ -n "${WRITER_PID:-}" ] && kill -- -"$WRITER_PID" 2>/dev/null
	umount "$BAKMNT" "$MNT" 2>/dev/null
	[ -x "$R/usr/sbin/cowbackup-ctl" ] && in_root cowbackup-ctl recover >/dev/null 2>&1
	vgchange -an vg0 >/dev/null 2>&1
	umount -R "$R" 2>/dev/null
}
trap cleanup EXIT

shopt -s nullglob
ctl_deb=("$DEBDIR"/cowbackup-ctl_*.deb)
dkms_deb=("$DEBDIR"/dm-cowbackup-dkms_*.deb)
if [ ${#ctl_deb[@]} -ne 1 ] || [ ${#dkms_deb[@]} -ne 1 ]; then
	skip "install the .debs" "no build/deb/{cowbackup-ctl,dm-cowbackup-dkms}_*.deb (run 'make deb' on the host first)"
	done_testing
fi
diag "packages: $(basename "${dkms_deb[0]}") $(basename "${ctl_deb[0]}")"

# ------------------------------------------------------------- the root

KVER=$(uname -r)
check "the module from the checkout is unloaded" rmmod dm_cowbackup
check_eq "no dm-cowbackup module is loaded" "" "$(ls -d /sys/module/dm_cowbackup 2>/dev/null)"
check "the $KVER headers are there" test -d "/lib/modules/$KVER/build"

mkdir -p /var/tmp/pkgroot
mount -t tmpfs -o size=1G tmpfs /var/tmp/pkgroot || bail "tmpfs for the overlay"
mkdir -p /var/tmp/pkgroot/upper /var/tmp/pkgroot/work "$R"
check "overlayfs over the read-only root" mount -t overlay overlay \
	-o lowerdir=/,upperdir=/var/tmp/pkgroot/upper,workdir=/var/tmp/pkgroot/work "$R" ||
	bail "no writable root"
for m in proc sys dev run tmp; do
	mount --rbind "/$m" "$R/$m" || bail "bind /$m"
done
# The checkout must not be reachable from the installed system.
mount -t tmpfs -o size=1M,mode=0755 tmpfs "$R$REPO" || bail "hide $REPO"
mkdir -p "$R/root/debs"
cp "${dkms_deb[0]}" "${ctl_deb[0]}" "$R/root/debs/" || bail "copy the .debs"
check_eq "the checkout is hidden in the root" "" "$(ls -A "$R$REPO")"
check "the root is writable" touch "$R/var/lib/dpkg/cowbackup-test"
# man-db's trigger would index every man page of the host (minutes under
# TCG); it is off the way Debian documents (no /var/lib/man-db/auto-update).
rm -f "$R/var/lib/man-db/auto-update"

# -------------------------------------------------------------- install

T0=$(date +%s)
check "dpkg -i dm-cowbackup-dkms cowbackup-ctl" \
	in_root dpkg -i /root/debs/"$(basename "${dkms_deb[0]}")" /root/debs/"$(basename "${ctl_deb[0]}")"
T1=$(date +%s)
diag "dpkg -i (DKMS build and install included) took $((T1 - T0)) s; its output:"
# shellcheck disable=SC2154 # _t_tmp is lib.sh's
sed 's/^/#   /' "$_t_tmp/check.out" | tail -n 40
check_eq "both packages are installed" "install ok installed install ok installed" \
	"$(in_root dpkg-query -W -f='${Status} ' dm-cowbackup-dkms cowbackup-ctl | sed 's/ $//')"
check "dkms status: installed for $KVER" \
	bash -c "in_root dkms status dm-cowbackup | tee /dev/stderr | grep -q '$KVER.*: installed'"
MODPATH=$(in_root modinfo -n dm-cowbackup 2>&1)
diag "modinfo -n dm-cowbackup: $MODPATH"
check "modinfo finds the DKMS-built module under /lib/modules/*/updates/dkms" \
	bash -c "[[ '$MODPATH' == /lib/modules/$KVER/updates/dkms/dm-cowbackup.ko* ]] && test -f '$R$MODPATH'"
check "modprobe dm-cowbackup" in_root modprobe dm-cowbackup
check "the module is loaded" test -d /sys/module/dm_cowbackup
check "the targets are registered" \
	bash -c "dmsetup targets | grep -q '^cowbackup ' && dmsetup targets | grep -q '^cowbackup-snap '"
check_eq "the DKMS build is the only dm-cowbackup.ko of $KVER (so the one loaded)" \
	"$R$MODPATH" "$(find "$R/lib/modules/$KVER/" -name 'dm-cowbackup.ko*')"

check_eq "cowbackup-ctl resolves to the installed binary" "/usr/sbin/cowbackup-ctl" \
	"$(in_root sh -c 'command -v cowbackup-ctl')"
check "cowbackup-ctl --version runs" in_root cowbackup-ctl --version
for f in /usr/lib/udev/rules.d/60-cowbackup.rules /usr/share/man/man8/cowbackup-ctl.8.gz \
	/usr/share/man/man4/dm-cowbackup.4.gz /usr/share/bash-completion/completions/cowbackup-ctl; do
	check "installed: $f" test -s "$R$f"
done
check "man -l renders cowbackup-ctl(8) in the installed system" \
	bash -c "in_root man -l /usr/share/man/man8/cowbackup-ctl.8.gz | grep -q SYNOPSIS"
check_eq "bash completion completes commands" "start status" \
	"$(in_root bash -c '. /usr/share/bash-completion/bash_completion;
		. /usr/share/bash-completion/completions/cowbackup-ctl
		COMP_WORDS=(cowbackup-ctl st); COMP_CWORD=1; COMP_LINE="cowbackup-ctl st"; COMP_POINT=16
		_cowbackup_ctl; echo "${COMPREPLY[*]}"')"

# ---------------------------------------------------- live backup of an LV

pvcreate -q "$D1" >/dev/null && vgcreate -q vg0 "$D1" >/dev/null ||
	bail "cannot create VG vg0"
lvcreate -q -y -L 120M -n data vg0 >/dev/null &&
	lvcreate -q -y -L 124M -n bak vg0 >/dev/null || bail "cannot create LVs"
mkfs.ext4 -q -E lazy_itable_init=0,lazy_journal_init=0 /dev/vg0/data || bail "mkfs failed"
mkdir -p "$MNT" "$BAKMNT"
mount /dev/vg0/data "$MNT" || bail "mount failed"
mkdir -p "$MNT/data" "$MNT/live"
for i in $(seq 0 19); do
	head -c $(((i % 4 + 1) << 20)) /dev/urandom >"$MNT/data/f$i"
done
sync
ORIG_TABLE=$(dmsetup table vg0-data)

start_live_writer "$MNT" 20 8
sleep 2

# The point in time: writer stopped, filesystem frozen (flushed), every
# file checksummed, thawed; the backup's suspend comes next.
pit_checksums "$MNT" /tmp/cb-pit.sha256 || bail "cannot checksum the point in time"

T0=$(date +%s)
in_root cowbackup-ctl backup vg0/data vg0/bak --speed 16M --interval 2 >"$LOG" 2>&1 &
BPID=$!
deadline=$(($(date +%s) + $(scaled 30)))
until in_root cowbackup-ctl status vg0-data --json 2>/dev/null | grep -q '"detached": false'; do
	if [ "$(date +%s)" -ge "$deadline" ] || ! kill -0 $BPID 2>/dev/null; then
		break
	fi
	sleep 0.1
done
check "the installed tool put the job under the mounted LV" \
	bash -c "in_root cowbackup-ctl status vg0-data --json | grep -q '\"detached\": false'"
kill -CONT -- -"$WRITER_PID"
C0=$(cat "$MNT/live/counter" 2>/dev/null || echo 0)
wait $BPID
RC=$?
diag "backup took $(($(date +%s) - T0)) s"
tr '\r' '\n' <"$LOG" | grep -v '^$' | tail -n 4 | sed 's/^/# /'
check_eq "backup exits 0" 0 "$RC"
check "backup reports completion" grep -q "backup complete" "$LOG"
C1=$(cat "$MNT/live/counter")
check "the filesystem took writes during the backup ($C0 -> $C1)" test "$C1" -gt "$C0"
check_eq "the LV's table is the original again" "$ORIG_TABLE" "$(dmsetup table vg0-data)"
check_eq "no cowbackup devices are left" "" "$(dmsetup ls | grep cowbackup || true)"
kill -- -"$WRITER_PID"
WRITER_PID=

check "fsck -n of the backup is clean" fsck.ext4 -fn /dev/vg0/bak
check "the backup mounts read-only" mount -o ro,noload /dev/vg0/bak "$BAKMNT"
check "every file in the backup equals its point-in-time checksum" \
	bash -c "cd $BAKMNT/data && sha256sum --quiet -c /tmp/cb-pit.sha256"
check_eq "the backup holds exactly the files of the point in time" \
	"$(cut -d' ' -f3 /tmp/cb-pit.sha256 | sort | tr '\n' ' ')" \
	"$(cd "$BAKMNT/data" && ls | sort | tr '\n' ' ')"
check "the live files moved on (the backup is not a copy of now)" \
	bash -c "! (cd $MNT/data && sha256sum --quiet -c /tmp/cb-pit.sha256 >/dev/null 2>&1)"
umount "$BAKMNT"

# ---------------------------------------------------------------- remove

umount "$MNT"
vgchange -an vg0 >/dev/null 2>&1
check "rmmod of the DKMS module" in_root modprobe -r dm-cowbackup
check "dpkg --purge removes both packages and the DKMS module" \
	in_root dpkg --purge cowbackup-ctl dm-cowbackup-dkms
check_eq "the DKMS module is gone" "" "$(ls "$R/lib/modules/$KVER/updates/dkms/" 2>/dev/null)"
done_testing
