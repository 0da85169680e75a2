"""The demo's engine, metrics and plots on tiny models (no server)."""
import numpy as np
import pytest
import torch

from demo import attention_view, metrics_view
from demo.engine import Engine, bicubic, nearest
from demo.images import cifar_examples, photo_examples, prepare
from demo.service import Service, UserError, check_resolution, check_seed, check_sigma
from demo.weights import load_models


@pytest.fixture(scope="module")
def demo_engine(demo_weight_dirs):
    return Engine(load_models(str(demo_weight_dirs["simplified"]), str(demo_weight_dirs["corrected"]), env={}))


def test_render_matches_library_and_is_cached(demo_engine):
    prepared = prepare(cifar_examples()[0])
    image = demo_engine.render("corrected", prepared, 64)
    assert image.shape == (64, 64, 3) and image.min() >= 0 and image.max() <= 1
    x = torch.from_numpy(prepared.model_input).permute(2, 0, 1)[None]
    expected = demo_engine.model("corrected").render(x, 64)[0].permute(1, 2, 0).numpy()
    np.testing.assert_allclose(image, expected, atol=1e-5)
    assert demo_engine.render("corrected", prepared, 64) is image  # cached


def test_jitter_is_seeded_and_shared(demo_engine):
    prepared = prepare(cifar_examples()[1])
    a = demo_engine.render("simplified", prepared, 32, 0.02, seed=3)
    b = demo_engine.render("simplified", prepared, 32, 0.02, seed=4)
    assert not np.allclose(a, b)
    engine2 = Engine(demo_engine.models)
    np.testing.assert_array_equal(a, engine2.render("simplified", prepared, 32, 0.02, seed=3))


def test_attention_readouts(demo_engine):
    prepared = prepare(cifar_examples()[2])
    coords = torch.tensor([[0.3, 0.7]])
    att = demo_engine.attention_at("corrected", prepared, coords)
    assert att["weights"].shape == (2, 1, 16) and att["bias"].shape == (1, 16)
    np.testing.assert_allclose(att["weights"].sum(-1), 1, atol=1e-5)
    np.testing.assert_allclose(att["content"].sum(-1), 1, atol=1e-5)
    # softmax(log(content) + bias) must give back the biased attention
    back = torch.softmax(torch.from_numpy(np.log(att["content"]) + att["bias"][None]), -1).numpy()
    np.testing.assert_allclose(back, att["weights"], atol=1e-5)
    s = demo_engine.attention_at("simplified", prepared, coords)
    assert s["weights"].shape == (1, 1, 4) and s["bias"] is None
    assert demo_engine.bias_matrix("corrected").shape == (1024, 16)
    assert demo_engine.bias_matrix("simplified") is None
    assert demo_engine.token_map("corrected", prepared, 5, 16).shape == (2, 16, 16)


def test_metric_references():
    cifar, photo = prepare(cifar_examples()[0]), prepare(photo_examples()[0])
    assert metrics_view.reference_for(cifar, 32)[0] == "input"
    assert metrics_view.reference_for(cifar, 128)[0] == "downsampled"
    assert metrics_view.reference_for(photo, 128)[0] == "sr"
    assert metrics_view.reference_for(photo, 512)[0] == "downsampled"  # the shipped photos are 256 px
    m = metrics_view.compute(cifar, 64, {"nearest": nearest(cifar, 64), "bicubic": bicubic(cifar, 64)})
    assert m["metrics"]["nearest"]["is_reference"] and not m["metrics"]["bicubic"]["is_reference"]
    assert "↓32" in metrics_view.caption(m, "bicubic") and "PSNR" in metrics_view.markdown(m)
    sr = metrics_view.compute(photo, 256, {"bicubic": bicubic(photo, 256)})
    assert 15 < sr["metrics"]["bicubic"]["psnr"] < 40


