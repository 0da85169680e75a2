"""What `train.eval.evaluate --split` scores, and how a per-image measurement becomes a metrics.json entry."""
from pathlib import Path

import numpy as np

from ..data import data_caveat, load_split
from ..splits import validation_indices
from .stats import bootstrap_mean
from .validate import val_indices

SPLITS = ("test", "val")
REPO = Path(__file__).resolve().parents[2]


def load_eval_split(split, data, *, limit=0, data_root="data", cache_dir=None):
    """→ (Split, indices): the whole test split (or its first `limit` of a seeded order), or the
    validation images of the training split (train/splits.py)."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    if split == "test":
        test = load_split(data, "test", data_root=data_root, cache_dir=cache_dir)
        return test, val_indices(len(test), limit)
    train = load_split(data, "train", data_root=data_root, cache_dir=cache_dir)
    idx = validation_indices(train.labels)
    return train, (idx if not limit or limit >= len(idx) else idx[val_indices(len(idx), limit)])


def describe_data(split, source):
    """The data a headline figure stands on, in words: the split and the data's caveat (the lossy JPEG copy,
    train.data.data_caveat), else its source."""
    what = ("CIFAR-10 test split" if split == "test"
            else "CIFAR-10 validation split: 5,000 held-out training images (train/splits.py)")
    return f"{what} ({data_caveat(source) or source})"


def entry_key(source):
    """metrics.json key of a weights source: a folder inside the repository by its path relative to the
    repository (so train.publish.recard and train.eval.claims find it from any folder), a folder elsewhere by its
    absolute path, anything else (a Hub id) as given. `entry_path` reads a key back."""
    path = Path(source)
    if path.is_dir():
        try:
            return path.resolve().relative_to(REPO).as_posix()
        except ValueError:
            return str(path.resolve())
    return str(source)


def entry_path(key):
    """The folder a metrics.json key names, resolved against the repository root (not the working folder)."""
    path = Path(key)
    return (path if path.is_absolute() else REPO / path).resolve()


def slug(key):
    return key.replace("/", "__").replace(":", "_")


def summarise(per, split):
    """PerImage → the headline keys of a metrics.json entry, each with its 95 % interval over images."""
    res = {"split": split, f"n_{split}": int(len(per.indices))}
    jp, js = {}, {}
    for s in per.sigmas:
        p, q = per.at(s)
        jp[str(s)], js[str(s)] = bootstrap_mean(p), bootstrap_mean(q)
    res[f"{split}_psnr"], res[f"{split}_ssim"] = jp["0.0"].mean, js["0.0"].mean
    res[f"{split}_psnr_ci"], res[f"{split}_ssim_ci"] = jp["0.0"].as_dict(), js["0.0"].as_dict()
    res["jitter_psnr"] = {s: e.mean for s, e in jp.items()}
    res["jitter_ssim"] = {s: e.mean for s, e in js.items()}
    res["jitter_psnr_ci"] = {s: e.as_dict() for s, e in jp.items()}
    res["jitter_ssim_ci"] = {s: e.as_dict() for s, e in js.items()}
    return res


def per_image_arrays(prefix, per):
    """The arrays per_image.npz keeps for one weights entry."""
    return {f"{prefix}.indices": per.indices.astype(np.int64), f"{prefix}.sigmas": np.asarray(per.sigmas),
            f"{prefix}.psnr": per.psnr.astype(np.float32), f"{prefix}.ssim": per.ssim.astype(np.float32)}


def read_per_image(npz_path, prefix, sigma=0.0):
    """(indices, psnr, ssim) of one entry at one σ from a per_image.npz."""
    with np.load(npz_path) as z:
        if f"{prefix}.psnr" not in z:
            raise KeyError(f"{npz_path} has no per-image values for {prefix!r}")
        sig = [float(s) for s in z[f"{prefix}.sigmas"]]
        row = sig.index(float(sigma))
        return z[f"{prefix}.indices"], z[f"{prefix}.psnr"][row], z[f"{prefix}.ssim"][row]
