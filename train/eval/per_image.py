"""Per-image figures of one model on a set of images, computed once and cached by chunks.

Each batch is encoded once; from its latents come the mean-pooled latent per image (for the class
separation study) and, for each jitter σ, the clamped PSNR and SSIM of every image's 32×32
reconstruction. Jitter is seeded per chunk (seed, σ's position, chunk), so a resumed measurement
gives the same values as an uninterrupted one.

Chunks are strided: of K chunks, chunk k holds the images at positions k, k + K, k + 2K, … of the
index list, so the chunks finished so far are always a spread-out, class-mixed subset (the splits are
stored class by class). With a cache folder, every finished chunk is an .npz under
    cache/<weights sha256[:16]>-<split>-<hash of the indices>/chunk-<k>-of-<K>.npz
a re-run reads the chunks it has (a chunk measured at other σ is measured again), and
`cached_only=True` returns the images measured so far without measuring any.
"""
import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from einops import rearrange

from lainr import psnr_per_image, ssim_per_image

from ..atomic import replacing
from ..data import to_float

CHUNK = 500


@dataclass
class PerImage:
    indices: np.ndarray  # (n,) into the split
    sigmas: tuple  # the σ of the rows below
    psnr: np.ndarray  # (S, n) dB, predictions clamped to [0, 1]
    ssim: np.ndarray  # (S, n)
    pooled: np.ndarray  # (n, d) mean over the latent tokens

    def at(self, sigma):
        """(psnr (n,), ssim (n,)) at one σ."""
        i = list(self.sigmas).index(float(sigma))
        return self.psnr[i], self.ssim[i]


def chunk_seed(seed, sigma_pos, chunk):
    return int(np.random.SeedSequence([seed, sigma_pos, chunk]).generate_state(1)[0])


@torch.no_grad()
def measure_chunk(model, images_u8, indices, sigmas, *, start=0, seed=0, batch=100, device="cpu"):
    """→ psnr (S, n), ssim (S, n), pooled (n, d) for the images at `indices` (a torch int64 tensor)."""
    gens = [torch.Generator(device=device).manual_seed(chunk_seed(seed, i, start)) for i in range(len(sigmas))]
    psnr, ssim, pooled = [[] for _ in sigmas], [[] for _ in sigmas], []
    for part in indices.split(batch):
        x = to_float(images_u8[part], device)  # (b, 3, 32, 32)
        latents = model.encode(x)  # (b, m, d)
        pooled.append(latents.float().mean(1).cpu())
        for i, s in enumerate(sigmas):
            coords = model.query_grid(len(part), 32, sigma=s, generator=gens[i])  # (b, 1024, 2)
            rec = rearrange(model.decode(latents, coords).float(), "b (h w) c -> b c h w", h=32, w=32).clamp(0, 1)
            psnr[i].append(psnr_per_image(rec, x).cpu())
            ssim[i].append(ssim_per_image(rec, x).cpu())
    stack = (lambda rows: torch.stack([torch.cat(r) for r in rows]).numpy() if rows else
             np.zeros((0, len(indices)), np.float32))
    return stack(psnr), stack(ssim), torch.cat(pooled).numpy()


def chunk_count(n, chunk=CHUNK):
    return max(1, -(-n // chunk))


def cache_folder(cache_dir, weights_sha, split, indices):
    digest = hashlib.sha256(np.asarray(indices, dtype=np.int64).tobytes()).hexdigest()[:12]
    return Path(cache_dir) / f"{(weights_sha or 'unhashed')[:16]}-{split}-{digest}"


def _read_chunk(path, sigmas):
    if not path.is_file():
        return None
    with np.load(path) as z:
        have = [float(s) for s in z["sigmas"]]
        if not all(float(s) in have for s in sigmas):
            return None
        rows = [have.index(float(s)) for s in sigmas]
        return z["psnr"][rows], z["ssim"][rows], z["pooled"]


def _write_chunk(path, sigmas, psnr, ssim, pooled):
    path.parent.mkdir(parents=True, exist_ok=True)
    with replacing(path) as tmp:
        np.savez(tmp, sigmas=np.asarray(sigmas, dtype=np.float64), psnr=psnr, ssim=ssim, pooled=pooled)


def measure(model, images_u8, indices, sigmas=(0.0,), *, split="test", weights_sha=None, cache_dir=None,
            seed=0, chunk=CHUNK, device="cpu", progress=None, cached_only=False, chunks=None):
    """Per-image PSNR/SSIM at each σ and pooled latents of `indices` → PerImage (in the order of `indices`).

    `progress(done)` is called after each chunk with the number of images done (cached ones included).
    cached_only: only the chunks already in the cache (model may be None); FileNotFoundError if none.
    chunks: measure only these chunk numbers (others are read from the cache if there, else left out).
    """
    sigmas = tuple(float(s) for s in sigmas)
    indices = torch.as_tensor(indices, dtype=torch.long)
    folder = cache_folder(cache_dir, weights_sha, split, indices) if cache_dir else None
    if cached_only and folder is None:
        raise ValueError("cached_only needs a cache folder")
    n_chunks = chunk_count(len(indices), chunk)
    was_training = model.training if model is not None else False
    if model is not None:
        model.eval()
    positions, parts, done = [], [], 0
    for k in range(n_chunks):
        pos = torch.arange(k, len(indices), n_chunks)
        path = folder / f"chunk-{k:04d}-of-{n_chunks:04d}.npz" if folder else None
        got = _read_chunk(path, sigmas) if path else None
        if got is None and not cached_only and (chunks is None or k in chunks):
            got = measure_chunk(model, images_u8, indices[pos], sigmas, start=k, seed=seed, device=device)
            if path:
                _write_chunk(path, sigmas, *got)
        if got is not None:
            positions.append(pos)
            parts.append(got)
        done += len(pos)
        if progress is not None:
            progress(done)
    if model is not None:
        model.train(was_training)
    if not parts:
        raise FileNotFoundError(f"no measured chunks in {folder}")
    order = torch.cat(positions).argsort().numpy()  # back to the order of `indices`
    kept = torch.cat(positions).sort().values.numpy()
    psnr, ssim = (np.concatenate([p[i] for p in parts], axis=-1)[:, order] for i in (0, 1))
    pooled = np.concatenate([p[2] for p in parts])[order]
    return PerImage(indices.numpy()[kept], sigmas, psnr, ssim, pooled)
