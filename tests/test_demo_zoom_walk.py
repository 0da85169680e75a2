"""Zoom windows and latent walks on tiny models (no server): maths, engine, service, validation."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from demo import walk, zoom
from demo.engine import Engine, bicubic
from demo.images import area_resize, cifar_examples, photo_examples, prepare, to_tensor
from demo.service import Service, UserError, check_ts, check_window
from demo.weights import load_models
from lainr import window_grid


@pytest.fixture(scope="module")
def demo_engine(demo_weight_dirs):
    return Engine(load_models(str(demo_weight_dirs["simplified"]), str(demo_weight_dirs["corrected"]), env={}))


def test_window_render_is_a_decode_inside_the_window(demo_engine):
    prepared = prepare(cifar_examples()[0])
    whole = demo_engine.render_window("corrected", prepared, (0.0, 0.0, 1.0), 48)
    np.testing.assert_allclose(whole, demo_engine.render("corrected", prepared, 48), atol=1e-6)
    window = zoom.Window(3.5, 10.0, 1.0, 32)  # one input pixel wide, not aligned to the pixel grid
    image = demo_engine.render_window("corrected", prepared, window.unit(), 40)
    model = demo_engine.model("corrected")
    with torch.inference_mode():
        expected = model.decode(model.encode(to_tensor(prepared.model_input)), window_grid(*window.unit(), 40)[None])
    np.testing.assert_allclose(image, expected[0].clamp(0, 1).reshape(40, 40, 3).numpy(), atol=1e-5)
    assert demo_engine.render_window("corrected", prepared, window.unit(), 40) is image  # cached


def test_window_sampling_matches_whole_image_resizes():
    prepared = prepare(cifar_examples()[1])
    coords = zoom.Window(0, 0, 32, 32).coords(100)
    np.testing.assert_allclose(zoom.sample(prepared.model_input, coords, 100, "bicubic"), bicubic(prepared, 100),
                               atol=1e-5)
    nearest = F.interpolate(to_tensor(prepared.model_input), size=(100, 100), mode="nearest-exact")
    np.testing.assert_allclose(zoom.sample(prepared.model_input, coords, 100, "nearest"),
                               nearest[0].permute(1, 2, 0).numpy(), atol=1e-6)


def test_box_mean_is_exact():
    rng = np.random.default_rng(0)
    a = rng.random((32, 32, 3)).astype(np.float32)
    np.testing.assert_allclose(zoom.box_mean(a, 0, 0, 1, 8), area_resize(a, 8), atol=1e-6)
    np.testing.assert_allclose(zoom.box_mean(a, 8 / 32, 4 / 32, 0.5, 16), a[8:24, 4:20], atol=1e-6)
    small = a[:4, :4].astype(np.float64)
    big = np.repeat(np.repeat(small, 100, 0), 100, 1)  # each pixel 100×100: fractional cells become exact crops
    got = zoom.box_mean(small, 0.13, 0.21, 0.5, 2)
    np.testing.assert_allclose(got[1, 0], big[152:252, 84:184].mean((0, 1)), atol=1e-5)


def test_zoom_scores_name_their_reference(demo_engine):
    service = Service(demo_engine)
    _, window, images, metrics = service.zoom(photo_examples()[0], 8, 8, 16, 100)  # 128 photo pixels ≥ 100
    assert set(images) == {"nearest", "bicubic", "simplified", "corrected"}
    assert all(im.shape == (100, 100, 3) for im in images.values())
    assert metrics["mode"] == "sr" and "photo's window" in metrics["reference"] and metrics["tag"] == " vs photo"
    _, _, _, metrics = service.zoom(photo_examples()[0], 8, 8, 4, 100)  # 32 photo pixels < 100
    assert metrics["mode"] == "downsampled" and metrics["tag"] == " ↓4" and "4×4 input pixels" in metrics["reference"]
    _, window, _, metrics = service.zoom(cifar_examples()[2], 2, 30, 2, 64)
    assert window == zoom.Window(2.0, 30.0, 2.0, 32) and metrics["window"] == {"y": 2.0, "x": 30.0, "size": 2.0}
    assert metrics["metrics"]["nearest"]["is_reference"]  # nearest ↓2 of an aligned window is the input itself


def test_window_and_t_validation():
    assert check_window(0, 0, 32, 32) == zoom.Window(0, 0, 32, 32) and check_window("3.5", 7, 1, 32).y == 3.5
    assert check_window(40, 0, 24, 64) == zoom.Window(40, 0, 24, 64)  # a 64×64 input's window
    for args, message in [((0, 0, 0), "size must be from 1"), ((0, 0, 0.5), "size must be from 1"),
                          ((0, 0, 40), "size must be from 1"), ((30, 0, 4), "outside"), ((0, -1, 4), "outside"),
                          ((0, 28.5, 4), "outside"), ((None, 0, 4), "missing"), ((0, "a", 4), "number"),
                          ((0, 0, float("nan")), "finite")]:
        with pytest.raises(UserError, match=message):
            check_window(*args, 32)
    with pytest.raises(UserError, match="outside the 64×64 input"):
        check_window(50, 0, 16, 64)
    assert check_ts(None) == walk.TS and check_ts("0, .5 ,1") == (0, 0.5, 1) and check_ts(0.3) == (0.3,)
    assert check_ts([0, 1]) == (0, 1)
    for bad, message in [("1.5", "between 0 and 1"), ("0, -0.1", "between 0 and 1"), ("0, x", "number"),
                         (",".join(["0.5"] * 10), "from 1 to 9")]:
        with pytest.raises(UserError, match=message):
            check_ts(bad)


def test_centred_window_stays_inside():
    assert zoom.centred(16, 16, 8, 32) == zoom.Window(12, 12, 8, 32)
    assert zoom.centred(0.5, 31.5, 8, 32) == zoom.Window(0, 24, 8, 32)
    assert zoom.centred(0.5, 63.5, 8, 64) == zoom.Window(0, 56, 8, 64)
    assert zoom.centred(5, 5, 0.1, 32).size == zoom.MIN_WINDOW


def test_latent_walk(demo_engine):
    a, b = prepare(cifar_examples()[3]), prepare(photo_examples()[2])
    for t, end in ((0.0, a), (1.0, b)):
        assert demo_engine.render_mix("simplified", a, b, t, 32) is demo_engine.render("simplified", end, 32)
    mid = demo_engine.render_mix("corrected", a, b, 0.5, 32)
    model = demo_engine.model("corrected")
    with torch.inference_mode():
        z = (model.encode(to_tensor(a.model_input)) + model.encode(to_tensor(b.model_input))) / 2
        expected = model.decode(z, model.query_grid(1, 32)).clamp(0, 1)[0].reshape(32, 32, 3).numpy()
    np.testing.assert_allclose(mid, expected, atol=1e-5)

    rows, info = Service(demo_engine).interpolate(cifar_examples()[3], photo_examples()[2], 40, None)
    assert info["t"] == list(walk.TS) and set(rows) == set(walk.ROWS)
    assert all(len(rows[row]) == 5 and rows[row][0].shape == (40, 40, 3) for row in walk.ROWS)
    np.testing.assert_allclose(rows["crossfade"][2], (bicubic(a, 40) + bicubic(b, 40)) / 2, atol=1e-6)
    assert walk.strip(rows["corrected"]).shape == (40, 200, 3)
    assert walk.strip(rows["corrected"], gap=4).shape == (40, 216, 3)
    with Image.open(walk.write_gif(rows, info["t"])) as gif:
        assert gif.n_frames == 8 and gif.info.get("loop") == 0  # A → B → A


def test_walk_names_the_unreadable_image(demo_engine, tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_text("not an image")
    service = Service(demo_engine)
    with pytest.raises(UserError, match="Image B: .*not an image"):
        service.interpolate(cifar_examples()[0], str(bad), 32)
    with pytest.raises(UserError, match="Image A: No image given"):
        service.interpolate(None, cifar_examples()[0], 32)
