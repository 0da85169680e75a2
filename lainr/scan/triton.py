"""Fused selective scan as Triton kernels (CUDA tensors), with a hand-written backward.

Layout: one program = one batch element × BLOCK_D channels (16 or 64, `_block_d`); it loops over
time sequentially with the state tile h (BLOCK_D, BLOCK_N) in registers (N = d_state padded to a power of two; padded
lanes hold A = B = C = 0 and u = Δ = 0, so they stay exactly 0). Everything is computed in fp32
whatever the input dtype (float64 inputs too: this variant is an fp32 kernel); outputs and
gradients are cast back to the inputs' dtypes.

Forward: h_t = exp(Δ_t A) h_{t-1} + Δ_t B_t u_t;  y_t = C_t·h_t + D u_t;  gated: y_t ← y_t·silu(z_t).
Backward (custom autograd.Function), per program: first re-run the forward, storing h_t in an fp32
scratch buffer (one (BLOCK_D, BLOCK_N) tile per step, int64 offsets: at batch 256, D 512, L 512,
N 16 it holds ~1.1e9 floats) and, gated, writing dz; then the adjoint recurrence backwards in time
(the formulas of fused_numba.py, with a_t = exp(Δ_t A)):
    g_t = C_t gy_t + a_{t+1} g_{t+1}                (adjoint of h_t; gated: gy ← gout·silu(z))
    du_t = D gy_t + Δ_t Σ_n g_tn B_tn
    dΔ_t = Σ_n g_tn (A_n a_tn h_{t-1,n} + B_tn u_t)
    dA_n = Σ_{b,t} g_tn Δ_t a_tn h_{t-1,n},  dD = Σ_{b,t} gy_t u_t
    dB_tn = Σ_d g_tn Δ_t u_t,  dC_tn = Σ_d gy_t h_tn
    dz_t = gout_t y_t σ(z_t) (1 + z_t (1 − σ(z_t)))
It only ever multiplies by decays (never divides), so Δ up to 10 with A down to −16 stays finite.
dB and dC are written per (batch, channel block) and dA, dD per batch element, then summed by
torch: no atomics, deterministic.
Tried on the H200 and dropped: loading each step's inputs (and h_{t-1}) one step ahead, by hand —
no faster (batch 256: 2.4 / 12.7 ms against 2.3 / 12.6 ms fwd / fwd+bwd).

`triton` is optional: `AVAILABLE` is False when it cannot be imported. The kernels are built for
the GPU; on CPU tensors they run only through Triton's interpreter, i.e. when TRITON_INTERPRET=1
was set before triton was imported (slow: for tests). `self_check(device)` compares a small random
case against the float64 reference (output and all seven gradients) and returns the max relative
errors, for a GPU run to call before trusting the kernel.
"""
import os

import torch

try:
    import triton
    import triton.language as tl

    AVAILABLE = True
except ImportError:  # pragma: no cover - depends on the environment
    triton = tl = None
    AVAILABLE = False

# read once, like triton itself: kernels are interpreted iff this was set when triton was imported
INTERPRET = os.environ.get("TRITON_INTERPRET", "0") == "1"


def _patch_interpreter_index():
    """Triton's interpreter (3.6–3.8) converts a scalar argument used as a loop bound with
    int(1-element array), which numpy ≥ 2.4 refuses (triton-lang/triton#9171); take the element
    explicitly instead. Only ever applied under TRITON_INTERPRET=1; compiled kernels are untouched."""
    from triton.runtime import interpreter

    orig = interpreter._patch_lang_tensor
    if getattr(orig, "_lainr_index_fix", False):
        return

    def patched(tensor, scope):
        orig(tensor, scope)
        scope.set_attr(tensor, "__index__", lambda self: int(self.handle.data.reshape(-1)[0]))

    patched._lainr_index_fix = True
    interpreter._patch_lang_tensor = patched


if AVAILABLE and INTERPRET:
    try:
        _patch_interpreter_index()
    except (ImportError, AttributeError):  # pragma: no cover - another triton version: leave it be
        pass

