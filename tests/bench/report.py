#!/usr/bin/env python3
"""Format the output of tests/bench/guest-bench.sh (REP/INFO lines).

    report.py RAW DATE ACCEL KVER COMMIT LOAD CHART_DAT [NOTE] >results.md

Prints the results as markdown (medians, ratios to the bound and to
dm-linear, every repetition) and writes the first-write IOPS by setup
and cluster size, with the bound, to CHART_DAT for tests/bench/plot.gp.
Medians are the lower median: always a value that was measured.
"""
import json
import statistics
import sys

raw, date, accel, kver, commit, load, chart = sys.argv[1:8]
note = sys.argv[8] if len(sys.argv) > 8 else ''

def fio_fields(path):
    """[write IOPS, clat p50 us, clat p99 us] of one fio JSON output."""
    try:
        with open(path) as f:
            text = f.read()
        # fio may print notes before the JSON object.
        j = json.loads(text[text.index('{'):])['jobs'][0]
    except (OSError, ValueError, KeyError, IndexError):
        return ['-', '-', '-']
    if j.get('error'):
        return ['-', '-', '-']
    w = j['write']
    pct = w.get('clat_ns', {}).get('percentile', {})

    def us(k):
        return '%.1f' % (pct[k] / 1000) if k in pct else '-'
    return ['%d' % round(w['iops']), us('50.000000'), us('99.000000')]


reps = {}      # (devices, key) -> [[field, ...], ...] in run order
infos = {}     # (devices, key) -> value
order = []     # devices in order of appearance
for line in open(raw):
    w = line.split()
    if len(w) < 4 or w[0] not in ('REP', 'INFO'):
        continue
    if w[1] not in order and w[1] not in ('all', 'none'):
        order.append(w[1])
    if w[0] == 'REP':
        reps.setdefault((w[1], w[2]), []).append(
            fio_fields(w[3][1:]) if w[3].startswith('@') else w[3:])
    else:
        infos[(w[1], w[2])] = w[3]


def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def med(dev, key, field=0):
    vals = [num(r[field]) for r in reps.get((dev, key), []) if len(r) > field]
    vals = [v for v in vals if v is not None]
    return statistics.median_low(vals) if vals else None


def every(dev, key, field=0):
    return ' '.join(r[field] if len(r) > field else '-'
                    for r in reps.get((dev, key), []))


def fmt(v, f='%d'):
    return '-' if v is None else f % v


def ratio(a, b):
    return '%.2f' % (a / b) if a is not None and b else '-'


def per_rep(dev, key, base):
    """Each repetition's own ratio key / base, in run order: drift between
    repetitions (this host's load) cancels out of it."""
    out = []
    for a, b in zip(reps.get((dev, base), []), reps.get((dev, key), [])):
        if num(a[0]) and num(b[0]) is not None:
            out.append(num(b[0]) / num(a[0]))
    return out


def med_ratio(per):
    return fmt(statistics.median_low(per) if per else None, '%.2f')


def lat(dev, key):
    p50, p99 = med(dev, key, 1), med(dev, key, 2)
    if p50 is None:
        return '-'
    return '%s / %s' % (fmt(p50, '%.0f'), fmt(p99, '%.0f'))


def cluster_name(b):
    return '%d KiB' % (b >> 10) if b < (1 << 20) else '%d MiB' % (b >> 20)


SETUPS = (('cowbackup', 'cowbackup'), ('snapshot', 'dm-snapshot'),
          ('thin', 'thin snapshot'))
out = []
p = out.append
if note.strip():
    p('**%s**' % note.strip())
    p('')
p('Run %s, accel %s, guest kernel %s, commit %s; host load average %s.'
  % (date, accel.upper(), kver, commit, load))
p('')
p('%s repetitions (medians shown), %s MiB devices; every setup of a row was'
  ' measured alternately in each repetition of the same guest boot.'
  % (infos.get(('all', 'reps'), '?'), infos.get(('all', 'mb'), '?')))

