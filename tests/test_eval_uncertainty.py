"""train.eval.evaluate --split, intervals and per-image values; train.eval.per_image's resumable cache."""
import json

import numpy as np
import torch

from lainr import CorrectedConfig, CorrectedGINR, SimplifiedConfig, SimplifiedGINR
from tests.test_train_helpers import make_image_folder, tiny_weights
from train.tiny import TINY


def _tiny_weights(tmp_path):
    ws, wc = tiny_weights(tmp_path, ("simplified", "corrected"))
    return ws, wc


def test_val_split_entries_carry_intervals_and_per_image_values(tmp_path):
    from train.eval.evaluate import main
    from train.eval.eval_split import read_per_image
    from train.splits import validation_indices
    from train.data import load_split
    data = make_image_folder(tmp_path / "data", n_train=10, n_test=2)
    ws, wc = _tiny_weights(tmp_path)
    out = tmp_path / "eval"
    args = ["--weights", str(ws), "--weights", str(wc), "--data", str(data), "--out", str(out),
            "--cache-dir", str(tmp_path / "cache"), "--split", "val", "--embed-n", "2",
            "--measure-cache", str(tmp_path / "measure")]
    assert main(args) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    expected = validation_indices(load_split(str(data), "train", cache_dir=tmp_path / "cache").labels).numpy()
    for key, m in metrics.items():
        assert m["split"] == "val" and m["n_val"] == len(expected) == 2 and "test_psnr" not in m
        ci = m["val_psnr_ci"]
        assert ci["low"] <= ci["mean"] == m["val_psnr"] <= ci["high"] and ci["n"] == 2
        assert set(m["jitter_psnr_ci"]) == set(m["jitter_psnr"])
        idx, psnr, ssim = read_per_image(out / m["per_image"]["file"], m["per_image"]["prefix"])
        assert np.array_equal(idx, expected)
        assert abs(psnr.mean() - m["val_psnr"]) < 1e-4 and abs(ssim.mean() - m["val_ssim"]) < 1e-5
        _, jittered, _ = read_per_image(out / "per_image.npz", m["per_image"]["prefix"], 0.05)
        assert not np.array_equal(jittered, psnr)
    first = (out / "metrics.json").read_text()
    assert main(args) == 0  # the second run reads every chunk from the cache: the same figures
    assert (out / "metrics.json").read_text() == first


def test_entry_key_is_relative_to_the_repository(tmp_path):
    from train.eval.eval_split import REPO, entry_key
    assert entry_key(REPO / "weights" / "corrected") == "weights/corrected"
    assert entry_key(tmp_path) == str(tmp_path)  # outside the repository: as given
    assert entry_key("someone/repo-id") == "someone/repo-id"


def test_a_resumed_measurement_equals_an_uninterrupted_one(tmp_path):
    from train.eval.per_image import cache_folder, measure
    torch.manual_seed(0)
    model = CorrectedGINR(CorrectedConfig(**TINY["corrected"]))
    images = torch.randint(0, 256, (7, 3, 32, 32), dtype=torch.uint8)
    idx = torch.arange(7)
    whole = measure(model, images, idx, (0.0, 0.02), chunk=3)
    measure(model, images, idx, (0.0, 0.02), chunk=3, cache_dir=tmp_path, weights_sha="abc")
    chunks = sorted(cache_folder(tmp_path, "abc", "test", idx).glob("chunk-*.npz"))
    assert len(chunks) == 3
    chunks[1].unlink()  # as if interrupted there
    so_far = measure(None, images, idx, (0.0, 0.02), chunk=3, cache_dir=tmp_path, weights_sha="abc", cached_only=True)
    assert so_far.indices.tolist() == [0, 2, 3, 5, 6]  # chunks are strided: chunk 1 held images 1 and 4
    assert np.allclose(so_far.psnr, whole.psnr[:, so_far.indices], atol=1e-5)
    resumed = measure(model, images, idx, (0.0, 0.02), chunk=3, cache_dir=tmp_path, weights_sha="abc")
    for a, b in ((whole.psnr, resumed.psnr), (whole.ssim, resumed.ssim), (whole.pooled, resumed.pooled)):
        assert np.allclose(a, b, atol=1e-5)
    assert whole.pooled.shape == (7, TINY["corrected"]["dim"])
    pooled_only = measure(model, images, idx, (), chunk=3, cache_dir=tmp_path, weights_sha="abc")
    assert pooled_only.psnr.shape == (0, 7) and np.allclose(pooled_only.pooled, whole.pooled, atol=1e-6)
