"""Chunked scan, pure torch (time-major, along dim 0).

The length-L recurrence h_t = a_t h_{t-1} + x_t (a_t = exp(la_t) ≤ 1) is split into L/T chunks of
T steps, all chunks processed at once:
  1. within each chunk, from a zero state, a T-step loop builds the local states h^loc and the
     decay from the chunk start P_t = Π_{chunk start ≤ k ≤ t} a_k = exp(S_t), S_t the segment sum of
     the log-decays; P_t ≤ 1 always (it may underflow to 0, which is the right limit);
  2. a short sequential loop over chunks carries the chunk-end states: H_c = P_end,c H_{c−1} + h^loc_end,c;
  3. h_t = h^loc_t + P_t H_{c−1}.
Python steps: T + L/T (≈ 2√L) instead of L.  The one formulation that overflows — dividing by
cumulative decays, exp(−S) = exp(Δ·|A|·…), already inf in fp32 for one step with Δ = 10, A = −16 —
is never used.

`intra="segsum"` is the closed form of step 1 in log space: h^loc_t = Σ_{s≤t} exp(S_t − S_s) x_s
with S_t − S_s ≤ 0 — the same stability argument, but it materialises (…, T, T) and is far slower
and heavier on CPU, so it is kept only as a cross-check (tests), not offered by the dispatcher.
"""
import math

import torch
import torch.nn.functional as F

from ._linear import make_linear_scan, make_selective_scan


def _chunk_len(length):
    return max(1, int(round(math.sqrt(length))))


def _scan_chunked(la, x, a=None, reverse=False, chunk=None, intra="loop"):
    """Forward: h_t = a_t h_{t-1} + x_t; reverse: h_t = a_t h_{t+1} + x_t. Time-major (L, ...).

    a = exp(la) may be given (then la is only needed for intra="segsum")."""
    L = x.shape[0]
    rest = x.shape[1:]
    T = chunk or _chunk_len(L)
    nc = -(-L // T)
    pad = nc * T - L
    if a is None:
        a = torch.exp(la)
    a, x = a.reshape(L, -1), x.reshape(L, -1)
    if pad:  # padded steps have x = 0 and sit after the real ones (forward) / are never reached (reverse)
        a, x = F.pad(a, (0, 0, 0, pad)), F.pad(x, (0, 0, 0, pad))
    a, x = a.view(nc, T, -1), x.view(nc, T, -1)
    ks = range(T - 2, -1, -1) if reverse else range(1, T)
    first, last = (T - 1, 0) if reverse else (0, T - 1)
    step = 1 if reverse else -1  # neighbour index within a chunk that feeds step k
    if intra == "segsum":
        assert not reverse
        lap = la.reshape(L, -1)
        if pad:
            lap = F.pad(lap, (0, 0, 0, pad))
        Sm = lap.view(nc, T, -1).cumsum(1).movedim(1, -1)  # (nc, M, T)
        seg = Sm.unsqueeze(-1) - Sm.unsqueeze(-2)  # S_t - S_s: (nc, M, T[t], T[s])
        mask = torch.ones(T, T, dtype=torch.bool, device=la.device).tril()
        seg = torch.exp(seg.masked_fill(~mask, float("-inf")))  # ≤ 1, zero above the diagonal
        h = (seg @ x.movedim(1, -1).unsqueeze(-1)).squeeze(-1).movedim(-1, 1).contiguous()
        P = Sm.movedim(-1, 1).exp()
    else:
        h = torch.empty_like(x)
        P = torch.empty_like(a)  # decay from the chunk start (or, reversed, to the chunk end)
        h[:, first] = x[:, first]
        P[:, first] = a[:, first]
        for k in ks:
            torch.addcmul(x[:, k], a[:, k], h[:, k + step], out=h[:, k])
            torch.mul(a[:, k], P[:, k + step], out=P[:, k])
    if nc > 1:
        # carry[c] = state entering chunk c from its neighbour chunk
        carry = torch.zeros_like(x[:, 0])
        cs = range(nc - 2, -1, -1) if reverse else range(1, nc)
        for c in cs:
            prev = c + step
            if c == cs[0]:  # the neighbour chunk is the first one: its local state is complete
                carry[c] = h[prev, last]
            else:
                torch.addcmul(h[prev, last], P[prev, last], carry[prev], out=carry[c])
        h.addcmul_(P, carry.unsqueeze(1))
    h = h.view(nc * T, *rest)
    return h[:L] if pad else h


linear_scan_chunked = make_linear_scan(_scan_chunked)
selective_scan_chunked = make_selective_scan(linear_scan_chunked)

linear_scan_chunked_segsum = make_linear_scan(
    lambda la, x, a, reverse: _scan_chunked(la, x, a, reverse, chunk=8, intra="loop" if reverse else "segsum"))
selective_scan_chunked_segsum = make_selective_scan(linear_scan_chunked_segsum)
