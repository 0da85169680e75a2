"""train.eval.photo_pair: a pair trained at N×N scored on a collection's test split and SR sets (issue 37, item 5)."""
import json

import numpy as np
import pytest
import torch
from PIL import Image

from lainr import CorrectedGINR, SimplifiedGINR
from train.eval import photo_pair
from train.eval.photo_sets import load_photo_set
from train.tiny import TINY

from .photo_folders import smooth_rgb

N = 16  # the tiny pair's input side (patch 4 divides it)


def _pair(root):
    torch.manual_seed(0)
    SimplifiedGINR(dict(TINY["simplified"], image_size=N)).save_pretrained(root / "simplified")
    CorrectedGINR(dict(TINY["corrected"], image_size=N, patch_size=4)).save_pretrained(root / "corrected")
    return root


def _photos(folder, sides):
    folder.mkdir(parents=True)
    for i, (w, h) in enumerate(sides):
        Image.fromarray(smooth_rgb(w, h, i)).save(folder / f"p{i}.png")
    return folder


def test_references_are_never_enlarged_and_the_input_is_their_area_mean(tmp_path):
    s = load_photo_set(_photos(tmp_path / "set", [(140, 130), (70, 90), (40, 33), (20, 20)]), N, (2, 3, 4, 8))
    assert s.names == ["p0", "p1", "p2"] and s.skipped == ["p3.png"]  # 20 px < 2·16
    assert [m.shape[-1] for m in s.masters] == [128, 64, 32]  # the largest ×k each square holds
    assert s.factor_members(8) == [0] and s.factor_members(3) == [0, 1] and s.factor_members(2) == [0, 1, 2]
    ref4 = s.reference(0, 4)
    assert ref4.shape == (3, 64, 64)
    assert torch.allclose(torch.nn.functional.avg_pool2d(ref4[None], 4)[0], s.inputs[0], atol=1e-6)


def test_the_evaluation_writes_figures_the_page_reads(tmp_path):
    pair = _pair(tmp_path / "pair")
    data = tmp_path / "photos"
    _photos(data / "test", [(140, 130), (100, 120), (70, 64), (66, 80)])
    sr = tmp_path / "sr"
    for s in photo_pair.SR_SETS:
        _photos(sr / s, [(130, 130), (96, 50)])  # 50 px: ×2 only
    out = tmp_path / "eval"
    assert photo_pair.main(["--pair", str(pair), "--data", str(data), "--out", str(out), "--sr-dir", str(sr),
                            "--steps", "3", "--factors", "2,4,8"]) == 0
    fig = json.loads((out / "figures.json").read_text())
    assert fig["pair"] == "pair" and fig["input_size"] == N and fig["data"]["licence"] == "CC0-1.0"
    assert fig["test"]["factor"] == 1 and fig["test"]["n"] == 4  # the test split at the N×N input
    assert set(fig["test"]["rows"]) == {"thumbnail 2×2", "thumbnail 4×4", "thumbnail 8×8", "simplified",
                                        "corrected", "simplified refined", "corrected refined"}
    x4 = fig["sr"]["x4"]["test split"]
    assert set(x4["rows"]) == {"bicubic", "simplified", "corrected", "simplified refined", "corrected refined"}
    assert all(r["low"] <= r["mean"] <= r["high"] and r["n"] == 4 for r in x4["rows"].values())
    assert "corrected − bicubic" in x4["diffs"] and "corrected − simplified" in x4["diffs"]
    assert fig["sr"]["x8"]["test split"]["n"] == 1 and fig["sr"]["x8"]["test split"]["rows"] == {}  # no interval
    assert fig["sr"]["x2"]["Set14"]["n"] == 2 and fig["sr"]["x4"]["BSD68"]["n"] == 1
    arrays = np.load(out / "per_image.npz")
    paired = arrays["test split/x4/corrected"] - arrays["test split/x4/bicubic"]
    assert np.isclose(paired.mean(), x4["diffs"]["corrected − bicubic"]["mean"])
    assert "Up-sampling ×4" in (out / "photo_pair.md").read_text()


def test_bad_input_is_refused_with_a_message(tmp_path, capsys):
    assert photo_pair.main(["--pair", str(tmp_path), "--data", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    assert "neither simplified/ nor corrected/" in capsys.readouterr().err
    pair = _pair(tmp_path / "pair")
    _photos(tmp_path / "d" / "test", [(20, 20)])
    assert photo_pair.main(["--pair", str(pair), "--data", str(tmp_path / "d"), "--out", str(tmp_path / "o")]) == 2
    assert "no photo is at least 32 pixels" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_cards_state_the_data_the_training_and_the_figures_beside_bicubic(tmp_path):
    from train.publish import photo_card
    pair = _pair(tmp_path / "pair")
    info = {"config": {"image_size": N, "batch_size": 8, "pixels": 1024, "scale_range": [1.0, 4.0]},
            "step": 1000, "epochs": 1.5, "elapsed": 7200.0, "hardware": "CPU only: 2 cores (a test CPU)",
            "recipe": "peak lr 0.001", "schedule": "cosine", "val_psnr": 21.0, "val_n": 150,
            "data": {"source": "photos/", "images_used": 5458, "n_train": 5164, "n_validation": 294}}
    for name in ("simplified", "corrected"):
        (pair / name / "training_info.json").write_text(json.dumps(info))
    assert [p.parent.name for p in photo_card.write_cards(pair)] == ["simplified", "corrected"]
    text = (pair / "corrected" / "README.md").read_text()
    assert text.startswith("---\nlibrary_name: lainr") and "Not a finished super-resolution model" in text
    assert "8,000 crops (1.5 epochs), 2.0 h on CPU only: 2 cores (a test CPU)" in text
    assert "5,164 photos for training (294 more held out for validation)" in text  # images_used counts both
    assert "not measured yet" in text  # no figures.json yet: nothing invented
    data = tmp_path / "photos"
    _photos(data / "test", [(140, 130), (100, 120), (70, 64)])
    assert photo_pair.main(["--pair", str(pair), "--data", str(data), "--out", str(pair / "eval"), "--steps", "2",
                            "--factors", "2,4"]) == 0
    photo_card.write_cards(pair)
    text = (pair / "corrected" / "README.md").read_text()
    fig = json.loads((pair / "eval" / "figures.json").read_text())
    row = fig["sr"]["x4"]["test split"]["rows"]
    assert f"| test split | 4 | 3 | {row['bicubic']['mean']:.2f}" in text and f"{row['corrected']['mean']:.2f}" in text
    assert "licence **CC0-1.0**" in text and "not measured yet" not in text
