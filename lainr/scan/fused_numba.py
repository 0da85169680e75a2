"""Fused selective scan as numba kernels (CPU), with a hand-written backward.

Forward: parallel over (batch, channel); each task runs the recurrence over time with the state
h[N] in registers/L1 and the N-loop innermost, so nothing of size (B, D, N, L) is ever formed.
Backward (custom autograd.Function): parallel over (batch, channel-block); each task recomputes the
decays and states of one channel in a small local (L, N) buffer, then runs the adjoint recurrence
backwards in time:
    g_t = C_t gy_t + a_{t+1} g_{t+1}                (adjoint of h_t, a_t = exp(Δ_t A))
    du_t = D gy_t + Σ_n g_tn Δ_t B_tn
    dΔ_t = Σ_n g_tn (A_n a_tn h_{t-1,n} + B_tn u_t)
    dA_n = Σ_{b,t} g_tn Δ_t a_tn h_{t-1,n}
    dB_tn = Σ_d g_tn Δ_t u_t,  dC_tn = Σ_d gy_t h_tn,  dD = Σ_{b,t} gy_t u_t.
Sums over d (dB, dC) go to per-(batch, block) buffers and sums over b (dA, dD) to per-batch buffers,
which are reduced afterwards, so tasks never write to the same memory.
Reductions (dot products, dA/dD/dB/dC sums) are carried in float64; fp32 exp is an inlined
polynomial (see `_exp_f32`) so the N-loops vectorise without fastmath.

numba is optional: if it cannot be imported, `AVAILABLE` is False and the variant is not offered.
"""
import math

import torch

try:
    import numba
    import numpy as np
    from numba import njit, prange

    AVAILABLE = True
except ImportError:  # pragma: no cover - depends on the environment
    numba = None
    AVAILABLE = False


if AVAILABLE:
    from llvmlite import ir as _ir
    from numba import types as _types
    from numba.extending import intrinsic, overload

    @intrinsic
    def _int32_bits_as_float32(typingctx, x):
        def codegen(context, builder, signature, args):
            return builder.bitcast(args[0], _ir.FloatType())

        return _types.float32(_types.int32), codegen

    @njit(fastmath=False, inline="always", cache=True)
    def _exp_f32(x):
        """exp for float32 in plain arithmetic (≤ 2 ulp in the normal range), so LLVM can vectorise
        loops that call it (numba without SVML can only call scalar libm expf, ~6x slower).
        Cody-Waite reduction x = k ln2 + r, |r| ≤ ln2/2; Cephes expf polynomial; 2^k built from
        exponent bits in two halves so results down to the subnormal range stay right.
        Inputs are clamped to [-104, 88]: exp underflows to 0 below, and the scan only sees x ≤ 0."""
        x = min(max(x, np.float32(-104.0)), np.float32(88.0))
        # round to nearest by the 1.5·2^23 trick (exact in IEEE fp32; fastmath is off, so it is not
        # folded away) rather than a floor() call that would stop vectorisation
        k = (x * np.float32(1.4426950408889634) + np.float32(12582912.0)) - np.float32(12582912.0)
        r = x - k * np.float32(0.693145751953125)
        r = r - k * np.float32(1.428606765330187e-06)
        p = np.float32(1.9875691500e-4)
        p = p * r + np.float32(1.3981999507e-3)
        p = p * r + np.float32(8.3334519073e-3)
        p = p * r + np.float32(4.1665795894e-2)
        p = p * r + np.float32(1.6666665459e-1)
        p = p * r + np.float32(5.0000001201e-1)
        p = p * r * r + r + np.float32(1.0)
        ki = np.int32(k)
        k1 = ki // np.int32(2)
        k2 = ki - k1
        s1 = _int32_bits_as_float32((k1 + np.int32(127)) << np.int32(23))
        s2 = _int32_bits_as_float32((k2 + np.int32(127)) << np.int32(23))
        return p * s1 * s2

    def _exp(x):  # pragma: no cover - replaced by the overload inside jitted code
        return math.exp(x)

    @overload(_exp, inline="always")
    def _exp_overload(x):
        if x == _types.float32:
            return lambda x: _exp_f32(x)
        return lambda x: math.exp(x)

    @njit(parallel=True, fastmath=False, cache=True)
    def _fwd_kernel(u, delta, A, Bt, Ct, Dv, y):
        """u, delta, y: (Bb, D, L); A: (D, N); Bt, Ct: (Bb, L, N) (time-major); Dv: (D,)."""
        nb, nd, L = u.shape
        N = A.shape[1]
        for task in prange(nb * nd):
            b = task // nd
            d = task % nd
            h = np.zeros(N, dtype=u.dtype)
            Ad = A[d]
            for t in range(L):
                dt = delta[b, d, t]
                ut = u[b, d, t]
                dtu = dt * ut
                Bbt = Bt[b, t]
                Cbt = Ct[b, t]
                for n in range(N):  # vectorised over n
                    h[n] = _exp(dt * Ad[n]) * h[n] + dtu * Bbt[n]
                acc = 0.0
                for n in range(N):
                    acc += Cbt[n] * h[n]
                y[b, d, t] = acc + Dv[d] * ut

    @njit(parallel=True, fastmath=False, cache=True)
    def _bwd_kernel(u, delta, A, Bt, Ct, Dv, gy, nblk, du, ddelta, dA_b, dD_b, dB_blk, dC_blk):
        """Grads; dA_b (Bb, D, N), dD_b (Bb, D): per batch; dB_blk, dC_blk (Bb, nblk, L, N): per block."""
        nb, nd, L = u.shape
        N = A.shape[1]
        for task in prange(nb * nblk):
            b = task // nblk
            blk = task % nblk
            d0 = (blk * nd) // nblk
            d1 = ((blk + 1) * nd) // nblk
            a_buf = np.empty((L, N), dtype=u.dtype)
            h_buf = np.empty((L + 1, N), dtype=u.dtype)  # h_buf[t + 1] = h_t, h_buf[0] = 0
            g = np.empty(N, dtype=np.float64)
            t_dt = np.empty(N, dtype=np.float64)
            t_du = np.empty(N, dtype=np.float64)
            dA_acc = np.empty(N, dtype=np.float64)
            dBl = np.zeros((L, N), dtype=np.float64)
            dCl = np.zeros((L, N), dtype=np.float64)
            for d in range(d0, d1):
                Ad = A[d]
                Dd = Dv[d]
                for n in range(N):
                    h_buf[0, n] = 0.0
                # recompute decays and states of this channel
                for t in range(L):
                    dt = delta[b, d, t]
                    dtu = dt * u[b, d, t]
                    Bbt = Bt[b, t]
                    for n in range(N):
                        a = _exp(dt * Ad[n])
                        a_buf[t, n] = a
                        h_buf[t + 1, n] = a * h_buf[t, n] + dtu * Bbt[n]
                # adjoint pass, backwards in time; g holds a_{t+1} g_{t+1} on entry
                for n in range(N):
                    g[n] = 0.0
                    dA_acc[n] = 0.0
                dD_acc = 0.0
                for t in range(L - 1, -1, -1):
                    dt = delta[b, d, t]
                    ut = u[b, d, t]
                    gyt = gy[b, d, t]
                    dtu = dt * ut
                    Bbt = Bt[b, t]
                    Cbt = Ct[b, t]
                    dD_acc += gyt * ut
                    for n in range(N):  # vectorised over n
                        gn = g[n] + gyt * Cbt[n]
                        dCl[t, n] += gyt * h_buf[t + 1, n]
                        a = a_buf[t, n]
                        dla = gn * a * h_buf[t, n]  # grad of la = Δ_t A_n
                        t_dt[n] = dla * Ad[n] + gn * Bbt[n] * ut
                        t_du[n] = gn * Bbt[n]
                        dA_acc[n] += dla * dt
                        dBl[t, n] += gn * dtu
                        g[n] = a * gn
                    ddt = 0.0
                    du_t = 0.0
                    for n in range(N):
                        ddt += t_dt[n]
                        du_t += t_du[n]
                    du[b, d, t] = gyt * Dd + dt * du_t
                    ddelta[b, d, t] = ddt
                for n in range(N):
                    dA_b[b, d, n] = dA_acc[n]
                dD_b[b, d] = dD_acc
            for t in range(L):
                for n in range(N):
                    dB_blk[b, blk, t, n] = dBl[t, n]
                    dC_blk[b, blk, t, n] = dCl[t, n]


