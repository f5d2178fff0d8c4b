# SPDX-License-Identifier: GPL-2.0
"""Hostile images for tests/images/run: images made by qemu-img, then
damaged one field at a time. Each case names the field the error line must
name and a word its reason must contain. Cases whose damage is only seen
when the tables are walked (a bad L2 or GT entry) let `info` succeed and
must fail `map`."""

import re
import struct
import subprocess
from pathlib import Path


class Case:
    def __init__(self, name, desc, data, field, reason, info_ok=False):
        self.name = name
        self.desc = desc
        self.data = bytes(data)
        self.field = field
        self.reason = reason
        self.info_ok = info_ok


def sh(*args):
    subprocess.run([str(a) for a in args], check=True, capture_output=True)


def qcow2_header(d):
    f = struct.unpack_from(">4sIQIIQIIQQIIQ", d, 0)
    h = dict(zip(("magic", "version", "backing_offset", "backing_size",
                  "cluster_bits", "size", "crypt", "l1_size", "l1_offset",
                  "rt_offset", "rt_clusters", "nb_snapshots",
                  "snapshots_offset"), f))
    h["cluster"] = 1 << h["cluster_bits"]
    return h


def l1_entry(d, h, i):
    return struct.unpack_from(">Q", d, h["l1_offset"] + 8 * i)[0]


def set_u32(d, off, v, big=True):
    struct.pack_into(">I" if big else "<I", d, off, v)
    return d


def set_u64(d, off, v, big=True):
    struct.pack_into(">Q" if big else "<Q", d, off, v)
    return d


def patched(base, fn):
    d = bytearray(base)
    fn(d)
    return d


