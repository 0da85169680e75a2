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


def window_grid(y0, x0, size, n, *, device=None, dtype=torch.float32):
    """Pixel-centre grid of an n×n raster over the square window [y0, y0 + size] × [x0, x0 + size].

    All in the unit square's coordinates (y, x ∈ [0, 1]); window_grid(0, 0, 1, n) == pixel_centres(n).
    Row i is at y0 + (i + 0.5) · size / n. Returns (n*n, 2) with columns (y, x).
    """
    if not size > 0:
        raise ValueError(f"window size must be positive, got {size}")
    cells = pixel_centres(n, device=device, dtype=torch.float64)
    origin = torch.tensor([y0, x0], device=device, dtype=torch.float64)
    return (origin + size * cells).to(dtype)


def jitter(coords, sigma, generator=None):
    """coords + N(0, σ²) per element, clamped to [0, 1]. σ = 0 returns coords unchanged."""
    if sigma < 0:
        raise ValueError(f"jitter sigma must be >= 0, got {sigma}")
    if sigma == 0:
        return coords
    noise = torch.randn(coords.shape, generator=generator, device=coords.device, dtype=coords.dtype)
    return (coords + sigma * noise).clamp(0.0, 1.0)
