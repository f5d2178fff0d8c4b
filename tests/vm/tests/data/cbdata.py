#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Deterministic data for the dm-cowbackup guest tests.

Every 512-byte sector of a "point-in-time" (PIT) image carries its own
identity: the pair (seed, sector) repeated 32 times.  A mismatch can thus
be decoded ("sector 77 holds write 0x200000003's data for sector 77"),
which tells a leaked new write from a misplaced copy or a missed one.

Subcommands (all I/O is O_DIRECT, so no page cache is ever consulted):

  stamp DEV --seed S [--holes K] [--first N --count N |
        --extents "a+b ..." --cluster C]
        write the PIT pattern; with --holes K every K-th MiB is all zeros
        (zero clusters for the zero-detection path).
  verify DEV (--seed S [--holes K] | --image FILE | --zero) [--first N
        --count N | --extents "a+b ..." --cluster C]
        compare the device (or the listed clusters) with the expected
        image, per sector.
  mkimage FILE --sectors N --seed S [--holes K]
        write the expected image to a file.
  writers DEV --jobs N --seconds T --seed S --log DIR [...]
        N processes doing random writes/discards/write-zeroes, each only
        inside its own zones (zones interleave and do not align with
        clusters, so writers meet inside clusters); every completed op is
        logged so the final contents are known exactly. A failed op
        ends its writer, or with --keep-going is logged as
        'E first count [wseed]' and the writer goes on (fault tests:
        EIO means "not written", or only partly when the device below
        split the bio). Each writer's last line says how many ops it
        issued and how many failed. --interval S sleeps between ops;
        --until FILE (writers and reader) stops early once FILE exists.
  check-source DEV --log DIR [--log DIR2...] (--seed S [--holes K] |
        --image FILE) [--failed either|old] [--skip FIRST+COUNT ...]
        replay the logs (directories in the order given) over the PIT
        image and compare with DEV. A failed write leaves each of its
        sectors old or new (--failed either, the default), or old
        (--failed old: the write was refused as a whole, e.g.
        cow_error break_write); --skip leaves sector ranges out.
  reader DEV --seconds T (--seed S [--holes K] | --image FILE)
        [--first N --count N | --extents "a+b ..." --cluster C] [--eio-ok]
        random O_DIRECT reads checked against the PIT image; used on a
        cowbackup-snap view while something writes to the origin. With
        --eio-ok a read failing with EIO is counted and the reader goes
        on (a view over a failing device); wrong data always fails.
  overlay OUT --image BACKING --target DEV --cluster C --extents "a+b ..."
        copy the listed clusters of DEV over the BACKING image into OUT.
  readerr DEV [--offset BYTES] [--length BYTES]
        exit 0 if an O_DIRECT read fails with EIO, 1 if it succeeds or
        fails otherwise.
