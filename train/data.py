"""Training data as in-memory uint8 tensors, decoded once and cached.

Sources (`--data`):
  "cifar10"        torchvision CIFAR10(download=True) under --data-root (the lossless arrays)
  DIR              an ImageFolder root with train/<class>/* and test/<class>/* (e.g. a JPEG copy)
  FILE.npz         a pack written by `python -m train.gpu.pack` (for machines without the folder)
Every split comes back as images (N, 3, 32, 32) uint8, labels (N,) int64, class names.
A folder of any images at any size (`--image-size N`) is train/photo_folder.py's.
"""
import hashlib
import io
import json
import os
import re
from dataclasses import dataclass
from multiprocessing import Pool
from pathlib import Path

import numpy as np
import torch

from .atomic import replacing

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm", ".tif", ".tiff", ".webp"}
SPLITS = ("train", "test")


class DataError(ValueError):
    """The data source is missing, malformed or unreadable."""


@dataclass
class Split:
    images: torch.Tensor  # (N, 3, 32, 32) uint8
    labels: torch.Tensor  # (N,) int64
    classes: list
    source: str  # human-readable description for the model card

    def __len__(self):
        return len(self.labels)


MANIFEST = "manifest.json"  # beside an ImageFolder's train/ and test/: the facts recorded about the data
JPEG_CAVEAT = "lossy JPEG copy, q ≈ {quality}"  # the one wording of the caveat (cards, metrics, studies)


def read_manifest(data):
    """DIR/manifest.json of an ImageFolder root → dict, or None where there is none (or DIR is no folder).
    The keys read here: "lossless" (bool), "format": {"container", "jpeg_quality_estimate"}, "name"."""
    path = Path(str(data)) / MANIFEST
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise DataError(f"{path}: unreadable manifest ({err})") from err


def describe_source(data):
    """The data in words, for run.json and the model card: the lossy-JPEG caveat only where a manifest records
    it (`lossless: false`, a JPEG container and its quality); nothing is inferred from a README."""
    if data == "cifar10":
        return "CIFAR-10 via torchvision (lossless original arrays)"
    if str(data).endswith(".npz"):
        return f"CIFAR-10 pack {Path(data).name} (see its 'source' entry)"
    name, manifest = Path(data).name, read_manifest(data)
    if manifest is None:
        return f"ImageFolder at {name}/ (no {MANIFEST}: compression not recorded)"
    fmt = manifest.get("format") or {}
    if manifest.get("lossless") is False and "JPEG" in str(fmt.get("container", "")).upper():
        quality = fmt.get("jpeg_quality_estimate", "unknown")
        return f"ImageFolder at {name}/ (CIFAR-10, {JPEG_CAVEAT.format(quality=quality)})"
    return f"ImageFolder at {name}/ ({manifest.get('name', 'lossless')})"


def data_caveat(source):
    """The lossy-JPEG caveat of a `describe_source` text ("lossy JPEG copy, q ≈ 75"), or None (lossless or not
    recorded). Also reads the older wording "(lossy JPEG copy of CIFAR-10, quality ≈ 75)" of recorded runs."""
    m = re.search(r"lossy JPEG copy[^)]*?(?:q|quality) ≈ (\w+)", str(source))
    return JPEG_CAVEAT.format(quality=m.group(1)) if m else None


def split_description(split, source):
    """"CIFAR-10 test split (lossy JPEG copy, q ≈ 75)" — a split of the data in words, with its caveat."""
    caveat = data_caveat(source)
    return f"{split} ({caveat})" if caveat else split


