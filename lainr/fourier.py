"""Fourier features of coordinates: the random Gaussian kind and LAINR's log-spaced bands."""
import math

import torch


def full_precision(t):
    """t in float32 at least (float64 stays float64): coordinate maths never runs in half precision."""
    return t if t.dtype == torch.float64 else t.float()


def no_autocast(device):
    """A context in which autocast is off on `device` (Fourier phases and the spatial bias run in
    float32 even inside a bf16 autocast region: a bf16 phase 2π·c·b with |b| ~ 30 is off by ~1 rad)."""
    return torch.autocast(device_type=torch.device(device).type, enabled=False)


def gaussian_fourier_features(coords, matrix):
    """[sin(2π·c·Mᵀ), cos(2π·c·Mᵀ)] for coords (..., 2) and a fixed matrix M (F, 2) → (..., 2F).

    Always computed in float32 (or float64), autocast off; the result is float32 (or float64).
    """
    with no_autocast(coords.device):
        proj = 2 * math.pi * full_precision(coords) @ full_precision(matrix).t()  # (..., F)
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
        coords, omegas = full_precision(coords), full_precision(omegas)
        for axis in range(coords.shape[-1]):
            phase = math.pi * coords[..., axis:axis + 1] * omegas  # (..., n)
            parts += [torch.sin(phase), torch.cos(phase)]
        return torch.cat(parts, dim=-1)

