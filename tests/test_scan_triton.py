"""The Triton selective scan (lainr.scan.triton) vs the float64 sequential reference, on CPU.

The kernels are built for the GPU; here they run through Triton's interpreter, which is chosen when
triton is imported, so all checks run in one child process started with TRITON_INTERPRET=1 (this
process has long imported lainr). Shapes are small: the interpreter executes every time step as
numpy calls. Tolerance as in test_scan.py: max|x − ref| / max|ref| ≤ 1e-5 per tensor.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TOL = 1e-5
NAMES = ["out", "du", "ddelta", "dA", "dB", "dC", "dD"]

# (batch, d_inner, d_state, length, delta_max); at these sizes the kernel's channel block is 16
CASES = {
    "large_delta_L96": (2, 4, 16, 96, 10.0),  # Δ up to 10 with A down to −16
    "mixed_delta_odd_shapes": (3, 5, 7, 37, 3.0),  # N = 7 padded to 8, L = 37
    "L1": (2, 3, 4, 1, 10.0),
    "many_channels": (2, 40, 16, 24, 5.0),  # three channel blocks, the last one ragged (8 of 16)
    "one_image_many_channels": (1, 40, 8, 48, 2.0),  # batch 1
}
BLOCK64 = (2, 72, 16, 24, 5.0)  # with the 64-channel block of large batches: two blocks, 8 of 64 in the last


def _child():
    """Runs under TRITON_INTERPRET=1: prints {check: {tensor: rel err}} as JSON."""
    import torch
    import torch.nn.functional as F

    from lainr import Mamba
    from lainr.scan import available_variants, selective_scan, selective_scan_ref
    from lainr.scan import triton as tri
    from lainr.scan.check import make_inputs, rel_err, run

    assert tri.AVAILABLE and tri.INTERPRET and "triton" in available_variants("cpu")
    scan = lambda *a: selective_scan(*a[:6], variant="triton", z=a[6] if len(a) > 6 else None)  # noqa: E731
    res = {}

    def ref_of(xs, gy, gated):
        x64 = [t.detach().double().clone().requires_grad_() for t in xs]
        y = selective_scan_ref(*x64[:6])
        if gated:
            y = y * F.silu(x64[6])
        return (y.detach(),) + torch.autograd.grad(y, x64, gy.double())

    def record(key, got, ref, names):
        res[key] = {}
        for what, x, r in zip(names, got, ref):
            ok = x is not None and x.dtype == r.dtype and x.shape == r.shape and bool(torch.isfinite(x).all())
            res[key][what] = rel_err(x, r) if ok else float("inf")

    for case, shape in CASES.items():
        xs, gy = make_inputs(*shape)
        record(case, run(scan, xs, gy), [r.float() for r in ref_of(xs, gy, False)], NAMES)
        z = torch.randn(xs[0].shape, generator=torch.Generator().manual_seed(7)) * 3
        xz = xs + [z]
        record(case + "/gated", run(scan, xz, gy, requires=(True,) * 7),
               [r.float() for r in ref_of(xz, gy, True)], NAMES + ["dz"])

    tri.BLOCK_D = 64  # the block size picked for large batches (≥ 1024 programs)
    xs, gy = make_inputs(*BLOCK64)
    xz = xs + [torch.randn(xs[0].shape, generator=torch.Generator().manual_seed(7)) * 3]
    record("block64/gated", run(scan, xz, gy, requires=(True,) * 7),
           [r.float() for r in ref_of(xz, gy, True)], NAMES + ["dz"])
    tri.BLOCK_D = None

    # non-contiguous inputs, a subset of grads, float64 in → float64 out (computed in fp32)
    xs, gy = make_inputs(*CASES["mixed_delta_odd_shapes"])
    ref = ref_of(xs, gy, False)
    nc = [t.transpose(-1, -2).contiguous().transpose(-1, -2) if t.dim() > 1 else t for t in xs]
    record("non_contiguous", run(scan, nc, gy), [r.float() for r in ref], NAMES)
    req = (False, True, True, False, False, True)
    got = run(scan, xs, gy, requires=req)
    assert all((g is None) == (not r) for g, r in zip(got[1:], req))
    record("grad_subset", [g for g, r in zip(got, (True,) + req) if r],
           [r.float() for r, q in zip(ref, (True,) + req) if q], ["out", "ddelta", "dA", "dD"])
    x64 = [t.double() for t in xs]
    record("float64_io", run(scan, x64, gy.double()), ref, NAMES)

    # a float32 Mamba mixer, forward and backward: triton vs the reference scan
    torch.manual_seed(0)
    m = Mamba(16, scan_variant="reference")  # d_inner 32, d_state 16
    h = torch.randn(2, 24, 16)
    outs = []
    for variant in ("reference", "triton"):
        m.scan_variant = variant
        m.zero_grad()
        hh = h.clone().requires_grad_()
        y = m(hh)
        y.square().sum().backward()
        outs.append([y.detach(), hh.grad] + [p.grad for p in m.parameters()])
    names = ["out", "dx"] + [n for n, _ in m.named_parameters()]
    record("mamba", outs[1], outs[0], names)

    # L = 1 and ragged channel blocks also through self_check (what the GPU run calls first)
    res["self_check"] = tri.self_check("cpu", batch=1, d_inner=40, d_state=16, length=9)
    print("RESULT " + json.dumps(res))


@pytest.fixture(scope="module")
def results():
    pytest.importorskip("triton")
    env = dict(os.environ, TRITON_INTERPRET="1", OMP_NUM_THREADS="1")
    code = "from tests.test_scan_triton import _child; _child()"
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr[-4000:]
    line = [ln for ln in r.stdout.splitlines() if ln.startswith("RESULT ")][-1]
    return json.loads(line[len("RESULT "):])


@pytest.mark.parametrize("check", list(CASES) + [c + "/gated" for c in list(CASES) + ["block64"]]
                         + ["non_contiguous", "grad_subset", "float64_io", "self_check"])
def test_triton_matches_reference(results, check):
    errs = results[check]
    expected = NAMES + ["dz"] if check.endswith("/gated") or check == "self_check" else None
    if expected is not None:
        assert sorted(errs) == sorted(expected)
    bad = {k: v for k, v in errs.items() if not v <= TOL}
    assert not bad, f"{check}: rel err over {TOL:g}: {bad}"


def test_triton_in_mamba_matches_reference_scan(results):
    """A float32 Mamba mixer with scan_variant='triton': output, input grad and every parameter
    grad equal those with the reference scan (both fp32, so 1e-5 covers both roundings)."""
    errs = results["mamba"]
    assert len(errs) == 2 + 9
    bad = {k: v for k, v in errs.items() if not v <= TOL}
    assert not bad, bad


def test_triton_cpu_needs_interpreter():
    """Without TRITON_INTERPRET=1 the triton variant refuses CPU tensors with a clear error."""
    tri = pytest.importorskip("lainr.scan.triton")
    if not tri.AVAILABLE:
        pytest.skip("triton not installed")
    if tri.INTERPRET:
        pytest.skip("this process runs triton's interpreter")
    from lainr.scan import selective_scan
    from lainr.scan.check import make_inputs

    xs, _ = make_inputs(1, 2, 3, 4, 1.0)
    with pytest.raises(ValueError, match="TRITON_INTERPRET=1"):
        selective_scan(*xs, variant="triton")
    with pytest.raises(ValueError, match="TRITON_INTERPRET=1"):
        tri.selective_scan_triton(*xs)
