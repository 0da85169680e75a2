"""Coordinate grids and jitter. Coordinates are (y, x) in [0, 1], at pixel centres."""
import torch


def pixel_centres(height, width=None, *, device=None, dtype=torch.float32):
    """Pixel-centre grid of an H×W image, raster order: row i is at (i + 0.5) / H.

    Returns (H*W, 2) with columns (y, x).
    """
    width = height if width is None else width
    if int(height) < 1 or int(width) < 1:
        raise ValueError(f"grid size must be positive, got {height}×{width}")
    ys = (torch.arange(height, device=device, dtype=dtype) + 0.5) / height
    xs = (torch.arange(width, device=device, dtype=dtype) + 0.5) / width
    grid = torch.stack(torch.meshgrid(ys, xs, indexing="ij"), dim=-1)  # (H, W, 2)
    return grid.reshape(-1, 2)


def jitter(coords, sigma, generator=None):
    """coords + N(0, σ²) per element, clamped to [0, 1]. σ = 0 returns coords unchanged."""
    if sigma < 0:
        raise ValueError(f"jitter sigma must be >= 0, got {sigma}")
    if sigma == 0:
        return coords
    noise = torch.randn(coords.shape, generator=generator, device=coords.device, dtype=coords.dtype)
    return (coords + sigma * noise).clamp(0.0, 1.0)
