"""Check cases for the selective scan: inputs that stress it, the float64 reference output and gradients, and
a helper that runs a scan forward and backward. Shared by the test suite (tests/test_scan.py,
tests/test_scan_triton.py) and the GPU benchmark (bench/triton_scan_gpu.py), which runs the same cases on CUDA.
"""
import torch
import torch.nn.functional as F

from .reference import selective_scan_ref

NAMES = ["out", "du", "ddelta", "dA", "dB", "dC", "dD"]

# (batch, d_inner, d_state, length, delta_max): Δ up to 10 with A down to −16 is the overflow case
CASES = {
    "large_delta_L1024": (2, 4, 16, 1024, 10.0),
    "small_delta_L512": (2, 6, 16, 512, 0.1),
    "mixed_delta_odd_shapes": (3, 5, 7, 37, 3.0),
    "L1": (2, 3, 4, 1, 10.0),
    # several 16-channel blocks (fused_numba's lanes) with a ragged last one, split over task groups
    "many_channels": (2, 40, 16, 200, 5.0),
    "one_image_many_channels": (1, 40, 8, 64, 2.0),
}


def make_inputs(batch, d_inner, d_state, length, delta_max, seed=0, dtype=torch.float32):
    """→ [u, delta, A, B, C, D], gy (the output's gradient), seeded."""
    g = torch.Generator().manual_seed(seed)
    u = torch.randn(batch, d_inner, length, generator=g)
    # Δ spans [1e-3, delta_max] log-uniformly, so both tiny and huge steps occur
    lo, hi = torch.log(torch.tensor(1e-3)), torch.log(torch.tensor(delta_max))
    delta = torch.exp(lo + (hi - lo) * torch.rand(batch, d_inner, length, generator=g))
    A = -torch.rand(d_inner, d_state, generator=g) * 15 - 1  # A ∈ [−16, −1] like mamba's −(1..16)
    B = torch.randn(batch, d_state, length, generator=g)
    C = torch.randn(batch, d_state, length, generator=g)
    D = torch.randn(d_inner, generator=g)
    gy = torch.randn(batch, d_inner, length, generator=g)
    return [t.to(dtype) for t in (u, delta, A, B, C, D)], gy.to(dtype)


_REF_CACHE = {}


def reference(case):
    """float64 reference output and gradients of CASES[case] (cached per case)."""
    if case not in _REF_CACHE:
        xs, gy = make_inputs(*CASES[case])
        x64 = [t.detach().double().clone().requires_grad_() for t in xs]
        y = selective_scan_ref(*x64)
        _REF_CACHE[case] = (y.detach(),) + torch.autograd.grad(y, x64, gy.double())
    return _REF_CACHE[case]


def gated_ref(xs, gy):
    """float64 reference of scan(xs[:6]) · silu(xs[6]) and its seven gradients."""
    x64 = [t.detach().double().clone().requires_grad_() for t in xs]
    y = selective_scan_ref(*x64[:6]) * F.silu(x64[6])
    return (y.detach(),) + torch.autograd.grad(y, x64, gy.double())


def rel_err(x, ref):
    return ((x.double() - ref).abs().max() / ref.abs().max().clamp_min(1e-30)).item()


def run(fn, xs, gy, requires=(True,) * 6):
    """fn(*xs) and the gradients of the inputs with requires_grad (None for the others) → (out, grads…)."""
    leaves = [t.clone().requires_grad_(r) for t, r in zip(xs, requires)]
    y = fn(*leaves)
    wanted = [t for t in leaves if t.requires_grad]
    grads = iter(torch.autograd.grad(y, wanted, gy))
    return (y.detach(),) + tuple(next(grads) if t.requires_grad else None for t in leaves)
