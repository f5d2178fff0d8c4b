#!/bin/bash
# `cowbackup-ctl export` against real kernel jobs: a sync=full job made with
# plain dmsetup (with copy-outs and all-zero clusters) exported as qcow2,
# VMDK monolithicSparse and streamOptimized, each byte-identical to the
# point-in-time image by `qemu-img compare`; `--all` on the plain target;
# a running sync=none job with a view, exported over a --backing image of
# the point in time, with only the copied clusters allocated; and the
# error cases (no such job, existing OUTPUT, bad options).
# disks: 2
# disk-size: 64M
# timeout: 420
# cpus: 1
# udev: no (image writing; its devices are made with plain dmsetup)
. "$(dirname "$0")/../lib.sh"

trap 'cleanup_dm; rm -rf /tmp/cbx' EXIT

SRC=$(disk 1)
TGT=$(disk 2)
S=$(sectors "$SRC")
SIZE=$((S * 512))
C=65536				# cluster size in bytes (128 sectors)
NC=$((SIZE / C))
X=/tmp/cbx
mkdir -p $X
diag "source $SRC, target $TGT, $S sectors, $NC clusters of $C bytes"

# copy_direct DEV FILE: an O_DIRECT copy of a whole device.
copy_direct() {
	dd if="$1" of="$2" iflag=direct bs=1M status=none
}

# zero_range DEV OFF LEN: write zeroes (bytes, multiples of 4096), O_DIRECT.
zero_range() {
	dd if=/dev/zero of="$1" oflag=direct,seek_bytes seek="$2" bs=4096 \
		count=$(($3 / 4096)) status=none
}

# compare_raw IMAGE FMT RAW: qemu-img compare against a raw image.
compare_raw() {
	qemu-img compare -f "$2" -F raw "$1" "$3"
}

# ctl_export DESC ARGS...: run export, keep its stdout/stderr, check rc 0.
run_export() {
	"$CTL" export "$@" >$X/exp.out 2>$X/exp.err
}
ctl_export() {
	local desc=$1
	shift
	check "$desc" run_export "$@"
	diag "$(cat $X/exp.out $X/exp.err)"
}

# raw_md5 IMAGE FMT FIRST COUNT: md5 of clusters of an image, via qemu-img.
raw_md5() {
	qemu-img convert -f "$2" -O raw "$1" $X/conv.raw &&
		dd if=$X/conv.raw bs=$C skip="$3" count="$4" status=none | md5sum | cut -d' ' -f1
	rm -f $X/conv.raw
}

# top_extents IMAGE: the image's own (depth 0) extents from qemu-img map,
# merged, one "first+count data|zero" per line, in clusters.
top_extents() {
	qemu-img map --output=json "$1" | python3 -c '
import json, sys
c = int(sys.argv[1])
out = []
for e in json.load(sys.stdin):
    if e["depth"] != 0 or not e["present"]:
        continue
    kind = "data" if e["data"] else "zero"
    s, n = e["start"] // c, e["length"] // c
    if out and out[-1][2] == kind and out[-1][0] + out[-1][1] == s:
        out[-1][1] += n
    else:
        out.append([s, n, kind])
for s, n, k in out:
    print("%d+%d %s" % (s, n, k))
' "$C"
}

# ---- 1. sync=full, made with dmsetup ----------------------------------------
fill_pattern "$SRC" ex1 || bail "cannot fill $SRC"
# All-zero clusters: 10..13, 1000 and the last one.
{ zero_range "$SRC" $((10 * C)) $((4 * C)) &&
	zero_range "$SRC" $((1000 * C)) $C &&
	zero_range "$SRC" $(((NC - 1) * C)) $C; } || bail "cannot zero $SRC"
# Half a cluster of zeroes is still data.
zero_range "$SRC" $((20 * C)) $((C / 2)) || bail "cannot zero $SRC"
copy_direct "$SRC" $X/pit.raw || bail "cannot copy the PIT image"