def qcow2_cases(work):
    img = work / "h-base.qcow2"
    sh("qemu-img", "create", "-q", "-f", "qcow2", img, "1G")
    sh("qemu-io", "-c", "write -P 1 0 128k", "-c", "write -P 2 600M 64k",
       img)
    base = img.read_bytes()
    h = qcow2_header(base)
    l2 = l1_entry(base, h, 0) & 0x00fffffffffffe00
    l2b = l1_entry(base, h, 1) & 0x00fffffffffffe00
    c = h["cluster"]
    cases = []

    def add(name, desc, fn, field, reason, info_ok=False, data=None):
        cases.append(Case(f"h-{name}.qcow2", desc,
                          data if data is not None else patched(base, fn),
                          field, reason, info_ok))

    add("trunc", "qcow2 header truncated to 50 bytes", None, "header",
        "past the end", data=base[:50])
    add("magic-only", "qcow2 magic alone", None, "header", "past the end",
        data=base[:4])
    add("version", "qcow2 version 4", lambda d: set_u32(d, 4, 4),
        "version", "unsupported")
    add("cbits", "qcow2 cluster_bits 30", lambda d: set_u32(d, 20, 30),
        "cluster_bits", "outside")
    add("hugel1", "qcow2 L1 of 16M entries (128 MiB)",
        lambda d: set_u32(d, 36, 1 << 24), "l1_size", "32 MiB")
    add("smalll1", "qcow2 L1 too small for the virtual size",
        lambda d: set_u64(d, 24, 1 << 50), "l1_size", "cannot map")
    add("l1eof", "qcow2 L1 offset past EOF",
        lambda d: set_u64(d, 40, 1 << 40), "l1_table_offset", "past the end")
    add("l1align", "qcow2 L1 offset not cluster aligned",
        lambda d: set_u64(d, 40, h["l1_offset"] + 512), "l1_table_offset",
        "not aligned")
    add("l1-on-rt", "qcow2 L1 table overlapping the refcount table",
        lambda d: set_u64(d, 40, h["rt_offset"]), "table", "overlaps")
    add("l1-loop", "qcow2 L1 entry pointing at the L1 table (loop)",
        lambda d: set_u64(d, h["l1_offset"], h["l1_offset"] | 1 << 63),
        "table", "overlaps")
    add("l1-shared", "qcow2 two L1 entries sharing one L2 table",
        lambda d: set_u64(d, h["l1_offset"] + 8, l2 | 1 << 63),
        "L2 table", "overlaps")
    add("l1-eof", "qcow2 L1 entry past EOF",
        lambda d: set_u64(d, h["l1_offset"], (1 << 40) | 1 << 63),
        "L1 entry 0", "past the end")
    add("l1-resv", "qcow2 L1 entry with reserved bits",
        lambda d: set_u64(d, h["l1_offset"], l2 | 1 << 63 | 1),
        "L1 entry 0", "reserved")
    add("l2-meta", "qcow2 data cluster pointing into the refcount table",
        lambda d: set_u64(d, l2, h["rt_offset"] | 1 << 63),
        "L2 entry 0 of L1 entry 0", "points into", info_ok=True)
    add("l2-self", "qcow2 data cluster pointing at its own L2 table",
        lambda d: set_u64(d, l2b + 8 * 1408, l2b | 1 << 63),
        "L2 entry 1408 of L1 entry 1", "points into the L2 table",
        info_ok=True)
    add("l2-eof", "qcow2 data cluster past EOF",
        lambda d: set_u64(d, l2 + 8, (1 << 45) | 1 << 63),
        "L2 entry 1 of L1 entry 0", "past the end", info_ok=True)
    add("l2-align", "qcow2 data cluster not aligned",
        lambda d: set_u64(d, l2 + 8, (3 * c + 4096) | 1 << 63),
        "L2 entry 1 of L1 entry 0", "not cluster aligned", info_ok=True)
    add("l2-resv", "qcow2 L2 entry with reserved bits",
        lambda d: set_u64(d, l2, (struct.unpack_from(">Q", d, l2)[0]) |
                          0x10), "L2 entry 0", "reserved", info_ok=True)
    add("incompat", "qcow2 unknown incompatible feature bit 5",
        lambda d: set_u64(d, 72, 1 << 5), "incompatible_features",
        "bit 5")
    add("incompat-named", "qcow2 unknown incompatible bit named in the "
        "feature table", lambda d: (set_u64(d, 72, 1 << 5),
                                    rename_feature(d, 4, 5)),
        "incompatible_features", "bit 5 (extended L2 entries)")
    add("corrupt", "qcow2 corrupt bit", lambda d: set_u64(d, 72, 2),
        "incompatible_features", "corrupt")
    add("datafile", "qcow2 external data file bit without a name",
        lambda d: set_u64(d, 72, 4), "incompatible_features", "data file")
    add("hlen-big", "qcow2 header_length past cluster 0",
        lambda d: set_u32(d, 100, c + 8), "header_length", "cluster 0")
    add("hlen-small", "qcow2 header_length below 104",
        lambda d: set_u32(d, 100, 72), "header_length", "shorter")
    add("ext-len", "qcow2 header extension running past cluster 0",
        lambda d: set_u32(d, h_ext(d) + 4, 0x7fffffff), "header extension",
        "past cluster 0")
    add("ctype", "qcow2 compression type without its feature bit",
        lambda d: (set_u32(d, 100, 112), d.__setitem__(104, 1)),
        "compression_type", "without")
    add("backing-len", "qcow2 backing name of 2000 bytes",
        lambda d: (set_u64(d, 8, 1024), set_u32(d, 16, 2000)),
        "backing_file_size", "1023")
    add("backing-out", "qcow2 backing name outside cluster 0",
        lambda d: (set_u64(d, 8, c - 10), set_u32(d, 16, 100)),
        "backing_file_offset", "cluster 0")
    add("rt-huge", "qcow2 refcount table larger than 8 MiB",
        lambda d: set_u32(d, 56, 200), "refcount_table_clusters", "8 MiB")
    add("rt-eof", "qcow2 refcount table past EOF",
        lambda d: set_u64(d, 48, 1 << 40), "refcount_table_offset",
        "past the end")
    add("rt-entry", "qcow2 refcount block pointing into the L1 table",
        lambda d: set_u64(d, h["rt_offset"] + 8, h["l1_offset"]),
        "refcount block", "overlaps L1 table")
    add("snaps", "qcow2 70000 snapshots", lambda d: set_u32(d, 60, 70000),
        "nb_snapshots", "65536")
    add("snap-eof", "qcow2 snapshot table past EOF",
        lambda d: (set_u32(d, 60, 1), set_u64(d, 64, 1 << 40)),
        "snapshots_offset", "past the end")

    # Extended L2 needs 16 KiB clusters or more.
    small = work / "h-4k.qcow2"
    sh("qemu-img", "create", "-q", "-f", "qcow2", "-o", "cluster_size=4k",
       small, "16M")
    add("extl2-4k", "qcow2 extended L2 bit with 4 KiB clusters",
        None, "incompatible_features", "extended L2",
        data=patched(small.read_bytes(), lambda d: set_u64(d, 72, 16)))

    # A snapshot whose L1 table is absurd.
    snap = work / "h-snap.qcow2"
    sh("qemu-img", "create", "-q", "-f", "qcow2", snap, "16M")
    sh("qemu-img", "snapshot", "-c", "s", snap)
    sd = snap.read_bytes()
    sh_ = qcow2_header(sd)
    add("snap-l1", "qcow2 snapshot with a 40 MiB L1 table", None,
        "snapshot 0", "32 MiB",
        data=patched(sd, lambda d: set_u32(d, sh_["snapshots_offset"] + 8,
                                           5 << 20)))

    # Backing format extension longer than QEMU allows.
    top = work / "h-top.qcow2"
    sh("qemu-img", "create", "-q", "-f", "qcow2", "-u", "-b", "base.raw",
       "-F", "raw", top, "16M")
    td = top.read_bytes()
    add("bfmt", "qcow2 backing format extension of 100 bytes", None,
        "backing format extension", "more than",
        data=patched(td, lambda d: set_u32(d, h_ext(d) + 4, 100)))

    # The zero flag does not exist in version 2.
    v2 = work / "h-v2.qcow2"
    sh("qemu-img", "create", "-q", "-f", "qcow2", "-o", "compat=0.10", v2,
       "16M")
    sh("qemu-io", "-c", "write -P 1 0 64k", v2)
    vd = v2.read_bytes()
    vh = qcow2_header(vd)
    vl2 = l1_entry(vd, vh, 0) & 0x00fffffffffffe00
    add("v2-zero", "qcow2 v2 L2 entry with the zero flag", None,
        "L2 entry 0", "version 2", info_ok=True,
        data=patched(vd, lambda d: set_u64(
            d, vl2, struct.unpack_from(">Q", d, vl2)[0] | 1)))

    # Compressed cluster descriptor pointing past the end.
    cz = work / "h-comp.qcow2"
    sh("qemu-img", "convert", "-c", "-O", "qcow2", v2, cz)
    cd = cz.read_bytes()
    ch = qcow2_header(cd)
    cl2 = l1_entry(cd, ch, 0) & 0x00fffffffffffe00
    add("comp-eof", "qcow2 compressed cluster past EOF", None,
        "L2 entry 0", "past the end", info_ok=True,
        data=patched(cd, lambda d: set_u64(d, cl2, 1 << 62 | (1 << 40))))
    return cases