# Channels per program: None = by size (`_block_d`); set an int to force one. Measured on an H200
# (gated fwd / fwd+bwd ms, d_inner 512, d_state 16, L 512, 4 warps): batch 256: 64 → 2.3 / 12.7,
# 32 → 2.9 / 16.3, 16 → 4.1 / 19.7; batch 16: 16 → 0.42 / 1.76, 32 → 0.69 / 1.74, 64 → 0.46 / 1.93.
BLOCK_D = None
NUM_WARPS = 4


def _block_d(nb, nd):
    """64-channel programs once there are plenty of them (≥ 1024, e.g. batch 256 × d_inner 512);
    16 below that, so that a small batch still fills the GPU's multiprocessors."""
    if BLOCK_D is not None:
        return BLOCK_D
    return 64 if nb * triton.cdiv(nd, 64) >= 1024 else 16

if AVAILABLE:

    @triton.jit
    def _fwd_kernel(u_ptr, dt_ptr, A_ptr, B_ptr, C_ptr, D_ptr, z_ptr, y_ptr,
                    Dn, N, L,
                    s_ub, s_ud, s_ul,  # strides of u, Δ, z, y (all share them)
                    s_ad, s_an,  # strides of A
                    s_bb, s_bn, s_bl,  # strides of B and C (shared)
                    GATED: tl.constexpr, BLOCK_D: tl.constexpr, BLOCK_N: tl.constexpr):
        pid_b = tl.program_id(0).to(tl.int64)
        pid_d = tl.program_id(1)
        offs_d = pid_d * BLOCK_D + tl.arange(0, BLOCK_D)
        offs_n = tl.arange(0, BLOCK_N)
        mask_d = offs_d < Dn
        mask_n = offs_n < N
        A = tl.load(A_ptr + offs_d[:, None] * s_ad + offs_n[None, :] * s_an,
                    mask=mask_d[:, None] & mask_n[None, :], other=0.0)
        Dv = tl.load(D_ptr + offs_d, mask=mask_d, other=0.0)
        x_base = pid_b * s_ub + offs_d.to(tl.int64) * s_ud  # (BLOCK_D,) for u, Δ, z, y
        bc_base = pid_b * s_bb + offs_n.to(tl.int64) * s_bn  # (BLOCK_N,) for B, C
        h = tl.zeros((BLOCK_D, BLOCK_N), dtype=tl.float32)
        for t in range(0, L):
            xo = x_base + t * s_ul
            bo = bc_base + t * s_bl
            u = tl.load(u_ptr + xo, mask=mask_d, other=0.0)
            dt = tl.load(dt_ptr + xo, mask=mask_d, other=0.0)
            Bt = tl.load(B_ptr + bo, mask=mask_n, other=0.0)
            Ct = tl.load(C_ptr + bo, mask=mask_n, other=0.0)
            a = tl.exp(dt[:, None] * A)
            h = a * h + (dt * u)[:, None] * Bt[None, :]
            y = tl.sum(h * Ct[None, :], axis=1) + Dv * u
            if GATED:
                z = tl.load(z_ptr + xo, mask=mask_d, other=0.0)
                y = y * z / (1.0 + tl.exp(-z))
            tl.store(y_ptr + xo, y, mask=mask_d)

    @triton.jit
    def _bwd_kernel(u_ptr, dt_ptr, A_ptr, B_ptr, C_ptr, D_ptr, z_ptr, gy_ptr,
                    du_ptr, ddt_ptr, dz_ptr, dA_ptr, dD_ptr, dB_ptr, dC_ptr, hs_ptr,
                    Dn, N, L, NBLK,
                    s_ub, s_ud, s_ul,  # strides of u, Δ, z, gy, du, dΔ, dz (all share them)
                    s_ad, s_an,  # strides of A
                    s_bb, s_bn, s_bl,  # strides of B and C (shared)
                    GATED: tl.constexpr, BLOCK_D: tl.constexpr, BLOCK_N: tl.constexpr):
        """dA_ptr: (Bb, Dn, BLOCK_N) and dD_ptr: (Bb, Dn), per batch element; dB_ptr, dC_ptr:
        (Bb, NBLK, L, BLOCK_N), per channel block; hs_ptr: (Bb, NBLK, L, BLOCK_D, BLOCK_N) scratch.
        All of these are contiguous fp32."""
        pid_b = tl.program_id(0).to(tl.int64)
        pid_d = tl.program_id(1)
        offs_d = pid_d * BLOCK_D + tl.arange(0, BLOCK_D)
        offs_n = tl.arange(0, BLOCK_N)
        mask_d = offs_d < Dn
        mask_n = offs_n < N
        A = tl.load(A_ptr + offs_d[:, None] * s_ad + offs_n[None, :] * s_an,
                    mask=mask_d[:, None] & mask_n[None, :], other=0.0)
        Dv = tl.load(D_ptr + offs_d, mask=mask_d, other=0.0)
        x_base = pid_b * s_ub + offs_d.to(tl.int64) * s_ud
        bc_base = pid_b * s_bb + offs_n.to(tl.int64) * s_bn
        TILE = BLOCK_D * BLOCK_N
        tile = tl.arange(0, BLOCK_D)[:, None] * BLOCK_N + offs_n[None, :]  # within one stored tile
        blk = pid_b * NBLK + pid_d  # int64
        hs_base = blk * L * TILE  # int64
        part_base = blk * L * BLOCK_N  # dB / dC partials of this program

        # 1) recompute the states h_t (and, gated, dz)
        h = tl.zeros((BLOCK_D, BLOCK_N), dtype=tl.float32)
        for t in range(0, L):
            xo = x_base + t * s_ul
            bo = bc_base + t * s_bl
            u = tl.load(u_ptr + xo, mask=mask_d, other=0.0)
            dt = tl.load(dt_ptr + xo, mask=mask_d, other=0.0)
            Bt = tl.load(B_ptr + bo, mask=mask_n, other=0.0)
            a = tl.exp(dt[:, None] * A)
            h = a * h + (dt * u)[:, None] * Bt[None, :]
            tl.store(hs_ptr + hs_base + t * TILE + tile, h)
            if GATED:  # out = y·silu(z): dz = gout·y·silu'(z)
                Ct = tl.load(C_ptr + bo, mask=mask_n, other=0.0)
                y = tl.sum(h * Ct[None, :], axis=1) + Dv * u
                z = tl.load(z_ptr + xo, mask=mask_d, other=0.0)
                go = tl.load(gy_ptr + xo, mask=mask_d, other=0.0)
                sg = 1.0 / (1.0 + tl.exp(-z))
                tl.store(dz_ptr + xo, go * y * sg * (1.0 + z * (1.0 - sg)), mask=mask_d)

        # 2) adjoint pass, backwards in time; g holds a_{t+1} g_{t+1} on entry, h_cur = h_t
        g = tl.zeros((BLOCK_D, BLOCK_N), dtype=tl.float32)
        dA_acc = tl.zeros((BLOCK_D, BLOCK_N), dtype=tl.float32)
        dD_acc = tl.zeros((BLOCK_D,), dtype=tl.float32)
        h_cur = tl.load(hs_ptr + hs_base + (L - 1) * TILE + tile)
        for i in range(0, L):
            t = L - 1 - i
            xo = x_base + t * s_ul
            bo = bc_base + t * s_bl
            u = tl.load(u_ptr + xo, mask=mask_d, other=0.0)
            dt = tl.load(dt_ptr + xo, mask=mask_d, other=0.0)
            gy = tl.load(gy_ptr + xo, mask=mask_d, other=0.0)
            if GATED:  # gradient reaching the ungated output: gout·silu(z)
                z = tl.load(z_ptr + xo, mask=mask_d, other=0.0)
                gy = gy * z / (1.0 + tl.exp(-z))
            Bt = tl.load(B_ptr + bo, mask=mask_n, other=0.0)
            Ct = tl.load(C_ptr + bo, mask=mask_n, other=0.0)
            # h_{t-1}: from the scratch, 0 before the start (the offset is clamped, the load masked)
            tp = tl.maximum(t - 1, 0)
            h_prev = tl.load(hs_ptr + hs_base + tp * TILE + tile, mask=(tile >= 0) & (t > 0), other=0.0)
            g = g + gy[:, None] * Ct[None, :]
            a = tl.exp(dt[:, None] * A)
            dla = g * a * h_prev  # grad of Δ_t A_n
            gB = g * Bt[None, :]
            ddt = tl.sum(dla * A + gB * u[:, None], axis=1)
            du = Dv * gy + dt * tl.sum(gB, axis=1)
            dA_acc += dla * dt[:, None]
            dD_acc += gy * u
            tl.store(dB_ptr + part_base + t * BLOCK_N + offs_n, tl.sum(g * (dt * u)[:, None], axis=0))
            tl.store(dC_ptr + part_base + t * BLOCK_N + offs_n, tl.sum(gy[:, None] * h_cur, axis=0))
            tl.store(du_ptr + xo, du, mask=mask_d)
            tl.store(ddt_ptr + xo, ddt, mask=mask_d)
            g = a * g
            h_cur = h_prev
        tl.store(dA_ptr + (pid_b * Dn + offs_d)[:, None] * BLOCK_N + offs_n[None, :], dA_acc,
                 mask=mask_d[:, None])
        tl.store(dD_ptr + pid_b * Dn + offs_d, dD_acc, mask=mask_d)