chart_rows = []
for dev in order:
    clusters = sorted((int(v), k[1][len('writes_'):])
                      for k, v in infos.items()
                      if k[0] == dev and k[1].startswith('writes_'))
    if not clusters:
        continue
    clusters = sorted((int(infos[(dev, 'cluster_bytes_' + n)]), n, w)
                      for w, n in clusters)
    dd1m = med(dev, 'dd_1M_MBps')
    p('')
    p('### First writes, %s' % dev)
    p('')
    p('One 4 KiB O_DIRECT write per cluster (chunk, block), each to a cluster'
      ' not copied yet, through a fresh setup per repetition; IOPS, the ratio'
      ' to the bound and fio completion latency p50 / p99 in us.')
    p('')
    p('| cluster | QD | bound | dm-linear | cowbackup | / bound | p50 / p99'
      ' | dm-snapshot | / bound | p50 / p99 | thin snapshot | / bound'
      ' | p50 / p99 |')
    p('|---|---|---|---|---|---|---|---|---|---|---|---|---|')
    bounds = []
    for cs, name, writes in clusters:
        copy_us = med(dev, 'copy_block_us_' + name)
        row = [cluster_name(cs)]
        for qd in (1, 32):
            lin = med(dev, 'first_linear_%s_qd%d' % (name, qd))
            bound = None
            if qd == 1 and lin and copy_us is not None:
                bound = 1 / (1 / lin + copy_us / 1e6)
            elif qd == 32 and lin and dd1m:
                bound = 1 / (1 / lin + cs / (dd1m * 1e6))
            bounds.append((name, qd, lin, copy_us, bound))
            cells = [cluster_name(cs), str(qd), fmt(bound), fmt(lin)]
            vals = []
            for key, _ in SETUPS:
                k = 'first_%s_%s_qd%d' % (key, name, qd)
                v = med(dev, k)
                vals.append(v)
                cells += [fmt(v), ratio(v, bound), lat(dev, k)]
            p('| ' + ' | '.join(cells) + ' |')
            row += [fmt(bound, '%.0f')] + [fmt(v, '%.0f') for v in vals]
        chart_rows.append((dev, row))
    p('')
    p('The bound: a first write reads one cluster from the source, writes'
      ' it to the target, then writes the 4 KiB. QD1: 1 / (t_linear_4k +'
      ' t_copy_cluster), t_linear_4k from dm-linear\'s IOPS with the same'
      ' pattern and t_copy_cluster the time per block of `dd bs=<cluster>'
      ' iflag=direct oflag=direct` source -> target. QD32: 1 / (1 /'
      ' linear_QD32_IOPS + cluster / dd_bs=1M_throughput). Goals (issue 10,'
      ' 64 KiB clusters): cowbackup >= 0.7 x bound at QD1, >= 0.9 x bound at'
      ' QD32.')
    p('')
    p('| cluster | writes per run | dd per block (us) | dd bs=1M (MB/s) |'
      ' linear QD1 | bound QD1 | linear QD32 | bound QD32 |')
    p('|---|---|---|---|---|---|---|---|')
    for cs, name, writes in clusters:
        b = {qd: (lin, bound) for n, qd, lin, _, bound in bounds if n == name}
        p('| %s | %d | %s | %s | %s | %s | %s | %s |' % (
            cluster_name(cs), writes, fmt(med(dev, 'copy_block_us_' + name),
                                          '%.1f'),
            fmt(dd1m), fmt(b[1][0]), fmt(b[1][1]), fmt(b[32][0]),
            fmt(b[32][1])))
    if any(cs < 65536 for cs, _, _ in clusters):
        p('')
        p('dm-thin has no 4 KiB blocks (its smallest is 64 KiB): "-".')

settled_rows = (('strided', 1), ('strided', 32), ('random', 1),
                ('random', 32), ('random2', 32))
if any((d, 'settled_strided_qd1') in reps for d in order):
    p('')
    p('### Writes to settled clusters')
    p('')
    p('4 KiB O_DIRECT writes (IOPS) through a live, paused job whose clusters'
      ' (64 KiB) are all copied, against dm-linear on the same source.'
      ' Goal: >= 0.97 x linear.')
    p('')
    p('| devices | pattern | QD | dm-linear | settled | ratio of medians |'
      ' median of the ratios per repetition | p99 linear / settled (us) |')
    p('|---|---|---|---|---|---|---|---|')
    for dev in order:
        for pat, qd in settled_rows:
            kl, ks = 'linear_%s_qd%d' % (pat, qd), 'settled_%s_qd%d' % (pat, qd)
            lin, st = med(dev, kl), med(dev, ks)
            if lin is None and st is None:
                continue
            label = {'random2': 'random, 2 fio jobs x QD16'}.get(pat, pat)
            p('| %s | %s | %d | %s | %s | %s | %s | %s / %s |' % (
                dev, label, qd, fmt(lin), fmt(st), ratio(st, lin),
                med_ratio(per_rep(dev, ks, kl)),
                fmt(med(dev, kl, 2), '%.0f'), fmt(med(dev, ks, 2), '%.0f')))
    p('')
    p('"strided" is one write per 64 KiB over the device, "random" runs for'
      ' a fixed time. In each repetition the two run back to back, dm-linear'
      ' first in odd repetitions and the job first in even ones (ABBA), so'
      ' the ratio per repetition is not biased by drift or by going second.')