def rename_feature(d, old_bit, new_bit):
    """Point the feature-table name of incompatible bit @old_bit at
    @new_bit."""
    off = h_ext(d)
    while True:
        typ, length = struct.unpack_from(">II", d, off)
        assert typ != 0, "no feature name table"
        if typ == 0x6803f857:
            for e in range(off + 8, off + 8 + length, 48):
                if d[e] == 0 and d[e + 1] == old_bit:
                    d[e + 1] = new_bit
                    return
        off += 8 + (length + 7) // 8 * 8


def h_ext(d):
    """Offset of the first header extension of a v3 image."""
    return struct.unpack_from(">I", d, 100)[0]


def vmdk_cases(work):
    img = work / "h-base.vmdk"
    sh("qemu-img", "create", "-q", "-f", "vmdk", img, "64M")
    sh("qemu-io", "-c", "write -P 1 0 128k", "-c", "write -P 2 40M 64k", img)
    base = img.read_bytes()
    gd = struct.unpack_from("<Q", base, 56)[0]
    gt0 = struct.unpack_from("<I", base, gd * 512)[0]
    cases = []

    def add(name, desc, fn, field, reason, info_ok=False, data=None):
        cases.append(Case(f"h-{name}.vmdk", desc,
                          data if data is not None else patched(base, fn),
                          field, reason, info_ok))

    le32 = lambda off, v: lambda d: set_u32(d, off, v, big=False)  # noqa
    le64 = lambda off, v: lambda d: set_u64(d, off, v, big=False)  # noqa
    add("trunc", "VMDK header truncated to 100 bytes", None, "header",
        "past the end", data=base[:100])
    add("version", "VMDK version 4", le32(4, 4), "version", "unsupported")
    add("grain", "VMDK grain size of 3 sectors", le64(20, 3), "grainSize",
        "power of two")
    add("biggrain", "VMDK grain size of 2 GiB", le64(20, 1 << 22),
        "grainSize", "1 GiB")
    add("gtes", "VMDK 1024 entries per grain table", le32(44, 1024),
        "numGTEsPerGT", "1..512")
    add("capacity", "VMDK capacity needing 64M directory entries",
        le64(12, 1 << 46), "capacity", "directory entries")
    add("gd-eof", "VMDK grain directory past EOF", le64(56, 1 << 30),
        "grain directory", "past the end")
    add("gt-eof", "VMDK grain table past EOF", le32(gd * 512, 1 << 28),
        "grain table", "past the end")
    add("gt-loop", "VMDK grain table pointing at the grain directory (loop)",
        le32(gd * 512, gd), "grain", "overlaps")
    add("gt-desc", "VMDK grain table inside the descriptor",
        le32(gd * 512, 2), "grain table", "overlaps descriptor")
    add("grain-eof", "VMDK grain past EOF", le32(gt0 * 512, 1 << 28),
        "grain table 0 entry 0", "past the end", info_ok=True)
    add("grain-meta", "VMDK grain pointing into the descriptor",
        le32(gt0 * 512, 1), "grain table 0 entry 0",
        "points into the descriptor", info_ok=True)
    add("grain-gd", "VMDK grain pointing into the grain directory",
        le32(gt0 * 512 + 4, gd), "grain table 0 entry 1",
        "points into the grain directory", info_ok=True)
    add("descsize", "VMDK descriptor of 4096 sectors", le64(36, 4096),
        "descriptorSize", "1 MiB")
    add("nl", "VMDK newline check characters damaged",
        lambda d: d.__setitem__(75, 0x0a), "header", "newline")
    add("compress", "VMDK unknown compression algorithm", le32(77, 7),
        "compressAlgorithm", "unknown")
    add("cowd", "VMDK version 3 COWD extent", lambda d: d.__setitem__(
        slice(0, 4), b"COWD"), "header", "COWD")
    def bad_cid(d):
        # QEMU writes the CID without leading zeros: 1 to 8 digits.
        a, b = re.search(rb"\nCID=([0-9a-f]+)", bytes(d)).span(1)
        d[a:b] = b"z" * (b - a)
    add("cid", "VMDK descriptor with a bad CID", bad_cid,
        "descriptor line 3", "CID")

    # The stream footer (our own streamOptimized writer puts the GD at the
    # end, as VMware does).
    raw = work / "h-stream.raw"
    raw.write_bytes(b"\x07" * (1 << 20) + bytes(1 << 20))
    stream = work / "h-stream.vmdk"
    sh("qemu-img", "convert", "-O", "vmdk", "-o", "subformat=streamOptimized",
       raw, stream)
    sd = bytearray(stream.read_bytes())
    # Rewrite as a footer-style stream: header says GD at end, footer holds
    # the real header.
    hdr = bytes(sd[:512])
    foot = bytearray(512 * 3)
    struct.pack_into("<QII", foot, 0, 1, 0, 3)
    foot[512:1024] = hdr
    set_u64(sd, 56, (1 << 64) - 1, big=False)
    sd += foot
    good = bytes(sd)
    sgd = struct.unpack_from("<Q", hdr, 56)[0]
    sgt = struct.unpack_from("<I", good, sgd * 512)[0]
    grain0 = struct.unpack_from("<I", good, sgt * 512)[0]
    add("marker-lba", "VMDK stream grain marker for the wrong sector", None,
        "grain table 0 entry 0", "is for sector 77", info_ok=True,
        data=patched(good, lambda d: set_u64(d, grain0 * 512, 77,
                                             big=False)))
    add("marker-len", "VMDK stream grain marker size past EOF", None,
        "grain table 0 entry 0", "outside the file", info_ok=True,
        data=patched(good, lambda d: set_u32(d, grain0 * 512 + 8,
                                             1 << 30, big=False)))
    bad = bytearray(good)
    set_u32(bad, len(bad) - 1536 + 12, 9, big=False)
    add("footer", "VMDK stream footer marker damaged", None, "footer",
        "footer marker", data=bad)
    bad2 = bytearray(good)
    set_u64(bad2, len(bad2) - 1024 + 56, (1 << 64) - 1, big=False)
    add("footer-loop", "VMDK footer pointing the GD at the end again", None,
        "footer", "at the end", data=bad2)

    # Descriptor files.
    def desc(name, text, field, reason, what):
        cases.append(Case(f"h-{name}.vmdk", what, text.encode(), field,
                          reason))

    head = "# Disk DescriptorFile\nversion=1\n"
    desc("longline", head + "ddb.comment = \"" + "x" * 9000 + "\"\n",
         "descriptor line 3", "8192", "VMDK descriptor with a 9000-byte line")
    desc("quote", head + 'RW 100 SPARSE "unterminated\n',
         "descriptor line 3", "closing quote",
         "VMDK extent name without closing quote")
    desc("etype", head + 'RW 100 BOGUS "x.vmdk"\n', "descriptor line 3",
         "unknown extent type", "VMDK unknown extent type")
    desc("esize", head + 'RW 12x SPARSE "x.vmdk"\n', "descriptor line 3",
         "sector count", "VMDK extent size not a number")
    desc("garbage", head + "\x01\x02 what is this\n", "descriptor line 3",
         "neither", "VMDK descriptor line that is not key=value")
    desc("sum", head + 'RW 18014398509481984 ZERO\n' * 2, "descriptor",
         "add up", "VMDK extents adding up past 2^54 sectors")
    desc("flatoff", head + 'RW 100 FLAT "x-flat.vmdk"\n',
         "descriptor line 3", "offset", "VMDK FLAT extent without offset")
    desc("geom", head + 'ddb.geometry.heads = "-1"\n', "descriptor line 3",
         "not a number", "VMDK geometry not a number")
    cases.append(Case("h-bigdesc.vmdk", "VMDK descriptor file over 1 MiB",
                      (head + "#" * (1 << 20)).encode(), "descriptor",
                      "1 MiB"))
    return cases


