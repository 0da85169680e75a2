"""A real browser (Playwright + Debian chromium) on the live demo: what the page does with its inputs —
the clicked pixel and its spatial-bias row, refused uploads, an animated GIF, typed settings, and where
the examples sit (issue 36, items 1, 2, 5, 6, 9). Helpers and the browser set-up: test_browser_demo."""
import io
import re

import numpy as np
from PIL import Image

from tests.test_browser_demo import _beside, _click_at, _page, _shot, _wait_text

FIRST = 128  # the page opens with the preloaded example at this resolution
ROWS = ("nearest", "bicubic", "simplified", "corrected")


def _png(page, selector):
    """The picture an <img> shows, fetched as the browser would → (H, W, 3) uint8."""
    src = page.eval_on_selector(selector, "el => el.src")
    with Image.open(io.BytesIO(page.request.get(src).body())) as im:
        return np.asarray(im.convert("RGB"))


def _wait_first_view(page):
    page.wait_for_function("() => { const i = document.querySelector('#out-corrected img');"
                           " return i && i.complete && i.naturalWidth > 0"
                           " && document.querySelector('#metrics').innerText.includes('dB'); }")


def _panels(page):
    """Everything a refused input must leave alone: the input, the four renders, captions and scores."""
    srcs = {sel: page.eval_on_selector(sel, "el => el.getAttribute('src')")
            for sel in ["#input-image img", *(f"#out-{row} img" for row in ROWS)]}
    texts = {sel: page.inner_text(sel) for sel in ["#metrics", *(f"#cap-{row}" for row in ROWS)]}
    return srcs, texts


def _refusals(caplog, text):
    return [r for r in caplog.records if r.name == "demo" and text in r.getMessage()]


