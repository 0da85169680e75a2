"""Shared fixtures for the training tests: tiny ImageFolder data and the trainer's command line (the tiny model
configs are train/tiny.py's TINY, re-exported here for the tests that import it from this module)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from train.tiny import TINY  # train_args; tests/test_inference_ablations.py also imports it from here

ROOT = Path(__file__).resolve().parents[1]


def make_image_folder(root, n_train=6, n_test=3, classes=("cat", "dog"), seed=0):
    """root/train/<class>/i.png and root/test/<class>/i.png, random 32×32 RGB (smooth-ish)."""
    from PIL import Image
    rng = np.random.default_rng(seed)
    for split, n in (("train", n_train), ("test", n_test)):
        for c in classes:
            d = Path(root) / split / c
            d.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                small = rng.integers(0, 255, (4, 4, 3), dtype=np.uint8)
                Image.fromarray(small).resize((32, 32), Image.BILINEAR).save(d / f"{i:04d}.png")
    return Path(root)


def tiny_weights(root, names=("simplified", "corrected"), seed=0):
    """→ (simplified folder, corrected folder): freshly initialised TINY models saved in Hub format under root
    (root/<names[0]>, root/<names[1]>), seeded."""
    import torch

    from lainr import CorrectedConfig, CorrectedGINR, SimplifiedConfig, SimplifiedGINR
    torch.manual_seed(seed)
    ws, wc = Path(root) / names[0], Path(root) / names[1]
    SimplifiedGINR(SimplifiedConfig(**TINY["simplified"])).save_pretrained(ws)
    CorrectedGINR(CorrectedConfig(**TINY["corrected"])).save_pretrained(wc)
    return ws, wc


def train_args(model, data, out, cache, *extra):
    return ["--model", model, "--data", str(data), "--out", str(out), "--cache-dir", str(cache),
            "--config-json", json.dumps(TINY[model]), "--batch-size", "4", "--threads", "1",
            "--val-limit", "0", "--no-progress", *extra]


def run_module(module, args, env=None, **kw):
    """python -m module args, from the repo root; returns CompletedProcess (text)."""
    full_env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", **(env or {}))
    return subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, env=full_env, capture_output=True,
                          text=True, **kw)
