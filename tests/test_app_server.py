"""The live demo through gradio_client: the `reconstruct` API, bad inputs, concurrency.

One in-process server on a free port (tests/conftest.py: demo_server) with tiny models.
"""
import io
import json
import os
import re
import struct
import zlib
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image

from demo.images import cifar_examples, photo_examples


def _png_header_only(width, height):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))


def call(client, path, resolution=64, sigma=0.0):
    return client.predict(handle_file(str(path)), resolution, sigma, api_name="/reconstruct")


def test_api_is_named_reconstruct(demo_client):
    api = demo_client.view_api(print_info=False, return_format="dict")
    assert "/reconstruct" in api["named_endpoints"]
    params = [p["label"] for p in api["named_endpoints"]["/reconstruct"]["parameters"]]
    assert params == ["image", "resolution", "sigma"]


def test_resolution_and_steps_are_integers_in_view_api(demo_client):
    api = demo_client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    for endpoint in ("/reconstruct", "/zoom", "/interpolate", "/refine"):
        params = {p["label"]: p for p in api[endpoint]["parameters"]}
        assert params["resolution"]["type"]["type"] == "integer", endpoint
        assert params["resolution"]["parameter_default"] == 128, endpoint  # the page's default
    assert {p["label"]: p for p in api["/refine"]["parameters"]}["steps"]["type"]["type"] == "integer"


def test_reconstruct_returns_two_pngs_and_metrics(demo_client):
    simplified, corrected, metrics = call(demo_client, cifar_examples()[3], 128, 0.01)
    for path in (simplified, corrected):
        assert path.endswith(".png")
        with Image.open(path) as im:
            assert im.size == (128, 128) and im.mode == "RGB"
    assert metrics["resolution"] == 128 and metrics["sigma"] == 0.01 and metrics["mode"] == "downsampled"
    assert set(metrics["metrics"]) == {"nearest", "bicubic", "simplified", "corrected"}
    assert metrics["models"]["corrected"]["test_psnr"] == pytest.approx(21.5)
    assert metrics["models"]["simplified"]["training"] == "no training record"
    json.dumps(metrics, allow_nan=False)


def test_photo_gets_true_sr_reference(demo_client):
    *_, metrics = call(demo_client, photo_examples()[0], 256)
    assert metrics["mode"] == "sr" and "photo" in metrics["reference"]


def _make(tmp_path, kind):
    path = tmp_path / f"{kind}.png"
    rng = np.random.default_rng(0)
    rgb = Image.fromarray(rng.integers(0, 256, (48, 40, 3), dtype=np.uint8))
    if kind == "grayscale":
        rgb.convert("L").save(path)
    elif kind == "rgba":
        rgb.convert("RGBA").save(path)
    elif kind == "palette":
        rgb.convert("P").save(path)
    elif kind == "16bit":
        Image.fromarray((rng.integers(0, 65536, (40, 40))).astype(np.uint16)).save(path)
    elif kind == "cmyk":
        path = tmp_path / "cmyk.jpg"
        rgb.convert("CMYK").save(path, "JPEG")
    elif kind == "exif":
        path = tmp_path / "exif.jpg"
        exif = Image.Exif()
        exif[0x0112] = 6
        rgb.save(path, "JPEG", exif=exif.tobytes())
    elif kind == "tiny":
        Image.new("RGB", (3, 2), (200, 10, 10)).save(path)
    elif kind == "not-an-image":
        path.write_text("just some text, not a picture\n")
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "truncated":
        buf = io.BytesIO()
        rgb.resize((200, 200)).save(buf, "PNG")
        path.write_bytes(buf.getvalue()[:-400])
    elif kind == "over-20mp":
        path.write_bytes(_png_header_only(5000, 4001))
    elif kind == "bomb":
        path.write_bytes(_png_header_only(40000, 40000))
    return path


@pytest.mark.parametrize("kind", ["grayscale", "rgba", "palette", "16bit", "cmyk", "exif", "tiny"])
def test_odd_but_valid_images_work(demo_client, tmp_path, kind):
    simplified, corrected, metrics = call(demo_client, _make(tmp_path, kind), 64)
    with Image.open(corrected) as im:
        assert im.size == (64, 64)
    if kind in ("grayscale", "16bit", "cmyk", "exif", "tiny", "rgba"):
        assert metrics["input_notes"], kind


@pytest.mark.parametrize("kind, message", [
    ("not-an-image", "not an image"),
    ("empty", "empty|not an image"),
    ("truncated", "corrupt or truncated|not an image"),
    ("over-20mp", "megapixels"),
    ("bomb", "too large"),
])
def test_bad_files_get_clear_errors(demo_client, tmp_path, kind, message):
    with pytest.raises(Exception, match=message):
        call(demo_client, _make(tmp_path, kind))


@pytest.mark.parametrize("resolution, sigma, message", [
    (1000, 0.0, "Resolution must be"),
    (0, 0.0, "Resolution must be"),
    (100.5, 0.0, "Resolution must be"),
    (64, -0.1, "between 0 and 0.05"),
    (64, 0.9, "between 0 and 0.05"),
])
def test_out_of_range_parameters(demo_client, resolution, sigma, message):
    with pytest.raises(Exception, match=message):
        call(demo_client, cifar_examples()[0], resolution, sigma)