def test_the_clicked_pixel_is_the_highlighted_bias_query(demo_server, tmp_path):
    """Item 1: a click at (y, x) ≈ (0.90, 0.53) of the corrected render highlights that pixel's own row of
    the spatial-bias map (query raster index), not the index of its most-attended LP token."""
    from demo.service import Service

    service = Service(demo_server[2])
    grid = demo_server[2].model("corrected").config.image_size  # the query raster of the bias map
    with _page(demo_server[0], tmp_path) as (page, errors):
        _wait_first_view(page)
        _click_at(page, "#out-corrected img", 0.53, 0.90)
        text = _wait_text(page, "#pixel-text", "Pixel (x=")
        page.wait_for_selector("#bias-plot img")
        x, y, size = map(int, re.search(r"Pixel \(x=(\d+), y=(\d+)\) of the (\d+)×", text).groups())
        assert size == FIRST and abs(x - 0.53 * size) <= 2 and abs(y - 0.90 * size) <= 2, text
        query = (y * grid // size) * grid + x * grid // size  # ≈ 0.90·32 rows down, 0.53·32 across: 913
        assert abs(query - (int(0.90 * grid) * grid + int(0.53 * grid))) <= grid + 1
        shown = _png(page, "#bias-plot img")
        assert np.array_equal(shown, service.bias_plot(query)), "the highlighted row is not the clicked pixel's"
        assert f"query {query} of the {grid}×{grid} raster" in text
        _shot(page, tmp_path, "demo_bias_query")
        assert not errors, errors


def test_a_refused_upload_leaves_the_page_as_it_was(demo_server, tmp_path, caplog):
    """Item 2: an unreadable file and a file over the size limit are each refused once, beside the upload
    control (no pop-up); the previous input and every panel stay as they were, and a refinement started
    then is not stopped by the image being put back. Item 9: an animated GIF is shown as the first frame
    the models use."""
    not_image = tmp_path / "notes.png"
    not_image.write_text("just text, renamed .png\n")
    too_big = tmp_path / "huge.png"
    too_big.write_bytes(np.random.default_rng(0).integers(0, 256, 11 * 2**20, dtype=np.uint8).tobytes())
    frames = [Image.new("RGB", (40, 40), colour) for colour in ((200, 30, 30), (30, 30, 200), (30, 200, 30))]
    gif = tmp_path / "blink.gif"
    frames[0].save(gif, save_all=True, append_images=frames[1:], duration=100, loop=0)

    with caplog.at_level("INFO", logger="demo"), _page(demo_server[0], tmp_path) as (page, errors):
        _wait_first_view(page)
        before = _panels(page)
        upload = page.locator("#input-image input[type=file]")
        for path, message in ((not_image, "not an image the demo can read"),
                              (too_big, "The file is 11.0 MB; the limit is 10 MB")):
            upload.set_input_files(str(path))
            _wait_text(page, "#status", path.name, message)
            page.wait_for_timeout(3_000)  # any clearing or re-render would have happened by now
            assert _panels(page) == before, path.name
            assert page.locator(".toast-body").count() == 0  # no pop-up: the message is beside the control
            assert page.inner_text("body").count(message) == 1
            _beside(page, "#status", "#input-image", within=40)
            assert len(_refusals(caplog, message)) == 1, [r.getMessage() for r in caplog.records]
        _shot(page, tmp_path, "demo_refused_upload")
        steps = page.locator("#refine-steps input")  # the input box's image put back stops no refinement
        steps.fill("30")
        steps.press("Enter")
        page.locator("#refine-run").click()
        info = _wait_text(page, "#refine-info", "Refined")
        assert "simplified 30 steps" in info and "ancelled" not in info, info

        upload.set_input_files(str(gif))
        page.wait_for_function("() => { const i = document.querySelector('#input-image img');"
                               " return i && /first-frame/.test(i.src); }")
        shown = _png(page, "#input-image img")
        assert shown.shape == (40, 40, 3) and (shown == (200, 30, 30)).all()  # the still first frame
        _wait_text(page, "#notes", "first frame")
        assert not errors, errors


def test_settings_rerender_without_a_click_and_a_refusal_is_said_once(demo_server, tmp_path, caplog):
    """Item 5: a new output resolution or σ re-renders the panels when it is committed (Enter, or leaving
    the box); a refused value is said beside its box, logged once, and the panels stay."""
    with caplog.at_level("INFO", logger="demo"), _page(demo_server[0], tmp_path) as (page, errors):
        _wait_first_view(page)
        box = page.locator("#resolution input")
        box.fill("64")
        box.press("Enter")
        _wait_text(page, "#metrics", "Scores at 64×64")
        page.wait_for_function("() => document.querySelector('#out-corrected img').naturalWidth === 256")
        sigma = page.locator("#sigma input")
        sigma.fill("0.01")
        page.locator("#seed input").click()  # leaving the box commits it
        _wait_text(page, "#metrics", "σ = 0.01")
        before = _panels(page)
        box.fill("1000")
        box.press("Enter")
        message = "Resolution must be a whole number of pixels from 32 to 512"
        _wait_text(page, "#status", message)
        page.locator("#seed input").click()  # Enter, then leaving the box: still one refusal
        page.wait_for_timeout(2_000)
        assert _panels(page) == before
        assert len(_refusals(caplog, message)) == 1, [r.getMessage() for r in caplog.records]
        _beside(page, "#status", "#input-image", within=40)
        assert not errors, errors


def test_the_examples_sit_right_under_the_input(demo_server, tmp_path):
    """Item 6: the examples the input's label points to ("an example below") are right under the input,
    in the first screen at 1400×900, and before the tabs on a phone."""
    from playwright.sync_api import sync_playwright

    from tests.test_browser_demo import ARGS, CHROMIUM

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            for name, viewport in (("desktop", {"width": 1400, "height": 900}), ("phone", {"width": 390, "height": 844})):
                page = browser.new_page(viewport=viewport, is_mobile=name == "phone")
                page.goto(demo_server[0], wait_until="load")
                page.wait_for_selector("#cifar-examples button.gallery-item")
                image = page.locator("#input-image").bounding_box()
                examples = page.locator("#cifar-examples").bounding_box()
                first = page.locator("#cifar-examples button.gallery-item").first.bounding_box()
                assert 0 <= examples["y"] - (image["y"] + image["height"]) < 60, (name, image, examples)
                if name == "desktop":
                    assert first["y"] + first["height"] <= viewport["height"], first  # seen without scrolling
                else:
                    tabs = page.locator("#tabs").bounding_box()
                    assert examples["y"] + examples["height"] < tabs["y"], (examples, tabs)
                _shot(page, tmp_path, f"demo_examples_{name}")
                page.close()
        finally:
            browser.close()
