"""Fused selective scan as numba kernels (CPU), with a hand-written backward.

Layout: a task is one batch element × LANES (16) channels. It copies its channels' u, Δ (and in the
backward gy) into small time-major (L, LANES) tiles, so every inner loop runs over the 16 channels
with a compile-time trip count: one vector op per line, no horizontal reductions, no scalar
remainder loops (with the loop over the state dimension N innermost instead, LLVM vectorised for
64 elements and ran N = 16 in its scalar tail). Nothing of size (B, D, N, L) is ever formed.

Forward: h_t = exp(Δ_t A) h_{t-1} + Δ_t B_t u_t kept in a (N, LANES) register tile; y_t = C_t·h_t + D u_t.
Backward (custom autograd.Function): a task takes a group of channel blocks one after another,
recomputes each block's states into an (L+1, N, LANES) buffer, then runs the adjoint recurrence
backwards in time:
    g_t = C_t gy_t + a_{t+1} g_{t+1}                (adjoint of h_t, a_t = exp(Δ_t A))
    du_t = D gy_t + Σ_n g_tn Δ_t B_tn
    dΔ_t = Σ_n g_tn (A_n a_tn h_{t-1,n} + B_tn u_t)
    dA_n = Σ_{b,t} g_tn Δ_t a_tn h_{t-1,n}
    dB_tn = Σ_d g_tn Δ_t u_t,  dC_tn = Σ_d gy_t h_tn,  dD = Σ_{b,t} gy_t u_t.
dB and dC are summed per lane over the group's blocks and across lanes once at the end (float64),
into per-(batch, group) buffers; dA and dD go to per-batch buffers; all are reduced afterwards, so
tasks never write to the same memory. dA is summed in chunks of 32 steps and then in float64.
fp32 exp is an inlined polynomial (see `_exp_f32`) so the loops vectorise without fastmath.

numba is optional: if it cannot be imported, `AVAILABLE` is False and the variant is not offered.
"""
import math

import torch

from ..cpu_threads import apply_numba_threads

try:
    import numba
    import numpy as np
    from numba import njit, prange

    AVAILABLE = True
except ImportError:  # pragma: no cover - depends on the environment
    numba = None
    AVAILABLE = False


