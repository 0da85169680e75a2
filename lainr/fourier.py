"""Fourier features of coordinates: the random Gaussian kind and LAINR's log-spaced bands."""
import math

import torch
import torch.nn as nn


def full_precision(t):
    """t in float32 at least (float64 stays float64): coordinate maths never runs in half precision."""
    return t if t.dtype == torch.float64 else t.float()


def _common_precision(*tensors):
    """The dtype coordinate maths runs in for these tensors: float64 if any is, else float32."""
    return torch.float64 if any(t.dtype == torch.float64 for t in tensors) else torch.float32


class Float32Buffers(nn.Module):
    """A module whose coordinate buffers (the names in `float32_buffers`) keep their exact values and
    dtype when the module is cast: `model.to(torch.bfloat16)`, `.half()`, `.double()` move them to the
    new device only. (A bf16 copy of a random Fourier matrix N(0, 10²) would shift every phase
    2π·c·b by up to ~0.1 rad; the matrices are fixed, saved with the weights, and never re-drawn.)
    """

    float32_buffers = ()

    def _apply(self, fn, recurse=True):
        kept = {n: self._buffers[n] for n in self.float32_buffers if self._buffers.get(n) is not None}
        super()._apply(fn, recurse)
        for name, before in kept.items():  # fn's result tells only where the buffer now lives
            self._buffers[name] = before.to(self._buffers[name].device)
        return self


def no_autocast(device):
    """A context in which autocast is off on `device` (Fourier phases and the spatial bias run in
    float32 even inside a bf16 autocast region: a bf16 phase 2π·c·b with |b| ~ 30 is off by ~1 rad)."""
    return torch.autocast(device_type=torch.device(device).type, enabled=False)


def gaussian_fourier_features(coords, matrix):
    """[sin(2π·c·Mᵀ), cos(2π·c·Mᵀ)] for coords (..., 2) and a fixed matrix M (F, 2) → (..., 2F).

    Always computed in float32 (or float64), autocast off; the result is float32 (or float64).
    """
    with no_autocast(coords.device):
        dtype = _common_precision(coords, matrix)
        proj = 2 * math.pi * coords.to(dtype) @ matrix.to(dtype).t()  # (..., F)
        return _sin_cos(proj)


def _sin_cos(proj):
    """[sin(proj), cos(proj)] along the last axis: (..., F) → (..., 2F)."""
    if torch.is_grad_enabled() and proj.requires_grad:  # out= is not differentiable
        return torch.cat([torch.sin(proj), torch.cos(proj)], dim=-1)
    out = proj.new_empty(*proj.shape[:-1], 2 * proj.shape[-1])
    torch.sin(proj, out=out[..., :proj.shape[-1]])  # written in place: no concatenating copy
    torch.cos(proj, out=out[..., proj.shape[-1]:])
    return out


def log_frequencies(sigma, n):
    """LAINR's frequencies: logspace(1, log10 σ, n), i.e. 10 … σ."""
    return torch.logspace(1.0, math.log10(sigma), n, dtype=torch.float64).float()


def band_features(coords, omegas):
    """γ(c; ω): per axis a in (y, x): [sin(π·c_a·ω), cos(π·c_a·ω)]; axes concatenated.

    coords (..., 2), omegas (n,) → (..., 4n) laid out [sin y, cos y, sin x, cos x].
    Always computed in float32 (or float64), autocast off.
    """
    parts = []
    with no_autocast(coords.device):
        dtype = _common_precision(coords, omegas)
        coords, omegas = coords.to(dtype), omegas.to(dtype)
        for axis in range(coords.shape[-1]):
            phase = math.pi * coords[..., axis:axis + 1] * omegas  # (..., n)
            parts += [torch.sin(phase), torch.cos(phase)]
        return torch.cat(parts, dim=-1)

