"""GPU check of the Triton selective scan: correctness vs float64 and timings vs blelloch.

    python -m bench.triton_scan_gpu [--out DIR] [--quick]

Sections (each one guarded, results appended to DIR/triton_scan_gpu.json as they come):
self_check at several shapes; the test cases of lainr/scan/check.py (tests/test_scan.py's) on CUDA (gated and not,
non-contiguous, bf16 in); the full training size (batch 256, d_inner 512, d_state 16, L 512,
gated) against a float64 reference computed in batch chunks (the largest int64 offsets); a Mamba
mixer fwd/bwd vs blelloch; timings (fwd, fwd+bwd) of triton (block / warps / layout sweep) and
blelloch (--quick: the default triton configuration and blelloch only, batch 16 and 256).
"""
import argparse
import json
import os
import time
import traceback

import torch
import torch.nn.functional as F

RES = {}
OUT = "."


def log(key, value):
    RES[key] = value
    print(key, value, flush=True)
    with open(os.path.join(OUT, "triton_scan_gpu.json"), "w") as f:
        json.dump(RES, f, indent=1, default=str)


def guarded(name):
    def deco(fn):
        def run(*a, **k):
            t0 = time.time()
            try:
                fn(*a, **k)
            except Exception:  # record and go on with the next section
                log(name + " FAILED", traceback.format_exc())
            log(name + " seconds", round(time.time() - t0, 1))
        return run
    return deco


def rel(x, ref):
    x, ref = x.double(), ref.double().to(x.device)
    if not torch.isfinite(x).all():
        return float("inf")
    return ((x - ref).abs().max() / ref.abs().max().clamp_min(1e-30)).item()


@guarded("self_check")
def self_checks(tri):
    for kw in [{}, dict(batch=1, d_inner=3, d_state=4, length=1), dict(batch=3, d_inner=5, d_state=7, length=37,
               delta_max=3.0), dict(batch=2, d_inner=72, d_state=16, length=300, delta_max=5.0),
               dict(batch=2, d_inner=512, d_state=16, length=512)]:
        errs = tri.self_check("cuda", **kw)
        log(f"self_check {kw}", {k: f"{v:.2e}" for k, v in errs.items()} | {"max": f"{max(errs.values()):.2e}"})


@guarded("test_cases")
def test_cases():
    from lainr.scan import selective_scan
    from lainr.scan.check import CASES, NAMES, gated_ref, make_inputs, reference, run

    scan = lambda *a: selective_scan(*a[:6], variant="triton", z=a[6] if len(a) > 6 else None)  # noqa: E731
    for case in CASES:
        xs, gy = make_inputs(*CASES[case])
        got = run(scan, [t.cuda() for t in xs], gy.cuda())
        log(f"case {case}", {n: f"{rel(x, r):.2e}" for n, x, r in zip(NAMES, got, reference(case))})
        z = torch.randn(xs[0].shape, generator=torch.Generator().manual_seed(7)) * 3
        xz = xs + [z]
        got = run(scan, [t.cuda() for t in xz], gy.cuda(), requires=(True,) * 7)
        log(f"case {case}/gated", {n: f"{rel(x, r):.2e}" for n, x, r in zip(NAMES + ["dz"], got, gated_ref(xz, gy))})
    case = "mixed_delta_odd_shapes"
    xs, gy = make_inputs(*CASES[case])
    nc = [t.cuda().transpose(-1, -2).contiguous().transpose(-1, -2) if t.dim() > 1 else t.cuda() for t in xs]
    got = run(scan, nc, gy.cuda())
    log("non_contiguous", {n: f"{rel(x, r):.2e}" for n, x, r in zip(NAMES, got, reference(case))})
    got = run(scan, [t.cuda().to(torch.bfloat16) for t in xs], gy.cuda().to(torch.bfloat16))
    log("bf16_in", {n: (str(x.dtype), f"{rel(x, r):.2e}") for n, x, r in zip(NAMES, got, reference(case))})
    got = run(scan, [t.cuda().double() for t in xs], gy.cuda().double())
    log("float64_in", {n: (str(x.dtype), f"{rel(x, r):.2e}") for n, x, r in zip(NAMES, got, reference(case))})


