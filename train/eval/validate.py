"""Validation: 32×32 reconstruction of a fixed, seeded subset of the images given (the held-out validation images
of the training split by default, train/splits.py; the test split with --val-from test), clamped PSNR / SSIM
(SPEC §1)."""
import contextlib

import torch
from einops import rearrange

from lainr import psnr_per_image, ssim_per_image

from ..data import to_float


def val_indices(n_total, limit, seed=0):
    """A fixed class-mixed subset: the first `limit` of a seeded permutation (0 → all)."""
    if not limit or limit >= n_total:
        return torch.arange(n_total)
    g = torch.Generator().manual_seed(seed)
    return torch.randperm(n_total, generator=g)[:limit].sort().values


def evaluate_split(model, images_u8, indices, *, batch=100, device="cpu", sigma=0.0, seed=0, autocast=None):
    """→ {"loss": unclamped MSE, "psnr": clamped dB, "ssim": clamped, "n": count}.

    images_u8 (N, 3, 32, 32) uint8; sigma jitters the query grid (per sample; seeded).
    """
    return evaluate_sigmas(model, images_u8, indices, (sigma,), batch=batch, device=device, seed=seed,
                           autocast=autocast)[sigma]


@torch.no_grad()
def evaluate_sigmas(model, images_u8, indices, sigmas, *, batch=100, device="cpu", seed=0, autocast=None, progress=None):
    """evaluate_split at several jitter σ for the price of one encoding: → {σ: metrics}.

    Each batch is encoded once and decoded on a 32×32 grid jittered by each σ; every σ has its own
    generator seeded with `seed`, so its figures equal evaluate_split(..., sigma=σ, seed=seed).
    `progress`, if given, is called with the number of images done after each batch.
    """
    was_training = model.training
    model.eval()
    gens = {s: torch.Generator(device=device).manual_seed(seed) for s in sigmas}
    sums = {s: [0.0, 0.0, 0.0] for s in sigmas}  # mse, psnr, ssim
    done = 0
    for part in indices.split(batch):
        x = to_float(images_u8[part], device)  # (b, 3, 32, 32)
        with autocast() if autocast is not None else contextlib.nullcontext():
            latents = model.encode(x)
            for s in sigmas:
                coords = model.query_grid(len(part), 32, sigma=s, generator=gens[s])  # (b, 1024, 2)
                rgb = model.decode(latents, coords)  # (b, 1024, 3)
                rec = rearrange(rgb.float(), "b (h w) c -> b c h w", h=32, w=32)
                acc = sums[s]
                acc[0] += (rec - x).pow(2).flatten(1).mean(1).sum().item()
                clamped = rec.clamp(0, 1)
                acc[1] += psnr_per_image(clamped, x).sum().item()
                acc[2] += ssim_per_image(clamped, x).sum().item()
        done += len(part)
        if progress is not None:
            progress(done)
    model.train(was_training)
    n = len(indices)
    return {s: {"loss": a[0] / n, "psnr": a[1] / n, "ssim": a[2] / n, "n": n} for s, a in sums.items()}
