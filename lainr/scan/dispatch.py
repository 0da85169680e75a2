"""Choose a selective-scan variant for the tensors at hand.

Measured with `python -m bench.scan_bench` at the corrected model's size (batch 16, d_inner 512,
d_state 16, L 512, fp32, 2 CPU cores shared with other jobs, load ≈ 8, so absolute times are
inflated ~3-4x; best of 3):

    variant       fwd ms   fwd+bwd ms   max rel err (vs float64 reference)
    reference       6509        15898   1.4e-06
    chunked         2197         5975   9.1e-07
    blelloch        1133         5385   1.3e-06
    fused_numba      158          475   1.3e-06

fused_numba is the fastest on CPU by far (~40x the reference forward, ~33x forward+backward);
among the pure-torch variants blelloch is the fastest (also at batch 4), so it is the fallback on
CPU without numba and the choice for CUDA tensors (O(log L) launches; the mixer uses mamba-ssm's
CUDA kernel itself when that is installed). fused_numba was since vectorised over channel lanes:
on a quiet machine, 1 thread, CPU time, Δ ~ U(0, 1): 96–103 → 51–58 ms forward, 342 → 170 ms
forward+backward (BENCHMARKS.md, "Selective scan, second round").
"""
import os

import torch.nn.functional as F

from .blelloch import selective_scan_blelloch
from .chunked import selective_scan_chunked
from .fused_numba import AVAILABLE as _NUMBA
from .fused_numba import selective_scan_fused_numba
from .reference import selective_scan_ref

_VARIANTS = {
    "reference": selective_scan_ref,
    "chunked": selective_scan_chunked,
    "blelloch": selective_scan_blelloch,
}
if _NUMBA:
    _VARIANTS["fused_numba"] = selective_scan_fused_numba

_BEST_TORCH = "blelloch"


def available_variants():
    """Names of the scan variants usable on this machine."""
    return list(_VARIANTS)


def default_variant(device):
    """The variant `selective_scan` uses for tensors on `device`.

    The environment variable LAINR_SCAN_VARIANT, when set, names it instead (for every device): the
    GPU job sets it for its training processes when the Triton kernel fails its check on the device.
    """
    forced = os.environ.get("LAINR_SCAN_VARIANT")
    if forced:
        return forced
    if getattr(device, "type", device) == "cpu" and _NUMBA:
        return "fused_numba"
    return _BEST_TORCH


def selective_scan(u, delta, A, B, C, D, variant=None, z=None):
    """Exact selective scan; `variant=None` picks the fastest available. Shapes: see `lainr.scan`.

    With z (B, D, L) the output is gated, y · silu(z) (mamba-ssm's `z`): fused into the kernel by
    fused_numba, applied after the scan by the others.
    """
    name = variant or default_variant(u.device)
    if name not in _VARIANTS:
        raise ValueError(f"unknown scan variant {name!r}; available: {available_variants()}")
    if name == "fused_numba" and u.device.type != "cpu":
        raise ValueError("the 'fused_numba' scan variant runs on CPU tensors only")
    if z is not None and z.shape != u.shape:
        raise ValueError(f"z must have u's shape {tuple(u.shape)}, got {tuple(z.shape)}")
    if name == "fused_numba":
        return selective_scan_fused_numba(u, delta, A, B, C, D, z=z)
    y = _VARIANTS[name](u, delta, A, B, C, D)
    return y if z is None else y * F.silu(z)