def _inputs(batch, d_inner, d_state, length, delta_max, seed=0, device="cuda"):
    g = torch.Generator(device=device).manual_seed(seed)
    kw = dict(generator=g, device=device)
    u = torch.randn(batch, d_inner, length, **kw)
    lo, hi = torch.log(torch.tensor(1e-3)), torch.log(torch.tensor(delta_max))
    delta = torch.exp(lo + (hi - lo) * torch.rand(batch, d_inner, length, **kw))
    A = -torch.rand(d_inner, d_state, **kw) * 15 - 1
    B = torch.randn(batch, d_state, length, **kw)
    C = torch.randn(batch, d_state, length, **kw)
    D = torch.randn(d_inner, **kw)
    z = torch.randn(batch, d_inner, length, **kw) * 3
    gy = torch.randn(batch, d_inner, length, **kw)
    return [u, delta, A, B, C, D, z], gy


@guarded("full_size")
def full_size(batch=256, d_inner=512, d_state=16, length=512, chunk=32):
    from lainr.scan import selective_scan, selective_scan_ref

    xs, gy = _inputs(batch, d_inner, d_state, length, 10.0)
    leaves = [t.clone().requires_grad_() for t in xs]
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    y = selective_scan(*leaves[:6], variant="triton", z=leaves[6])
    got = (y.detach(),) + torch.autograd.grad(y, leaves, gy)
    torch.cuda.synchronize()
    log("full_size peak GiB (triton fwd+bwd)", round(torch.cuda.max_memory_allocated() / 2**30, 2))
    del y
    names = ["out", "du", "ddelta", "dA", "dB", "dC", "dD", "dz"]
    per_batch = {0: [], 1: [], 2: [], 4: [], 5: [], 7: []}  # indices of got that are per batch element
    dA = torch.zeros(d_inner, d_state, dtype=torch.float64, device="cuda")
    dD = torch.zeros(d_inner, dtype=torch.float64, device="cuda")
    errs = {k: 0.0 for k in per_batch}
    ref_max = {k: 0.0 for k in per_batch}
    for b0 in range(0, batch, chunk):
        sl = slice(b0, b0 + chunk)
        x64 = [t.double().requires_grad_() for t in (xs[0][sl], xs[1][sl], xs[2], xs[3][sl], xs[4][sl], xs[5], xs[6][sl])]
        yr = selective_scan_ref(*x64[:6]) * F.silu(x64[6])
        ref = (yr.detach(),) + torch.autograd.grad(yr, x64, gy[sl].double())
        del yr, x64
        dA += ref[3]
        dD += ref[6]
        for k in per_batch:
            errs[k] = max(errs[k], (got[k][sl].double() - ref[k]).abs().max().item())
            ref_max[k] = max(ref_max[k], ref[k].abs().max().item())
        del ref
    out = {names[k]: f"{errs[k] / ref_max[k]:.2e}" for k in per_batch}
    out["dA"] = f"{rel(got[3], dA):.2e}"
    out["dD"] = f"{rel(got[6], dD):.2e}"
    out["all finite"] = all(bool(torch.isfinite(g).all()) for g in got)
    log(f"full_size ({batch},{d_inner},{d_state},{length}) gated, delta up to 10", out)


@guarded("mamba")
def mamba_mixer():
    from lainr import Mamba

    torch.manual_seed(0)
    m = Mamba(256).cuda()
    h = torch.randn(8, 64, 256, device="cuda")
    outs = []
    for variant in ("blelloch", "triton"):
        m.scan_variant = variant
        m.zero_grad()
        hh = h.clone().requires_grad_()
        y = m(hh)
        y.square().mean().backward()
        outs.append([y.detach(), hh.grad] + [p.grad for p in m.parameters()])
    names = ["out", "dx"] + [n for n, _ in m.named_parameters()]
    log("mamba(256) fp32 triton vs blelloch", {n: f"{rel(a, b):.2e}" for n, a, b in zip(names, outs[1], outs[0])})


