"""Fill the per-image cache the claims read, chunk by chunk, round-robin over every measurement.

    python -m train.study.fill_cache [--data PATH] [--measure-cache runs/claims-cache/per-image]
                                     [--threads 1] [--chunks 20]

For k = 0, 1, …: chunk k of the test split for each bundled model (per-image PSNR/SSIM at
train.eval.evaluate's jitter σ, and the pooled latents), then chunk k of the class-separation training
images (pooled latents). Chunks are strided (train/eval/per_image.py), so wherever this stops, every
measurement covers the same spread-out, class-mixed images; `train.eval.evaluate --cached-only` and
`train.study.separation --cached-only` then report on them, with n. Re-running resumes; when every
chunk is done, the plain commands (without --cached-only) read everything from the cache.
"""
import argparse
import sys
import time

import torch

from lainr.cpu_threads import set_cpu_threads

from ..data import DataError, load_split
from ..eval.evaluate import SIGMAS, load_weights, weights_sha256
from ..eval.per_image import CHUNK, chunk_count, measure
from ..eval.validate import val_indices
from .separation import DEFAULT_WEIGHTS, N_TRAIN, probe_train_indices


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m train.study.fill_cache", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", action="append", help="weights folder (repeatable; default both bundled models)")
    p.add_argument("--data", default="cifar10")
    p.add_argument("--data-root", default="data")
    p.add_argument("--cache-dir", default="")
    p.add_argument("--measure-cache", default="runs/claims-cache/per-image")
    p.add_argument("--n-train", type=int, default=N_TRAIN)
    p.add_argument("--chunks", type=int, default=0, help="stop after this many rounds (0 = all)")
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args(argv)
    set_cpu_threads(a.threads)
    try:
        test = load_split(a.data, "test", data_root=a.data_root, cache_dir=a.cache_dir or None)
        train = load_split(a.data, "train", data_root=a.data_root, cache_dir=a.cache_dir or None)
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    te_idx, tr_idx = val_indices(len(test), 0), probe_train_indices(train.labels, a.n_train)
    models = {w: (load_weights(w), weights_sha256(w)) for w in (a.weights or DEFAULT_WEIGHTS)}
    rounds = max(chunk_count(len(te_idx)), chunk_count(len(tr_idx)))
    for k in range(rounds if not a.chunks else min(a.chunks, rounds)):
        for name, (model, sha) in models.items():
            for split, data, idx, sigmas in (("test", test, te_idx, SIGMAS), ("train", train, tr_idx, ())):
                if k >= chunk_count(len(idx)):
                    continue
                t0 = time.time()
                with torch.no_grad():
                    measure(model, data.images, idx, sigmas, split=split, weights_sha=sha,
                            cache_dir=a.measure_cache, chunks={k})
                print(f"chunk {k + 1}/{rounds} {split} {name}: {time.time() - t0:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
