"""Choose a selective-scan variant for the tensors at hand.

On CPU: fused_numba (numba kernels, vectorised over channel lanes) where numba imports — the fastest by far —
else blelloch, the fastest of the pure-torch variants (reference, chunked, blelloch). For CUDA tensors:
mamba-ssm's CUDA kernel (used by `lainr.mamba` itself when installed) > triton (fused Triton kernels,
triton.py, if triton imports) > blelloch (O(log L) launches). triton is imported lazily, the first time a
variant list or a CUDA default is asked for, so the CPU path never pays for it. Every variant is tested against
the float64 reference loop (tests/test_scan.py).

The timings behind this order are measured, not quoted here: `python -m bench.scan_bench` (CPU variants) and
`python -m bench.triton_scan_gpu` (the Triton kernel on a GPU); the figures are in BENCHMARKS.md and the history
of the kernels in docs/history.md.
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
