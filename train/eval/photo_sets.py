"""Photos for scoring a pair trained at an N×N input: one master per photo, its input and its references.

Each photo (EXIF orientation applied, RGB): its centre square, resized to the master side N·K, where K is the
largest factor of `factors` that the square holds without enlarging (antialiased bilinear, or area when the square
divides evenly). The model's input is the master area-reduced to N×N; the reference for ×k (k ≤ K) is the master
area-reduced to N·k. A photo smaller than N·min(factors) is left out (counted). References are never enlarged, so
a ×8 row at N = 64 holds only photos whose short side is at least 512.
"""
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..photo_decode import to_rgb

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")


@dataclass
class PhotoSet:
    name: str
    size: int  # the model's input side N
    names: list = field(default_factory=list)  # photos kept, in file order
    inputs: torch.Tensor = None  # (P, 3, N, N) float in [0, 1]
    masters: list = field(default_factory=list)  # (3, N·K, N·K) per photo
    skipped: list = field(default_factory=list)  # too small for the smallest factor

    def factor_members(self, k):
        """Indices of the photos that have a ×k reference."""
        return [i for i, m in enumerate(self.masters) if m.shape[-1] >= self.size * k]

    def reference(self, i, k):
        """(3, N·k, N·k): photo i's master area-reduced to N·k."""
        return area(self.masters[i][None], self.size * k)[0]


def area(x, side):
    """(B, 3, h, w) → (B, 3, side, side) box average (adaptive average pooling when side does not divide h)."""
    return x if x.shape[-1] == side else F.interpolate(x, size=(side, side), mode="area")


def read_rgb(path):
    """A file → (3, H, W) float in [0, 1]: EXIF orientation applied, then the trainer's own RGB conversion
    (train/photo_decode.py: transparency on white, 16-bit grey scaled)."""
    from PIL import Image, ImageOps
    with Image.open(path) as im:
        arr = np.asarray(to_rgb(ImageOps.exif_transpose(im)), dtype=np.uint8)
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).float() / 255


def centre_square(img):
    h, w = img.shape[-2:]
    s = min(h, w)
    return img[:, (h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]


def master_of(square, side):
    """(3, s, s) → (3, side, side), side ≤ s: area when side divides s, else antialiased bilinear."""
    s = square.shape[-1]
    if s == side:
        return square
    x = square[None]
    x = F.interpolate(x, size=(side, side), mode="area") if s % side == 0 else \
        F.interpolate(x, size=(side, side), mode="bilinear", antialias=True, align_corners=False)
    return x[0].clamp(0, 1)


def load_photo_set(folder, size, factors, name=None, limit=0):
    """Every image file directly in `folder` (sorted) → PhotoSet at input side `size` for `factors`."""
    folder = Path(folder)
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."))
    if not files:
        raise FileNotFoundError(f"no image files in {folder}")
    if limit:
        files = files[:limit]
    out = PhotoSet(name or folder.name, size)
    inputs = []
    for f in files:
        square = centre_square(read_rgb(f))
        fits = [k for k in sorted(factors) if size * k <= square.shape[-1]]
        if not fits:
            out.skipped.append(f.name)
            continue
        master = master_of(square, size * fits[-1])
        out.names.append(f.stem)
        out.masters.append(master)
        inputs.append(area(master[None], size)[0])
    if not inputs:
        raise ValueError(f"{folder}: no photo is at least {size * min(factors)} pixels on its short side")
    out.inputs = torch.stack(inputs)
    return out
