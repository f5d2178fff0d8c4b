#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Read and replay a dm-log-writes log (the guest write-ordering tests).

The log format (drivers/md/dm-log-writes.c, log-writes.rst): sector 0 of
the log device holds the super (le64 magic 0x6a736677736872, le64 version
1, le64 nr_entries, le32 sectorsize); from sector 1 on, in units of that
sectorsize, each entry is one header sector (le64 sector, le64 nr_sectors,
le64 flags, le64 data_len; a mark's name follows inline) and then, unless
it is a discard or a mark, nr_sectors of the data written. Writes are
logged in the order they became durable: a FLUSH entry comes after every
write that completed before the flush was issued; a FUA write as soon as
it completed. So replaying the log up to a FLUSH/FUA entry gives the
device as a power cut right after that point would have left it.

  list LOG
        one line per entry: "<index> <flags> <sector> <nr_sectors> [<mark>]"
        with flags as WRITE or a comma list of FLUSH,FUA,DISCARD,MARK,META.
  replay LOG DEV [--check CMD] [--from-mark NAME] [--sample N] [--seed S]
        write the log to DEV (which must start as the logged device did,
        e.g. all zeros); at every check point run CMD with sh -c, DEV's
        writes made durable first (fsync), with LR_ENTRY, LR_KIND (flush,
        fua or mark) and LR_MARK in its environment. Check points: every
        mark, and every FLUSH/FUA entry that follows a write or discard
        since the previous check point (an identical device state is
        checked once). --from-mark NAME: no check point before that
        mark (e.g. the end of mkfs); it is replayed all the same.
        --sample N checks all marks and a random N of the
        FLUSH/FUA points (the seed is printed). Discards are replayed as
        zeros. Exits 1 if CMD failed at any point.
"""

import argparse
import os
import random
import struct
import subprocess
import sys

MAGIC = 0x6a736677736872
FLUSH, FUA, DISCARD, MARK, META = 1, 2, 4, 8, 16
NAMES = ((FLUSH, "FLUSH"), (FUA, "FUA"), (DISCARD, "DISCARD"),
         (MARK, "MARK"), (META, "META"))


def flag_names(flags):
    names = [n for bit, n in NAMES if flags & bit]
    return ",".join(names) if names else "WRITE"


class Log:
    """Sequential reader of a log: yields (index, sector, nr, flags, mark,
    data offset in the log in bytes)."""

    def __init__(self, path):
        self.f = open(path, "rb", buffering=1 << 20)
        hdr = self.f.read(28)
        if len(hdr) < 28:
            sys.exit(f"{path}: too short for a dm-log-writes super")
        magic, version, self.nr, self.ss = struct.unpack("<QQQI", hdr)
        if magic != MAGIC or version != 1:
            sys.exit(f"{path}: not a dm-log-writes log (magic {magic:#x}, "
                     f"version {version})")
        if self.ss < 512 or self.ss & (self.ss - 1):
            sys.exit(f"{path}: bad sector size {self.ss}")
        self.path = path

    def entries(self):
        pos = self.ss
        for i in range(self.nr):
            self.f.seek(pos)
            hdr = self.f.read(self.ss)
            if len(hdr) < self.ss:
                sys.exit(f"{self.path}: entry {i} past the end of the log")
            sector, nr, flags, dlen = struct.unpack("<QQQQ", hdr[:32])
            mark = ""
            if flags & MARK:
                mark = hdr[32:32 + min(dlen, self.ss - 32)].decode(
                    "ascii", "replace").rstrip("\0")
            pos += self.ss
            data = pos
            if not flags & (DISCARD | MARK):
                pos += nr * self.ss
            yield i, sector, nr, flags, mark, data

    def read(self, off, length):
        self.f.seek(off)
        buf = self.f.read(length)
        if len(buf) != length:
            sys.exit(f"{self.path}: data at {off} past the end of the log")
        return buf


def cmd_list(a):
    log = Log(a.log)
    out = sys.stdout
    for i, sector, nr, flags, mark, _ in log.entries():
        out.write(f"{i} {flag_names(flags)} {sector} {nr}"
                  + (f" {mark}" if mark else "") + "\n")


def points(log, start):
    """The check points: (entry index, kind, mark)."""
    pts = []
    changed = False
    for i, _, nr, flags, mark, _ in log.entries():
        if start is not None:
            if flags & MARK and mark == start:
                start = None
            else:
                continue
        if flags & MARK:
            pts.append((i, "mark", mark))
            changed = False
            continue
        if nr:
            changed = True
        if flags & (FLUSH | FUA) and changed:
            pts.append((i, "flush" if flags & FLUSH else "fua", ""))
            changed = False
    return pts


def cmd_replay(a):
    log = Log(a.log)
    pts = points(log, a.from_mark)
    if a.from_mark is not None and not pts:
        sys.exit(f"{a.log}: no mark {a.from_mark!r}")
    flushes = [p for p in pts if p[1] != "mark"]
    marks = [p for p in pts if p[1] == "mark"]
    chosen = set(p[0] for p in pts)
    if a.sample is not None and a.sample < len(flushes):
        seed = a.seed if a.seed is not None else random.randrange(1 << 30)
        print(f"# sampling {a.sample} of {len(flushes)} flush/FUA points, "
              f"seed {seed}")
        keep = random.Random(seed).sample(flushes, a.sample)
        chosen = set(p[0] for p in keep) | set(p[0] for p in marks)
    fd = os.open(a.dev, os.O_WRONLY)
    total = log.nr
    writes = checked = failed = 0
    todo = {p[0]: p for p in pts if p[0] in chosen}
    for i, sector, nr, flags, mark, data in log.entries():
        if nr and not flags & MARK:
            off = sector * log.ss
            length = nr * log.ss
            writes += 1
            while length:
                n = min(length, 1 << 20)
                if flags & DISCARD:
                    buf = bytes(n)
                else:
                    buf = log.read(data, n)
                    data += n
                os.pwrite(fd, buf, off)
                off += n
                length -= n
        if i not in todo:
            continue
        _, kind, name = todo[i]
        os.fsync(fd)
        env = dict(os.environ, LR_ENTRY=str(i), LR_KIND=kind, LR_MARK=name)
        rc = 0
        if a.check:
            rc = subprocess.call(["sh", "-c", a.check], env=env)
        checked += 1
        what = f"entry {i} {kind}" + (f" {name}" if name else "")
        if rc:
            failed += 1
            print(f"# FAILED at {what} (exit {rc})", flush=True)
        elif a.verbose:
            print(f"# clean at {what}", flush=True)
    os.fsync(fd)
    os.close(fd)
    print(f"entries={total} writes={writes} flush_points={len(flushes)} "
          f"marks={len(marks)} checked={checked} failed={failed}")
    return 1 if failed else 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    ls = sub.add_parser("list")
    ls.add_argument("log")
    rp = sub.add_parser("replay")
    rp.add_argument("log")
    rp.add_argument("dev")
    rp.add_argument("--check")
    rp.add_argument("--from-mark")
    rp.add_argument("--sample", type=int)
    rp.add_argument("--seed", type=int)
    rp.add_argument("-v", "--verbose", action="store_true")
    a = p.parse_args()
    if a.cmd == "list":
        cmd_list(a)
        return 0
    return cmd_replay(a)


if __name__ == "__main__":
    sys.exit(main())