LANES = 16  # channels per kernel task and per vector op (one AVX-512 register of fp32)

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

    @njit(inline="always", cache=True)
    def _load_tile(x, b, d0, jw, tile):
        """tile (L, LANES) ← x[b, d0:d0 + jw, :] transposed (x is (Bb, D, L)); lanes ≥ jw ← 0."""
        L = x.shape[2]
        for j in range(LANES):
            if j < jw:
                for t in range(L):
                    tile[t, j] = x[b, d0 + j, t]
            else:
                for t in range(L):
                    tile[t, j] = 0.0

    @njit(inline="always", cache=True)
    def _store_tile(tile, x, b, d0, jw):
        """x[b, d0:d0 + jw, :] ← tile (L, LANES) transposed."""
        L = x.shape[2]
        for j in range(jw):
            for t in range(L):
                x[b, d0 + j, t] = tile[t, j]

    @njit(inline="always", cache=True)
    def _load_lanes(A, d0, jw, Al):
        """Al (N, LANES) ← A[d0:d0 + jw, :] transposed (A is (D, N)); lanes ≥ jw ← 0."""
        for n in range(A.shape[1]):
            for j in range(LANES):
                Al[n, j] = A[d0 + j, n] if j < jw else 0.0

    @njit(parallel=True, fastmath=False, cache=True)
    def _fwd_kernel(u, delta, A, Bt, Ct, Dv, z, gated, y):
        """u, delta, y: (Bb, D, L); A: (D, N); Bt, Ct: (Bb, L, N) (time-major); Dv: (D,).
        gated: y = (C·h + D u) · silu(z) with z (Bb, D, L) (mamba-ssm's gate); else z is unused.

        One task = one batch element × LANES channels, copied into (L, LANES) tiles; every inner
        loop runs over the LANES channels (a compile-time 16): one vector op, no horizontal sum."""
        nb, nd, L = u.shape
        N = A.shape[1]
        nblk = (nd + LANES - 1) // LANES
        for task in prange(nb * nblk):
            b = task // nblk
            d0 = (task % nblk) * LANES
            jw = min(LANES, nd - d0)
            ut = np.empty((L, LANES), dtype=u.dtype)
            dtt = np.empty((L, LANES), dtype=u.dtype)
            yt = np.empty((L, LANES), dtype=u.dtype)
            Al = np.empty((N, LANES), dtype=u.dtype)
            Dl = np.zeros(LANES, dtype=u.dtype)
            h = np.zeros((N, LANES), dtype=u.dtype)
            dtu = np.empty(LANES, dtype=u.dtype)
            acc = np.empty(LANES, dtype=u.dtype)
            _load_tile(u, b, d0, jw, ut)
            _load_tile(delta, b, d0, jw, dtt)
            _load_lanes(A, d0, jw, Al)
            for j in range(jw):
                Dl[j] = Dv[d0 + j]
            for t in range(L):
                dtl = dtt[t]
                for j in range(LANES):
                    dtu[j] = dtl[j] * ut[t, j]
                    acc[j] = 0.0
                for n in range(N):
                    bn = Bt[b, t, n]
                    cn = Ct[b, t, n]
                    for j in range(LANES):  # h_t = exp(Δ A) h_{t-1} + Δ B u;  y += C h
                        hv = _exp(dtl[j] * Al[n, j]) * h[n, j] + dtu[j] * bn
                        h[n, j] = hv
                        acc[j] += cn * hv
                for j in range(LANES):
                    yt[t, j] = acc[j] + Dl[j] * ut[t, j]
            if gated:
                _load_tile(z, b, d0, jw, dtt)  # Δ is no longer needed: reuse its tile for z
                for t in range(L):
                    for j in range(LANES):
                        zv = dtt[t, j]
                        yt[t, j] *= zv / (1.0 + _exp(-zv))
            _store_tile(yt, y, b, d0, jw)

    @njit(parallel=True, fastmath=False, cache=True)
    def _bwd_kernel(u, delta, A, Bt, Ct, Dv, z, gated, gy, ngrp, du, ddelta, dz, dA_b, dD_b, dB_grp, dC_grp):
        """Grads. du, ddelta, dz (Bb, D, L) (dz only if gated); dA_b (Bb, D, N), dD_b (Bb, D): per batch element;
        dB_grp, dC_grp (Bb, ngrp, L, N): per group of channel blocks (summed afterwards).

        One task = one batch element × one group of LANES-channel blocks, run one after another so
        the sums over channels (dB, dC) stay per lane in (L, N, LANES) buffers; they are reduced
        across lanes once per task, in float64. dA is summed per lane in chunks of 32 steps, then
        added in float64."""
        nb, nd, L = u.shape
        N = A.shape[1]
        nblk = (nd + LANES - 1) // LANES
        for task in prange(nb * ngrp):
            b = task // ngrp
            grp = task % ngrp
            k0 = (grp * nblk) // ngrp
            k1 = ((grp + 1) * nblk) // ngrp
            hs = np.empty((L + 1, N, LANES), dtype=u.dtype)  # hs[t + 1] = h_t, hs[0] = 0
            dBl = np.zeros((L, N, LANES), dtype=u.dtype)
            dCl = np.zeros((L, N, LANES), dtype=u.dtype)
            ut = np.empty((L, LANES), dtype=u.dtype)
            dtt = np.empty((L, LANES), dtype=u.dtype)
            gyt = np.empty((L, LANES), dtype=u.dtype)
            dut = np.empty((L, LANES), dtype=u.dtype)
            ddt = np.empty((L, LANES), dtype=u.dtype)
            Al = np.empty((N, LANES), dtype=u.dtype)
            Dl = np.zeros(LANES, dtype=u.dtype)
            g = np.empty((N, LANES), dtype=u.dtype)
            dA_acc = np.empty((N, LANES), dtype=u.dtype)
            dA_sum = np.empty((N, LANES), dtype=np.float64)
            dD_sum = np.empty(LANES, dtype=np.float64)
            dtu = np.empty(LANES, dtype=u.dtype)
            dus = np.empty(LANES, dtype=u.dtype)
            acc = np.empty(LANES, dtype=u.dtype)
            for k in range(k0, k1):
                d0 = k * LANES
                jw = min(LANES, nd - d0)
                _load_tile(u, b, d0, jw, ut)
                _load_tile(delta, b, d0, jw, dtt)
                _load_tile(gy, b, d0, jw, gyt)
                if gated:
                    _load_tile(z, b, d0, jw, dut)
                _load_lanes(A, d0, jw, Al)
                for j in range(jw):
                    Dl[j] = Dv[d0 + j]
                for n in range(N):
                    for j in range(LANES):
                        hs[0, n, j] = 0.0
                        g[n, j] = 0.0
                        dA_acc[n, j] = 0.0
                        dA_sum[n, j] = 0.0
                for j in range(LANES):
                    dD_sum[j] = 0.0
                # recompute the states of these LANES channels (and, gated, the ungated output)
                for t in range(L):
                    dtl = dtt[t]
                    for j in range(LANES):
                        dtu[j] = dtl[j] * ut[t, j]
                        acc[j] = 0.0
                    for n in range(N):
                        bn = Bt[b, t, n]
                        cn = Ct[b, t, n]
                        for j in range(LANES):
                            hv = _exp(dtl[j] * Al[n, j]) * hs[t, n, j] + dtu[j] * bn
                            hs[t + 1, n, j] = hv
                            acc[j] += cn * hv
                    if gated:  # out = y·silu(z): dz = gout·y·silu'(z), and gy ← gout·silu(z)
                        zl = dut[t]  # dut is free until the adjoint pass: it holds z here
                        gl = gyt[t]
                        for j in range(LANES):
                            zv = zl[j]
                            sg = 1.0 / (1.0 + _exp(-zv))
                            yv = acc[j] + Dl[j] * ut[t, j]
                            ddt[t, j] = gl[j] * yv * sg * (1.0 + zv * (1.0 - sg))
                            gl[j] = gl[j] * zv * sg
                if gated:
                    _store_tile(ddt, dz, b, d0, jw)
                # adjoint pass, backwards in time; g holds a_{t+1} g_{t+1} on entry
                for t in range(L - 1, -1, -1):
                    dtl = dtt[t]
                    ul = ut[t]
                    gyl = gyt[t]
                    ddl = ddt[t]
                    for j in range(LANES):
                        dtu[j] = dtl[j] * ul[j]
                        ddl[j] = 0.0
                        dus[j] = 0.0
                        dD_sum[j] += gyl[j] * ul[j]
                    for n in range(N):
                        bn = Bt[b, t, n]
                        cn = Ct[b, t, n]
                        an = Al[n]
                        for j in range(LANES):
                            gn = g[n, j] + gyl[j] * cn
                            a = _exp(dtl[j] * an[j])
                            dla = gn * a * hs[t, n, j]  # grad of la = Δ_t A_n
                            ddl[j] += dla * an[j] + gn * bn * ul[j]
                            dus[j] += gn * bn
                            dA_acc[n, j] += dla * dtl[j]
                            dBl[t, n, j] += gn * dtu[j]
                            dCl[t, n, j] += gyl[j] * hs[t + 1, n, j]
                            g[n, j] = a * gn
                    for j in range(LANES):
                        dut[t, j] = gyl[j] * Dl[j] + dtl[j] * dus[j]
                    if t % 32 == 0:  # flush the chunk's dA into float64
                        for n in range(N):
                            for j in range(LANES):
                                dA_sum[n, j] += dA_acc[n, j]
                                dA_acc[n, j] = 0.0
                _store_tile(dut, du, b, d0, jw)
                _store_tile(ddt, ddelta, b, d0, jw)
                for j in range(jw):
                    for n in range(N):
                        dA_b[b, d0 + j, n] = dA_sum[n, j]
                    dD_b[b, d0 + j] = dD_sum[j]
            for t in range(L):
                for n in range(N):
                    sb = 0.0
                    sc = 0.0
                    for j in range(LANES):
                        sb += dBl[t, n, j]
                        sc += dCl[t, n, j]
                    dB_grp[b, grp, t, n] = sb
                    dC_grp[b, grp, t, n] = sc