def test_oversized_upload_is_refused_and_server_keeps_serving(demo_client, tmp_path):
    big = tmp_path / "big.png"
    big.write_bytes(os.urandom(11 * 1024 * 1024))
    with pytest.raises(Exception):
        call(demo_client, big)
    # still serving, with a sensible in-range odd size
    *_, metrics = call(demo_client, cifar_examples()[0], 100, 0.05)
    assert metrics["resolution"] == 100


def test_eight_concurrent_clients(demo_server):
    url = demo_server[0]
    images = cifar_examples()[:4] + photo_examples() + cifar_examples()[-1:]
    sizes = [32, 64, 128, 64, 32, 64, 128, 32]

    def one(i):
        client = Client(url, verbose=False)
        return call(client, images[i], sizes[i], 0.01 * (i % 3))

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, range(8)))
    for (simplified, corrected, metrics), size in zip(results, sizes):
        assert metrics["resolution"] == size
        with Image.open(simplified) as im:
            assert im.size == (size, size)


def test_page_run_without_image_says_what_to_do(demo_client):
    """The page's own event answers a user's error in the status box (no pop-up, no error badges)."""
    outputs = demo_client.predict(None, 64, 0.0, 0, "cifar10", 0, api_name="/run")  # the pair choice, a render stamp
    assert any("No image given" in str(value) for value in outputs)


def test_a_users_error_logs_one_line_and_no_traceback(demo_client, tmp_path, capfd, caplog):
    bad = _make(tmp_path, "not-an-image")
    capfd.readouterr()
    with caplog.at_level("INFO", logger="demo"):
        with pytest.raises(Exception, match="not an image"):
            call(demo_client, bad)
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err
    refusals = [r for r in caplog.records if r.name == "demo" and "not an image" in r.getMessage()]
    assert len(refusals) == 1 and str(tmp_path) not in refusals[0].getMessage()


def test_banner_names_sources_and_fallbacks(demo_server):
    from demo.ui import banner_markdown

    engine = demo_server[2]
    text = banner_markdown(engine.models)
    assert "Loaded models" in text and "test PSNR 21.50 dB" in text and "Weights notice" not in text
    lm = engine.models["simplified"]
    lm.messages.append("simplified: could not load `x/y` (--simplified): ConnectionError: unreachable")
    try:
        assert "Weights notice" in banner_markdown(engine.models) and "x/y" in banner_markdown(engine.models)
    finally:
        lm.messages.pop()


def test_an_unknown_endpoint_is_a_404_naming_the_endpoints(demo_server, capfd, caplog):
    """Issue 36, item 4: POST /gradio_api/call/<no such name> → 404 in words, one log line, no traceback."""
    import httpx

    capfd.readouterr()
    with caplog.at_level("INFO", logger="demo"):
        answer = httpx.post(demo_server[0] + "gradio_api/call/nosuch", json={"data": []}, timeout=30)
    assert answer.status_code == 404
    detail = answer.json()["detail"]
    assert "/nosuch" in detail and all(name in detail for name in ("/reconstruct", "/zoom", "/interpolate", "/refine"))
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err
    assert len([r for r in caplog.records if r.name == "demo" and "/nosuch" in r.getMessage()]) == 1


def _raw_call(url, api_name, data):
    """A raw API call (POST, then the event stream) → (event, data) of its last event."""
    import httpx

    event_id = httpx.post(f"{url}gradio_api/call/{api_name}", json={"data": data}, timeout=30).json()["event_id"]
    stream = httpx.get(f"{url}gradio_api/call/{api_name}/{event_id}", timeout=120).text
    events = re.findall(r"event: (\w+)\ndata: (.*)", stream)
    return events[-1][0], json.loads(events[-1][1])


def test_an_unreachable_image_url_is_refused_in_words(demo_server, capfd, caplog):
    """Item 4: an image given by a URL that cannot be fetched → a message saying so (no exception class),
    one log line, no traceback."""
    image = {"url": "http://127.0.0.1:9/cat.png", "path": None, "meta": {"_type": "gradio.FileData"}}
    capfd.readouterr()
    with caplog.at_level("INFO", logger="demo"):
        event, data = _raw_call(demo_server[0], "reconstruct", [image, 64, 0.0])
    message = (data or {}).get("error") or ""
    assert event == "error" and "http://127.0.0.1:9/cat.png could not be fetched" in message, data
    assert not re.search(r"\b[A-Z]\w*(Error|Exception)\b", message)
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err
    assert len([r for r in caplog.records if r.name == "demo" and "could not be fetched" in r.getMessage()]) == 1


def test_no_event_of_the_input_image_cancels_a_reconstruct_click(demo_server):
    """The image box fires "change" again once its picture has loaded in the browser — seconds after an
    example is picked on a busy server — and a change that cancelled the Reconstruct click discarded the
    click's render, so the page kept showing the previous one (test_page_in_real_browser timing out under
    load). Renders are ordered by demo.ui_common.Newest instead; only the first view's render is cancelled."""
    blocks = demo_server[1]
    image = next(b for b in blocks.blocks.values() if getattr(b, "elem_id", None) == "input-image")
    run = next(i for i, fn in blocks.fns.items() if fn.api_name == "run")
    on_image = [fn for fn in blocks.fns.values() if any(t[0] == image._id for t in fn.targets)]
    assert on_image and not [fn for fn in on_image if run in (fn.cancels or [])]
