"""The live demo's `/zoom` and `/interpolate` APIs through gradio_client: results, bad inputs, and the
server still serving afterwards (one in-process server, tests/conftest.py: demo_server)."""
import numpy as np
import pytest
from gradio_client import handle_file
from PIL import Image

from demo.images import cifar_examples, photo_examples

CAT, DOG = cifar_examples()[6], cifar_examples()[10]


def zoom(client, path=CAT, y=8, x=8, size=16, resolution=64):
    return client.predict(handle_file(str(path)), y, x, size, resolution, api_name="/zoom")


def interpolate(client, a=CAT, b=DOG, resolution=32, t="0, 0.25, 0.5, 0.75, 1"):
    return client.predict(handle_file(str(a)), handle_file(str(b)), resolution, t, api_name="/interpolate")


def test_endpoints_and_parameters(demo_client):
    api = demo_client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert [p["label"] for p in api["/zoom"]["parameters"]] == ["image", "y", "x", "size", "resolution"]
    assert [p["label"] for p in api["/interpolate"]["parameters"]] == ["image_a", "image_b", "resolution", "t"]


def test_zoom_returns_three_pngs_and_scores(demo_client):
    *paths, metrics = zoom(demo_client, photo_examples()[1], 4.5, 10.25, 12, 77)
    for path in paths:
        with Image.open(path) as im:
            assert path.endswith(".png") and im.size == (77, 77)
    assert metrics["window"] == {"y": 4.5, "x": 10.25, "size": 12.0} and metrics["resolution"] == 77
    assert metrics["mode"] == "sr" and set(metrics["metrics"]) == {"nearest", "bicubic", "simplified", "corrected"}
    assert metrics["models"]["corrected"]["test_psnr"] == pytest.approx(21.5)
    *_, metrics = zoom(demo_client, CAT, 31, 0, 1, 512)  # one input pixel wide, the largest output
    assert metrics["mode"] == "downsampled" and metrics["tag"] == " ↓1"


def test_interpolate_returns_strips_and_animation(demo_client):
    simplified, corrected, crossfade, gif, info = interpolate(demo_client, CAT, photo_examples()[0], 48, "0, 0.5, 1")
    for path in (simplified, corrected, crossfade):
        with Image.open(path) as im:
            assert im.size == (3 * 48, 48)
    with Image.open(crossfade) as im:
        left = np.asarray(im)[:, :48]
    with Image.open(gif) as im:
        assert gif.endswith(".gif") and im.n_frames == 4
    assert info["t"] == [0, 0.5, 1] and info["resolution"] == 48 and info["notes"]["B"]
    assert left.std() > 0


@pytest.mark.parametrize("args, message", [
    (dict(y=0, x=0, size=0), "Window size must be from 1 to 32"),
    (dict(y=0, x=0, size=0.5), "Window size must be from 1 to 32"),
    (dict(y=30, x=0, size=4), "reaches outside the 32×32 input"),
    (dict(y=-2, x=0, size=4), "reaches outside the 32×32 input"),
    (dict(y=0, x=40, size=4), "reaches outside the 32×32 input"),
    (dict(resolution=600), "Resolution must be"),
])
def test_bad_windows(demo_client, args, message):
    with pytest.raises(Exception, match=message):
        zoom(demo_client, **args)


@pytest.mark.parametrize("t, message", [
    ("1.5", "t must be between 0 and 1"),
    ("0, -0.25, 1", "t must be between 0 and 1"),
    ("0, half, 1", "t must be a number"),
])
def test_bad_t(demo_client, t, message):
    with pytest.raises(Exception, match=message):
        interpolate(demo_client, t=t)


def test_one_unreadable_image_and_server_keeps_serving(demo_client, tmp_path):
    bad = tmp_path / "notes.png"
    bad.write_text("this is text, not a picture\n")
    with pytest.raises(Exception, match="Image B: .*not an image"):
        interpolate(demo_client, CAT, bad)
    with pytest.raises(Exception, match="Image A: .*not an image"):
        interpolate(demo_client, bad, CAT)
    with pytest.raises(Exception, match="not an image"):
        zoom(demo_client, bad)
    *_, metrics = zoom(demo_client, CAT, 0, 0, 32, 32)  # still serving; the whole window at 32 is Reconstruct's
    assert metrics["metrics"]["nearest"]["is_reference"]
    assert interpolate(demo_client, t="0.5")[4]["t"] == [0.5]


def test_nearest_is_the_reference_on_a_fractional_window_without_a_photo(demo_client):
    *_, metrics = zoom(demo_client, CAT, 4.5, 10.25, 12, 77)
    assert metrics["mode"] == "downsampled" and metrics["metrics"]["nearest"]["is_reference"]
    assert not metrics["metrics"]["bicubic"]["is_reference"]


def test_interpolate_defaults_to_the_pages_resolution(demo_client):
    simplified, *_, info = demo_client.predict(handle_file(str(CAT)), handle_file(str(DOG)), api_name="/interpolate")
    assert info["resolution"] == 128