if any((d, 'copy_MBps') in reps for d in order):
    p('')
    p('### Background copy, throttle, view reads (MB/s)')
    p('')
    p('| devices | background copy, speed 0 | dd bs=1M direct | ratio |'
      ' throttle: copied / (speed x 4 s) | plain read | view read (source)'
      ' | view read (target) |')
    p('|---|---|---|---|---|---|---|---|')
    for dev in order:
        c = med(dev, 'copy_MBps')
        if c is None:
            continue
        d = med(dev, 'dd_MBps')
        th = med(dev, 'throttle_ratio')
        p('| %s | %s | %s | %s | %s | %s | %s | %s |' % (
            dev, fmt(c), fmt(d), ratio(c, d), fmt(th, '%.3f'),
            fmt(med(dev, 'plain_read_MBps')),
            fmt(med(dev, 'view_source_read_MBps')),
            fmt(med(dev, 'view_target_read_MBps'))))
    p('')
    p('Background copy: from the `resume` message of a paused job to'
      ' `completed`, waited for with `dmsetup wait` on the event counter;'
      " dd: dd's own timing of"
      ' `dd bs=1M iflag=direct oflag=direct` over'
      ' the device. Throttle: a job with speed = device size / 8 per second;'
      ' clusters settled between two status readings about 4 s apart,'
      ' against speed x their interval. Goals: copy >= 0.9 x dd; throttle'
      ' within 5% (0.95-1.05).')

w = infos.get(('none', 'writes'))
if w is not None:
    def ni(k):
        return infos.get(('none', k), '-')
    p('')
    p('sync=none job, 4 KiB clusters on a brd device, %s random 4 KiB'
      ' writes (QD32): memory taken at create %s KiB (vmalloc %s KiB);'
      ' after the writes MemAvailable fell by a further %s KiB and'
      ' unreclaimable slab grew by %s KiB (page caches dropped before each'
      ' reading).' % (w, ni('memory_at_create_KiB'),
                      ni('vmalloc_at_create_KiB'),
                      ni('memory_growth_after_writes_KiB'),
                      ni('slab_growth_after_writes_KiB')))

TRACK_GUIDE = {  # the admin guide's per-TiB table (Sizes)
    'metadata': {4096: '64 MiB + 4 KiB', 65536: '4 MiB + 4 KiB',
                 1 << 20: '256 KiB + 4 KiB', 8 << 20: '32 KiB + 4 KiB'},
    'memory': {4096: 'about 65 MiB', 65536: 'about 4.1 MiB',
               1 << 20: 'about 260 KiB', 8 << 20: 'about 33 KiB'},
}


def kib(v):
    """KiB as KiB or MiB, whichever reads better."""
    if v is None:
        return '-'
    if abs(v) >= 10240:
        return '%.1f MiB' % (v / 1024)
    return '%d KiB' % v


def sectors_size(sec):
    b = sec * 512
    if b >= (1 << 20):
        return '%.3f MiB' % (b / (1 << 20))
    return '%d KiB' % (b >> 10)


