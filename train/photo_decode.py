"""Decoding one image file of a photo folder into its bounded RGB copy (train/photo_folder.py says why and how)."""
import hashlib
import io
from pathlib import Path

import numpy as np

BACKGROUND = (255, 255, 255)  # transparent pixels are composited onto white


def to_rgb(im):
    """A PIL image of any mode → RGB (16-bit grey scaled to 8 bits, transparency composited onto white)."""
    from PIL import Image
    if im.mode.startswith("I"):  # 16-bit grey (PNG, TIFF): PIL's convert would clip it to 255; scale it to 8 bits
        grey = (np.asarray(im, dtype=np.float64) / 257).round().clip(0, 255).astype(np.uint8)
        return Image.fromarray(grey).convert("RGB")
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        flat = Image.new("RGB", rgba.size, BACKGROUND)
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return im.convert("RGB")


def bounded_copy(im, size, cap):
    """A PIL RGB image → (h, w, 3) uint8: short side enlarged to N and centre-cropped to N×N when below N,
    reduced (BOX: area average) to `cap` when above it, else unchanged."""
    from PIL import Image
    w, h = im.size
    short = min(w, h)
    if short < size:
        scale = size / short
        im = im.resize((max(size, round(w * scale)), max(size, round(h * scale))), Image.Resampling.BICUBIC)
        w, h = im.size
        left, top = (w - size) // 2, (h - size) // 2
        im = im.crop((left, top, left + size, top + size))
    elif short > cap:
        scale = cap / short
        im = im.resize((max(cap, round(w * scale)), max(cap, round(h * scale))), Image.Resampling.BOX)
    return np.asarray(im, dtype=np.uint8)


def decode_photo(args):
    """(path, N, cap) → (array (h, w, 3) uint8, original (w, h), sha256 of the file's bytes) or an error text."""
    path, size, cap = args
    from PIL import Image, ImageOps
    try:
        data = Path(path).read_bytes()
        with Image.open(io.BytesIO(data)) as im:
            original = im.size
            if im.format == "JPEG":  # decode large JPEGs at a reduced scale that still covers the cap
                im.draft("RGB", (max(cap, 1), max(cap, 1)) if min(original) > 2 * cap else original)
            im = ImageOps.exif_transpose(im)
            arr = bounded_copy(to_rgb(im), size, cap)
    except Exception as err:  # noqa: BLE001 — any reader failure skips the file, with its name and the reason
        return f"{type(err).__name__}: {str(err)[:200]}"
    return arr, original, hashlib.sha256(data).hexdigest()
