"""Validation on a fixed test subset: 32×32 reconstruction, clamped PSNR / SSIM (SPEC §1)."""
import torch

from lainr import psnr_per_image, ssim_per_image

from .data import to_float


def val_indices(n_total, limit, seed=0):
    """A fixed class-mixed subset: the first `limit` of a seeded permutation (0 → all)."""
    if not limit or limit >= n_total:
        return torch.arange(n_total)
    g = torch.Generator().manual_seed(seed)
    return torch.randperm(n_total, generator=g)[:limit].sort().values


@torch.no_grad()
def evaluate_split(model, images_u8, indices, *, batch=100, device="cpu", sigma=0.0, seed=0, autocast=None):
    """→ {"loss": unclamped MSE, "psnr": clamped dB, "ssim": clamped, "n": count}.

    images_u8 (N, 3, 32, 32) uint8; sigma jitters the query grid (per sample; seeded).
    """
    was_training = model.training
    model.eval()
    g = torch.Generator(device=device).manual_seed(seed)
    mse_sum = psnr_sum = ssim_sum = 0.0
    for part in indices.split(batch):
        x = to_float(images_u8[part], device)  # (b, 3, 32, 32)
        if autocast is not None:
            with autocast():
                rec = model.render(x, 32, sigma=sigma, generator=g, clamp=False)
        else:
            rec = model.render(x, 32, sigma=sigma, generator=g, clamp=False)
        rec = rec.float()
        mse_sum += (rec - x).pow(2).flatten(1).mean(1).sum().item()
        clamped = rec.clamp(0, 1)
        psnr_sum += psnr_per_image(clamped, x).sum().item()
        ssim_sum += ssim_per_image(clamped, x).sum().item()
    model.train(was_training)
    n = len(indices)
    return {"loss": mse_sum / n, "psnr": psnr_sum / n, "ssim": ssim_sum / n, "n": n}
