"""A folder of any images (`--data FOLDER --image-size N`): found, decoded, bounded, split by file, described.

- Found: every file under FOLDER (recursively; hidden files and folders skipped) whose extension PIL reads
  (`PIL.Image.registered_extensions()`: JPEG, PNG, WebP, BMP, TIFF, GIF, …). Class folders are just
  sub-folders: their names play no part. Other files are counted and ignored.
- Decoded (train/photo_decode.py): EXIF orientation applied; grey (8 or 16 bits), palette, CMYK → RGB; transparency
  composited onto white. A file PIL cannot read is skipped, counted and named (the log and the manifest); none
  readable → DataError.
- Bounded (the decoded copy kept in memory and cached, train/photo_cache.py): a photo whose short side exceeds
  `cap = ceil(max(4, scale_hi) · N)` is area-reduced (PIL BOX) to that short side, aspect kept; one whose short
  side is below N is enlarged (bicubic) to N and centre-cropped to N×N; the rest stay as they are. So the largest
  training crop (side scale_hi · N) fits, and memory is about 3·cap²·aspect bytes per photo (N = 64: ~0.3 MB).
- A prepared split (FOLDER holds `train/` and `val/` or `test/`, as `python -m train.photos.prepare` makes):
  train/ trains, val/ validates (without val/, the rule below holds out files of train/), and test/ is never
  read — a test split stays untouched by training and by the choices made on validation.
- Otherwise, split by file: a file is held out for validation when sha256 of its path relative to FOLDER (POSIX, UTF-8),
  read as a number in [0, 1), is below VAL_FRACTION. Adding or removing other files never moves it. If that
  holds out none (a small folder), the file of the smallest hash is held out (until the folder has one the rule holds out). (The number: the first 8 bytes of
  the digest, big-endian, / 2⁶⁴.)
"""
import hashlib
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .data import DataError
from .photo_cache import decode_folder
from .portable import portable_path

VAL_FRACTION = 0.1
MIN_CAP_SCALE = 4  # the decoded copy keeps a short side of at least 4·N (when the photo has it)


@dataclass
class PhotoSet:
    photos: list  # K × (3, h, w) uint8 tensors, every side ≥ N
    names: list  # K paths relative to the folder (POSIX)
    source: str  # in words, for run.json and the card
    size: int = 0  # N

    def __len__(self):
        return len(self.photos)


@dataclass
class FolderScan:
    root: Path
    files: list  # image files, sorted by relative path
    ignored: int  # other files (not an image extension)
    names: list = field(default_factory=list)  # relative POSIX paths of `files`
    prepared_split: bool = False  # FOLDER holds train/ and val/ or test/: test/ left out, val/ validates


def is_prepared_split(root):
    root = Path(root)
    return (root / "train").is_dir() and ((root / "val").is_dir() or (root / "test").is_dir())


def image_extensions():
    from PIL import Image
    return {ext.lower() for ext in Image.registered_extensions()}


def scan_folder(root):
    """→ FolderScan; DataError when FOLDER is not a folder or holds no image file (nothing read yet)."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"--data {root}: not a folder (--image-size takes a folder of images)")
    exts, files, ignored = image_extensions(), [], 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            if name.startswith("."):
                continue
            if Path(name).suffix.lower() in exts:
                files.append(Path(dirpath) / name)
            else:
                ignored += 1
    names = [p.relative_to(root).as_posix() for p in files]
    prepared = is_prepared_split(root)
    order = sorted((i for i in range(len(files)) if not (prepared and names[i].startswith("test/"))),
                   key=lambda i: names[i])
    files, names = [files[i] for i in order], [names[i] for i in order]
    if not files:
        raise DataError(f"{root} holds no image files (searched recursively for .jpg, .png, .webp and the other "
                        f"formats PIL reads; {ignored} other file(s) ignored)")
    return FolderScan(root, files, ignored, names, prepared)


def cap_for(size, scale_hi):
    """The short side a decoded copy keeps at most: room for the largest crop, scale_hi · N, and at least 4·N."""
    return math.ceil(max(MIN_CAP_SCALE, scale_hi) * size)


def held_out_fraction(name):
    """sha256 of a relative path as a number in [0, 1): below VAL_FRACTION → validation."""
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "big") / 2 ** 64


def split_names(names):
    """→ sorted indices held out for validation (the hash rule; the smallest hash if it holds out none)."""
    fractions = [held_out_fraction(n) for n in names]
    held = [i for i, f in enumerate(fractions) if f < VAL_FRACTION]
    if not held and len(names) >= 2:
        held = [min(range(len(names)), key=fractions.__getitem__)]
    return held


def held_out(names, prepared_split):
    """Indices that validate: a prepared split's val/ files (else the hash rule over its train/), or the hash rule."""
    if prepared_split:
        val = [i for i, n in enumerate(names) if n.startswith("val/")]
        if val:
            return val
        train = [i for i, n in enumerate(names) if n.startswith("train/")]
        return [train[i] for i in split_names([names[i] for i in train])]
    return split_names(names)


