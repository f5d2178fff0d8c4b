#!/bin/bash
# Benchmark (not a test): cowbackup-snap read throughput against a plain
# read of the source, and the memory of a sync=none job across 1M writes.
# Runs inside the guest: tests/vm/run --exec tests/bench/view-none.sh
set -eu
MB=${VIEW_BENCH_MB:-512}
WRITES=${VIEW_BENCH_WRITES:-1000000}
modprobe brd rd_nr=2 rd_size=$((MB * 1024))
SRC=/dev/ram0 TGT=/dev/ram1
S=$(blockdev --getsz $SRC)
dd if=/dev/urandom of=$SRC bs=1M count="$MB" oflag=direct status=none

rate() { # dev -> MB/s of an O_DIRECT sequential read
	dd if="$1" of=/dev/null bs=1M iflag=direct 2>&1 | awk '/copied/ {print $(NF-1), $NF}'
}
mem() { awk '/^(Slab|VmallocUsed|MemFree):/ {printf "%s %s kB  ", $1, $2}' /proc/meminfo; echo; }

echo "source read:        $(rate $SRC)"
echo "0 $S cowbackup $SRC $TGT none" | dmsetup create cb
echo "0 $S cowbackup-snap $SRC $TGT" | dmsetup create snap
echo "view read (0% copied): $(rate /dev/mapper/snap)"
echo "memory after create: $(mem)"
fio --name=w --filename=/dev/mapper/cb --rw=randwrite --bs=4k --direct=1 \
	--ioengine=libaio --iodepth=16 --io_size=$((WRITES * 4))k --size="${MB}M" \
	--norandommap --randrepeat=0 --output-format=json |
	python3 -c 'import json,sys; j=json.load(sys.stdin)["jobs"][0]["write"]; print("fio: %d writes, %.0f IOPS" % (j["total_ios"], j["iops"]))'
echo "status: $(dmsetup status cb)"
echo "memory after ${WRITES} writes: $(mem)"
echo "view read (after writes): $(rate /dev/mapper/snap)"
echo "source read:        $(rate $SRC)"
dmsetup remove snap
dmsetup remove cb