def cases(work):
    work = Path(work)
    return qcow2_cases(work) + vmdk_cases(work)


# --------------------------------------------------------------------------
# Costly images (issue 14, finding 5): valid as far as QEMU's limits go,
# but built to make a reader do a lot of work or hold a lot of memory. The
# tables live in holes of sparse files, so they cost nothing to build.

def _qcow2_many_l2(path, l1_size):
    """qcow2, 64 KiB clusters, @l1_size L1 entries each pointing to its
    own L2 table; the tables lie in a hole after the L1 table."""
    from array import array
    cb, c = 16, 1 << 16
    l2_per = c // 8
    size = l1_size * l2_per * c
    l1_clusters = (l1_size * 8 + c - 1) // c
    first_l2 = 2 + l1_clusters
    h = bytearray(c)
    struct.pack_into(">4sIQIIQIIQQIIQQQQII", h, 0, b"QFI\xfb", 3, 0, 0, cb,
                     size, 0, l1_size, 2 * c, c, 1, 0, 0, 0, 0, 0, 4, 104)
    l1 = array("Q", range((first_l2 << cb) | 1 << 63,
                          ((first_l2 + l1_size) << cb) | 1 << 63, c))
    if struct.pack("=H", 1) == b"\x01\x00":
        l1.byteswap()
    with open(path, "wb") as f:
        f.write(h)
        f.seek(2 * c)
        f.write(l1.tobytes())
        f.truncate((first_l2 + l1_size) * c)
    return size


