#!/bin/bash
# sync=top: the source is a "backing" pattern with a sparse set of "top"
# clusters; the job is created paused, `skip` is sent for every other
# cluster, then resumed. Only the top clusters are copied (counters and
# the `bitmap` extents say so), skipped clusters need no copy-out, `skip`
# of an already copied cluster changes nothing, and the target overlaid on
# a copy of the backing pattern equals the point-in-time (PIT) image. The
# view shows the PIT image of the top clusters throughout. Last, `bitmap`
# pages through thousands of extents.
# disks: 0
# mem: 1G
# timeout: 360
. "$(dirname "$0")/../lib.sh"
. "$REPO/tests/vm/tests/data/target-lib.sh"

cb_brd 2 32 || bail "cannot load brd"
SRC=/dev/ram0
TGT=/dev/ram1
DM=/dev/mapper/cb
VIEW=/dev/mapper/cbv
S=$(cb_size "$SRC")
CS=128
TOTAL=$(cb_clusters "$S" $CS)

is_top() {
	local c=$1
	[ "$c" -ge 100 ] && [ "$c" -lt 120 ] && return 0
	[ $((c % 13)) -eq 5 ] && return 0
	[ "$c" -eq $((TOTAL - 1)) ]
}

# Run-length "start+len" lists of the top and of the skipped clusters.
TOPEXT="" SKIPEXT="" SKIPS=() NTOP=0
run=-1 kind=""
flush_run() {
	[ "$run" -lt 0 ] && return
	if [ "$kind" = top ]; then
		TOPEXT="$TOPEXT $run+$(($1 - run))"
	else
		SKIPEXT="$SKIPEXT $run+$(($1 - run))"
		SKIPS+=("$run $(($1 - run))")
	fi
}
for ((c = 0; c < TOTAL; c++)); do
	if is_top $c; then k=top; NTOP=$((NTOP + 1)); else k=skip; fi
	if [ "$k" != "$kind" ]; then
		flush_run $c
		run=$c kind=$k
	fi
done
flush_run "$TOTAL"
TOPEXT=${TOPEXT# }
SKIPEXT=${SKIPEXT# }
diag "$TOTAL clusters, $NTOP top in $(wc -w <<<"$TOPEXT") runs, ${#SKIPS[@]} skip runs"

$CB_PY stamp "$SRC" --seed 301
$CB_PY stamp "$SRC" --seed 302 --extents "$TOPEXT" --cluster $CS
$CB_PY mkimage /tmp/backing.img --sectors "$S" --seed 301
dd if="$SRC" of=/tmp/pit.img bs=1M iflag=direct status=none
$CB_PY stamp "$TGT" --seed 99

check "create sync=top paused" cb_create cb "$SRC" "$TGT" top paused
fails=0
for r in "${SKIPS[@]}"; do
	# shellcheck disable=SC2086
	cb_msg cb skip $r || fails=$((fails + 1))
done
check_eq "${#SKIPS[@]} skip messages accepted" 0 $fails
check_eq "skipped clusters count as settled" \
	"paused top $CS $((TOTAL - NTOP))/$TOTAL 0 0 0 0 0" "$(cb_status cb)"
check "create the view" cb_view_create cbv "$SRC" "$TGT"
check "view equals the PIT image" $CB_PY verify $VIEW --image /tmp/pit.img

# A write to a skipped cluster needs no copy-out; one to a top cluster does.
$CB_PY stamp $DM --seed 303 --first $((2 * CS + 8)) --count 8
check_eq "write to a skipped cluster: no copy-out" 0 "$(cb_get cb cow)"
$CB_PY stamp $DM --seed 304 --first $((5 * CS + 8)) --count 8
check_eq "write to a top cluster: one copy-out" 1 "$(cb_get cb cow)"
check "the top cluster's PIT data is on the target" \
	$CB_PY verify "$TGT" --image /tmp/pit.img --extents "5+1"
before=$(cb_status cb)
check "skip of an already copied cluster is accepted" cb_msg cb skip 5 1
check_eq "... and changes nothing" "$before" "$(cb_status cb)"
check_eq "bitmap shows the copied cluster" "5+1 next=end" \
	"$(cb_msg cb bitmap 0)"
check "view still equals the PIT image on the top clusters" \
	$CB_PY verify $VIEW --image /tmp/pit.img --extents "$TOPEXT"

check "resume" cb_msg cb resume
cb_check_done "top job completes" cb completed 60
check_eq "final status: only the top clusters copied" \
	"completed top $CS $TOTAL/$TOTAL 1 $((NTOP - 1)) 0 0 0" "$(cb_status cb)"
check_eq "bitmap lists exactly the top clusters" \
	"$TOPEXT next=end" "$(cb_msg cb bitmap 0)"
check_eq "bitmap from the middle of a run" \
	"110+10 ${TOPEXT#*100+20 } next=end" "$(cb_msg cb bitmap 110)"
check "skipped clusters of the target untouched" \
	$CB_PY verify "$TGT" --seed 99 --extents "$SKIPEXT"
check "overlay: target's copied clusters over the backing = PIT image" \
	bash -c "$CB_PY overlay /tmp/overlay.img --image /tmp/backing.img \
		--target $TGT --cluster $CS --extents '$(cb_msg cb bitmap 0)' &&
		cmp /tmp/overlay.img /tmp/pit.img"
check "view after completion equals the PIT image on the top clusters" \
	$CB_PY verify $VIEW --image /tmp/pit.img --extents "$TOPEXT"
dmsetup remove cbv
dmsetup remove cb

# --- bitmap paging: 4096 one-cluster extents -----------------------------------
check "create sync=none, cluster_size 8" \
	cb_create cb "$SRC" "$TGT" none cluster_size 8
N8=$(cb_get cb total)
# Copy out every other 4 KiB cluster with one 512-byte write each.
python3 -c "
import os, mmap
fd = os.open('$DM', os.O_WRONLY | os.O_DIRECT)
buf = mmap.mmap(-1, 512)
for c in range(0, $N8, 2):
    os.pwritev(fd, [buf], c * 4096)
os.close(fd)
"
check_eq "every other cluster copied out" "$((N8 / 2))" "$(cb_get cb cow)"
pages=0 next=0 got="" bad=""
while [ "$next" != end ] && [ $pages -lt 1000 ]; do
	reply=$(cb_msg cb bitmap "$next") || { bad="bitmap $next failed"; break; }
	pages=$((pages + 1))
	last=${reply##* }
	words=${reply% next=*}
	[ "$words" = "$reply" ] && words=""
	first=${words%% *}
	if [ -n "$first" ] && [ "${first%+*}" -lt "$next" ]; then
		bad="page at $next starts at $first"
	fi
	got="$got $words"
	next=${last#next=}
done
diag "bitmap took $pages pages"
check_eq "bitmap paging ends with next=end" "" "$bad"
check "bitmap needed more than one page" test $pages -gt 1
want=$(seq 0 2 $((N8 - 1)) | sed 's/$/+1/' | tr '\n' ' ')
# Adjacent words may be split at a page edge: compare as cluster lists.
expand() { tr ' ' '\n' | awk -F+ 'NF == 2 { for (i = 0; i < $2; i++) print $1 + i }'; }
check "paged extents are exactly the copied clusters" \
	test "$(expand <<<"$got" | md5sum)" = "$(expand <<<"$want" | md5sum)"
dmsetup remove cb

cb_check_klog
cb_cleanup
done_testing
