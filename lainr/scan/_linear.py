"""Shared plumbing for the pure-torch variants.

The selective scan is a diagonal *linear* recurrence over time,
    h_t = a_t h_{t-1} + x_t,   a_t = exp(la_t),  la_t = Δ_t A ≤ 0,   x_t = Δ_t B_t u_t,
followed by y_t = C_t · h_t + D u_t.  Each pure-torch variant only supplies a
`core(la, x, a, reverse) -> h` (a = exp(la) or None; la is None when a is given for the
reverse pass) that solves the recurrence along dim 0 of time-major (L, ...)
tensors (each time step one contiguous slab) using decays ≤ 1 only — never their inverses, so
nothing overflows for any Δ ≥ 0, A ≤ 0.  With reverse=True it solves h_t = a_t h_{t+1} + x_t.

The backward of the recurrence is the same recurrence run in reverse,
    g_t = gh_t + a_{t+1} g_{t+1},   dla_t = g_t a_t h_{t-1},   dx_t = g_t,
so `core` serves both directions and autograd never records the core's internals: only la and h
(each (L, B, D, N)) are saved.
"""
import torch


def make_linear_scan(core):
    """Autograd-aware h = linear_scan(la, x) along dim 0."""

    class _LinearScan(torch.autograd.Function):
        @staticmethod
        def forward(ctx, la, x):
            h = core(la, x, None, False)
            ctx.save_for_backward(la, h)
            return h

        @staticmethod
        def backward(ctx, gh):
            la, h = ctx.saved_tensors
            a = la.exp()
            # decays shifted by one step; the last one multiplies g_L = 0, so any value (1) works
            a_next = torch.cat([a[1:], torch.ones_like(a[:1])])
            g = core(None, gh.contiguous(), a_next, True)
            dla = a  # reuse the buffer: dla_t = g_t a_t h_{t-1}, h_{-1} = 0
            dla[0] = 0
            dla[1:].mul_(h[:-1])
            dla.mul_(g)
            return dla, g

    return _LinearScan.apply


def make_selective_scan(linear_scan):
    """Wrap a linear scan into the full selective scan f(u, delta, A, B, C, D) -> y."""

    def selective_scan(u, delta, A, B, C, D):
        dT = delta.permute(2, 0, 1).contiguous()  # (L, B, D)
        la = dT.unsqueeze(-1) * A  # (L, B, D, N), ≤ 0
        dtu = (delta * u).permute(2, 0, 1).contiguous()  # (L, B, D)
        x = dtu.unsqueeze(-1) * B.permute(2, 0, 1).unsqueeze(2)  # (L, B, D, N)
        h = linear_scan(la, x)
        y = torch.einsum("lbdn,lbn->bdl", h, C.permute(2, 0, 1))
        return y + u * D[None, :, None]

    return selective_scan