"""

import argparse
import array
import errno
import fcntl
import mmap
import os
import random
import struct
import sys
import time
import traceback

SECTOR = 512
MIB_SECTORS = 2048
BLKDISCARD = 0x1277
BLKZEROOUT = 0x127f
ZERO_SECTOR = bytes(SECTOR)


def sector_data(seed, sector):
    return struct.pack('<QQ', seed, sector) * 32


def pit_sector(seed, holes, sector):
    if holes and (sector // MIB_SECTORS) % holes == holes - 1:
        return ZERO_SECTOR
    return sector_data(seed, sector)


def pattern(seed, holes, first, count, shift=0):
    """Sectors [first, first+count) of image @seed (same bytes as
    pit_sector(), built with one array for speed under TCG)."""
    a = array.array('Q', [seed, 0]) * (32 * count)
    for i in range(count):
        a[i * 64 + 1:(i + 1) * 64:2] = array.array('Q', [first + shift + i]) * 32
    if sys.byteorder != 'little':
        a.byteswap()
    if not holes:
        return a.tobytes()
    buf = bytearray(a.tobytes())
    for i in range(count):
        if ((first + shift + i) // MIB_SECTORS) % holes == holes - 1:
            buf[i * SECTOR:(i + 1) * SECTOR] = ZERO_SECTOR
    return bytes(buf)


def describe(buf):
    """Say what a sector holds, for diagnostics."""
    if buf == ZERO_SECTOR:
        return 'zeros'
    seed, sec = struct.unpack_from('<QQ', buf)
    if buf == sector_data(seed, sec):
        return 'seed %#x sector %d' % (seed, sec)
    return 'foreign data %s' % buf[:16].hex()


def dev_sectors(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.lseek(fd, 0, os.SEEK_END) // SECTOR
    finally:
        os.close(fd)


class Direct:
    """An O_DIRECT file descriptor with an aligned bounce buffer."""

    def __init__(self, path, write=False, maxlen=4 << 20):
        flags = (os.O_RDWR if write else os.O_RDONLY) | os.O_DIRECT
        self.fd = os.open(path, flags)
        self.buf = mmap.mmap(-1, maxlen)
        self.view = memoryview(self.buf)

    def pread(self, off, length):
        n = os.preadv(self.fd, [self.view[:length]], off)
        if n != length:
            raise OSError(errno.EIO, 'short read %d of %d at %d'
                          % (n, length, off))
        return bytes(self.view[:length])

    def pwrite(self, off, data):
        self.view[:len(data)] = data
        n = os.pwritev(self.fd, [self.view[:len(data)]], off)
        if n != len(data):
            raise OSError(errno.EIO, 'short write %d of %d at %d'
                          % (n, len(data), off))

    def ioctl_range(self, req, off, length):
        fcntl.ioctl(self.fd, req, struct.pack('<QQ', off, length))

    def close(self):
        self.view.release()
        self.buf.close()
        os.close(self.fd)


class Expected:
    """The expected image: a PIT seed (or file), sparse overrides, and a
    set of sectors that may also read back as zeros (discarded). A pure
    seed image is generated chunk by chunk on demand; replaying writes
    materialises it."""

    def __init__(self, args, sectors):
        self.sectors = sectors
        self.img = None
        self.seed = getattr(args, 'seed', None)
        self.holes = getattr(args, 'holes', 0)
        self.shift = getattr(args, 'shift', 0)
        if getattr(args, 'image', None):
            with open(args.image, 'rb') as f:
                self.img = bytearray(f.read(sectors * SECTOR))
            if len(self.img) != sectors * SECTOR:
                sys.exit('%s: image shorter than %d sectors'
                         % (args.image, sectors))
        elif getattr(args, 'zero', False):
            self.img = bytearray(sectors * SECTOR)
        self.maybe_zero = bytearray(sectors)
        # sector -> other contents it may hold (a failed write's data)
        self.alt = {}
        self.skip = []

    def materialise(self):
        if self.img is None:
            self.img = bytearray(pattern(self.seed, self.holes, 0,
                                         self.sectors, self.shift))

    def chunk(self, first, count):
        if self.img is None:
            return pattern(self.seed, self.holes, first, count, self.shift)
        return self.img[first * SECTOR:(first + count) * SECTOR]

    def write(self, first, count, wseed):
        self.materialise()
        self.img[first * SECTOR:(first + count) * SECTOR] = \
            pattern(wseed, 0, first, count)
        self.maybe_zero[first:first + count] = bytes(count)
        self.drop_alt(first, count)

    def drop_alt(self, first, count):
        if self.alt:
            for s in range(first, first + count):
                self.alt.pop(s, None)

    def failed_write(self, first, count, wseed):
        # Each sector of a failed write: old data, or this write's.
        new = pattern(wseed, 0, first, count)
        for i in range(count):
            self.alt.setdefault(first + i, []).append(
                new[i * SECTOR:(i + 1) * SECTOR])

    def zero(self, first, count):
        self.materialise()
        self.img[first * SECTOR:(first + count) * SECTOR] = \
            bytes(count * SECTOR)
        self.maybe_zero[first:first + count] = bytes(count)
        self.drop_alt(first, count)

    def discard(self, first, count):
        # Discarded sectors read back as zeros or unchanged, depending on
        # the device and on the discard granularity.
        self.maybe_zero[first:first + count] = b'\x01' * count

    def compare(self, dev, first, count, what, max_report=8):
        d = Direct(dev)
        bad = 0
        chunk = 2048
        s = first
        while s < first + count:
            n = min(chunk, first + count - s)
            try:
                got = d.pread(s * SECTOR, n * SECTOR)
            except OSError as e:
                print('# %s: read error at sector %d: %s' % (what, s, e))
                d.close()
                return bad + 1
            want = self.chunk(s, n)
            if got != want:
                for i in range(n):
                    g = got[i * SECTOR:(i + 1) * SECTOR]
                    w = want[i * SECTOR:(i + 1) * SECTOR]
                    if g == w:
                        continue
                    if self.maybe_zero[s + i] and g == ZERO_SECTOR:
                        continue
                    if g in self.alt.get(s + i, ()):
                        continue
                    if any(a <= s + i < b for a, b in self.skip):
                        continue
                    bad += 1
                    if bad <= max_report:
                        print('# %s: sector %d: expected %s, found %s'
                              % (what, s + i, describe(w), describe(g)))
            s += n
        d.close()
        if bad:
            print('# %s: %d of %d sectors differ' % (what, bad, count))
        return bad


def cmd_stamp(args):
    n = dev_sectors(args.dev)
    if args.extents is not None:
        ranges = [(a * args.cluster, min(b * args.cluster,
                                         n - a * args.cluster))
                  for a, b in parse_extents(args.extents)]
    else:
        first = args.first
        ranges = [(first, args.count if args.count is not None
                   else n - first)]
    d = Direct(args.dev, write=True)
    for first, count in ranges:
        s = first
        while s < first + count:
            k = min(8192, first + count - s)
            d.pwrite(s * SECTOR, pattern(args.seed, args.holes, s, k,
                                         args.shift))
            s += k
    os.fsync(d.fd)
    d.close()
    return 0


def cmd_mkimage(args):
    with open(args.file, 'wb') as f:
        s = 0
        while s < args.sectors:
            k = min(8192, args.sectors - s)
            f.write(pattern(args.seed, args.holes, s, k))
            s += k
    return 0


def parse_extents(text):
    """'a+b c+d next=end' -> [(a, b), (c, d)]; words without '+' ignored."""
    out = []
    for word in text.split():
        if '+' in word:
            a, b = word.split('+')
            out.append((int(a), int(b)))
    return out


def cmd_verify(args):
    n = dev_sectors(args.dev)
    if args.extents is not None:
        # Only the listed clusters (cut at the device end).
        exp = Expected(args, n)
        bad = 0
        for start, length in parse_extents(args.extents):
            first = start * args.cluster
            count = min(length * args.cluster, n - first)
            bad += exp.compare(args.dev, first, count, args.dev)
        return 1 if bad else 0
    count = args.count if args.count is not None else n - args.first
    exp = Expected(args, args.first + count)
    bad = exp.compare(args.dev, args.first, count, args.dev)
    return 1 if bad else 0


def zones_of(job, jobs, zone, total):
    """Zones [k*zone, (k+1)*zone) with k % jobs == job, clipped."""
    out = []
    k = job
    while k * zone < total:
        out.append((k * zone, min(zone, total - k * zone)))
        k += jobs
    return out


def one_writer(args, job, total):
    rnd = random.Random(args.seed * 1000 + job)
    zones = zones_of(job, args.jobs, args.zone_sectors, total)
    maxlen = args.max_len // SECTOR
    minlen = args.min_len // SECTOR
    d = Direct(args.dev, write=True, maxlen=args.max_len)
    log = open(os.path.join(args.log, 'w%d.log' % job), 'w')
    deadline = time.monotonic() + args.seconds
    nops = nfailed = 0
    while time.monotonic() < deadline and \
            (args.ops == 0 or nops < args.ops) and \
            not (args.until and os.path.exists(args.until)):
        if args.interval and nops:
            time.sleep(args.interval)
        zstart, zlen = rnd.choice(zones)
        length = rnd.randint(minlen, min(maxlen, zlen))
        first = zstart + rnd.randint(0, zlen - length)
        roll = rnd.randint(1, 100)
        wseed = None
        try:
            if roll <= args.trim:
                d.ioctl_range(BLKDISCARD, first * SECTOR, length * SECTOR)
                log.write('D %d %d\n' % (first, length))
            elif roll <= args.trim + args.zero:
                d.ioctl_range(BLKZEROOUT, first * SECTOR, length * SECTOR)
                log.write('Z %d %d\n' % (first, length))
            else:
                # 24 bits of the run's seed, so that any seed fits the
                # pattern's u64 (a larger one raised OverflowError).
                wseed = (((args.seed + 1) & 0xffffff) << 40) | \
                    (job << 32) | nops
                d.pwrite(first * SECTOR, pattern(wseed, 0, first, length))
                log.write('W %d %d %d\n' % (first, length, wseed))
        except OSError as e:
            if wseed is None:
                log.write('E %d %d\n' % (first, length))
            else:
                log.write('E %d %d %d\n' % (first, length, wseed))
            if not args.keep_going:
                print('# writer %d: op %d at sector %d len %d failed: %s'
                      % (job, nops, first, length, e))
                log.close()
                return 1
            nfailed += 1
        nops += 1
    log.close()
    d.close()
    print('# writer %d: %d ops, %d failed' % (job, nops, nfailed))
    return 0


def cmd_writers(args):
    total = dev_sectors(args.dev)
    if args.limit_sectors:
        total = min(total, args.limit_sectors)
    os.makedirs(args.log, exist_ok=True)
    pids = []
    for job in range(args.jobs):
        pid = os.fork()
        if pid == 0:
            rc = 1
            try:
                rc = one_writer(args, job, total)
            except BaseException:  # say why (os._exit hides it), exit 1
                traceback.print_exc()
            finally:
                sys.stdout.flush()
                os._exit(rc)
        pids.append(pid)
    rc = 0
    for pid in pids:
        _, status = os.waitpid(pid, 0)
        if status != 0:
            rc = 1
    return rc


def cmd_check_source(args):
    n = dev_sectors(args.dev)
    exp = Expected(args, n)
    for first, count in parse_extents(' '.join(args.skip)):
        exp.skip.append((first, first + count))
    # Each --log directory is one phase; phases replay in order, the
    # writers of one phase own disjoint zones so their order is free.
    logs = [os.path.join(d, name) for d in args.log
            for name in sorted(os.listdir(d))]
    for path in logs:
        with open(path) as f:
            for line in f:
                w = line.split()
                op, first, count = w[0], int(w[1]), int(w[2])
                if op == 'W':
                    exp.write(first, count, int(w[3]))
                elif op == 'Z':
                    exp.zero(first, count)
                elif op == 'D':
                    exp.discard(first, count)
                elif len(w) > 3:
                    # A failed write.
                    if args.failed == 'either':
                        exp.failed_write(first, count, int(w[3]))
                else:
                    # A failed op leaves its range undefined.
                    exp.discard(first, count)
    bad = exp.compare(args.dev, 0, n, args.dev)
    return 1 if bad else 0


def cmd_reader(args):
    n = dev_sectors(args.dev)
    exp = Expected(args, n)
    rnd = random.Random(args.rseed)
    d = Direct(args.dev, maxlen=args.max_len)
    deadline = time.monotonic() + args.seconds
    reads = bad = eio = 0
    maxlen = args.max_len // SECTOR
    lo = args.first
    hi = min(n, lo + args.count) if args.count else n
    ranges = [(lo, hi)]
    if args.extents is not None:
        ranges = [(a * args.cluster, min(n, (a + b) * args.cluster))
                  for a, b in parse_extents(args.extents)]
    while time.monotonic() < deadline and \
            not (args.until and os.path.exists(args.until)):
        lo, hi = rnd.choice(ranges)
        length = min(rnd.randint(1, maxlen), hi - lo)
        first = rnd.randint(lo, hi - length)
        try:
            got = d.pread(first * SECTOR, length * SECTOR)
        except OSError as e:
            if args.eio_ok and e.errno == errno.EIO:
                eio += 1
                continue
            print('# reader: read at sector %d len %d failed: %s'
                  % (first, length, e))
            bad += 1
            break
        want = exp.chunk(first, length)
        reads += 1
        if got != want:
            for i in range(length):
                g = got[i * SECTOR:(i + 1) * SECTOR]
                w = want[i * SECTOR:(i + 1) * SECTOR]
                if g != w:
                    bad += 1
                    if bad <= 8:
                        print('# reader: sector %d: expected %s, found %s'
                              % (first + i, describe(w), describe(g)))
    d.close()
    if args.eio_ok:
        print('# reader: %d reads, %d eio, %d bad sectors'
              % (reads, eio, bad))
        return 1 if bad or reads + eio == 0 else 0
    print('# reader: %d reads, %d bad sectors' % (reads, bad))
    return 1 if bad or reads == 0 else 0


def cmd_overlay(args):
    with open(args.image, 'rb') as f:
        img = bytearray(f.read())
    d = Direct(args.target, maxlen=args.cluster * SECTOR * 64)
    total = len(img) // SECTOR
    for start, length in parse_extents(args.extents):
        for c in range(start, start + length):
            first = c * args.cluster
            cnt = min(args.cluster, total - first)
            if cnt <= 0:
                sys.exit('overlay: cluster %d past the end' % c)
            img[first * SECTOR:(first + cnt) * SECTOR] = \
                d.pread(first * SECTOR, cnt * SECTOR)
    d.close()
    with open(args.out, 'wb') as f:
        f.write(img)
    return 0


def cmd_readerr(args):
    try:
        d = Direct(args.dev, maxlen=args.length)
    except OSError as e:
        print('# open %s: %s' % (args.dev, e))
        return 1
    try:
        d.pread(args.offset, args.length)
    except OSError as e:
        print('# read %s at %d: %s' % (args.dev, args.offset, e))
        return 0 if e.errno == errno.EIO else 1
    finally:
        d.close()
    print('# read %s at %d succeeded' % (args.dev, args.offset))
    return 1


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest='cmd', required=True)

    def image_opts(sp, required=True):
        g = sp.add_mutually_exclusive_group(required=required)
        g.add_argument('--seed', type=int)
        g.add_argument('--image')
        g.add_argument('--zero', action='store_true')
        sp.add_argument('--holes', type=int, default=0)

    sp = sub.add_parser('stamp')
    sp.add_argument('dev')
    sp.add_argument('--seed', type=int, required=True)
    sp.add_argument('--holes', type=int, default=0)
    sp.add_argument('--first', type=int, default=0)
    sp.add_argument('--count', type=int)
    sp.add_argument('--shift', type=int, default=0,
                    help='sector numbers in the data are offset by this')
    sp.add_argument('--extents',
                    help="only these clusters: 'start+len ...'")
    sp.add_argument('--cluster', type=int, default=128)
    sp.set_defaults(fn=cmd_stamp)

    sp = sub.add_parser('mkimage')
    sp.add_argument('file')
    sp.add_argument('--sectors', type=int, required=True)
    sp.add_argument('--seed', type=int, required=True)
    sp.add_argument('--holes', type=int, default=0)
    sp.set_defaults(fn=cmd_mkimage)

    sp = sub.add_parser('verify')
    sp.add_argument('dev')
    image_opts(sp)
    sp.add_argument('--first', type=int, default=0)
    sp.add_argument('--count', type=int)
    sp.add_argument('--shift', type=int, default=0)
    sp.add_argument('--extents',
                    help="only these clusters: 'start+len ...'")
    sp.add_argument('--cluster', type=int, default=128)
    sp.set_defaults(fn=cmd_verify)

    sp = sub.add_parser('writers')
    sp.add_argument('dev')
    sp.add_argument('--jobs', type=int, default=4)
    sp.add_argument('--seconds', type=float, default=5)
    sp.add_argument('--ops', type=int, default=0)
    sp.add_argument('--seed', type=int, required=True)
    sp.add_argument('--log', required=True)
    sp.add_argument('--min-len', type=int, default=512)
    sp.add_argument('--max-len', type=int, default=1 << 20)
    # 1 MiB + 3.5 KiB: zone edges fall inside clusters of every size.
    sp.add_argument('--zone-sectors', type=int, default=2048 + 7)
    sp.add_argument('--trim', type=int, default=10)
    sp.add_argument('--zero', type=int, default=10)
    sp.add_argument('--limit-sectors', type=int, default=0)
    sp.add_argument('--keep-going', action='store_true',
                    help='log a failed op and go on')
    sp.add_argument('--interval', type=float, default=0,
                    help='seconds between two ops of a writer')
    sp.add_argument('--until',
                    help='stop (before the deadline) once this file exists')
    sp.set_defaults(fn=cmd_writers)

    sp = sub.add_parser('check-source')
    sp.add_argument('dev')
    image_opts(sp)
    sp.add_argument('--log', required=True, action='append')
    sp.add_argument('--failed', choices=('either', 'old'), default='either',
                    help='what a failed write left in its sectors')
    sp.add_argument('--skip', action='append', default=[],
                    help="sectors 'first+count' not compared")
    sp.set_defaults(fn=cmd_check_source)

    sp = sub.add_parser('reader')
    sp.add_argument('dev')
    image_opts(sp)
    sp.add_argument('--seconds', type=float, default=5)
    sp.add_argument('--max-len', type=int, default=256 << 10)
    sp.add_argument('--rseed', type=int, default=1)
    sp.add_argument('--first', type=int, default=0,
                    help='read only sectors [first, first+count)')
    sp.add_argument('--count', type=int, default=0)
    sp.add_argument('--eio-ok', action='store_true',
                    help='count EIO reads and go on')
    sp.add_argument('--extents',
                    help="read only these clusters: 'start+len ...'")
    sp.add_argument('--cluster', type=int, default=128)
    sp.add_argument('--until',
                    help='stop (before the deadline) once this file exists')
    sp.set_defaults(fn=cmd_reader)

    sp = sub.add_parser('overlay')
    sp.add_argument('out')
    sp.add_argument('--image', required=True)
    sp.add_argument('--target', required=True)
    sp.add_argument('--cluster', type=int, required=True)
    sp.add_argument('--extents', required=True)
    sp.set_defaults(fn=cmd_overlay)

    sp = sub.add_parser('readerr')
    sp.add_argument('dev')
    sp.add_argument('--offset', type=int, default=0)
    sp.add_argument('--length', type=int, default=4096)
    sp.set_defaults(fn=cmd_readerr)

    args = p.parse_args()
    sys.exit(args.fn(args))


if __name__ == '__main__':
    main()