def _to_tensor(arr):
    return torch.from_numpy(np.array(arr)).permute(2, 0, 1).contiguous()  # (3, h, w) uint8


def load_photo_folder(root, size, scale_hi, *, cache_dir=None, workers=0):
    """→ (train PhotoSet, validation PhotoSet, manifest dict). DataError before anything is written when the folder
    holds no image, none readable, or fewer than 2 readable ones (one trains, one validates)."""
    scan = scan_folder(root)
    cap = cap_for(size, scale_hi)
    decoded = decode_folder(scan, size, cap, cache_dir, workers)
    skipped = [{"file": n, "reason": d} for n, d in zip(scan.names, decoded) if isinstance(d, str)]
    good = [(n, d) for n, d in zip(scan.names, decoded) if not isinstance(d, str)]
    if not good:
        raise DataError(f"{scan.root}: none of its {len(scan.files)} image file(s) could be read, e.g. "
                        f"{skipped[0]['file']}: {skipped[0]['reason']}")
    if len(good) < 2:
        raise DataError(f"{scan.root}: only 1 readable image ({good[0][0]}); at least 2 are needed "
                        f"(one is held out for validation)")
    names = [n for n, _ in good]
    held = set(held_out(names, scan.prepared_split))
    source = f"folder of images at {scan.root.name}/ ({len(good)} files, {size}×{size} crops)"
    part = lambda keep: PhotoSet([_to_tensor(good[i][1][0]) for i in range(len(good)) if (i in held) == keep],  # noqa: E731
                                 [names[i] for i in range(len(good)) if (i in held) == keep], source, size)
    train_set, val_set = part(False), part(True)
    manifest = _manifest(scan, size, cap, good, skipped, train_set, val_set)
    return train_set, val_set, manifest


def _manifest(scan, size, cap, good, skipped, train_set, val_set):
    widths = [d[1][0] for _, d in good]
    heights = [d[1][1] for _, d in good]
    content = hashlib.sha256("".join(f"{n}\t{d[2]}\n" for n, d in good).encode()).hexdigest()
    return {
        "source": portable_path(scan.root.resolve()), "image_size": size, "files_found": len(scan.files),
        "other_files_ignored": scan.ignored, "images_used": len(good), "skipped": skipped,
        "n_skipped": len(skipped), "n_train": len(train_set), "n_validation": len(val_set),
        "original_width_range": [min(widths), max(widths)], "original_height_range": [min(heights), max(heights)],
        "enlarged_below_size": sum(min(d[1]) < size for _, d in good),
        "reduced_to_cap": sum(min(d[1]) > cap for _, d in good),
        "content_sha256": content,
        "content_rule": "sha256 over the lines 'relative path<TAB>sha256 of the file' of the files used, sorted by path",
        "decoded_short_side_cap": cap, "decoded_bytes": sum(int(d[0].nbytes) for _, d in good),
        "split_rule": ("a prepared split: train/ trains, val/ validates, test/ is not read; " if scan.prepared_split
                       else "") + f"validation when the first 8 bytes of sha256(relative path, UTF-8), big-endian, / 2^64 < "
                      f"{VAL_FRACTION}; if that holds out none, the file with the smallest number (train/photo_folder.py)",
        "validation_files": val_set.names,
    }


def describe_skipped(manifest, limit=20):
    """The log's lines naming the skipped files ('' when none)."""
    skipped = manifest["skipped"]
    if not skipped:
        return ""
    lines = [f"  {s['file']}: {s['reason']}" for s in skipped[:limit]]
    more = f"\n  … and {len(skipped) - limit} more (all in the manifest)" if len(skipped) > limit else ""
    return f"skipped {len(skipped)} unreadable file(s) of {manifest['files_found']}:\n" + "\n".join(lines) + more
