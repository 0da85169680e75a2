"""The Mamba (S6) mixer in pure PyTorch, parameter-for-parameter identical to `mamba_ssm.Mamba`.

A state dict saved from `mamba_ssm.Mamba(d_model)` loads unchanged here and back. When mamba-ssm
is installed and the input lives on CUDA, its fused selective-scan kernel is used instead of ours.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from einops import rearrange

from .scan import selective_scan

try:  # optional GPU fast path
    from mamba_ssm.ops.selective_scan_interface import selective_scan_fn as _cuda_selective_scan
except Exception:  # ImportError, or a broken CUDA build on a CPU machine
    _cuda_selective_scan = None


def mamba_ssm_available():
    """True when mamba-ssm's fused kernels can be used (on CUDA tensors)."""
    return _cuda_selective_scan is not None


def _wxt(weight, x, bias=None):
    """W·x for each batch element: weight (O, I), x (B, I, L) (any strides) → (B, O, L), contiguous.

    One batched GEMM writing the channels-first layout directly (torch.matmul would compute
    (xᵀ·Wᵀ) and then copy it transposed).
    """
    w = weight.expand(x.shape[0], -1, -1)  # (B, O, I), a view
    if bias is None:
        return torch.bmm(w, x)
    return torch.baddbmm(bias[:, None].expand(x.shape[0], -1, x.shape[-1]), w, x)


def _softplus_values(v):
    """log(1 + eᵛ) to ~2 ulp without log1p (which this torch build runs scalar: ~10 ns/element).

    Goldberg's trick: with u = 1 + e (rounded), log1p(e) = log(u)·e/(u − 1); where u − 1 = 0
    (e below fp32's half-ulp of 1) the answer is e itself; above v = 20 it is v (F.softplus's
    threshold, which also keeps exp from overflowing into inf/inf). Half the time of F.softplus.
    """
    e = torch.exp(v)
    u = e + 1
    d = u - 1
    out = torch.log_(u).mul_(e).div_(d)
    torch.where(d == 0, e, out, out=out)
    torch.where(v > 20, v, out, out=out)
    return out


class _Softplus(torch.autograd.Function):
    """F.softplus (β = 1, threshold 20) with the faster forward above; backward = g·sigmoid(v)."""

    @staticmethod
    def forward(ctx, v):
        ctx.save_for_backward(v)
        return _softplus_values(v)

    @staticmethod
    def backward(ctx, grad):
        (v,) = ctx.saved_tensors
        return grad * torch.where(v > 20, torch.ones_like(v), torch.sigmoid(v))


def softplus(v):
    """Same values as F.softplus(v) (≤ 3e-7 relative), ~2× faster on CPU."""
    if v.is_cuda or v.dtype not in (torch.float32, torch.float64):
        return F.softplus(v)
    return _Softplus.apply(v)