check "create a paused sync=full job with dmsetup" \
	dmsetup create cbfull --table "0 $S cowbackup $SRC $TGT full 3 cluster_size 128 paused"
# Copy-outs before the background copy: new data through the job device.
{ fill_pattern /dev/mapper/cbfull ex2 $((100 * C)) $((4 * C)) &&
	fill_pattern /dev/mapper/cbfull ex2 $((11 * C + 4096)) 4096; } ||
	not_ok "write through the job device"
check_eq "copy-outs done (cow copies, zero clusters)" "4 1" \
	"$(dm_field cbfull 8) $(dm_field cbfull 10)"
check "the source holds the new data" \
	test "$(md5_direct "$SRC")" != "$(md5sum <$X/pit.raw | cut -d' ' -f1)"
check "list --json shows the dmsetup job by its dm name" \
	bash -c "'$CTL' list --json | grep -q '\"name\": \"cbfull\"'"
# A sync=full job that has not completed is an incomplete backup.
"$CTL" export cbfull $X/early.qcow2 --format qcow2 >$X/e.out 2>$X/e.err
check_eq "export of the paused full job exits 1" 1 $?
check "it says incomplete" grep -q "cbfull: incomplete backup: the job is paused" $X/e.err
check "nothing written" test ! -e $X/early.qcow2
check "resume" dmsetup message cbfull 0 resume
wait_state cbfull completed 120
check_eq "completed, every cluster settled, 6 zero clusters, no errors" \
	"completed $NC/$NC 6 0" \
	"$(dm_field cbfull 4) $(dm_field cbfull 7) $(dm_field cbfull 10) $(dm_field cbfull 11)"
check_eq "bitmap: every cluster copied" "0+$NC next=end" \
	"$(dmsetup message cbfull 0 bitmap 0)"
check_eq "the target equals the PIT image" \
	"$(md5sum <$X/pit.raw | cut -d' ' -f1)" "$(md5_direct "$TGT" 0 $SIZE)"
# To standard output: raw and streamOptimized stream; qcow2 is refused.
check_eq "export - --format raw streams the PIT image" \
	"$(md5sum <$X/pit.raw | cut -d' ' -f1)" \
	"$("$CTL" export cbfull - --format raw 2>/dev/null | md5sum | cut -d' ' -f1)"
# (streamOptimized to standard output: tests/images/run, cheaper there.)
"$CTL" export cbfull - --format qcow2 >$X/e.out 2>$X/e.err
check_eq "export - --format qcow2: exit 2" 2 $?
check "one line saying it needs a streamable format" \
	bash -c "[ \$(wc -l <$X/e.err) = 1 ] && grep -q 'needs a streamable format' $X/e.err && [ ! -s $X/e.out ]"

# check_vmdk_desc DESC FILE TYPE ADAPTER HEADS: the descriptor names TYPE
# and ADAPTER, and a geometry of HEADS heads, 63 sectors, cylinders to SIZE.
check_vmdk_desc() {
	local desc
	desc=$(head -c 2000 "$2" | strings)
	check_eq "$1" "createType=\"$3\"
ddb.adapterType = \"$4\"
ddb.geometry.cylinders = \"$((SIZE / ($5 * 63 * 512)))\"
ddb.geometry.heads = \"$5\"
ddb.geometry.sectors = \"63\"" \
	"$(grep -E '^(createType|ddb\.adapterType|ddb\.geometry)' <<<"$desc" | sort)"
}

expect_full_map() {	# data everywhere except the zero clusters
	printf '0+10 data\n%s\n14+986 data\n%s\n1001+%d data\n%s\n' \
		"10+4 zero" "1000+1 zero" $((NC - 1 - 1001)) "$((NC - 1))+1 zero"
}

ctl_export "export cbfull as qcow2" cbfull $X/full.qcow2 --format qcow2
check_eq "export summary" \
	"$X/full.qcow2: qcow2, $((NC - 6)) data and 6 zero clusters of $C bytes" \
	"$(cat $X/exp.out)"
