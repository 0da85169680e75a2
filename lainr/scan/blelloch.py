"""Work-efficient parallel (Blelloch-style) associative scan, pure torch.

Elements are pairs (la, b) meaning "h ↦ exp(la)·h + b"; composition (earlier, later):
    (la1, b1) ∘ (la2, b2) = (la1 + la2, exp(la2)·b1 + b2).
Log-decays are added, never exponentiated with a positive sign, so every factor exp(la) ≤ 1 and
the scan is finite for any Δ ≥ 0, A ≤ 0.  The recursion (as in jax.lax.associative_scan)
combines adjacent pairs, scans the half-length sequence, then fills the even positions: O(L) work,
O(log L) Python-level steps.
"""
import torch

from ._linear import make_linear_scan, make_selective_scan


def _interleave(even, odd):
    """Merge along the last dim: out[2k] = even[k], out[2k+1] = odd[k] (len(even) - len(odd) ∈ {0, 1})."""
    ne, no = even.shape[-1], odd.shape[-1]
    out = even.new_empty(*even.shape[:-1], ne + no)
    out[..., 0::2] = even
    out[..., 1::2] = odd
    return out


def _scan_blelloch(la, b):
    """Inclusive scan of the pairs along the last dim; returns h (the b part of each prefix).

    Only the elements' own la enter a composition prefix ∘ element, so cumulative log-decays are
    never needed."""
    n = la.shape[-1]
    if n < 2:
        return b
    la_o = la[..., 1::2]
    # reduce adjacent pairs (2k, 2k+1)
    la_pair = la[..., 0:-1:2] + la_o
    b_pair = torch.addcmul(b[..., 1::2], torch.exp(la_o), b[..., 0:-1:2])
    h_o = _scan_blelloch(la_pair, b_pair)  # prefixes ending at odd positions 1, 3, 5, ...
    # even positions 2, 4, ...: prefix at 2k-1, then element 2k
    la_2, b_2 = la[..., 2::2], b[..., 2::2]
    m = la_2.shape[-1]
    h_e = torch.cat([b[..., :1], torch.addcmul(b_2, torch.exp(la_2), h_o[..., :m])], -1)
    return _interleave(h_e, h_o)


linear_scan_blelloch = make_linear_scan(_scan_blelloch)
selective_scan_blelloch = make_selective_scan(linear_scan_blelloch)