def _check_device(t):
    if t.device.type == "cpu" and not INTERPRET:
        raise ValueError("the 'triton' scan variant runs on CUDA tensors (on CPU tensors only through "
                         "Triton's interpreter: set TRITON_INTERPRET=1 before importing triton)")


def _f32(t):
    return t.detach().to(torch.float32).contiguous()


def _block_n(N):
    return max(2, triton.next_power_of_2(N))


class _TritonScan(torch.autograd.Function):
    @staticmethod
    def forward(ctx, u, delta, A, B, C, D, z):
        gated = z is not None
        ctx.in_dtypes = tuple(t.dtype if t is not None else None for t in (u, delta, A, B, C, D, z))
        uu, dd, AA, BB, CC, DD = (_f32(t) for t in (u, delta, A, B, C, D))
        zz = _f32(z) if gated else uu  # uu: a placeholder the kernel ignores
        nb, nd, L = uu.shape
        N = AA.shape[1]
        y = torch.empty_like(uu)
        ctx.block_d = bd = _block_d(nb, nd)
        grid = (nb, triton.cdiv(nd, bd))
        with torch.cuda.device(uu.device) if uu.is_cuda else _nullctx():
            _fwd_kernel[grid](uu, dd, AA, BB, CC, DD, zz, y, nd, N, L,
                              uu.stride(0), uu.stride(1), uu.stride(2), AA.stride(0), AA.stride(1),
                              BB.stride(0), BB.stride(1), BB.stride(2),
                              GATED=gated, BLOCK_D=bd, BLOCK_N=_block_n(N), num_warps=NUM_WARPS)
        if any(ctx.needs_input_grad):
            ctx.save_for_backward(uu, dd, AA, BB, CC, DD, zz)
            ctx.gated = gated
        return y.to(u.dtype)

    @staticmethod
    def backward(ctx, gy):
        uu, dd, AA, BB, CC, DD, zz = ctx.saved_tensors
        gated = ctx.gated
        gy = _f32(gy)
        nb, nd, L = uu.shape
        N = AA.shape[1]
        BN = _block_n(N)
        bd = ctx.block_d
        nblk = triton.cdiv(nd, bd)
        f32 = dict(dtype=torch.float32, device=uu.device)
        du = torch.empty_like(uu)
        ddelta = torch.empty_like(uu)
        dz = torch.empty_like(uu) if gated else uu  # placeholder when not gated (never written)
        dA_b = torch.empty(nb, nd, BN, **f32)
        dD_b = torch.empty(nb, nd, **f32)
        dB_part = torch.empty(nb, nblk, L, BN, **f32)
        dC_part = torch.empty(nb, nblk, L, BN, **f32)
        hs = torch.empty(nb * nblk * L * bd * BN, **f32)
        with torch.cuda.device(uu.device) if uu.is_cuda else _nullctx():
            _bwd_kernel[(nb, nblk)](uu, dd, AA, BB, CC, DD, zz, gy, du, ddelta, dz, dA_b, dD_b, dB_part, dC_part, hs,
                                    nd, N, L, nblk,
                                    uu.stride(0), uu.stride(1), uu.stride(2), AA.stride(0), AA.stride(1),
                                    BB.stride(0), BB.stride(1), BB.stride(2),
                                    GATED=gated, BLOCK_D=bd, BLOCK_N=BN, num_warps=NUM_WARPS)
        del hs
        grads = (
            du,
            ddelta,
            dA_b.sum(0)[:, :N],
            dB_part.sum(1)[:, :, :N].transpose(1, 2),
            dC_part.sum(1)[:, :, :N].transpose(1, 2),
            dD_b.sum(0),
            dz if gated else None,
        )
        return tuple(
            g.to(dt) if need and g is not None else None
            for g, dt, need in zip(grads, ctx.in_dtypes, ctx.needs_input_grad)
        )