def _vmdk_big_gd(path, tables):
    """monolithicSparse VMDK with 1-sector grains and a grain directory of
    32M entries (the most QEMU allows); with @tables, each entry points to
    its own grain table, in a hole after the directory."""
    from array import array
    n = 32 << 20
    gd_sectors = n * 4 // 512
    h = bytearray(512)
    struct.pack_into("<4sIIQQQQIQQQ", h, 0, b"KDMV", 1, 0, n * 512, 1, 0, 0,
                     512, 0, 1, 1 + gd_sectors)
    end = 1 + gd_sectors
    with open(path, "wb") as f:
        f.write(h)
        if tables:
            first = 1 + gd_sectors
            gd = array("I", range(first, first + 4 * n, 4))
            if struct.pack("=H", 1) != b"\x01\x00":
                gd.byteswap()
            f.write(gd.tobytes())
            end = first + 4 * n
        f.truncate(end * 512)
    return n * 512 * 512


def costly_cases(work):
    """(description, path, build) triples; build(path) writes the image
    and returns its virtual size."""
    work = Path(work)
    specs = [
        ("c-l1-4m.qcow2", "qcow2, 4M L1 entries each with its own L2 table "
         "in a hole (256 GiB sparse)", lambda p: _qcow2_many_l2(p, 4 << 20)),
        ("c-l1-512k.qcow2", "qcow2, 512K L1 entries each with its own L2 "
         "table in a hole (32 GiB sparse)",
         lambda p: _qcow2_many_l2(p, 512 << 10)),
        ("c-gd-32m.vmdk", "VMDK, grain directory of 32M empty entries",
         lambda p: _vmdk_big_gd(p, False)),
        ("c-gd-32m-gts.vmdk", "VMDK, grain directory of 32M entries each "
         "with its own grain table in a hole (64 GiB sparse)",
         lambda p: _vmdk_big_gd(p, True)),
    ]
    for name, desc, build in specs:
        path = work / name
        yield desc, path, build