def _work_dtype(*ts):
    return torch.float64 if any(t.dtype == torch.float64 for t in ts) else torch.float32


def _np(t):
    return t.detach().numpy()


class _FusedScan(torch.autograd.Function):
    @staticmethod
    def forward(ctx, u, delta, A, B, C, D, z):
        apply_numba_threads()  # this thread's numba count = set_cpu_threads' (a server's worker thread too)
        gated = z is not None
        wd = _work_dtype(u, delta, A, B, C, D, *((z,) if gated else ()))
        ctx.in_dtypes = tuple(t.dtype if t is not None else None for t in (u, delta, A, B, C, D, z))
        uu, dd, AA, DD = (t.detach().to(wd).contiguous() for t in (u, delta, A, D))
        zz = z.detach().to(wd).contiguous() if gated else uu  # uu: a placeholder the kernel ignores
        Bt = B.detach().to(wd).transpose(1, 2).contiguous()  # (Bb, L, N)
        Ct = C.detach().to(wd).transpose(1, 2).contiguous()
        y = torch.empty_like(uu)
        _fwd_kernel(_np(uu), _np(dd), _np(AA), _np(Bt), _np(Ct), _np(DD), _np(zz), gated, _np(y))
        if any(ctx.needs_input_grad):
            ctx.save_for_backward(uu, dd, AA, Bt, Ct, DD, zz)
            ctx.gated = gated
        return y.to(u.dtype)

    @staticmethod
    def backward(ctx, gy):
        apply_numba_threads()
        uu, dd, AA, Bt, Ct, DD, zz = ctx.saved_tensors
        wd, gated = uu.dtype, ctx.gated
        gy = gy.to(wd).contiguous()
        nb, nd, L = uu.shape
        N = AA.shape[1]
        nblk = -(-nd // LANES)
        # enough tasks to keep the threads busy; few groups (long per-lane dB/dC sums) otherwise
        ngrp = min(nblk, max(1, -(-2 * numba.get_num_threads() // nb)))
        du = torch.empty_like(uu)
        ddelta = torch.empty_like(uu)
        dz = torch.empty_like(uu) if gated else uu  # placeholder when not gated (never written)
        dA_b = torch.empty(nb, nd, N, dtype=wd)
        dD_b = torch.empty(nb, nd, dtype=wd)
        dB_grp = torch.empty(nb, ngrp, L, N, dtype=wd)
        dC_grp = torch.empty(nb, ngrp, L, N, dtype=wd)
        _bwd_kernel(_np(uu), _np(dd), _np(AA), _np(Bt), _np(Ct), _np(DD), _np(zz), gated, _np(gy), ngrp,
                    _np(du), _np(ddelta), _np(dz), _np(dA_b), _np(dD_b), _np(dB_grp), _np(dC_grp))
        grads = (
            du,
            ddelta,
            dA_b.sum(0),
            dB_grp.sum(1).transpose(1, 2),
            dC_grp.sum(1).transpose(1, 2),
            dD_b.sum(0),
            dz if gated else None,
        )
        return tuple(
            g.to(dt) if need and g is not None else None
            for g, dt, need in zip(grads, ctx.in_dtypes, ctx.needs_input_grad)
        )


def selective_scan_fused_numba(u, delta, A, B, C, D, z=None):
    """Fused numba selective scan (CPU tensors); with z (B, D, L) the output is gated by silu(z)
    inside the kernel (mamba-ssm's `z`). Shapes: see `lainr.scan`."""
    if not AVAILABLE:
        raise RuntimeError("numba is not installed; the 'fused_numba' scan variant is unavailable")
    return _FusedScan.apply(u, delta, A, B, C, D, z)
