"""LAINR's distance-based spatial bias for the decoder's cross-attention (SPEC §4).

A query coordinate (y, x) falls in patch idx = ⌊y·P⌋·P + ⌊x·P⌋ (each clamped to [0, P−1]) of
the P×P patch grid; its raster position is t = idx / P². LP token i sits at s_i = (i + 0.5) / m.
The bias added to the attention logits is −α·(t − s_i)². It is one-dimensional in raster order,
as in the origin (neighbours in a row differ by ~1.5e-4 in the logit at α = 10).
"""
import torch

from .fourier import full_precision, no_autocast


def lp_token_positions(num_lp, *, device=None, dtype=torch.float32):
    """s_i = (i + 0.5) / m for the m LP tokens → (m,)."""
    return (torch.arange(num_lp, device=device, dtype=dtype) + 0.5) / num_lp


def query_raster_position(coords, grid):
    """coords (..., 2) in (y, x) → t = patch index / P² in [0, 1), shape (...)."""
    row = torch.floor(coords[..., 0] * grid).clamp(0, grid - 1)
    col = torch.floor(coords[..., 1] * grid).clamp(0, grid - 1)
    return (row * grid + col) / (grid * grid)


def spatial_bias(coords, num_lp, grid, alpha):
    """−α·(t_q − s_i)² for coords (B, Q, 2) → (B, Q, m), computed per sample.

    Always float32 (or float64), autocast off: neighbouring patches differ by ~1.5e-4 in the logit,
    far below bf16's resolution at these magnitudes (the bias would be flattened to steps of ~0.03).
    """
    with no_autocast(coords.device):
        coords = full_precision(coords)
        t = query_raster_position(coords, grid)  # (B, Q)
        s = lp_token_positions(num_lp, device=coords.device, dtype=coords.dtype)  # (m,)
        return -alpha * (t[..., None] - s) ** 2