def test_validation():
    assert check_resolution(128) == 128 and check_resolution("64") == 64 and check_resolution(100.0) == 100
    for bad in (0, 31, 513, 100.5, -64, float("nan"), "abc", None, True):
        with pytest.raises(UserError):
            check_resolution(bad)
    assert check_sigma(0) == 0 and check_sigma(0.05) == 0.05 and check_sigma(None) == 0
    for bad in (-0.01, 0.5, float("inf"), "x"):
        with pytest.raises(UserError):
            check_sigma(bad)
    assert check_seed(None) == 0 and check_seed(-5) == 5 and check_seed(2**40) < 2**31


def test_service_and_plots(demo_engine):
    service = Service(demo_engine)
    prepared, images, metrics = service.reconstruct(photo_examples()[1], 64, 0.01, 1)
    assert set(images) == {"nearest", "bicubic", "simplified", "corrected"} and metrics["mode"] == "sr"
    curves, plot = service.sigma_curve(prepared, 0)
    assert len(curves["corrected"]) == 5 and plot.ndim == 3 and plot.shape[2] == 3
    state = {"prepared": prepared, "size": 64}
    plot, text, bias_img, top = service.pixel(state, 10, 50)
    assert plot.shape[2] == 3 and "x=10, y=50" in text and bias_img.shape[2] == 3 and 0 <= top < 16
    assert service.token(state, "corrected", 999).shape[2] == 3  # clamped to the last token
    assert service.token(state, "simplified", 2).shape[2] == 3
    with pytest.raises(UserError):
        service.pixel(None, 0, 0)
    assert 0 <= attention_view.bias_share(np.array([[0.5, 0.5]]), np.array([[1.0, 0.0]])) == 0.5
    assert attention_view.token_bias_centre(0, 256, 16) == (1 / 32, 1 / 32)


def test_sigma_sweep_matches_renders(demo_engine):
    prepared = prepare(cifar_examples()[4])
    sweep = demo_engine.psnr_vs_sigma("corrected", prepared, (0.0, 0.02), seed=7)
    for sigma, value in zip((0.0, 0.02), sweep):
        render = demo_engine.render("corrected", prepared, 32, sigma, seed=7)
        mse = float(np.mean((render - prepared.model_input) ** 2))
        assert value == pytest.approx(-10 * np.log10(mse), abs=1e-3)


def test_lru_is_bounded_by_bytes_as_well_as_entries():
    import numpy as np

    from demo.engine import LRU

    cache = LRU(10, max_bytes=3 * 4000)
    for i in range(5):
        cache.put(i, np.zeros(1000, dtype=np.float32))  # 4,000 bytes each
    assert cache.bytes == 12000 and cache.get(0) is None and cache.get(1) is None and cache.get(4) is not None
    cache.put(4, np.zeros(10, dtype=np.float32))  # replacing an entry counts its new size only
    assert cache.bytes == 8040
    big = LRU(10, max_bytes=100)
    big.put("a", np.zeros(1000))
    assert big.get("a") is not None  # one entry over the budget is still kept (it is the one asked for)


def test_memory_trimmer_trims_after_the_last_request(monkeypatch):
    import time

    from demo import memory

    calls = []
    monkeypatch.setattr(memory, "trim", lambda: calls.append(time.monotonic()))
    trimmer = memory.Trimmer(delay=0.05)
    with trimmer:
        time.sleep(0.15)
        assert not calls  # never during a request
    time.sleep(0.4)
    assert len(calls) == 1


def test_the_start_up_warm_up_runs_the_upload_path(demo_engine, monkeypatch):
    """Issue 36, item 10: what `python app.py` warms in the background includes the upload path — the
    check and crop of a non-square photo, its decode, the photo reference and the scores — so the first
    visitor's upload does not pay their set-up."""
    from demo import app, metrics_view, service

    crops, modes = [], []
    crop, compute = service.centre_crop_file, metrics_view.compute
    monkeypatch.setattr(service, "centre_crop_file", lambda *a: crops.append(crop(*a)) or crops[-1])
    monkeypatch.setattr(metrics_view, "compute", lambda *a, **k: modes.append(compute(*a, **k)["mode"]) or
                        compute(*a, **k))
    app.warm(demo_engine)
    assert crops and crops[-1] and crops[-1].endswith(".png")  # a non-square upload, cropped as the page does
    assert "sr" in modes  # a photo, scored against itself
