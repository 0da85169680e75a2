"""Choose a selective-scan variant for the tensors at hand.

Measured with `python -m bench.scan_bench` at the corrected model's size (batch 16, d_inner 512,
d_state 16, L 512, fp32, 2 CPU cores shared with other jobs, load ≈ 8, so absolute times are
inflated ~3-4x; best of 3):

    variant       fwd ms   fwd+bwd ms   max rel err (vs float64 reference)
    reference       6509        15898   1.4e-06
    chunked         2197         5975   9.1e-07
    blelloch        1133         5385   1.3e-06
    fused_numba      158          475   1.3e-06
    triton       not timed on CPU (GPU kernels; on CPU only via Triton's slow interpreter)

On an H200 (torch 2.11, triton 3.6; `python -m bench.triton_scan_gpu`; gated, Δ ≤ 1, d_inner 512,
d_state 16, L 512, median of CUDA-event timings), fwd / fwd+bwd ms: batch 16: triton 0.42 / 1.8,
blelloch 2.6 / 7.8; batch 256: triton 2.3 / 12.6, blelloch 37 / 116. triton's max rel err vs the
float64 reference there: ≤ 1.6e-6 over all tensors and test cases (7.1e-7 at batch 256).

fused_numba is the fastest on CPU by far (~40x the reference forward, ~33x forward+backward);
among the pure-torch variants blelloch is the fastest (also at batch 4), so it is the fallback on
CPU without numba and the choice for CUDA tensors (O(log L) launches; the mixer uses mamba-ssm's
CUDA kernel itself when that is installed). fused_numba was since vectorised over channel lanes:
on a quiet machine, 1 thread, CPU time, Δ ~ U(0, 1): 96–103 → 51–58 ms forward, 342 → 170 ms
forward+backward (docs/history.md, the CPU optimisation rounds).

For CUDA tensors the order is: mamba-ssm's CUDA kernel (used by `lainr.mamba` itself when
installed) > triton (fused Triton kernels, triton.py, if triton imports) > blelloch. triton is
imported lazily, the first time a variant list or a CUDA default is asked for, so the CPU path
never pays for it.
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
_TRITON = None  # None: not looked for yet; then whether lainr.scan.triton is usable


def _triton_available():
    """Import lainr.scan.triton on first call (triton itself is optional) and register it."""
    global _TRITON
    if _TRITON is None:
        from . import triton as _tr

        _TRITON = _tr.AVAILABLE
        if _TRITON:
            _VARIANTS["triton"] = _tr.selective_scan_triton
    return _TRITON


def _runs_on(name, device_type):
    if name == "fused_numba":
        return device_type == "cpu"
    if name == "triton":
        from . import triton as _tr

        return device_type == "cuda" or (device_type == "cpu" and _tr.INTERPRET)
    return True


def available_variants(device=None):
    """Names of the scan variants installed on this machine; with `device`, only those that run
    on tensors there (fused_numba: CPU only; triton: CUDA, or CPU under TRITON_INTERPRET=1)."""
    _triton_available()
    names = list(_VARIANTS)
    if device is None:
        return names
    dtype = getattr(device, "type", None) or str(device).split(":")[0]
    return [n for n in names if _runs_on(n, dtype)]


def default_variant(device):
    """The variant `selective_scan` uses for tensors on `device`.

    The environment variable LAINR_SCAN_VARIANT, when set, names it instead (for every device): the
    GPU job sets it for its training processes when the Triton kernel fails its check on the device.
    """
    forced = os.environ.get("LAINR_SCAN_VARIANT")
    if forced:
        return forced
    dtype = getattr(device, "type", None) or str(device).split(":")[0]
    if dtype == "cpu" and _NUMBA:
        return "fused_numba"
    if dtype == "cuda" and _triton_available():
        return "triton"
    return _BEST_TORCH


def selective_scan(u, delta, A, B, C, D, variant=None, z=None):
    """Exact selective scan; `variant=None` picks the fastest available. Shapes: see `lainr.scan`.

    With z (B, D, L) the output is gated, y · silu(z) (mamba-ssm's `z`): fused into the kernels by
    fused_numba and triton, applied after the scan by the others.
    """
    name = variant or default_variant(u.device)
    if name == "triton":
        _triton_available()
    if name not in _VARIANTS:
        raise ValueError(f"unknown scan variant {name!r}; available: {available_variants()}")
    if not _runs_on(name, u.device.type):
        where = "CPU tensors only" if name == "fused_numba" else \
            "CUDA tensors (CPU tensors only under TRITON_INTERPRET=1, set before triton is imported)"
        raise ValueError(f"the {name!r} scan variant runs on {where}")
    if z is not None and z.shape != u.shape:
        raise ValueError(f"z must have u's shape {tuple(u.shape)}, got {tuple(z.shape)}")
    if name in ("fused_numba", "triton"):
        return _VARIANTS[name](u, delta, A, B, C, D, z=z)
    y = _VARIANTS[name](u, delta, A, B, C, D)
    return y if z is None else y * F.silu(z)