def _work_dtype(*ts):
    return torch.float64 if any(t.dtype == torch.float64 for t in ts) else torch.float32


def _np(t):
    return t.detach().numpy()


class _FusedScan(torch.autograd.Function):
    @staticmethod
    def forward(ctx, u, delta, A, B, C, D):
        wd = _work_dtype(u, delta, A, B, C, D)
        ctx.in_dtypes = tuple(t.dtype for t in (u, delta, A, B, C, D))
        uu, dd, AA, DD = (t.detach().to(wd).contiguous() for t in (u, delta, A, D))
        Bt = B.detach().to(wd).transpose(1, 2).contiguous()  # (Bb, L, N)
        Ct = C.detach().to(wd).transpose(1, 2).contiguous()
        y = torch.empty_like(uu)
        _fwd_kernel(_np(uu), _np(dd), _np(AA), _np(Bt), _np(Ct), _np(DD), _np(y))
        if any(ctx.needs_input_grad):
            ctx.save_for_backward(uu, dd, AA, Bt, Ct, DD)
        return y.to(u.dtype)

    @staticmethod
    def backward(ctx, gy):
        uu, dd, AA, Bt, Ct, DD = ctx.saved_tensors
        wd = uu.dtype
        gy = gy.to(wd).contiguous()
        nb, nd, L = uu.shape
        N = AA.shape[1]
        nthreads = numba.get_num_threads()
        # enough tasks to balance the threads; one block per batch element when the batch suffices
        nblk = max(1, min(nd, -(-4 * nthreads // nb))) if nb < 4 * nthreads else 1
        du = torch.empty_like(uu)
        ddelta = torch.empty_like(uu)
        dA_b = torch.empty(nb, nd, N, dtype=wd)
        dD_b = torch.empty(nb, nd, dtype=wd)
        dB_blk = torch.empty(nb, nblk, L, N, dtype=wd)
        dC_blk = torch.empty(nb, nblk, L, N, dtype=wd)
        _bwd_kernel(_np(uu), _np(dd), _np(AA), _np(Bt), _np(Ct), _np(DD), _np(gy), nblk,
                    _np(du), _np(ddelta), _np(dA_b), _np(dD_b), _np(dB_blk), _np(dC_blk))
        grads = (
            du,
            ddelta,
            dA_b.sum(0),
            dB_blk.sum(1).transpose(1, 2),
            dC_blk.sum(1).transpose(1, 2),
            dD_b.sum(0),
        )
        return tuple(
            g.to(dt) if need else None for g, dt, need in zip(grads, ctx.in_dtypes, ctx.needs_input_grad)
        )


def selective_scan_fused_numba(u, delta, A, B, C, D):
    """Fused numba selective scan (CPU tensors). Shapes: see `lainr.scan`."""
    if not AVAILABLE:
        raise RuntimeError("numba is not installed; the 'fused_numba' scan variant is unavailable")
    return _FusedScan.apply(u, delta, A, B, C, D)
