"""Work-efficient parallel (Blelloch-style) associative scan, pure torch (time-major, along dim 0).

Elements are pairs (a, b) meaning "h ↦ a·h + b" with decays a = exp(Δ A) ∈ [0, 1]; composition
(earlier, later):
    (a1, b1) ∘ (a2, b2) = (a1·a2, a2·b1 + b2).
Only products of decays ≤ 1 are formed (equivalently: sums of log-decays, exponentiated with a
non-positive exponent), never their inverses, so the scan is finite for any Δ ≥ 0, A ≤ 0; products
may underflow to 0, the correct limit.  The recursion (as in jax.lax.associative_scan) combines
adjacent pairs, scans the half-length sequence, then fills the even positions: O(L) work,
O(log L) Python-level steps, each a strided slab operation.
"""
import torch

from ._linear import make_linear_scan, make_selective_scan


def _interleave(even, odd):
    """Merge along dim 0: out[2k] = even[k], out[2k+1] = odd[k] (len(even) - len(odd) ∈ {0, 1})."""
    out = even.new_empty(even.shape[0] + odd.shape[0], *even.shape[1:])
    out[0::2] = even
    out[1::2] = odd
    return out


def _scan_pairs(a, b):
    """Inclusive scan of the pairs along dim 0; returns h (the b part of each prefix).

    Only the elements' own a enter a composition prefix ∘ element, so cumulative decays are
    never needed at the top level."""
    n = a.shape[0]
    if n < 2:
        return b
    a_o = a[1::2]
    # reduce adjacent pairs (2k, 2k+1)
    a_pair = a[0:-1:2] * a_o
    b_pair = torch.addcmul(b[1::2], a_o, b[0:-1:2])
    h_o = _scan_pairs(a_pair, b_pair)  # prefixes ending at odd positions 1, 3, 5, ...
    # even positions 2, 4, ...: prefix at 2k-1, then element 2k
    m = a[2::2].shape[0]
    h_e = torch.cat([b[:1], torch.addcmul(b[2::2], a[2::2], h_o[:m])])
    return _interleave(h_e, h_o)


def _scan_blelloch(la, x, a=None, reverse=False):
    """Forward: h_t = a_t h_{t-1} + x_t; reverse: h_t = a_t h_{t+1} + x_t. Time-major (L, ...)."""
    if a is None:
        a = torch.exp(la)
    if reverse:
        return _scan_pairs(a.flip(0), x.flip(0)).flip(0)
    return _scan_pairs(a, x)


linear_scan_blelloch = make_linear_scan(_scan_blelloch)
selective_scan_blelloch = make_selective_scan(linear_scan_blelloch)