if any(k[0] == 'track' for k in reps):
    p('')
    p('### Change tracking (cowbackup-track)')
    tw = infos.get(('track', 'tracker_writes'))
    if ('track', 'linear_first_qd1') in reps:
        p('')
        p('4 KiB O_DIRECT writes (fio libaio, IOPS) through a cowbackup-track'
          ' device (64 KiB clusters, metadata on a brd slice) against'
          ' dm-linear, both over the same brd RAM disk, alternately in each'
          ' repetition. *First writes*: %s writes, one to each of a random'
          ' permutation of distinct clusters (the same fio iolog for both in'
          ' a repetition), through a fresh tracker (metadata header zeroed:'
          ' empty map). *Marked*: random writes for a fixed time over the'
          ' device, every cluster of which was written through the tracker'
          ' first (the hot path: one lock-free bit test). Each repetition\'s'
          ' tracker run is next to its dm-linear run (dm-linear first in odd'
          ' repetitions, the tracker first in even ones), so the ratio per'
          ' repetition (and their median) is less exposed to load drift'
          ' between repetitions than the ratio of the medians. Goal (issue'
          ' 13): marked >= 0.97 x dm-linear.' % (tw or '?'))
        p('')
        p('| writes | QD | dm-linear | tracker | ratio of medians | ratio per'
          ' repetition | median of those | p50 / p99 linear (us) |'
          ' p50 / p99 tracker (us) |')
        p('|---|---|---|---|---|---|---|---|---|')
        for case, label in (('first', 'first (unmarked clusters)'),
                            ('marked', 'marked clusters')):
            for qd in (1, 32):
                kl = 'linear_%s_qd%d' % (case, qd)
                kt = 'tracker_%s_qd%d' % (case, qd)
                lin, trk = med('track', kl), med('track', kt)
                per = per_rep('track', kt, kl)
                p('| %s | %d | %s | %s | %s | %s | %s | %s | %s |' % (
                    label, qd, fmt(lin), fmt(trk), ratio(trk, lin),
                    ' '.join('%.2f' % v for v in per), med_ratio(per),
                    lat('track', kl), lat('track', kt)))
    mem = sorted((int(v), k[1][len('cluster_bytes_mem_'):])
                 for k, v in infos.items()
                 if k[0] == 'track' and k[1].startswith('cluster_bytes_mem_'))
    if mem:
        tib = int(infos.get(('track', 'tracked_sectors'), 1 << 31))
        scale = (1 << 31) / tib
        p('')
        p('Memory and metadata per TiB tracked: a tracker over a %s dm-zero'
          ' device, metadata on a brd slice of exactly the admin guide\'s'
          ' size (8 + 2M sectors); /proc/meminfo read before `dmsetup create`'
          ' and after it returned (the table resumed), page caches dropped'
          ' before each reading: the fall of MemAvailable and the growth of'
          ' VmallocUsed, Slab and SUnreclaim, scaled to 1 TiB. A dm-linear device over the same zero device,'
          ' created the same way in each repetition, is the control: the'
          ' cost of any mapped device. Medians of the repetitions (KiB'
          ' unless said).' % ('1 TiB' if tib == 1 << 31
                              else '%d-sector' % tib))
        p('')
        p('| cluster | clusters per TiB | metadata device (one sector less'
          ' refused) | guide: metadata | MemAvailable fall | VmallocUsed |'
          ' Slab | SUnreclaim | VmallocUsed + SUnreclaim | dm-linear control:'
          ' MemAvailable fall / VmallocUsed + SUnreclaim | guide: memory (two'
          ' maps) |')
        p('|---|---|---|---|---|---|---|---|---|---|---|')
        for cs, name in mem:
            ms = int(infos.get(('track', 'meta_sectors_' + name), 0))
            refused = infos.get(('track', 'meta_minus1_refused_' + name))
            refused = {'1': 'yes', '0': 'NO'}.get(refused, '?')

            def alloc(pre):
                """Median over repetitions of VmallocUsed + SUnreclaim."""
                v = reps.get(('track', pre + '_vmalloc_KiB'), [])
                u = reps.get(('track', pre + '_sunreclaim_KiB'), [])
                vals = [num(a[0]) + num(b[0]) for a, b in zip(v, u)
                        if num(a[0]) is not None and num(b[0]) is not None]
                return statistics.median_low(vals) if vals else None

            def sc(v):
                return None if v is None else v * scale
            p('| %s | %d | %d sectors = %s (%s) | %s | %s | %s | %s | %s'
              ' | %s | %s / %s | %s |' % (
                  cluster_name(cs), (tib * 512 // cs) * scale, ms,
                  sectors_size(ms), refused,
                  TRACK_GUIDE['metadata'].get(cs, '-'),
                  kib(sc(med('track', 'mem_%s_avail_KiB' % name))),
                  kib(sc(med('track', 'mem_%s_vmalloc_KiB' % name))),
                  kib(sc(med('track', 'mem_%s_slab_KiB' % name))),
                  kib(sc(med('track', 'mem_%s_sunreclaim_KiB' % name))),
                  kib(sc(alloc('mem_' + name))),
                  kib(med('track', 'ctl_%s_avail_KiB' % name)),
                  kib(alloc('ctl_' + name)),
                  TRACK_GUIDE['memory'].get(cs, '-')))
        p('')
        p('The tracker also allocates a staging buffer for map I/O (vmalloc,'
          ' 256 KiB, or one map\'s size if smaller) that the guide\'s'
          ' "two maps" column leaves out. The maps come from kvcalloc():'
          ' large levels from vmalloc (VmallocUsed), smaller ones from'
          ' kmalloc (SUnreclaim), so VmallocUsed + SUnreclaim is the'
          ' allocation; the fall of MemAvailable is the cross-check and'
          ' scatters by a few hundred KiB (to a few MiB) between readings,'
          ' as the control shows, so at 1 MiB and 8 MiB clusters it is'
          ' noise.')

p('')
p('Every repetition, in run order (IOPS, p50/p99 us, MB/s or ratio):')
p('')
p('```')
for (dev, key), rs in reps.items():
    if len(rs[0]) >= 3:
        p('%s %s: %s; p50 %s; p99 %s' % (dev, key, every(dev, key),
                                         every(dev, key, 1),
                                         every(dev, key, 2)))
    else:
        p('%s %s: %s' % (dev, key, every(dev, key)))
p('```')
print('\n'.join(out))

with open(chart, 'w') as f:
    f.write('# devices cluster bound_qd1 cowbackup snapshot thin'
            ' bound_qd32 cowbackup snapshot thin\n')
    for dev, row in chart_rows:
        if dev == chart_rows[0][0]:
            f.write('"%s" %s\n' % (row[0], ' '.join(row[1:])))
