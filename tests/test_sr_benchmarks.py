"""train.study.sr_benchmarks: the fine-detail measures behind claim 7, and the photo loader."""
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image


def _photos(n=3, size=128, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 3, size, size, generator=g)


def test_a_photo_against_itself_has_ratio_one_and_correlation_one():
    from train.study.sr_benchmarks import detail_scores
    x = _photos()
    ratio, corr = detail_scores(x, x)
    assert torch.allclose(ratio, torch.ones(3), atol=1e-5) and torch.allclose(corr, torch.ones(3), atol=1e-5)


def test_blur_loses_fine_detail_and_noise_adds_unrelated_detail():
    from train.study.sr_benchmarks import detail_scores
    x = _photos()
    blurred = F.interpolate(F.interpolate(x, size=(32, 32), mode="area"), size=(128, 128), mode="bicubic",
                            align_corners=False)
    ratio, corr = detail_scores(blurred, x)
    assert (ratio < 0.3).all()  # bicubic of a 32×32 average holds little above its Nyquist frequency
    noise = _photos(seed=1)
    ratio_n, corr_n = detail_scores(noise, x)
    assert (ratio_n > 0.5).all() and (corr_n.abs() < 0.05).all()  # as much detail, none of it the photo's


def test_load_set_centre_crops_squares_and_converts_grey(tmp_path):
    from train.study.sr_benchmarks import load_set
    Image.fromarray(np.full((300, 400, 3), 200, np.uint8)).save(tmp_path / "b.png")
    Image.fromarray(np.full((256, 256), 50, np.uint8), mode="L").save(tmp_path / "a.png")
    names, hi = load_set(tmp_path)
    assert names == ["a", "b"] and hi.shape == (2, 3, 256, 256)
    assert torch.allclose(hi[0], torch.full_like(hi[0], 50 / 255), atol=1e-3)
