#!/bin/bash
# `cowbackup-ctl restore IMAGE DEVICE` on LVs: qcow2 chains of three layers
# (random data, zero writes, discards), compressed qcow2 (zlib, zstd), VMDK
# monolithicSparse and streamOptimized, raw, and the exports of a finished
# backup, each restored over junk and compared byte for byte with
# `qemu-img convert -O raw` of the same image; --verify passing, and
# failing (exit 1, first offset named) on a dm-flakey device that drops
# writes; --target-is-zero; the --json summary; the safety refusals
# (mounted, smaller, signature without/with --force, held, the device
# holding the image itself, a regular file) and the exit codes.
# disks: 2
# disk-size: 192M
# timeout: 900
# cpus: 1
# udev: no (its target checks are the backup targets' ones, which
# ctl-force-graded and ctl-refusals run under udev)
. "$(dirname "$0")/../lib.sh"

read -r -a D <<<"$COWBACKUP_DISKS"
X=/tmp/cbr
MNT=/tmp/cbr-mnt
trap 'umount $MNT 2>/dev/null; "$CTL" recover >/dev/null 2>&1; cleanup_dm; rm -rf $X' EXIT
mkdir -p $X $MNT

pvcreate -q "${D[0]}" "${D[1]}" >/dev/null && vgcreate -q vg0 "${D[0]}" "${D[1]}" >/dev/null ||
	bail "cannot create VG"
for lv in r1:20 data:16 bak:16 small:8 mnt:24 held:20; do
	lvcreate -q -y -L "${lv#*:}M" -n "${lv%:*}" vg0 >/dev/null || bail "lvcreate ${lv%:*}"
done
R=/dev/vg0/r1

# expect DESC RC PATTERN CMD...: CMD exits RC with exactly one stderr line
# containing PATTERN.
expect() {
	local desc=$1 want=$2 pat=$3 rc lines
	shift 3
	"$@" >$X/e.out 2>$X/e.err
	rc=$?
	lines=$(wc -l <$X/e.err)
	if [ "$rc" -eq "$want" ] && [ "$lines" -eq 1 ] &&
		grep -qF -- "$pat" $X/e.err; then
		ok "$desc"
	else
		not_ok "$desc" "command: $*" "exit $rc (wanted $want), $lines stderr line(s):" \
			"$(cat $X/e.err)"
	fi
}

# same_as_qemu IMAGE DEV: DEV starts with qemu-img's raw conversion of IMAGE.
same_as_qemu() {
	qemu-img convert -O raw "$1" $X/ref.raw || return 1
	cmp -n "$(stat -c %s $X/ref.raw)" $X/ref.raw \
		<(dd if="$2" iflag=direct bs=1M status=none)
}

# restore_cmp DESC IMAGE [OPTIONS...]: junk on r1, restore, compare.
restore_cmp() {
	local desc=$1 img=$2
	shift 2
	fill_pattern $R 77 || { not_ok "$desc: junk on $R"; return; }
	check "$desc: restore exits 0" "$CTL" restore -q "$@" "$img" $R
	check "$desc: the device equals qemu-img convert" same_as_qemu "$img" $R
}

# ---- 1. images made by qemu-img ------------------------------------------------
# The 4 MiB at 8M stay zero in every layer: restore zeroes whole chunks.
dd if=/dev/urandom of=$X/rand.raw bs=1M count=8 status=none
truncate -s 16M $X/rand.raw
qemu-img convert -q -O qcow2 $X/rand.raw $X/base.qcow2
qemu-img create -q -f qcow2 -b base.qcow2 -F qcow2 $X/mid.qcow2 16M
qemu-io -c "write -P 0x21 1M 3M" -c "write -z 8M 2M" -c "discard 12M 1M" \
	-c "write -P 0x22 14M 64k" $X/mid.qcow2 >/dev/null