class Mamba(nn.Module):
    """Selective state-space mixer: (B, L, d_model) → (B, L, d_model).

    Keyword defaults are mamba-ssm's: d_state 16, d_conv 4, expand 2, dt_rank ceil(d_model/16),
    Δ initialised log-uniformly in [dt_min, dt_max] and floored at dt_init_floor.
    """

    def __init__(self, d_model, *, d_state=16, d_conv=4, expand=2, dt_rank="auto",
                 dt_min=0.001, dt_max=0.1, dt_init_floor=1e-4, scan_variant=None):
        super().__init__()
        self.d_model = d_model
        self.d_state = d_state
        self.d_conv = d_conv
        self.d_inner = expand * d_model
        self.dt_rank = math.ceil(d_model / 16) if dt_rank == "auto" else dt_rank
        self.scan_variant = scan_variant

        self.in_proj = nn.Linear(d_model, 2 * self.d_inner, bias=False)
        self.conv1d = nn.Conv1d(self.d_inner, self.d_inner, kernel_size=d_conv, groups=self.d_inner,
                                padding=d_conv - 1, bias=True)
        self.x_proj = nn.Linear(self.d_inner, self.dt_rank + 2 * d_state, bias=False)
        self.dt_proj = nn.Linear(self.dt_rank, self.d_inner, bias=True)
        self.A_log = nn.Parameter(torch.log(torch.arange(1, d_state + 1, dtype=torch.float32))
                                  .repeat(self.d_inner, 1))  # (d_inner, N)
        self.D = nn.Parameter(torch.ones(self.d_inner))
        self.out_proj = nn.Linear(self.d_inner, d_model, bias=False)
        self._init_dt(dt_min, dt_max, dt_init_floor)

    @torch.no_grad()
    def _init_dt(self, dt_min, dt_max, dt_init_floor):
        std = self.dt_rank ** -0.5
        nn.init.uniform_(self.dt_proj.weight, -std, std)
        dt = torch.exp(torch.rand(self.d_inner) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min))
        dt = dt.clamp(min=dt_init_floor)
        self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))  # inverse softplus

    def forward(self, hidden):
        """hidden (B, L, d_model) → (B, L, d_model)."""
        if _cuda_selective_scan is not None and hidden.is_cuda:
            return self._forward_cuda(hidden)
        # Channels-first (B, ·, L) throughout, which is the layout the scan wants: each projection
        # is one GEMM that writes that layout directly (W·hᵀ, as fast as h·Wᵀ here), so no
        # element-wise op runs on a strided view and nothing is transposed by a copy. (The first
        # version built (B, D, L) views of (B, L, D) memory: the conv, the gate and the scan's
        # inputs each paid for a transposing copy.)
        xz = _wxt(self.in_proj.weight, hidden.transpose(1, 2))  # (B, 2·d_inner, L)
        x, z = xz.split(self.d_inner, dim=1)  # (B, d_inner, L) each
        x = F.silu(self._causal_conv(x))  # (B, d_inner, L), contiguous
        x_dbl = _wxt(self.x_proj.weight, x)  # (B, dt_rank + 2N, L)
        dt, B, C = torch.split(x_dbl, [self.dt_rank, self.d_state, self.d_state], dim=1)  # (B, ·, L)
        A = -torch.exp(self.A_log.float())  # (d_inner, N)
        delta = softplus(_wxt(self.dt_proj.weight, dt, self.dt_proj.bias))  # (B, d_inner, L)
        y = selective_scan(x, delta, A, B, C, self.D, variant=self.scan_variant, z=z)  # (B, d_inner, L), · silu(z)
        return torch.bmm(y.transpose(1, 2), self.out_proj.weight.t().expand(y.shape[0], -1, -1))  # (B, L, d_model)

    def _causal_conv(self, x):
        """Depthwise causal conv1d (kernel k, left zero-padding k−1) along L of (B, D, L) → (B, D, L).

        Same function as conv1d(padding=k−1)[..., :L]: out_t = b + Σ_j w_j·x_{t−(k−1)+j}, as k
        multiply-adds over shifted slices (faster here than mkldnn's depthwise kernel + slice).
        """
        w = self.conv1d.weight[:, 0, :, None]  # (D, k, 1)
        k = w.shape[1]
        out = torch.addcmul(self.conv1d.bias[:, None], x, w[:, k - 1])  # j = k−1: the current step
        for shift in range(1, min(k, x.shape[-1])):
            out[..., shift:].addcmul_(x[..., :-shift], w[:, k - 1 - shift])  # in place: autograd-safe
        return out

    def _forward_cuda(self, hidden):
        """mamba-ssm's fused CUDA selective scan (gate, Δ bias and softplus inside the kernel)."""
        length = hidden.shape[1]
        xz = rearrange(self.in_proj(hidden), "b l d -> b d l")  # (B, 2·d_inner, L)
        x, z = xz.chunk(2, dim=1)  # (B, d_inner, L) each
        x = F.silu(self.conv1d(x)[..., :length])  # causal: keep the first L outputs
        x_dbl = self.x_proj(rearrange(x, "b d l -> b l d"))  # (B, L, dt_rank + 2N)
        dt, B, C = torch.split(x_dbl, [self.dt_rank, self.d_state, self.d_state], dim=-1)
        B = rearrange(B, "b l n -> b n l").contiguous()  # (B, N, L)
        C = rearrange(C, "b l n -> b n l").contiguous()  # (B, N, L)
        A = -torch.exp(self.A_log.float())  # (d_inner, N)
        dt = rearrange(dt @ self.dt_proj.weight.t(), "b l d -> b d l")  # bias goes in the kernel
        y = _cuda_selective_scan(x.contiguous(), dt.contiguous(), A, B, C, self.D.float(), z=z.contiguous(),
                                 delta_bias=self.dt_proj.bias.float(), delta_softplus=True)
        return self.out_proj(rearrange(y, "b d l -> b l d"))


class BiMamba(nn.Module):
    """Two independent mixers, one reading the sequence forwards and one backwards; averaged."""

    def __init__(self, d_model, **mamba_kwargs):
        super().__init__()
        self.forward_mixer = Mamba(d_model, **mamba_kwargs)
        self.backward_mixer = Mamba(d_model, **mamba_kwargs)

    def forward(self, hidden):
        """hidden (B, L, d) → (B, L, d)."""
        fwd = self.forward_mixer(hidden)
        bwd = self.backward_mixer(hidden.flip(1)).flip(1)
        return (fwd + bwd) / 2
