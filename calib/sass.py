#!/usr/bin/env python3
"""sass.py: the per-kernel table of `make sass` (issue 18), from cuobjdump's output.

    sass.py --sass FILE --res FILE [--smem FILE] [--strict]

--sass: `cuobjdump -sass` of the kernels' cubins (concatenated); --res: `cuobjdump -res-usage`
of the same; --smem: lines "LPK GMAX BYTES" giving the dynamic shared memory of the decode kernel
attn_split_kernel<LPK, GMAX, *> at its largest plan (printed by calib/sass.sh from the host
planner, kernels/decode_plan.c).

Per kernel: registers, spill stores + loads (bytes, from --ptxas), stack frame (local memory
that is not a spill, e.g. sincosf's slow path), shared memory (static + dynamic),
threads per block, blocks per SM on sm_90 (limits: 65536 registers allocated per warp in units of
256, 228 KiB of shared memory per SM with 1 KiB reserved per block, 2048 threads, 32 blocks; the
CUDA occupancy calculator's rules for compute capability 9.0), and for the decode kernels the
static instruction count per KB of K or V read in each decode loop.

A decode loop is an innermost loop (a backward branch) whose body loads K or V: a 128-bit global
load (LDG.E.128), or a run of four 32-bit loads from one base register at offsets 0, 4, 8, 12
(a 16-byte access split in four, as `load8` compiled before issue 18). Its bytes per trip are
those loads' widths times the 32 lanes of a warp; block-table loads (single 32-bit loads) are not
counted as data. Instructions per KB = body instructions / (bytes per trip / 1024).

Goals (issue 18): no spill in any kernel; 128-bit loads in every decode loop and in kv_append;
at least 20 KB per SM in flight in every decode loop; decode-loop instructions per KB <= 130 for MHA (head_dim 128, contiguous), <= 200 for GQA G = 8
(head_dim 128, contiguous); paged within 20 % of contiguous. Each is printed PASS or MISS; with
--strict a MISS makes the exit status 1.
"""
import argparse
import re
import subprocess
import sys

SM90 = dict(regs=65536, reg_unit=256, smem=228 * 1024, smem_reserved=1024, threads=2048, blocks=32)

# Threads per block of each kernel, as launched (the .cu files); the default is 256.
THREADS = {'attn_split_kernel': 128, 'attn_combine_kernel': 128, 'causal_softmax_kernel': 256}


def demangle(names):
    try:
        out = subprocess.run(['c++filt'], input='\n'.join(names), capture_output=True, text=True,
                             check=True).stdout.split('\n')
        return dict(zip(names, out))
    except (OSError, subprocess.CalledProcessError):
        return {n: n for n in names}


def short_name(dem):
    """attn_split_kernel<16, 8, false>(...) -> attn_split<16,8,contig>; others: the bare name."""
    m = re.match(r'(?:void )?(\w+?)(?:_kernel)?(<[^>]*>)?\(', dem)
    if not m:
        return dem
    base, tmpl = m.group(1), m.group(2)
    if tmpl:
        parts = [p.strip() for p in tmpl[1:-1].split(',')]
        parts = ['paged' if p == 'true' else 'contig' if p == 'false' else p for p in parts]
        return '%s<%s>' % (base, ','.join(parts))
    return base


def parse_res(text):
    res = {}
    cur = None
    for line in text.splitlines():
        m = re.match(r'\s*Function (\S+):', line)
        if m:
            cur = m.group(1)
            continue
        if cur and 'REG:' in line:
            f = dict(re.findall(r'(\w+):(\d+)', line))
            res[cur] = {k: int(v) for k, v in f.items()}
            cur = None
    return res


def parse_ptxas(text):
    """{mangled name: (stack frame, spill stores, spill loads)} from nvcc -Xptxas -v."""
    out = {}
    cur = None
    for line in text.splitlines():
        m = re.search(r"Compiling entry function '(\S+)'", line)
        if m:
            cur = m.group(1)
            continue
        m = re.search(r'(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads',
                      line)
        if m and cur:
            out[cur] = tuple(int(x) for x in m.groups())
            cur = None
    return out


