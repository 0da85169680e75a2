"""Input sanitising: any user file → an N×N model input (+ the full-resolution reference, if any).

N is the input size of the pair of models that will see it (their config's `image_size`): every page
path passes its pair's size; `MODEL_SIZE`, the CIFAR-10 pair's 32, is only the default of `prepare`.

Everything a user can upload ends here: huge images and decompression bombs, tiny ones,
grayscale, RGBA / palette with transparency, 16-bit, CMYK, EXIF-rotated, animated, truncated
files and non-images. Problems the user can fix raise `InputError` with a plain message.
"""
import hashlib
import os
import secrets
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps, PngImagePlugin, UnidentifiedImageError

MODEL_SIZE = 32  # the CIFAR-10 pair's input side: prepare()'s default only (the page passes its pair's size)
MAX_PIXELS = 20_000_000  # refuse anything larger (decompression bombs included)
MAX_FILE_BYTES = 10 * 1024 * 1024  # also enforced by launch(max_file_size=...)
WORK_SIDE = 1024  # larger photos are box-reduced to about this first
KEEP_CROPS = 32  # centre crops of non-square uploads kept on disk for the page to show
MAX_REFERENCE = 512  # the kept photo (the reference) is at most this big: outputs go up to 512
ASSETS = Path(__file__).resolve().parent / "assets"


class InputError(ValueError):
    """An input the demo cannot use; the message is shown to the user as is."""