check "qemu-img check: no errors, no leaks" qemu-img check -f qcow2 $X/full.qcow2
check "qcow2 export is identical to the PIT image" \
	compare_raw $X/full.qcow2 qcow2 $X/pit.raw
check_eq "qcow2 map: data, and zero clusters as zero entries" \
	"$(expect_full_map)" "$(top_extents $X/full.qcow2)"
rm -f $X/full.qcow2

ctl_export "export cbfull as vmdk (monolithicSparse)" cbfull $X/full.vmdk --format vmdk
check "qemu-img check of the vmdk" qemu-img check -f vmdk $X/full.vmdk
check "vmdk export is identical to the PIT image" \
	compare_raw $X/full.vmdk vmdk $X/pit.raw
check_vmdk_desc "vmdk: monolithicSparse, ide, 16 heads, 63 sectors, $((SIZE / (16 * 63 * 512))) cylinders" \
	$X/full.vmdk monolithicSparse ide 16
rm -f $X/full.vmdk

ctl_export "export cbfull as vmdk streamOptimized, lsilogic" cbfull $X/stream.vmdk \
	--format vmdk --subformat streamOptimized --adapter-type lsilogic
check "qemu-img check of the stream vmdk" qemu-img check -f vmdk $X/stream.vmdk
check "streamOptimized export is identical to the PIT image" \
	compare_raw $X/stream.vmdk vmdk $X/pit.raw
check_vmdk_desc "vmdk: streamOptimized, lsilogic, 255 heads" \
	$X/stream.vmdk streamOptimized lsilogic 255
check "info --json shows adapter type lsilogic" \
	bash -c "'$CTL' info --json $X/stream.vmdk | grep -q '\"adapter-type\": \"lsilogic\"'"
rm -f $X/stream.vmdk
check "remove the job" dmsetup remove cbfull

# ---- 2. --all on the plain target --------------------------------------------
ctl_export "export --all of the target device" "$TGT" $X/all.qcow2 --format qcow2 --all
check "qemu-img check of the --all export" qemu-img check -f qcow2 $X/all.qcow2
check "--all export is identical to the PIT image" \
	compare_raw $X/all.qcow2 qcow2 $X/pit.raw
check_eq "--all map: zero clusters as zero entries" \
	"$(expect_full_map)" "$(top_extents $X/all.qcow2)"
check_eq "--all virtual size is the device size" "$SIZE" \
	"$(qemu-img info --output=json $X/all.qcow2 | python3 -c 'import json,sys; print(json.load(sys.stdin)["virtual-size"])')"
rm -f $X/all.qcow2 $X/pit.raw

# ---- 3. a running sync=none job with a view ---------------------------------
# Junk on the target, so a cluster exported without being copied shows.
fill_pattern "$TGT" junk || bail "cannot fill $TGT"
copy_direct "$SRC" $X/pit2.raw || bail "cannot copy the PIT image"
PIT2=$(md5sum <$X/pit2.raw | cut -d' ' -f1)
check "create a sync=none job with dmsetup" \
	dmsetup create cbnone --table "0 $S cowbackup $SRC $TGT none 2 cluster_size 128"
# Named as cowbackup-ctl names a job's view, so status finds it (the UUID
# in the form earlier versions used, which is still recognised).
check "create the view" dmsetup create cbnone-snap -u COWBACKUP-SNAP-cbnone \
	--readonly --table "0 $S cowbackup-snap $SRC $TGT"
# New data: 4 whole clusters, 4 KiB inside one, 8 KiB across a cluster
# boundary, and 4 KiB into an all-zero cluster (copied as a zero cluster).
{ fill_pattern /dev/mapper/cbnone ex3 $((300 * C)) $((4 * C)) &&
	fill_pattern /dev/mapper/cbnone ex3 $((500 * C + 8192)) 4096 &&
	fill_pattern /dev/mapper/cbnone ex3 $((702 * C - 4096)) 8192 &&
	fill_pattern /dev/mapper/cbnone ex3 $((1000 * C)) 4096; } ||
	not_ok "write through the sync=none job"
