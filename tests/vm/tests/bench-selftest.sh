#!/bin/bash
# The guest bench itself: disks, modules, repo share, host tools, dm and LVM
# without udev, and the lib.sh data helpers.
# disks: 2
# disk-size: 32M
# timeout: 300
# shellcheck source=tests/vm/lib.sh
. "$(dirname "$0")/../lib.sh"

trap 'vgremove -f cbselfvg >/dev/null 2>&1; cleanup_dm' EXIT

# --- scratch disks
check_eq "two scratch disks at vdb, vdc" "/dev/vdb /dev/vdc" "$COWBACKUP_DISKS"
d1=$(disk 1)
d2=$(disk 2)
check_eq "disk 1 has the asked size (32M)" 65536 "$(sectors "$d1")"
check_eq "disk 2 has the asked size (32M)" 65536 "$(sectors "$d2")"

# --- modules
check "device-mapper is usable (dmsetup version)" dmsetup version
if dmsetup targets | grep -qw cowbackup; then
	ok "cowbackup target registered"
else
	not_ok "cowbackup target registered" "dmsetup targets: $(dmsetup targets | tr '\n' ' ')"
fi
for m in dm-flakey dm-delay brd null_blk loop ext4; do
	check "modprobe $m" modprobe "$m"
done
modprobe -r brd null_blk 2>/dev/null

# --- environment
check_eq "cwd is the guest's scratch /tmp" /tmp "$(pwd -P)"
check "repo metadata is read-only in the guest" \
	sh -c "! touch '$REPO/.git/cowbackup-selftest' 2>/dev/null"
f=$REPO/build/vm/selftest.$$
if echo "written in the guest" >"$f" && [ "$(cat "$f")" = "written in the guest" ]; then
	ok "repo share is writable at its host path"
else
	not_ok "repo share is writable at its host path" "$f"
fi
rm -f "$f"
check_eq "host root is read-only" 1 "$(touch /usr/cowbackup-probe 2>/dev/null && echo 0 || echo 1)"
for t in fio lvm qemu-img dmsetup mkfs.ext4 blockdev openssl; do
	check "host tool $t is on PATH" command -v "$t"
done
# shellcheck disable=SC2016 # expanded by the inner shell
check "cowbackup-ctl dir is on PATH" sh -c 'echo ":$PATH:" | grep -qF ":$REPO/userspace:"'
check "/tmp is writable" sh -c 'echo x >/tmp/probe && rm /tmp/probe'
check_eq "process substitution works (/dev/fd)" hello "$(cat <(echo hello))"

# --- data helpers: byte-exact O_DIRECT round trip
check "fill_pattern over all of disk 1" fill_pattern "$d1" one
size=$((65536 * 512))
check_eq "O_DIRECT read of disk 1 matches the pattern" \
	"$(pattern_md5 one 0 "$size")" "$(md5_direct "$d1")"
check "fill_pattern of a 64 KiB range at 1 MiB" fill_pattern "$d1" two 1048576 65536
check_eq "the range reads back with the new pattern" \
	"$(pattern_md5 two 1048576 65536)" "$(md5_direct "$d1" 1048576 65536)"
check_eq "the block before the range is untouched" \
	"$(pattern_md5 one 1044480 4096)" "$(md5_direct "$d1" 1044480 4096)"
check_eq "the block after the range is untouched" \
	"$(pattern_md5 one 1114112 4096)" "$(md5_direct "$d1" 1114112 4096)"
a=$(pattern_md5 one 0 4096)
b=$(pattern_md5 one 4096 4096)
c=$(pattern_md5 two 0 4096)
if [ "$a" != "$b" ] && [ "$a" != "$c" ]; then
	ok "pattern blocks differ by position and by seed"
else
	not_ok "pattern blocks differ by position and by seed" "$a $b $c"
fi
check_eq "pattern has no zero bytes in block 0 start" "" \
	"$(pattern_stream one 0 16 | od -An -tx1 | grep -w 00)"

# --- device-mapper without udev
check "dmsetup create linear over disk 1" \
	dmsetup create cbself-lin --table "0 $(sectors "$d1") linear $d1 0"
check "/dev/mapper/cbself-lin exists" test -b /dev/mapper/cbself-lin
check "write through the linear device" \
	fill_pattern /dev/mapper/cbself-lin three 8192 8192
check_eq "lower disk has the data at the same offset (O_DIRECT)" \
	"$(pattern_md5 three 8192 8192)" "$(md5_direct "$d1" 8192 8192)"
check_eq "dmsetup status field 3 is the target type" linear "$(dm_field cbself-lin 3)"
check "dmsetup remove" dmsetup remove cbself-lin
check "/dev/mapper/cbself-lin is gone" test ! -e /dev/mapper/cbself-lin

# --- LVM without udev
check "pvcreate on disk 2" pvcreate -q "$d2"
check "vgcreate" vgcreate -q cbselfvg "$d2"
check "lvcreate 16M" lvcreate -q -y -L 16M -n lv cbselfvg
check "/dev/cbselfvg/lv exists" test -b /dev/cbselfvg/lv
check_eq "lvs lists the LV" "lv 16.00m" \
	"$(lvs --noheadings -o lv_name,lv_size cbselfvg 2>/dev/null | xargs)"
check "write to the LV" fill_pattern /dev/cbselfvg/lv four
check_eq "LV reads back byte-exact" \
	"$(pattern_md5 four 0 16777216)" "$(md5_direct /dev/cbselfvg/lv)"
check "vgremove" vgremove -q -f cbselfvg
check "pvremove" pvremove -q "$d2"
check_eq "no dm device left" "No devices found" "$(dmsetup ls 2>&1)"

done_testing
