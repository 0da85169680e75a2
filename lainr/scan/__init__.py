"""Selective scan (S6) implementations.

All variants share one signature and one set of shapes (mamba-ssm's `selective_scan_ref`
without z / delta_bias / softplus, which the mixer applies itself):

    u:     (B, D, L)  input
    delta: (B, D, L)  step sizes Δ (already softplus-ed, > 0)
    A:     (D, N)     state matrix diagonal (negative)
    B:     (B, N, L)  input projection
    C:     (B, N, L)  output projection
    D:     (D,)       skip
    z:     (B, D, L)  optional gate (keyword): y ← y · silu(z), mamba-ssm's z
    returns y: (B, D, L)

    h_t = exp(Δ_t A) h_{t-1} + Δ_t B_t u_t;   y_t = C_t · h_t + D u_t

`selective_scan` picks the fastest exact variant available for the tensors' device
(`variant=` forces one of `available_variants()`):

    reference    plain sequential loop, the ground truth (reference.py)
    chunked      chunked scan, T-step loops within √L-long chunks + carry across chunks (chunked.py)
    blelloch     work-efficient parallel associative scan, O(log L) steps (blelloch.py)
    fused_numba  numba kernels, hand-written backward; CPU only, only if numba imports (fused_numba.py)
    triton       Triton kernels, hand-written backward, gate fused; CUDA tensors (CPU only through
                 Triton's interpreter, TRITON_INTERPRET=1), only if triton imports; fp32 (triton.py)

For CUDA tensors the default is triton when available, else blelloch (the Mamba mixer uses
mamba-ssm's own CUDA kernel ahead of both when that is installed).

All variants (the pure-torch ones, fused_numba and triton) only ever multiply by decays
exp(Δ A) ≤ 1 (never divide by them), so they stay finite for any Δ ≥ 0, A ≤ 0.  Timings: `python -m bench.scan_bench`; choice: dispatch.py.
"""
from .reference import selective_scan_ref
from .dispatch import selective_scan, available_variants

__all__ = ["selective_scan", "selective_scan_ref", "available_variants"]
