"""The decoded copies of a photo folder, cached in --cache-dir: one .npz per (folder, N, cap) whose key covers every
file's relative path, size and mtime — any change to the folder decodes it again. No pickle: flat uint8 pixels, their
shapes, the originals' sizes, the files' sha256 and the skipped files' reasons."""
import hashlib
from multiprocessing import Pool
from pathlib import Path

import numpy as np

from .atomic import replacing
from .data import default_cache_dir
from .photo_decode import decode_photo

CACHE_VERSION = 2  # bump when decoding changes: old cache files are then ignored


def _cache_key(scan, size, cap):
    h = hashlib.sha256(f"v{CACHE_VERSION}|{scan.root.resolve()}|{size}|{cap}|{len(scan.files)}".encode())
    for path, name in zip(scan.files, scan.names):
        st = path.stat()
        h.update(f"{name}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def _decode_folder(scan, size, cap, workers):
    items = [(str(p), size, cap) for p in scan.files]
    if workers and workers > 1:
        with Pool(workers) as pool:
            return pool.map(decode_photo, items, chunksize=16)
    return [decode_photo(i) for i in items]


def _save_cache(path, decoded, names):
    ok = [(n, d) for n, d in zip(names, decoded) if not isinstance(d, str)]
    flat = np.concatenate([d[0].reshape(-1) for _, d in ok])
    path.parent.mkdir(parents=True, exist_ok=True)
    with replacing(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, flat=flat, shapes=np.array([d[0].shape for _, d in ok], dtype=np.int64),
                     originals=np.array([d[1] for _, d in ok], dtype=np.int64),
                     sha=np.array([d[2] for _, d in ok]), names=np.array([n for n, _ in ok]),
                     bad_names=np.array([n for n, d in zip(names, decoded) if isinstance(d, str)] or [""]),
                     bad_reasons=np.array([d for d in decoded if isinstance(d, str)] or [""]))


def _load_cache(path, names):
    """The decoded list in `names` order (arrays, or the error texts) from a cache file."""
    with np.load(path) as z:
        flat, shapes = z["flat"], z["shapes"]
        by_name, start = {}, 0
        for name, shape, orig, sha in zip(z["names"].tolist(), shapes, z["originals"], z["sha"].tolist()):
            n = int(np.prod(shape))
            by_name[name] = (flat[start:start + n].reshape(shape), tuple(int(v) for v in orig), sha)
            start += n
        by_name.update({n: r for n, r in zip(z["bad_names"].tolist(), z["bad_reasons"].tolist()) if n})
    return [by_name[n] for n in names]


def decode_folder(scan, size, cap, cache_dir=None, workers=0):
    """Every file of `scan` decoded and bounded (from the cache when the folder has not changed) → list of
    (array, original (w, h), sha256) or error texts, in scan order."""
    cache = Path(cache_dir or default_cache_dir()) / f"photos-{scan.root.name}-{_cache_key(scan, size, cap)}.npz"
    if cache.is_file():
        try:
            return _load_cache(cache, scan.names)
        except (OSError, KeyError, ValueError):  # a damaged cache is rebuilt, never trusted
            pass
    decoded = _decode_folder(scan, size, cap, workers)
    if any(not isinstance(d, str) for d in decoded):
        _save_cache(cache, decoded, scan.names)
    return decoded