def parse_sass(text):
    """{mangled name: [(addr, opcode text)]}"""
    funcs = {}
    cur = None
    for line in text.splitlines():
        m = re.match(r'\s*Function : (\S+)', line)
        if m:
            cur = m.group(1)
            funcs[cur] = []
            continue
        m = re.match(r'\s*/\*([0-9a-f]{4,})\*/\s+(.*?)\s*;', line)
        if m and cur:
            funcs[cur].append((int(m.group(1), 16), m.group(2)))
    return funcs


LDG = re.compile(r'LDG\.E(\.[\w.]+)?\s+(R\d+), desc\[\w+\]\[(R\d+)(?:\.64)?(?:\+(-?0x[0-9a-f]+))?\]')


def kv_bytes(body):
    """Bytes per lane of K/V loads in a loop body, and whether all are 128-bit."""
    b128 = 0
    small = {}
    for _, ins in body:
        m = LDG.search(ins)
        if not m:
            continue
        mods = m.group(1) or ''
        if '.128' in mods:
            b128 += 16
        elif mods in ('', '.CONSTANT', '.EL', '.LU', '.STRONG.GPU'):
            off = int(m.group(4), 16) if m.group(4) else 0
            c = small.setdefault(m.group(3), {})
            c[off] = c.get(off, 0) + 1
    split = 0
    for offs in small.values():
        for o, k in offs.items():
            if o % 16 == 0:
                split += 16 * min([k] + [offs.get(o + j, 0) for j in (4, 8, 12)])
    return b128 + split, split == 0 and b128 > 0


def decode_loops(ins):
    """Innermost backward-branch loops whose bodies load K or V: [(n_instr, bytes/lane, all128)]"""
    addr_ix = {a: i for i, (a, _) in enumerate(ins)}
    loops = []
    for i, (a, t) in enumerate(ins):
        m = re.search(r'\bBRA(?:\.\w+)* (0x[0-9a-f]+)', t)
        if not m:
            continue
        tgt = int(m.group(1), 16)
        if tgt >= a or tgt not in addr_ix:
            continue
        loops.append((addr_ix[tgt], i))
    # innermost: no other loop strictly inside
    inner = [l for l in loops
             if not any(o != l and l[0] <= o[0] and o[1] <= l[1] for o in loops)]
    out = []
    for s, e in sorted(inner):
        body = ins[s:e + 1]
        nb, all128 = kv_bytes(body)
        if nb:
            out.append((len(body), nb, all128))
    return out


