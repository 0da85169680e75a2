"""Validation of a photo run (`--image-size N`): the held-out files (train/photo_folder.py split), two figures.

- N×N reconstruction: each held-out photo's centre N×N crop of its decoded copy, encoded and rendered at N×N;
  clamped PSNR / SSIM and the unclamped MSE ("loss"), as the CIFAR validation reports them.
- ×4 up-sampling, on the held-out photos whose decoded copy has a short side ≥ 4N: the centre 4N×4N crop is the
  target, its area-reduction to N×N the input; PSNR of the model's 4N×4N render and of bicubic up-sampling
  (align_corners False, clamped) of the same input ("sr4_psnr", "sr4_bicubic_psnr", over "sr4_n" photos).
"""
import contextlib

import torch
import torch.nn.functional as F

from lainr import psnr_per_image, ssim_per_image

from .photo_batches import area_reduce

SR_FACTOR = 4


def centre_crop(photo, side):
    """(3, h, w) → the centre (3, side, side)."""
    h, w = photo.shape[-2:]
    top, left = (h - side) // 2, (w - side) // 2
    return photo[:, top:top + side, left:left + side]


def validation_crops(val_set, size, indices=None):
    """The photos val_set.photos[indices] (None: all) → inputs (K, 3, N, N) uint8 (centre crops), sr_targets
    (K', 3, 4N, 4N) uint8 (centre crops of the photos that have them). Made once per run: memory ∝ K, not the
    whole validation split, when --val-limit takes fewer."""
    photos = val_set.photos if indices is None else [val_set.photos[i] for i in indices.tolist()]
    crops = torch.stack([centre_crop(p, size) for p in photos])
    big = [centre_crop(p, SR_FACTOR * size) for p in photos if min(p.shape[-2:]) >= SR_FACTOR * size]
    sr = torch.stack(big) if big else torch.zeros(0, 3, SR_FACTOR * size, SR_FACTOR * size, dtype=torch.uint8)
    return crops, sr


@torch.no_grad()
def evaluate_photos(model, crops, sr_targets, *, batch=50, device="cpu", autocast=None):
    """→ {"loss", "psnr", "ssim", "n"} of the N×N reconstructions of `crops`, and the ×4 figures of `sr_targets`
    ("sr4_psnr", "sr4_bicubic_psnr", "sr4_n"; None where no photo is large enough)."""
    was_training = model.training
    model.eval()
    size = crops.shape[-1]
    ctx = autocast if autocast is not None else contextlib.nullcontext
    sums = [0.0, 0.0, 0.0]
    for part in torch.arange(len(crops)).split(batch):
        x = crops[part].to(device).float().div_(255.0)  # (b, 3, N, N)
        with ctx():
            rec = model.render(x, size, clamp=False).float()  # (b, 3, N, N)
        sums[0] += (rec - x).pow(2).flatten(1).mean(1).sum().item()
        sums[1] += psnr_per_image(rec.clamp(0, 1), x).sum().item()
        sums[2] += ssim_per_image(rec.clamp(0, 1), x).sum().item()
    n = len(crops)
    out = {"loss": sums[0] / n, "psnr": sums[1] / n, "ssim": sums[2] / n, "n": n,
           "sr4_psnr": None, "sr4_bicubic_psnr": None, "sr4_n": len(sr_targets)}
    if len(sr_targets):
        model_sum = bicubic_sum = 0.0
        for part in torch.arange(len(sr_targets)).split(max(1, batch // 8)):
            target = sr_targets[part].to(device).float().div_(255.0)  # (b, 3, 4N, 4N)
            x = area_reduce(target, size)  # (b, 3, N, N)
            with ctx():
                up = model.render(x, SR_FACTOR * size).float()
            bicubic = F.interpolate(x, scale_factor=SR_FACTOR, mode="bicubic", align_corners=False).clamp(0, 1)
            model_sum += psnr_per_image(up, target).sum().item()
            bicubic_sum += psnr_per_image(bicubic, target).sum().item()
        out["sr4_psnr"], out["sr4_bicubic_psnr"] = model_sum / len(sr_targets), bicubic_sum / len(sr_targets)
    model.train(was_training)
    return out
