"""Shared plumbing for the pure-torch variants.

The selective scan is a diagonal *linear* recurrence over time,
    h_t = exp(la_t) * h_{t-1} + x_t,   la_t = Δ_t A ≤ 0,   x_t = Δ_t B_t u_t,
followed by y_t = C_t · h_t + D u_t.  Each pure-torch variant only supplies a `core(la, x)` that
solves the recurrence along the last dim of (..., L) tensors using decays exp(·) ≤ 1 only (never
their inverses, so nothing overflows for any Δ ≥ 0, A ≤ 0).  The backward of the recurrence is the
same recurrence run in reverse (g_t = gh_t + a_{t+1} g_{t+1}), so `core` serves both directions and
autograd never records the core's internals: only la and h (each (B, D, N, L)) are saved.
"""
import torch
import torch.nn.functional as F


def make_linear_scan(core):
    """Autograd-aware h = linear_scan(la, x) for a given `core(la, x) -> h` (no graph needed)."""

    class _LinearScan(torch.autograd.Function):
        @staticmethod
        def forward(ctx, la, x):
            h = core(la, x)
            ctx.save_for_backward(la, h)
            return h

        @staticmethod
        def backward(ctx, gh):
            la, h = ctx.saved_tensors
            # g_t = gh_t + exp(la_{t+1}) g_{t+1}: reverse scan with decays shifted by one step.
            la_next = F.pad(la[..., 1:], (0, 1))  # last step: decay multiplies g_L = 0, any value works
            g = core(la_next.flip(-1), gh.flip(-1)).flip(-1)
            h_prev = F.pad(h[..., :-1], (1, 0))
            dla = g * torch.exp(la) * h_prev
            return dla, g

    return _LinearScan.apply


def make_selective_scan(linear_scan):
    """Wrap a linear scan into the full selective scan f(u, delta, A, B, C, D) -> y."""

    def selective_scan(u, delta, A, B, C, D):
        la = delta.unsqueeze(2) * A[None, :, :, None]  # (B, D, N, L), ≤ 0
        x = (delta * u).unsqueeze(2) * B.unsqueeze(1)  # (B, D, N, L)
        h = linear_scan(la, x)
        y = torch.einsum("bdnl,bnl->bdl", h, C)
        return y + u * D[None, :, None]

    return selective_scan