def _bench(fn, reps=20):
    fn()
    torch.cuda.synchronize()
    ts = []
    for _ in range(reps):
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record()
        fn()
        e.record()
        torch.cuda.synchronize()
        ts.append(s.elapsed_time(e))
    ts.sort()
    return round(ts[len(ts) // 2], 3)


@guarded("timings")
def timings(tri, quick=False):
    from lainr.scan import selective_scan

    orig_f32 = tri._f32

    def time_major(t):  # same values, (B, L, D) storage: per-step loads along channels coalesce
        t = t.detach().to(torch.float32)
        return t.transpose(-1, -2).contiguous().transpose(-1, -2) if t.dim() == 3 else t.contiguous()

    for batch in (16, 256):
        xs, gy = _inputs(batch, 512, 16, 512, 1.0)
        leaves = [t.clone().requires_grad_() for t in xs]

        def fwd(name):
            with torch.no_grad():
                return selective_scan(*xs[:6], variant=name, z=xs[6])

        def fwd_bwd(name):
            y = selective_scan(*leaves[:6], variant=name, z=leaves[6])
            return torch.autograd.grad(y, leaves, gy)

        rows = {}
        configs = [(bd, nw, lay) for lay in ("dl", "ld") for bd, nw in ((16, 2), (16, 4), (32, 4), (32, 8), (64, 4), (64, 8))]
        if quick:
            configs = []
        for bd, nw, lay in configs:
            tri.BLOCK_D, tri.NUM_WARPS = bd, nw
            tri._f32 = orig_f32 if lay == "dl" else time_major
            try:
                rows[f"triton BD{bd} w{nw} {lay}"] = (_bench(lambda: fwd("triton")), _bench(lambda: fwd_bwd("triton"), 10))
            except Exception as e:
                rows[f"triton BD{bd} w{nw} {lay}"] = repr(e)[:200]
            log(f"timings batch {batch} (fwd ms, fwd+bwd ms)", rows)
        tri.BLOCK_D, tri.NUM_WARPS, tri._f32 = None, 4, orig_f32
        rows["triton default"] = (_bench(lambda: fwd("triton")), _bench(lambda: fwd_bwd("triton"), 10))
        try:
            rows["blelloch"] = (_bench(lambda: fwd("blelloch"), 5), _bench(lambda: fwd_bwd("blelloch"), 3))
        except Exception as e:
            rows["blelloch"] = repr(e)[:200]
        torch.cuda.empty_cache()
        log(f"timings batch {batch} (fwd ms, fwd+bwd ms)", rows)


def main():
    global OUT
    p = argparse.ArgumentParser()
    p.add_argument("--out", default=os.environ.get("OUT", "."))
    p.add_argument("--quick", action="store_true")
    p.add_argument("--sections", default="self_check,test_cases,full_size,mamba,timings")
    a = p.parse_args()
    OUT = a.out
    import triton

    from lainr.scan import available_variants
    from lainr.scan import triton as tri
    from lainr.scan.dispatch import default_variant

    log("versions", dict(torch=torch.__version__, triton=triton.__version__, gpu=torch.cuda.get_device_name(),
                         variants=available_variants("cuda"), default_cuda=default_variant(torch.device("cuda"))))
    sec = a.sections.split(",")
    if "self_check" in sec:
        self_checks(tri)
    if "test_cases" in sec:
        test_cases()
    if "full_size" in sec:
        full_size()
    if "mamba" in sec:
        mamba_mixer()
    if "timings" in sec:
        timings(tri, a.quick)


if __name__ == "__main__":
    main()