check_eq "running, 8 settled, 7 cow copies, 1 zero cluster" \
	"running 8/$NC 7 0 1 0" \
	"$(dmsetup status cbnone | cut -d' ' -f4,7-11)"
check_eq "bitmap: the copied clusters" "300+4 500+1 701+2 1000+1 next=end" \
	"$(dmsetup message cbnone 0 bitmap 0)"
check "the source changed" test "$(md5_direct "$SRC")" != "$PIT2"
check_eq "the view reads the PIT image" "$PIT2" "$(md5_direct /dev/mapper/cbnone-snap)"
check "status --json names the view" \
	bash -c "'$CTL' status --json cbnone | grep -q '\"view\": \"/dev/mapper/cbnone-snap\"'"
EXPECT_NONE="300+4 data
500+1 data
701+2 data
1000+1 zero"

ctl_export "export the running job over --backing (raw, absolute)" \
	cbnone $X/none.qcow2 --format qcow2 --backing $X/pit2.raw
check_eq "export summary" "$X/none.qcow2: qcow2, 7 data and 1 zero clusters of $C bytes" \
	"$(cat $X/exp.out)"
check_eq "no warning for sync=none with --backing" "" "$(cat $X/exp.err)"
check "qemu-img check" qemu-img check -f qcow2 $X/none.qcow2
check_eq "backing file and format recorded" "$X/pit2.raw raw" \
	"$(qemu-img info --output=json $X/none.qcow2 | python3 -c 'import json,sys; i=json.load(sys.stdin); print(i["backing-filename"], i["backing-filename-format"])')"
check_eq "only the copied clusters are allocated" \
	"$EXPECT_NONE" "$(top_extents $X/none.qcow2)"
check "export over its backing is identical to the PIT image" \
	compare_raw $X/none.qcow2 qcow2 $X/pit2.raw
check "the export differs from the current source" \
	bash -c "! qemu-img compare -q -f qcow2 -F raw $X/none.qcow2 $SRC"
rm -f $X/none.qcow2

# The chain QEMU would build: a qcow2 backing, named relative to the output.
check "qcow2 copy of the PIT image" \
	qemu-img convert -f raw -O qcow2 $X/pit2.raw $X/pit2.qcow2
rm -f $X/pit2.raw
ctl_export "export over a relative qcow2 --backing" \
	cbnone $X/none2.qcow2 --format qcow2 --backing pit2.qcow2
check "qemu-img check" qemu-img check -f qcow2 $X/none2.qcow2
check_eq "only the copied clusters are allocated" \
	"$EXPECT_NONE" "$(top_extents $X/none2.qcow2)"
check "the chain reads the PIT image" \
	qemu-img compare -f qcow2 -F qcow2 $X/none2.qcow2 $X/pit2.qcow2

# Without --backing: a warning, and uncopied clusters read as zeroes.
ctl_export "export without --backing" cbnone $X/nob.qcow2 --format qcow2
check "warns that uncopied clusters read as zeroes" \
	grep -q "cbnone: warning: sync=none without --backing" $X/exp.err
check_eq "only the copied clusters are allocated" \
	"$EXPECT_NONE" "$(top_extents $X/nob.qcow2)"
check_eq "copied clusters hold the PIT data" \
	"$(pattern_md5 ex1 $((300 * C)) $((4 * C)))" "$(raw_md5 $X/nob.qcow2 qcow2 300 4)"
check_eq "uncopied clusters read as zeroes" \
	"$(head -c $((4 * C)) /dev/zero | md5sum | cut -d' ' -f1)" \
	"$(raw_md5 $X/nob.qcow2 qcow2 296 4)"