# ---- ImageFolder ------------------------------------------------------------------------------
def list_image_folder(root, split):
    """→ (paths, labels, classes) of root/split/<class>/*; DataError on anything malformed."""
    base = Path(root) / split
    if not base.is_dir():
        raise DataError(f"{root} has no '{split}/' folder; an ImageFolder data root needs train/ and test/ "
                        f"with one sub-folder per class (for any folder of images, give --image-size N)")
    classes = sorted(d.name for d in base.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not classes:
        raise DataError(f"{base} has no class folders")
    paths, labels = [], []
    for label, name in enumerate(classes):
        files = sorted(p for p in (base / name).iterdir() if p.suffix.lower() in IMAGE_EXTS)
        if not files:
            raise DataError(f"class folder {base / name} holds no images ({', '.join(sorted(IMAGE_EXTS))})")
        paths += files
        labels += [label] * len(files)
    return paths, labels, classes


def _decode(path):
    """path → (32, 32, 3) uint8, or the error text."""
    from PIL import Image
    try:
        with Image.open(path) as im:
            arr = np.asarray(im.convert("RGB"))
    except Exception as err:  # noqa: BLE001 — any decoder failure is reported with the file name
        return f"{path}: unreadable image ({type(err).__name__}: {err})"
    if arr.shape != (32, 32, 3):
        return f"{path}: expected a 32×32 image, got {arr.shape[1]}×{arr.shape[0]}"
    return arr


def _decode_all(items, workers):
    if workers and workers > 1:
        with Pool(workers) as pool:
            return pool.map(_decode, items, chunksize=256)
    return [_decode(p) for p in items]


def _cache_key(paths, root, split):
    h = hashlib.sha1(f"{Path(root).resolve()}|{split}|{len(paths)}".encode())
    for p in paths[:: max(1, len(paths) // 500)]:  # a sample of names, sizes and times: cheap, catches edits
        st = p.stat()
        h.update(f"{p.name}|{st.st_size}|{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


def default_cache_dir():
    return Path(os.environ.get("LAINR_TRAIN_CACHE", Path.home() / ".cache" / "lainr-train"))


def load_image_folder(root, split, cache_dir=None, workers=0):
    paths, labels, classes = list_image_folder(root, split)
    cache_dir = Path(cache_dir) if cache_dir else default_cache_dir()
    cache = cache_dir / f"{Path(root).name}-{split}-{_cache_key(paths, root, split)}.npz"
    if cache.is_file():
        with np.load(cache) as z:
            images, labels_arr = z["images"], z["labels"]
    else:
        decoded = _decode_all(paths, workers)
        errors = [d for d in decoded if isinstance(d, str)]
        if errors:
            more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
            raise DataError("cannot read the data:\n  " + "\n  ".join(errors[:5]) + more)
        images, labels_arr = np.stack(decoded), np.asarray(labels, dtype=np.int64)
        cache_dir.mkdir(parents=True, exist_ok=True)
        with replacing(cache) as tmp:
            np.savez(tmp, images=images, labels=labels_arr)
    return _split(images, labels_arr, classes, describe_source(root))


# ---- torchvision CIFAR-10 and packs -------------------------------------------------------------
def load_torchvision(split, data_root):
    from torchvision.datasets import CIFAR10
    try:
        ds = CIFAR10(root=data_root, train=(split == "train"), download=True)
    except Exception as err:  # noqa: BLE001
        raise DataError(f"could not download/load CIFAR-10 into {data_root}: {err}") from err
    return _split(np.asarray(ds.data), np.asarray(ds.targets, dtype=np.int64), list(ds.classes),
                  describe_source("cifar10"))


def load_pack(path, split):
    """A .npz from `train.gpu.pack`: {split}_images (N,32,32,3) uint8, or JPEG bytes (see train/gpu/pack.py)."""
    try:
        z = np.load(path)
    except Exception as err:  # noqa: BLE001
        raise DataError(f"{path} is not a readable .npz pack: {err}") from err
    with z:
        meta = json.loads(bytes(z["meta"]).decode()) if "meta" in z else {}
        labels = z[f"{split}_labels"]
        if f"{split}_images" in z:
            images = z[f"{split}_images"]
        elif f"{split}_jpeg_body" in z:  # header-shared JPEGs: file = headers[index] + body
            heads, head_off = z["jpeg_headers"].tobytes(), z["jpeg_header_offsets"]
            headers = [heads[a:b] for a, b in zip(head_off[:-1], head_off[1:])]
            blob, offsets = z[f"{split}_jpeg_body"].tobytes(), z[f"{split}_offsets"]
            files = [headers[h] + blob[a:b] for h, a, b in zip(z[f"{split}_header_index"], offsets[:-1], offsets[1:])]
            images = _decode_jpegs(files)
        elif f"{split}_jpeg" in z:  # packs of the first format: whole files
            blob, offsets = z[f"{split}_jpeg"].tobytes(), z[f"{split}_offsets"]
            images = _decode_jpegs([blob[a:b] for a, b in zip(offsets[:-1], offsets[1:])])
        else:
            raise DataError(f"{path} has no '{split}' split")
    return _split(images, labels, meta.get("classes", [str(i) for i in range(10)]),
                  meta.get("source", describe_source(path)))


def _decode_jpeg_list(files):
    from PIL import Image
    return [np.asarray(Image.open(io.BytesIO(f)).convert("RGB")) for f in files]


def _decode_jpegs(files, parallel_from=8192):
    """list of JPEG bytes → (N, 32, 32, 3) uint8; many files are decoded by a process per core."""
    workers = min(os.cpu_count() or 1, 16)
    if len(files) < parallel_from or workers < 3:
        return np.stack(_decode_jpeg_list(files))
    size = -(-len(files) // (4 * workers))
    with Pool(workers) as pool:
        parts = pool.map(_decode_jpeg_list, [files[i:i + size] for i in range(0, len(files), size)])
    return np.stack([im for part in parts for im in part])


def _split(images, labels, classes, source):
    images = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).contiguous()  # (N,3,32,32)
    if len(images) == 0:
        raise DataError("the split is empty")
    return Split(images, torch.as_tensor(labels, dtype=torch.int64), list(classes), source)


def check_source(data, image_size=0):
    """Fail fast (before any model is built) on a malformed data source. image_size N: a folder of any images,
    which must hold at least one image file (whether they decode is found when they are read)."""
    if image_size:
        from .photo_folder import scan_folder
        scan_folder(data)
        return
    if data == "cifar10":
        return
    path = Path(data)
    if not path.exists():
        raise DataError(f"data path {data} does not exist (use 'cifar10' or an ImageFolder root with train/ test/)")
    if path.is_file():
        if path.suffix != ".npz":
            raise DataError(f"{data} is a file but not a .npz pack")
        return
    for split in SPLITS:
        list_image_folder(path, split)


def load_split(data, split, *, data_root="data", cache_dir=None, workers=0):
    if data == "cifar10":
        return load_torchvision(split, data_root)
    if str(data).endswith(".npz"):
        return load_pack(data, split)
    return load_image_folder(data, split, cache_dir, workers)


def to_float(images_u8, device=None):
    """(B, 3, 32, 32) uint8 → float in [0, 1] on device."""
    return images_u8.to(device, non_blocking=True).float().div_(255.0)