def occupancy(regs, smem, threads):
    warps = (threads + 31) // 32
    per_warp = (regs * 32 + SM90['reg_unit'] - 1) // SM90['reg_unit'] * SM90['reg_unit']
    by_regs = SM90['regs'] // (per_warp * warps) if regs else SM90['blocks']
    by_smem = SM90['smem'] // (smem + SM90['smem_reserved'])
    by_thr = SM90['threads'] // threads
    lim = min(by_regs, by_smem, by_thr, SM90['blocks'])
    why = [k for k, v in (('regs', by_regs), ('smem', by_smem), ('threads', by_thr),
                          ('blocks', SM90['blocks'])) if v == lim]
    return lim, why[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--sass', required=True)
    ap.add_argument('--res', required=True)
    ap.add_argument('--smem')
    ap.add_argument('--ptxas', help='nvcc -Xptxas -v output (spills); else LOCAL bytes')
    ap.add_argument('--strict', action='store_true')
    o = ap.parse_args()
    funcs = parse_sass(open(o.sass).read())
    res = parse_res(open(o.res).read())
    px = parse_ptxas(open(o.ptxas).read()) if o.ptxas else {}
    dyn = {}
    if o.smem:
        for line in open(o.smem):
            p = line.split()
            if len(p) == 3:
                dyn[(p[0], p[1])] = int(p[2])
    dem = demangle(sorted(funcs))
    rows = []
    goals = []
    nospill = True
    ipk = {}
    inflight = []
    print('%-26s %4s %5s %5s %6s %4s %9s  %-20s %-9s %s' % (
        'kernel', 'regs', 'spill', 'stack', 'smem', 'thr', 'blk/SM', 'decode loops', 'instr/KB',
        'KB/SM'))
    for mang in sorted(funcs, key=lambda n: short_name(dem[n])):
        name = short_name(dem[mang])
        r = res.get(mang, {})
        regs = r.get('REG', 0)
        stack, sst, sld = px.get(mang, (r.get('STACK', 0), r.get('LOCAL', 0), 0))
        local = sst + sld
        # cuobjdump's SHARED includes the 1 KiB sm_90 reserves per block; occupancy() adds it
        smem = max(r.get('SHARED', 0) - SM90['smem_reserved'], 0)
        base = name.split('<')[0]
        thr = THREADS.get(base + '_kernel', THREADS.get(base, 256))
        m = re.match(r'attn_split<(\d+),(\d+),(\w+)>', name)
        if m:
            lpk, gm = int(m.group(1)), int(m.group(2))
            # Without --smem (a tree before issue 18 has no kernels/decode_plan.c): that tree's
            # smem_bytes() at chunk 256 and head_dim 8 x LPK.
            smem += dyn.get((m.group(1), m.group(2)),
                            4 * (gm * 256 + (128 // lpk) * gm * 8 * lpk + 2 * gm))
        blk, why = occupancy(regs, smem, thr)
        if local:
            nospill = False
        loops = decode_loops(funcs[mang]) if base in ('attn_split',) else []
        lp = ', '.join('%d@%dB%s' % (n, b, '' if a else '!') for n, b, a in loops)
        # bytes in flight per SM: a trip's loads of every resident thread (issue 18, item 3)
        fl = [b * thr * blk / 1024.0 for _, b, _ in loops]
        if fl:
            inflight.append((name, min(fl)))
        kb = [n / (b * 32 / 1024.0) for n, b, _ in loops]
        if m:
            ipk[(int(m.group(1)), int(m.group(2)), m.group(3))] = (max(kb) if kb else None,
                                                                   all(a for _, _, a in loops)
                                                                   and bool(loops))
        print('%-26s %4d %5d %5d %6d %4d %3d %-5s  %-20s %-9s %s' % (
            name, regs, local, stack, smem, thr, blk, '(%s)' % why[:3], lp or '-',
            ' '.join('%.0f' % k for k in kb) or '-',
            ' '.join('%.0f' % f for f in fl) or '-'))
        if base == 'kv_append':
            txt = ' '.join(t for _, t in funcs[mang])
            ok = 'LDG.E.128' in txt and 'STG.E.128' in txt
            goals.append(('kv_append uses 128-bit loads and stores', ok, ''))
    print()
    print('decode loops: body instructions @ K/V bytes per lane per trip ("!" = not all 128-bit);')
    print('instr/KB per decode loop (K pass, V pass) = instructions / (32 lanes x bytes / 1024);')
    print('KB/SM: bytes of one trip of every resident thread (bytes x threads x blocks per SM);')
    print('smem: static + dynamic at the largest plan (excluding the 1 KiB reserved per block)')
    print()
    goals.insert(0, ('no spill in any kernel', nospill, ''))
    all128 = all(v[1] for v in ipk.values()) if ipk else False
    goals.append(('128-bit loads in every decode loop', all128, ''))
    low = min(inflight, key=lambda t: t[1]) if inflight else None
    goals.append(('>= 20 KB per SM in flight in every decode loop', low is not None and low[1] >= 20,
                  'lowest %.0f KB, %s' % (low[1], low[0]) if low else 'n/a'))

    def g(lpk, gm, lay):
        v = ipk.get((lpk, gm, lay))
        return v[0] if v else None
    mha, g8 = g(16, 1, 'contig'), g(16, 8, 'contig')
    goals.append(('MHA d128 contiguous <= 130 instr/KB', mha is not None and mha <= 130,
                  '%.0f' % mha if mha is not None else 'n/a'))
    goals.append(('GQA G=8 d128 contiguous <= 200 instr/KB', g8 is not None and g8 <= 200,
                  '%.0f' % g8 if g8 is not None else 'n/a'))
    for gm in (1, 4, 8):
        c, p = g(16, gm, 'contig'), g(16, gm, 'paged')
        ok = c is not None and p is not None and p <= 1.2 * c
        goals.append(('paged within 20%% of contiguous, d128 group class %d' % gm, ok,
                      '%.0f vs %.0f' % (p, c) if c and p else 'n/a'))
    miss = 0
    for text, ok, val in goals:
        print('%-4s %s%s' % ('PASS' if ok else 'MISS', text, ' (%s)' % val if val else ''))
        miss += not ok
    return 1 if (o.strict and miss) else 0


if __name__ == '__main__':
    sys.exit(main())
