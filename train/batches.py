"""One training step's queries, targets and loss (SPEC §5 and §8)."""
import torch
from einops import rearrange

from lainr import jitter, pixel_centres

N_PIXELS = 1024  # 32 × 32, the CIFAR image


def step_generator(seed, step, rank, device):
    """The RNG for one step's pixel draws and jitter: a pure function of (seed, step, rank) → exact resume."""
    g = torch.Generator(device=device)
    g.manual_seed((seed * 1_000_003 + step) * 64 + rank)
    return g


def queries(images, pixels, sigma, generator):
    """images (B, 3, S, S) → coords (B, Q, 2), targets (B, Q, 3) (S = 32 for CIFAR: 1,024 pixels).

    pixels ≥ S²: every pixel centre in raster order; fewer: each image draws its own `pixels`
    indices uniformly with replacement. sigma > 0 jitters each coordinate independently per sample;
    the target stays the pixel value at the unjittered centre.
    """
    b, device, size = images.shape[0], images.device, images.shape[-1]
    n_pixels = size * size
    grid = pixel_centres(size, device=device)  # (S², 2)
    flat = rearrange(images, "b c h w -> b (h w) c")  # (B, S², 3)
    if pixels >= n_pixels:
        coords, targets = grid.expand(b, -1, -1).contiguous(), flat
    else:
        idx = torch.randint(0, n_pixels, (b, pixels), generator=generator, device=device)  # (B, Q)
        coords = grid[idx]  # (B, Q, 2)
        targets = torch.gather(flat, 1, idx.unsqueeze(-1).expand(-1, -1, 3))  # (B, Q, 3)
    return jitter(coords, sigma, generator), targets


def per_image_mse(pred, targets):
    """(B, Q, 3) × 2 → (B,)"""
    return (pred.float() - targets).pow(2).flatten(1).mean(dim=1)


def loss_and_psnr(model_name, pred, targets):
    """→ loss (scalar, for backward), train PSNR (float, dB, unclamped, per image then averaged).

    simplified: MSE over all sampled pixels; corrected: mean over images of per-image MSE.
    (Equal when every image has the same number of queries; both written out as the notebooks do.)
    """
    mse_i = per_image_mse(pred, targets)
    loss = (pred.float() - targets).pow(2).mean() if model_name == "simplified" else mse_i.mean()
    psnr = (-10.0 * torch.log10(mse_i.detach().clamp_min(1e-10))).mean().item()
    return loss, psnr
