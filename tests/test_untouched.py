"""train.study.untouched: the headline without the 500 test images that steered the project."""
import json

import numpy as np


def test_the_steered_images_are_left_out_and_the_rest_reported(tmp_path):
    from train.study.untouched import main, steered_indices
    ev, n = tmp_path / "eval", 10_000
    ev.mkdir()
    steered = set(steered_indices(n).tolist())
    idx = np.arange(n)[::-1].copy()  # any order
    mark = np.array([i in steered for i in idx])
    arrays = {}
    for name, base in (("simplified", 20.0), ("corrected", 30.0)):
        prefix = str(tmp_path / name).lstrip("/").replace("/", "__")
        psnr = np.where(mark, base + 100.0, base)  # a steered image would betray itself by +100 dB
        arrays.update({f"{prefix}.indices": idx, f"{prefix}.sigmas": np.array([0.0]),
                       f"{prefix}.psnr": psnr[None], f"{prefix}.ssim": psnr[None] / 40})
    np.savez(ev / "per_image.npz", **arrays)
    import train.study.untouched as u
    u.REPO = type(tmp_path)("/")
    assert main(["--eval-dir", str(ev), "--simplified", str(tmp_path / "simplified"),
                 "--corrected", str(tmp_path / "corrected")]) == 0
    r = json.loads((ev / "untouched.json").read_text())
    assert r["n"] == 9_500 and r["excluded"] == 500
    assert r["models"]["corrected"]["mean"] == 30.0 and r["models"]["simplified"]["mean"] == 20.0
    assert r["corrected − simplified"]["mean"] == 10.0