class _nullctx:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def selective_scan_triton(u, delta, A, B, C, D, z=None):
    """Fused Triton selective scan (CUDA tensors; CPU only under TRITON_INTERPRET=1); with z
    (B, D, L) the output is gated by silu(z) inside the kernels (mamba-ssm's `z`). fp32 compute.
    Shapes: see `lainr.scan`."""
    if not AVAILABLE:
        raise RuntimeError("triton is not installed; the 'triton' scan variant is unavailable")
    _check_device(u)
    devs = {t.device for t in (u, delta, A, B, C, D) + ((z,) if z is not None else ())}
    if len(devs) != 1:
        raise ValueError(f"all scan inputs must be on one device, got {sorted(map(str, devs))}")
    return _TritonScan.apply(u, delta, A, B, C, D, z)


def self_check(device, batch=2, d_inner=40, d_state=16, length=37, delta_max=10.0, seed=0):
    """Run a small random case (gated, ragged channel block, Δ up to `delta_max`) through the
    Triton kernels on `device` and against the float64 reference (`selective_scan_ref` · silu(z)).

    Returns {"out", "du", "ddelta", "dA", "dB", "dC", "dD", "dz"} → max|x − ref| / max|ref| (floats;
    inf if a result is not finite). The kernels are fp32: expect ≲ 1e-5."""
    import torch.nn.functional as F

    from .reference import selective_scan_ref

    device = torch.device(device)
    g = torch.Generator().manual_seed(seed)
    u = torch.randn(batch, d_inner, length, generator=g)
    lo, hi = torch.log(torch.tensor(1e-3)), torch.log(torch.tensor(delta_max))
    delta = torch.exp(lo + (hi - lo) * torch.rand(batch, d_inner, length, generator=g))
    A = -torch.rand(d_inner, d_state, generator=g) * 15 - 1
    B = torch.randn(batch, d_state, length, generator=g)
    C = torch.randn(batch, d_state, length, generator=g)
    D = torch.randn(d_inner, generator=g)
    z = torch.randn(batch, d_inner, length, generator=g) * 3
    gy = torch.randn(batch, d_inner, length, generator=g)
    xs = [u, delta, A, B, C, D, z]

    x64 = [t.double().requires_grad_() for t in xs]
    y64 = selective_scan_ref(*x64[:6]) * F.silu(x64[6])
    ref = (y64.detach(),) + torch.autograd.grad(y64, x64, gy.double())

    xd = [t.to(device).requires_grad_() for t in xs]
    y = selective_scan_triton(*xd[:6], z=xd[6])
    got = (y.detach(),) + torch.autograd.grad(y, xd, gy.to(device))
    names = ["out", "du", "ddelta", "dA", "dB", "dC", "dD", "dz"]
    errs = {}
    for name, x, r in zip(names, got, ref):
        x = x.detach().double().cpu()
        if not torch.isfinite(x).all():
            errs[name] = float("inf")
        else:
            errs[name] = ((x - r).abs().max() / r.abs().max().clamp_min(1e-30)).item()
    return errs