qemu-img create -q -f qcow2 -o cluster_size=4096 -b mid.qcow2 -F qcow2 $X/top.qcow2 16M
qemu-io -c "write -P 0x31 100k 8k" -c "write -z 2M 12k" -c "discard 10M 4k" \
	-c "write -P 0x32 15M 4k" $X/top.qcow2 >/dev/null
restore_cmp "3-layer qcow2 chain" $X/top.qcow2
check "the chain is printed, top first" \
	bash -c "'$CTL' restore -q --force $X/top.qcow2 $R | grep -A3 '^Backing chain (3 images' | grep -q ' 2  $X/base.qcow2  qcow2'"
# Unallocated and zero ranges over junk read back as zeroes.
fill_pattern $R 78
"$CTL" restore -q $X/mid.qcow2 $R >/dev/null 2>&1
check_eq "zero clusters over junk read as zeroes" \
	"$(head -c 2M /dev/zero | md5sum | cut -d' ' -f1)" \
	"$(md5_direct $R $((8 << 20)) $((2 << 20)))"
qemu-img convert -q -c -O qcow2 $X/top.qcow2 $X/c-zlib.qcow2
restore_cmp "compressed qcow2 (zlib)" $X/c-zlib.qcow2
qemu-img convert -q -c -O qcow2 -o compression_type=zstd $X/top.qcow2 $X/c-zstd.qcow2
restore_cmp "compressed qcow2 (zstd)" $X/c-zstd.qcow2
for sub in monolithicSparse streamOptimized; do
	qemu-img convert -q -O vmdk -o subformat=$sub $X/top.qcow2 $X/$sub.vmdk
	restore_cmp "VMDK $sub" $X/$sub.vmdk
done
qemu-img convert -q -O raw $X/top.qcow2 $X/top.raw
restore_cmp "raw file" $X/top.raw

