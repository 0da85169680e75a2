"""Colour photos from scikit-image for super-resolution after refinement, split into two named sets.

Defaults (jitter, early stop) are chosen on VALIDATION_PHOTOS; results are reported on TEST_PHOTOS
(the three photos of `train.eval.evaluate` plus one). Each photo is centre-cropped square, resized to
32·k (area when the crop divides evenly, else antialiased bilinear); the model's input is the 32×32
area-downsample, the reference for SR ×k the 32·k image.
"""
import torch
import torch.nn.functional as F

from lainr import psnr_per_image

VALIDATION_PHOTOS = ("rocket", "retina", "immunohistochemistry", "stereo_motorcycle")
TEST_PHOTOS = ("astronaut", "chelsea", "coffee", "hubble_deep_field")
SR_FACTORS = (2, 4, 8)


def load_photos(names, size=256):
    """names → (P, 3, size, size) float in [0, 1]."""
    from skimage import data as skdata
    out = []
    for name in names:
        img = getattr(skdata, name)()
        img = img[0] if isinstance(img, tuple) else img  # stereo_motorcycle: (left, right, disparity)
        img = torch.from_numpy(img[..., :3].copy()).permute(2, 0, 1).float() / 255  # (3, H, W)
        h, w = img.shape[1:]
        s = min(h, w)
        img = img[:, (h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s][None]
        img = F.interpolate(img, size=(size, size), mode="area") if s % size == 0 else \
            F.interpolate(img, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        out.append(img[0])
    return torch.stack(out).clamp(0, 1)


def area(x, size):
    return F.interpolate(x, size=(size, size), mode="area")


@torch.no_grad()
def render_latents(model, latents, size, *, chunk=16384):
    """latents (B, m, d) → clamped render (B, 3, size, size) at the pixel centres."""
    coords = model.query_grid(latents.shape[0], size)
    rgb = torch.cat([model.decode(latents, part) for part in coords.split(chunk, dim=1)], dim=1)  # (B, Q, 3)
    return rgb.clamp(0, 1).transpose(1, 2).reshape(latents.shape[0], 3, size, size)


def sr_psnr(model, latents, hi, factors=SR_FACTORS):
    """SR ×k of the 32×32 inputs (area of `hi`) from `latents` vs the photo at 32·k, beside bicubic.

    hi (P, 3, S, S) with S ≥ 32·max(k) → {k: {"model": (P,), "bicubic": (P,)}} PSNR per photo."""
    lo = area(hi, 32)
    out = {}
    for k in factors:
        ref = area(hi, 32 * k)
        bic = F.interpolate(lo, size=(32 * k, 32 * k), mode="bicubic", align_corners=False).clamp(0, 1)
        out[k] = {"model": psnr_per_image(render_latents(model, latents, 32 * k), ref),
                  "bicubic": psnr_per_image(bic, ref)}
    return out
