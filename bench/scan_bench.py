"""Benchmark the selective-scan variants: forward and forward+backward time, error vs reference.

    python -m bench.scan_bench [--batch 16 --d-inner 512 --d-state 16 --length 512 --repeats 3]

Errors are max|x − ref| / max|ref| over the output and all six gradients, where ref is the
sequential reference run in float64 on the same (fp32-rounded) inputs.
"""
import argparse
import time

import torch

from lainr.scan import available_variants, selective_scan, selective_scan_ref


def make_inputs(batch, d_inner, d_state, length, delta_max=10.0, seed=0, dtype=torch.float32):
    """Random scan inputs; Δ ~ U(0, delta_max), A ~ −U(0, 16) (mamba-ssm's A spans −1..−16)."""
    g = torch.Generator().manual_seed(seed)
    u = torch.randn(batch, d_inner, length, generator=g, dtype=dtype)
    delta = torch.rand(batch, d_inner, length, generator=g, dtype=dtype) * delta_max
    A = -torch.rand(d_inner, d_state, generator=g, dtype=dtype) * 16
    B = torch.randn(batch, d_state, length, generator=g, dtype=dtype)
    C = torch.randn(batch, d_state, length, generator=g, dtype=dtype)
    D = torch.randn(d_inner, generator=g, dtype=dtype)
    return u, delta, A, B, C, D


def _rel(x, ref):
    return ((x.double() - ref).abs().max() / ref.abs().max().clamp_min(1e-300)).item()


def _time(fn, repeats):
    fn()  # warm-up (numba compilation / caches)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best * 1e3


def bench_scan(batch=16, d_inner=512, d_state=16, length=512, repeats=3, variants=None, delta_max=10.0):
    """Per variant: dict(variant, fwd_ms, fwd_bwd_ms, max_rel_err). Times are the best of `repeats`."""
    xs = make_inputs(batch, d_inner, d_state, length, delta_max)
    gy = torch.randn(batch, d_inner, length, generator=torch.Generator().manual_seed(1))
    x64 = [t.double().requires_grad_() for t in xs]
    y64 = selective_scan_ref(*x64)
    refs = (y64.detach(),) + torch.autograd.grad(y64, x64, gy.double())
    del y64, x64
    rows = []
    for name in variants or available_variants(torch.device("cpu")):  # CPU tensors
        leaves = [t.clone().requires_grad_() for t in xs]

        def fwd():
            with torch.no_grad():
                return selective_scan(*xs, variant=name)

        def fwd_bwd():
            y = selective_scan(*leaves, variant=name)
            return (y.detach(),) + torch.autograd.grad(y, leaves, gy)

        out = fwd_bwd()
        err = max(_rel(a, r) for a, r in zip(out, refs))
        finite = all(torch.isfinite(a).all().item() for a in out)
        del out
        rows.append(dict(variant=name, fwd_ms=_time(fwd, repeats), fwd_bwd_ms=_time(fwd_bwd, repeats),
                         max_rel_err=err, finite=finite))
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--d-inner", type=int, default=512)
    p.add_argument("--d-state", type=int, default=16)
    p.add_argument("--length", type=int, default=512)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--variants", nargs="*", default=None)
    a = p.parse_args()
    rows = bench_scan(a.batch, a.d_inner, a.d_state, a.length, a.repeats, a.variants)
    print(f"selective scan, batch={a.batch} d_inner={a.d_inner} d_state={a.d_state} L={a.length}, "
          f"torch threads={torch.get_num_threads()}")
    print(f"{'variant':<16}{'fwd ms':>10}{'fwd+bwd ms':>12}{'max rel err':>13}{'finite':>8}")
    for r in rows:
        print(f"{r['variant']:<16}{r['fwd_ms']:>10.1f}{r['fwd_bwd_ms']:>12.1f}{r['max_rel_err']:>13.2e}{str(r['finite']):>8}")


if __name__ == "__main__":
    main()