# ---- 2. exports of a finished backup ----------------------------------------
fill_pattern /dev/vg0/data 5
dd if=/dev/zero of=/dev/vg0/data bs=1M seek=4 count=2 oflag=direct status=none
check "backup vg0/data to vg0/bak" "$CTL" backup -q vg0/data vg0/bak --force
PIT=$(md5_direct /dev/vg0/data)
for f in "qcow2" "qcow2 --compress zstd" "vmdk --subformat streamOptimized" \
	"vmdk --subformat monolithicSparse"; do
	out=$X/exp-${f// /_}
	# shellcheck disable=SC2086 # $f holds the format options
	check "export --all --format $f" "$CTL" export /dev/vg0/bak "$out" --all --format $f
	restore_cmp "export --format $f" "$out"
	check_eq "export --format $f: restored = the backed-up volume" "$PIT" \
		"$(md5_direct $R 0 $((16 << 20)))"
done

# ---- 3. --verify, --json, --target-is-zero ----------------------------------
fill_pattern $R 79
"$CTL" restore --json --verify $X/top.qcow2 $R >$X/j.out 2>$X/j.err
check_eq "restore --json --verify exits 0" 0 $?
check "--json: the documented keys and values" python3 - $X/j.out <<'EOF'
import json, sys
j = json.load(open(sys.argv[1]))
assert j["virtual_size"] == 16 << 20, j
assert j["bytes_written"] + j["bytes_zeroed"] == j["virtual_size"], j
assert j["bytes_skipped"] == 0 and j["bytes_zeroed"] > 0, j
assert j["zero_method"] in ("zeroout", "write"), j
assert j["verify"] == "passed" and j["verify_mismatch_offset"] is None, j
assert [c["format"] for c in j["chain"]] == ["qcow2"] * 3, j
assert j["chain"][0]["recorded_as"] is None, j
assert j["chain"][2]["recorded_as"] == "base.qcow2", j
assert j["device"].startswith("/dev/"), j
EOF
diag "$(cat $X/j.out)"
check "the verify passed" same_as_qemu $X/top.qcow2 $R
dd if=/dev/zero of=$R bs=1M count=20 oflag=direct status=none
"$CTL" restore --json --target-is-zero $X/mid.qcow2 $R >$X/z.out 2>$X/z.err
check_eq "--target-is-zero exits 0" 0 $?
check "--target-is-zero: zeroes skipped" python3 -c "
import json; j = json.load(open('$X/z.out'))
assert j['zero_method'] == 'skipped' and j['bytes_zeroed'] == 0, j
assert j['bytes_skipped'] > 0, j"
check "--target-is-zero: the device equals qemu-img convert" same_as_qemu $X/mid.qcow2 $R
# A device that drops writes: verify must notice.
fill_pattern $R 80
S=$(sectors $R)
check "dm-flakey that drops every write" \
	dmsetup create cbr-flaky --table "0 $S flakey $R 0 0 3600 1 drop_writes"
expect "--verify on a device that drops writes: exit 1, offset named" 1 \
	"cbr-flaky: verify failed: byte 0 differs from the image" \
	"$CTL" restore -q --verify $X/top.qcow2 /dev/mapper/cbr-flaky
"$CTL" restore -q --json --verify $X/top.qcow2 /dev/mapper/cbr-flaky >$X/f.out 2>/dev/null
check_eq "--json --verify on it: exit 1" 1 $?
check "--json says verify failed at byte 0" python3 -c "
import json; j = json.load(open('$X/f.out'))
assert j['verify'] == 'failed' and j['verify_mismatch_offset'] == 0, j"
dmsetup remove cbr-flaky

# ---- 4. refusals ----------------------------------------------------------
expect "usage: no arguments" 2 "expected IMAGE and DEVICE" "$CTL" restore
expect "usage: unknown option" 2 "unknown option '--bogus'" "$CTL" restore --bogus $X/top.qcow2 $R
expect "usage: three arguments" 2 "expected IMAGE and DEVICE" "$CTL" restore $X/top.qcow2 $R $R
expect "a regular file as DEVICE" 1 "not a block device" "$CTL" restore $X/top.qcow2 $X/rand.raw
expect "--no-backing refuses a chain" 1 "refusing an image with a backing file" \
	"$CTL" restore --no-backing $X/top.qcow2 $R
expect "smaller than the image" 1 "it is smaller than the image" \
	"$CTL" restore $X/top.qcow2 vg0/small
expect "smaller: --force does not override" 1 "(--force does not override this)" \
	"$CTL" restore --force $X/top.qcow2 vg0/small
mkfs.ext4 -q -F $R >/dev/null 2>&1
expect "a filesystem signature without --force" 1 \
	"carries a ext4 filesystem signature (override with --force)" \
	"$CTL" restore $X/top.qcow2 $R
check "with --force it is overwritten" "$CTL" restore -q --force $X/top.qcow2 $R
check "and equals qemu-img convert" same_as_qemu $X/top.qcow2 $R
mkfs.ext4 -q -F /dev/vg0/mnt >/dev/null 2>&1 && mount /dev/vg0/mnt $MNT || bail "cannot mount"
cp $X/top.raw $MNT/img.raw
expect "the device holding the image file" 1 "it is the device holding image file $MNT/img.raw" \
	"$CTL" restore --force $MNT/img.raw vg0/mnt
expect "a mounted device" 1 "it is mounted on $MNT" \
	"$CTL" restore --force $X/top.qcow2 vg0/mnt
umount $MNT
check "the image on the unmounted device is untouched" bash -c \
	"mount -o ro /dev/vg0/mnt $MNT && cmp $MNT/img.raw $X/top.raw; umount $MNT"
dmsetup create cbr-holder --table "0 8 linear /dev/vg0/held 0" || bail "holder"
expect "a device held by another dm device" 1 "it is in use by" \
	"$CTL" restore --force $X/top.qcow2 vg0/held
dmsetup remove cbr-holder
expect "a missing backing file, before the device" 1 "nothere.qcow2: No such file" \
	bash -c "qemu-img create -q -u -f qcow2 -b nothere.qcow2 -F qcow2 $X/miss.qcow2 16M &&
		'$CTL' restore $X/miss.qcow2 $R"

done_testing