# ---- helpers --------------------------------------------------------------------------------
def _open(path):
    path = Path(path)
    if not path.is_file():
        raise InputError("The uploaded file is missing on the server; please upload it again.")
    size = path.stat().st_size
    if size == 0:
        raise InputError("The uploaded file is empty.")
    if size > MAX_FILE_BYTES:
        raise InputError(f"The file is {size / 2**20:.1f} MB; the limit is {MAX_FILE_BYTES // 2**20} MB.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(path)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InputError(f"The image is too large (over {MAX_PIXELS // 10**6} megapixels).") from None
    except UnidentifiedImageError:
        raise InputError("This file is not an image the demo can read (PNG, JPEG, WebP, BMP, GIF, TIFF).") from None
    except OSError as err:
        raise InputError(f"The image file could not be read: {err}") from None
    return im


def _check_dimensions(im):
    w, h = im.size
    if w < 1 or h < 1:
        raise InputError("The image has no pixels.")
    if w * h > MAX_PIXELS:
        raise InputError(f"The image is {w}×{h} = {w * h / 1e6:.1f} megapixels; the limit is "
                         f"{MAX_PIXELS // 10**6} megapixels.")


def _decode(im, notes):
    """Lazy PIL image → decoded, upright PIL image (first frame)."""
    _check_dimensions(im)
    if getattr(im, "n_frames", 1) > 1:
        notes.append("animated / multi-page image: using the first frame")
        im.seek(0)
    try:
        im.load()
    except (OSError, ValueError, SyntaxError) as err:  # truncated / corrupt data
        raise InputError(f"The image file is corrupt or truncated ({err}).") from None
    try:
        upright = ImageOps.exif_transpose(im)
        if upright is not None and upright is not im:
            if upright.size != im.size or (im.getexif() or {}).get(0x0112, 1) != 1:
                notes.append("rotated upright using its EXIF orientation")
            im = upright
    except Exception:  # a broken EXIF block is no reason to refuse the picture
        notes.append("its EXIF orientation could not be read; used as stored")
    return im


def _to_rgb_array(im, notes):
    """Decoded PIL image of any mode → float32 (H, W, 3) in [0, 1]."""
    mode = im.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        arr = np.asarray(im, dtype=np.float64)
        if mode.startswith("I;16"):
            scale = 65535.0
        elif mode == "F" and np.nanmax(arr, initial=0) <= 1.0:
            scale = 1.0
        else:
            scale = 255.0 if np.nanmax(arr, initial=0) <= 255 else 65535.0
        arr = np.nan_to_num(arr / scale, nan=0.0).clip(0, 1)
        notes.append(f"{'16-bit' if scale == 65535.0 else mode} grayscale: scaled to [0, 1], copied to RGB")
        return np.repeat(arr[..., None], 3, axis=2).astype(np.float32)
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or (mode == "P" and "transparency" in im.info)
    if has_alpha:
        rgba = im.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        im = Image.alpha_composite(background, rgba).convert("RGB")
        notes.append("transparency flattened onto white")
    elif mode != "RGB":
        if mode in ("L", "1"):
            notes.append("grayscale: copied to RGB")
        elif mode == "CMYK":
            notes.append("CMYK: converted to RGB")
        im = im.convert("RGB")
    return np.asarray(im, dtype=np.float32) / 255.0


def _centre_square(im, notes):
    w, h = im.size
    if w == h:
        return im
    s = min(w, h)
    left, top = (w - s) // 2, (h - s) // 2
    notes.append(f"{w}×{h} is not square: using the centre {s}×{s}")
    return im.crop((left, top, left + s, top + s))


def to_tensor(array):
    """(H, W, 3) float array → (1, 3, H, W) tensor."""
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32)).permute(2, 0, 1)[None]


def to_array(tensor):
    """(1, 3, H, W) or (3, H, W) tensor → (H, W, 3) float32 array."""
    t = tensor[0] if tensor.ndim == 4 else tensor
    return t.detach().permute(1, 2, 0).float().cpu().numpy()


def area_resize(array, size):
    """Area (box-average) resize of an (H, W, 3) array to size×size (used for downsampling)."""
    if array.shape[0] == size and array.shape[1] == size:
        return array
    return to_array(F.interpolate(to_tensor(array), size=(size, size), mode="area"))


def to_uint8(array):
    return (np.clip(array, 0, 1) * 255 + 0.5).astype(np.uint8)


# ---- the prepared input -----------------------------------------------------------------------
@dataclass
class Prepared:
    """A sanitised input.

    model_input: (N, N, 3) float32 in [0, 1]: what both encoders see (N: the pair's input size).
    source: (S, S, 3) float32 square photo when the upload was larger than N×N (else None);
      the reference for super-resolution at output sizes up to S.
    """
    model_input: np.ndarray
    source: np.ndarray = None
    notes: list = field(default_factory=list)
    original_size: tuple = None  # (width, height) as uploaded
    name: str = ""
    _refs: dict = field(default_factory=dict, repr=False)
    latents: dict = None  # {model name: (1, m, d) tensor} to decode instead of the encoder's (refined ones)
    tag: str = ""  # names those latents in the cache keys (unique per refinement)

    @property
    def size(self):
        """The side of the model input (the pair's input size)."""
        return int(self.model_input.shape[0])

    @property
    def content_key(self):
        """Content hash of the model input."""
        return hashlib.sha1(np.ascontiguousarray(self.model_input, dtype=np.float32).tobytes()).hexdigest()[:16]

    @property
    def key(self):
        """The cache key for latents and renders: the content hash, plus the tag of substituted latents."""
        return self.content_key + (f":{self.tag}" if self.tag else "")

    def with_latents(self, latents, tag):
        """The same input decoded from other latents (e.g. refined ones) → a new Prepared."""
        return replace(self, latents=dict(latents), tag=str(tag), _refs=self._refs)

    @property
    def is_photo(self):
        return self.source is not None

    def reference(self, size):
        """The photo resized (area) to size×size, if the photo has at least that many pixels; else None."""
        if self.source is None or self.source.shape[0] < size:
            return None
        if size not in self._refs:
            self._refs[size] = area_resize(self.source, size)
        return self._refs[size]


def prepare(obj, name=None, size=MODEL_SIZE):
    """A file path, PIL image or (H, W[, C]) array → Prepared with a size×size model input. Raises InputError."""
    notes = []
    if obj is None or (isinstance(obj, str) and not obj.strip()):
        raise InputError("No image given: pick an example, upload an image, or press “Random test image”.")
    if isinstance(obj, (str, os.PathLike)):
        name = name or Path(obj).name
        im = _open(obj)
        notes += [n for n in str(im.info.get(CARRIED_NOTES, "")).split("\n") if n]  # a crop's original's notes
        im = _decode(im, notes)
    elif isinstance(obj, Image.Image):
        im = _decode(obj, notes)
    elif isinstance(obj, np.ndarray):
        arr = obj
        if arr.ndim == 3 and arr.shape[2] == 1:
            arr = arr[..., 0]
        if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (3, 4)) or arr.size == 0:
            raise InputError(f"Expected an (H, W), (H, W, 3) or (H, W, 4) image array, got shape {obj.shape}.")
        if arr.dtype != np.uint8:
            arr = arr.astype(np.float64)
            arr = arr / (255.0 if np.nanmax(arr, initial=0) > 1 else 1.0)
            arr = (np.nan_to_num(arr).clip(0, 1) * 255 + 0.5).astype(np.uint8)
        im = Image.fromarray(arr)
        _check_dimensions(im)
    else:
        raise InputError(f"Unsupported input type {type(obj).__name__}; give an image file.")
    w, h = im.size
    im = _centre_square(im, notes)
    side = im.size[0]
    if side > 2 * WORK_SIDE:  # exact box averaging by an integer factor keeps memory small
        im = im.reduce(side // WORK_SIDE)
    rgb = _to_rgb_array(im, notes)
    if side == size:
        return Prepared(model_input=rgb, notes=notes, original_size=(w, h), name=name or "")
    if side < size:
        notes.append(f"smaller than {size}×{size}: enlarged (bicubic) to {size}×{size} "
                     "before encoding; scores are against that enlarged input")
        up = F.interpolate(to_tensor(rgb), size=(size, size), mode="bicubic", align_corners=False)
        return Prepared(model_input=to_array(up.clamp(0, 1)), notes=notes, original_size=(w, h), name=name or "")
    notes.append(f"photo: area-downsampled to {size}×{size} for the models; the photo itself "
                 "is the reference at larger output sizes")
    source = area_resize(rgb, MAX_REFERENCE) if side > MAX_REFERENCE else rgb  # bounded per-session memory
    return Prepared(model_input=area_resize(rgb, size), source=source, notes=notes, original_size=(w, h),
                    name=name or "")


# The notes of an upload travel with its centre crop in a PNG text chunk under a name only this process
# knows (a chunk in someone's own upload is never read as notes).
CARRIED_NOTES = "ginr-notes-" + secrets.token_hex(8)


def centre_crop_file(path, directory):
    """The picture the models see of a non-square or animated image file — its centre square, its first
    frame — saved losslessly (PNG) in `directory` → its path; None when the file is a still square image
    already. What the page previews. Raises InputError for a file `prepare` would refuse."""
    notes = []
    im = _open(path)
    animated = getattr(im, "n_frames", 1) > 1
    im = _decode(im, notes)
    if im.size[0] == im.size[1] and not animated:
        return None
    square = _centre_square(im, notes)
    if square.mode not in ("1", "L", "LA", "I", "I;16", "P", "RGB", "RGBA"):
        square = square.convert("RGB")
    directory = Path(directory)
    for old in sorted(directory.glob("*.png"), key=lambda f: f.stat().st_mtime)[:-KEEP_CROPS]:
        old.unlink(missing_ok=True)  # a bounded folder: the page shows the latest crops only
    what = "first-frame" if animated else "centre"
    out = directory / f"{Path(path).stem[:60]}-{what}-{square.size[0]}.png"
    info = PngImagePlugin.PngInfo()
    info.add_text(CARRIED_NOTES, "\n".join(notes))
    square.save(out, format="PNG", compress_level=1, pnginfo=info)
    return str(out)


# ---- shipped examples -------------------------------------------------------------------------
def cifar_examples():
    """The shipped CIFAR-10 test images (sorted paths)."""
    return sorted(str(p) for p in (ASSETS / "cifar10").glob("*.png"))


def photo_examples():
    """The shipped sample photos, 256×256 (sorted paths)."""
    return sorted(str(p) for p in (ASSETS / "photos").glob("*.png"))