# ---- 4. errors ---------------------------------------------------------------
err_case() {	# err_case DESC RC GREP ARGS...: exit RC, one stderr line matching GREP
	local desc=$1 rc=$2 pat=$3 got
	shift 3
	"$CTL" export "$@" >$X/e.out 2>$X/e.err
	got=$?
	if [ "$got" = "$rc" ] && [ "$(wc -l <$X/e.err)" = 1 ] &&
		grep -q -- "$pat" $X/e.err && [ ! -s $X/e.out ]; then
		ok "$desc"
	else
		not_ok "$desc" "exit $got (want $rc)" "stderr: $(cat $X/e.err)" \
			"stdout: $(cat $X/e.out)"
	fi
}
err_case "no such job: exit 1, one line naming it" 1 "^cowbackup-ctl: nosuchjob: " \
	nosuchjob $X/n.qcow2 --format qcow2
check "nothing written for a missing job" test ! -e $X/n.qcow2
err_case "a dm device that is no job (the view): exit 1" 1 \
	"cbnone-snap: not a cowbackup job" cbnone-snap $X/n.qcow2 --format qcow2
sum=$(md5sum <$X/nob.qcow2)
err_case "existing OUTPUT without --force: exit 1, naming it" 1 \
	"$X/nob.qcow2: already exists" cbnone $X/nob.qcow2 --format qcow2
check_eq "the existing OUTPUT is untouched" "$sum" "$(md5sum <$X/nob.qcow2)"
ctl_export "--force replaces it" cbnone $X/nob.qcow2 --format qcow2 --force \
	--backing pit2.qcow2
check_eq "the replacement has the backing" "pit2.qcow2" \
	"$(qemu-img info --output=json $X/nob.qcow2 | python3 -c 'import json,sys; print(json.load(sys.stdin)["backing-filename"])')"
tmps=$(cd $X && echo .[!.]*)
check_eq "no temporary files left" ".[!.]*" "$tmps"
err_case "bad --format: exit 2, lists qcow2, vmdk and raw" 2 "qcow2, vmdk or raw" \
	cbnone $X/b.img --format vpc
err_case "bad --adapter-type: exit 2, lists the valid ones" 2 \
	"ide, buslogic, lsilogic, legacyESX" cbnone $X/b.vmdk --format vmdk --adapter-type scsi
err_case "bad --subformat: exit 2, lists the valid ones" 2 \
	"monolithicSparse, streamOptimized" cbnone $X/b.vmdk --format vmdk --subformat flat
err_case "--adapter-type with qcow2: exit 2" 2 "vmdk only" \
	cbnone $X/b.qcow2 --format qcow2 --adapter-type ide
err_case "missing --format: exit 2" 2 "format" cbnone $X/b.qcow2
err_case "--all on a missing file: exit 1" 1 "$X/missing" \
	$X/missing $X/b.qcow2 --format qcow2 --all
check "no output from the refused exports" test ! -e $X/b.img -a ! -e $X/b.vmdk -a ! -e $X/b.qcow2
# Exports hold whole disks: 0600 whatever the umask; a symlink is refused.
rm -f $X/m.qcow2
(umask 022; "$CTL" export cbnone $X/m.qcow2 --format qcow2 >/dev/null 2>&1)
check_eq "the export is created 0600" 600 "$(stat -c %a $X/m.qcow2)"
echo precious >$X/victim
ln -s $X/victim $X/link.qcow2
err_case "a symlink at OUTPUT is refused, saying so" 1 "link.qcow2: is a symbolic link" \
	cbnone $X/link.qcow2 --format qcow2 --force
check_eq "the symlink's target is untouched" precious "$(cat $X/victim)"
rm -f $X/m.qcow2 $X/link.qcow2 $X/victim

# After cancel the job still exports what it copied, with a warning.
check "cancel" dmsetup message cbnone 0 cancel
ctl_export "export of a cancelled job" cbnone $X/c.qcow2 --format qcow2 --backing pit2.qcow2
check "warns that the job is cancelled" grep -q "cbnone: warning: job is cancelled" $X/exp.err
check_eq "the cancelled job's copied clusters" "$EXPECT_NONE" "$(top_extents $X/c.qcow2)"
check "remove view and job" dmsetup remove cbnone-snap cbnone

done_testing
