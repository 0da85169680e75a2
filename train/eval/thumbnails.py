"""What a one-pass GINR must beat: thumbnails of each image, and its mean colour.

A k×k thumbnail is the image area-reduced to k×k (box average) and brought back to its size by bicubic
interpolation (align_corners=False, clamped to [0, 1]); it holds k·k·3 floats. The mean colour (3 floats)
is the 1×1 thumbnail. PSNR per image as everywhere else (SPEC §1).
"""
import numpy as np
import torch
import torch.nn.functional as F

from lainr import psnr_per_image

from ..data import to_float

SIDES = (4, 8, 16)  # the thumbnails reported beside every figure (besides the mean colour)


def baseline_names(sides=SIDES):
    return ["mean colour"] + [f"{k}×{k} thumbnail" for k in sides]


def floats(name):
    """Floats the baseline keeps per image: 3 for the mean colour, k·k·3 for a k×k thumbnail."""
    return 3 if name == "mean colour" else int(name.split("×")[0]) ** 2 * 3


def thumbnail(x, k):
    """x (B, 3, H, W) in [0, 1] → its k×k thumbnail back at H×W (B, 3, H, W), clamped to [0, 1]."""
    h, w = x.shape[-2:]
    small = F.interpolate(x, size=(k, k), mode="area")  # (B, 3, k, k)
    if k == 1:
        return small.expand_as(x)
    return F.interpolate(small, size=(h, w), mode="bicubic", align_corners=False).clamp(0, 1)


@torch.no_grad()
def baseline_psnr(images_u8, indices, sides=SIDES, batch=500):
    """images (N, 3, H, W) uint8, the indices scored → {name: per-image PSNR (n,) float32}, in baseline_names order."""
    out = {name: [] for name in baseline_names(sides)}
    for part in torch.as_tensor(indices).split(batch):
        x = to_float(images_u8[part], "cpu")  # (b, 3, H, W)
        for name, k in zip(out, (1, *sides)):
            out[name].append(psnr_per_image(thumbnail(x, k), x).numpy())
    return {name: np.concatenate(v).astype(np.float32) for name, v in out.items()}
