"""A real browser (Playwright + Debian chromium) drives the live demo page.

Reconstruct: picks an example, changes resolution and σ, runs, waits for both renders and the PSNR
text, clicks pixels and checks the attention plot updates, changes the LP-token view. Zoom: types a
window, renders it, clicks the picker to move it, sees a bad window refused. Walk: picks image B,
walks, gets the strips and the GIF, sees a bad t refused. Screenshots go to the tmp dir and a copy
to <repo>/screenshots/ (git-ignored). Never skipped: a missing
browser is a failure (CI installs chromium; never `playwright install`).
"""
import contextlib
import os
import re
import shutil
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("DEMO_CHROMIUM") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists()
                                                else shutil.which("chromium") or "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
SHOTS = Path(__file__).resolve().parent.parent / "screenshots"
TIMEOUT_MS = int(os.environ.get("DEMO_BROWSER_TIMEOUT_MS", 180_000))  # the CPU is shared with training runs; renders can be slow


def _src(page, selector):
    return page.eval_on_selector(selector, "el => el.getAttribute('src') || ''") if page.locator(selector).count() else ""


def _wait_src_change(page, selector, old):
    page.wait_for_function(
        "([sel, old]) => { const el = document.querySelector(sel); return el && el.src && el.src !== old; }",
        arg=[selector, old], timeout=TIMEOUT_MS)
    return _src(page, selector)


def _set_number(page, elem_id, value):
    """Types into a slider's or number's box (Enter commits it)."""
    box = page.locator(f"{elem_id} input[type=number]")
    box.fill(value)
    box.press("Enter")


def _shot(page, tmp_path, name):
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    try:
        SHOTS.mkdir(exist_ok=True)
        shutil.copy(path, SHOTS / path.name)
    except OSError:
        pass
    return path


@contextlib.contextmanager
def _page(url, tmp_path, viewport=None, is_mobile=False, shot="demo_failure"):
    """A fresh Chromium page on the demo (desktop 1400×1600 unless `viewport`) → (page, JavaScript errors seen);
    a failure leaves a screenshot named `shot`."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"chromium not found at {CHROMIUM}: apt-get install -y chromium (never `playwright install`)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport=viewport or {"width": 1400, "height": 1600}, is_mobile=is_mobile)
            page.set_default_timeout(TIMEOUT_MS)
            errors = []
            page.on("pageerror", lambda err: errors.append(str(err)))
            page.goto(url, wait_until="load")
            page.wait_for_selector("#run")
            try:
                yield page, errors
            except Exception:
                _shot(page, tmp_path, shot)
                raise
        finally:
            browser.close()


def _visible(page, selector):
    return page.locator(selector).count() > 0 and page.locator(selector).first.is_visible()


def _captions_below_renders(page, prefix, rows):
    """Each render's caption is readable: under its image, not overlapping it, with a score in it."""
    for row in rows:
        img = page.locator(f"#{prefix}{row} img").bounding_box()
        cap = page.locator(f"#{prefix.replace('out-', 'cap-') if prefix == 'out-' else prefix + 'cap-'}{row}")
        box = cap.bounding_box()
        assert box["y"] >= img["y"] + img["height"] - 1, (row, img, box)  # below the picture, not over it
        text = cap.inner_text()
        assert ("dB" in text or "reference" in text) and "scored" in text, text


def test_page_in_real_browser(demo_server, demo_weight_dirs, tmp_path):
    with _page(demo_server[0], tmp_path) as (page, errors):
        banner = page.inner_text("#banner")
        assert "Loaded models" in banner and "test PSNR 21.50 dB on the CIFAR-10 test split (lossy JPEG copy" in banner
        assert str(demo_weight_dirs["corrected"].parent) not in banner and "/tmp" not in banner  # no server path

        # pick an example (cat_0001: the 8th CIFAR-10 thumbnail)
        page.locator("#cifar-examples button.gallery-item").nth(7).click()
        page.wait_for_function(
            "() => { const i = document.querySelector('#input-image img'); return i && i.src.includes('cat_0001'); }")

        # resolution 64, σ 0.01
        _set_number(page, "#resolution", "64")
        _set_number(page, "#sigma", "0.01")
        page.locator("#run").click()
        page.wait_for_function(  # each committed value re-renders too: wait for the render of both
            "() => { const m = document.querySelector('#metrics');"
            " return m && m.innerText.includes('64×64') && m.innerText.includes('σ = 0.01')"
            " && m.innerText.includes('dB'); }")
        for row in ("simplified", "corrected"):
            page.wait_for_function(
                f"() => {{ const i = document.querySelector('#out-{row} img');"
                " return i && i.complete && i.naturalWidth === 256; }")
        metrics = page.inner_text("#metrics")
        assert "σ = 0.01" in metrics and "simplified" in metrics and "corrected" in metrics
        _captions_below_renders(page, "out-", ("nearest", "bicubic", "simplified", "corrected"))
        assert not _visible(page, "#zoom-corrected") and not _visible(page, "#walk-corrected")  # this tab's own
        _shot(page, tmp_path, "demo_after_run")

        # the before/after slider: bicubic | corrected, then simplified on the left
        page.wait_for_function("() => document.querySelectorAll('#compare img').length >= 2")
        before = [page.locator("#compare img").nth(i).get_attribute("src") for i in range(2)]
        page.locator("#compare-left input").click()
        page.get_by_role("option", name="simplified", exact=True).click()
        page.wait_for_function(
            "(old) => { const i = document.querySelectorAll('#compare img'); return i.length >= 2 && "
            "i[0].getAttribute('src') !== old; }", arg=before[0])

        # the jitter sweep is drawn when its section is opened
        page.locator("#sigma-box").get_by_text("Jitter robustness").click()
        page.wait_for_selector("#sigma-plot img")

        # click two pixels of the corrected render: the attention plot appears right under the renders
        render = page.locator("#out-corrected img")
        box = render.bounding_box()
        render.click(position={"x": box["width"] * 0.25, "y": box["height"] * 0.75})
        page.wait_for_function(
            "() => document.querySelector('#pixel-text').innerText.includes('Pixel (x=')")
        page.wait_for_selector("#pixel-plot img")
        plot_box, box = page.locator("#pixel-plot img").bounding_box(), render.bounding_box()  # same scroll
        assert 0 < plot_box["y"] - (box["y"] + box["height"]) < 400  # next to the render that was clicked
        first_text, first_plot = page.inner_text("#pixel-text"), _src(page, "#pixel-plot img")
        other = page.locator("#out-simplified img")
        obox = other.bounding_box()  # away from the corner buttons
        other.click(position={"x": obox["width"] * 0.6, "y": obox["height"] * 0.4})
        _wait_src_change(page, "#pixel-plot img", first_plot)
        assert page.inner_text("#pixel-text") != first_text
        _shot(page, tmp_path, "demo_pixel_attention")

        # LP-token view (opened on demand): switch model, then move the token slider
        page.locator("#token-box").get_by_text("Where each LP token").click()
        page.wait_for_selector("#token-plot img")
        token_plot = _src(page, "#token-plot img")
        page.locator("#token-model").get_by_text("simplified", exact=True).click()
        token_plot = _wait_src_change(page, "#token-plot img", token_plot)
        slider = page.locator("#token input[type=range]")
        slider.fill("3")
        slider.dispatch_event("pointerup")
        slider.dispatch_event("change")
        _wait_src_change(page, "#token-plot img", token_plot)
        _shot(page, tmp_path, "demo_token_map")

        # Refine: a few steps on the tiny models, then the refined panels, the curve and the time
        _set_number(page, "#refine-steps", "5")
        page.locator("#refine-run").click()
        _wait_text(page, "#refine-info", "Refined", "simplified 5 steps", "corrected 5 steps")
        page.wait_for_selector("#out-corrected_refined img")
        page.wait_for_selector("#refine-curve img")
        assert "corrected, refined" in page.inner_text("#metrics")
        _captions_below_renders(page, "out-", ("simplified_refined", "corrected_refined"))
        _shot(page, tmp_path, "demo_refined")
        # Zoom decodes the refined latents of this image, and says so
        page.get_by_role("tab", name="Zoom").click()
        assert not _visible(page, "#out-corrected") and not _visible(page, "#pixel-plot")  # Reconstruct's panels
        page.locator("#zoom-run").click()
        _wait_text(page, "#zoom-metrics", "refined latents")
        page.get_by_role("tab", name="Reconstruct").click()

        # Cancel: a long refinement stops at the next step; what is done is kept; the server keeps serving
        _set_number(page, "#refine-steps", "1000")
        page.locator("#refine-run").click()
        page.wait_for_function("() => /refining: simplified step/.test(document.body.innerText)")
        page.locator("#refine-cancel").click()
        page.wait_for_function("() => /ancelled|corrected 1000 steps/.test("
                               "document.querySelector('#refine-info').innerText)", timeout=TIMEOUT_MS)
        info = page.inner_text("#refine-info")
        assert "ancelled" in info, f"the refinement ran to its end: {info}"
        page.locator("#run").click()
        page.wait_for_function("() => document.querySelector('#pixel-text').innerText.includes('Click a pixel')")

        # "Random test image" loads a shipped image and reconstructs it
        page.locator("#random").click()
        page.wait_for_function(
            "() => document.querySelector('#metrics').innerText.includes('64×64')")

        # a high-resolution photo at 256: scored against the photo itself (true super-resolution)
        page.locator("#photo-examples button.gallery-item").nth(0).click()
        page.wait_for_function(
            "() => { const i = document.querySelector('#input-image img'); return i && i.src.includes('astronaut'); }")
        _set_number(page, "#resolution", "256")
        page.locator("#run").click()
        page.wait_for_function(
            "() => { const m = document.querySelector('#metrics').innerText;"
            " return m.includes('256×256') && m.includes('uploaded photo'); }")
        _captions_below_renders(page, "out-", ("nearest", "bicubic", "simplified", "corrected"))
        _shot(page, tmp_path, "demo_photo_256")
        assert not errors, errors


def test_bad_input_is_refused_where_it_is_typed_or_uploaded(demo_server, tmp_path):
    with _page(demo_server[0], tmp_path) as (page, errors):
        server_errors = []
        page.on("response", lambda r: server_errors.append(f"{r.status} {r.url}") if r.status >= 500 else None)
        bad = tmp_path / "x.jpg"
        bad.write_text("just text, not a picture\n")
        page.locator("#input-image input[type=file]").set_input_files(str(bad))
        _wait_text(page, "#status", "x.jpg", "not an image")
        page.wait_for_timeout(11_000)  # longer than a pop-up stays: the message stays until the next action
        assert "not an image" in page.inner_text("#status")
        assert str(tmp_path) not in page.inner_text("#status")
        _shot(page, tmp_path, "demo_bad_upload")

        page.locator("#cifar-examples button.gallery-item").nth(0).click()
        _set_number(page, "#resolution", "1000")  # refused visibly, not clamped
        _wait_text(page, "#status", "Resolution must be a whole number of pixels from 32 to 512")
        assert page.locator("#resolution input").input_value() == "1000"
        _set_number(page, "#resolution", "64")
        page.wait_for_function("() => !document.querySelector('#status').innerText.includes('Resolution')")
        _set_number(page, "#sigma", "0.5")
        _wait_text(page, "#rec-status", "σ (jitter) must be between 0 and 0.05")
        page.locator("#run").click()
        _wait_text(page, "#rec-status", "σ (jitter) must be between 0 and 0.05")
        _set_number(page, "#refine-steps", "5000")
        _wait_text(page, "#refine-status", "Refinement steps must be a whole number from 0 to 1000")
        _beside(page, "#refine-status", "#refine-steps")
        page.get_by_role("tab", name="Zoom").click()  # the picker redraws from the refused upload: no HTTP 500
        page.locator("#input-image input[type=file]").set_input_files(str(bad))
        _wait_text(page, "#status", "x.jpg", "not an image")
        page.wait_for_timeout(1_000)
        _shot(page, tmp_path, "demo_bad_values")
        assert not errors, errors
        assert not server_errors, server_errors


def _beside(page, message, control, within=160):
    """The message is in the viewport, within `within` px below (or beside) its control."""
    page.locator(control).scroll_into_view_if_needed()
    m, c = page.locator(message).bounding_box(), page.locator(control).bounding_box()
    height = page.viewport_size["height"]
    assert 0 <= m["y"] and m["y"] + m["height"] <= height, (m, height)  # inside the viewport
    assert -within < m["y"] - (c["y"] + c["height"]) < within, (m, c)  # right under or beside its control


def _wait_text(page, elem_id, *parts):
    js = "([sel, parts]) => { const el = document.querySelector(sel); " \
         "return el && parts.every(p => el.innerText.includes(p)); }"
    page.wait_for_function(js, arg=[elem_id, list(parts)], timeout=TIMEOUT_MS)
    return page.inner_text(elem_id)


def _click_at(page, selector, fx, fy):
    """Clicks an <img> at a fraction (fx, fy) of the picture drawn in it (object-fit: contain aware)."""
    box = page.eval_on_selector(selector, """el => { const r = el.getBoundingClientRect();
        const s = Math.min(r.width / el.naturalWidth, r.height / el.naturalHeight);
        const w = el.naturalWidth * s, h = el.naturalHeight * s;
        return {x: (r.width - w) / 2, y: (r.height - h) / 2, w: w, h: h}; }""")
    page.locator(selector).click(position={"x": box["x"] + fx * box["w"], "y": box["y"] + fy * box["h"]})


def _wait_width(page, selector, width):
    page.wait_for_function(
        "([sel, w]) => { const i = document.querySelector(sel); return i && i.complete && i.naturalWidth === w; }",
        arg=[selector, width], timeout=TIMEOUT_MS)


def test_zoom_and_walk_in_real_browser(demo_server, tmp_path):
    with _page(demo_server[0], tmp_path) as (page, errors):
        _set_number(page, "#resolution", "96")

        # Zoom: type a window, render it (96² shown ×2), then click the picker to centre it elsewhere
        page.get_by_role("tab", name="Zoom").click()
        page.wait_for_selector("#zoom-picker img")
        for elem_id, value in (("#zoom-y", "4"), ("#zoom-x", "20"), ("#zoom-size", "8")):
            page.locator(f"{elem_id} input").fill(value)
        page.locator("#zoom-run").click()
        _wait_text(page, "#zoom-metrics", "window y 4–12, x 20–28", "96×96", "dB", "96→8")
        for row in ("bicubic", "simplified", "corrected"):
            _wait_width(page, f"#zoom-{row} img", 192)
        _captions_below_renders(page, "zoom-", ("nearest", "bicubic", "simplified", "corrected"))
        assert not _visible(page, "#out-corrected") and not _visible(page, "#sigma-box")  # Reconstruct's own
        _shot(page, tmp_path, "demo_zoom")

        _click_at(page, "#zoom-picker img", 0.25, 0.75)  # centre ≈ (y 24, x 8), at the clicked picker pixel
        # the corner is continuous: the centre of the clicked 1/8-input-pixel, e.g. y 19.94 or 20.06
        page.wait_for_function(
            "() => { const m = /window y ([0-9.]+)–[0-9.]+, x ([0-9.]+)/.exec("
            "document.querySelector('#zoom-metrics').innerText);"
            " return m && Math.abs(m[1] - 20) < 0.2 && Math.abs(m[2] - 4) < 0.2; }", timeout=TIMEOUT_MS)
        text = page.inner_text("#zoom-metrics")
        assert "(8 px wide)" in text
        assert abs(float(page.locator("#zoom-y input").input_value()) - 20) < 0.2
        _shot(page, tmp_path, "demo_zoom_click")

        page.locator("#zoom-size input").fill("0")
        page.locator("#zoom-run").click()
        page.get_by_text("Window size must be from 1 to 32").first.wait_for()
        _shot(page, tmp_path, "demo_zoom_bad_window")

        # Walk: image B = the astronaut photo, five t values, strips and a GIF
        page.get_by_role("tab", name="Walk").click()
        page.locator("#walk-examples button.gallery-item").nth(20).click()
        page.wait_for_function(
            "() => { const i = document.querySelector('#walk-image-b img'); return i && i.src.includes('astronaut'); }")
        b_box = page.locator("#walk-image-b img").bounding_box()
        assert min(b_box["width"], b_box["height"]) >= 150, b_box  # a proper size, not a thumbnail
        page.locator("#walk-run").click()
        _wait_text(page, "#walk-info", "Walk at 96×96", "t = 0, 0.25, 0.5, 0.75, 1")
        for row in ("crossfade", "simplified", "corrected"):
            _wait_width(page, f"#walk-{row} img", 5 * 96 + 4 * 4)
        page.wait_for_function(
            "() => { const f = document.querySelector('#walk-animation'); return f && (f.innerText.includes('.gif')"
            " || [...f.querySelectorAll('a')].some(a => (a.href || '').includes('.gif'))); }")
        _shot(page, tmp_path, "demo_walk")

        page.locator("#walk-t textarea, #walk-t input").first.fill("0, 2")
        page.locator("#walk-run").click()
        page.get_by_text("t must be between 0 and 1").first.wait_for()
        _shot(page, tmp_path, "demo_walk_bad_t")
        assert not errors, errors


ROWS = ("nearest", "bicubic", "simplified", "corrected")
PROGRESS = ".progress-text, .progress-bar, .eta-bar, .progress-level"


def _rendered(page, row):
    return page.evaluate("(r) => { const i = document.querySelector('#out-' + r + ' img');"
                         " return !!(i && i.complete && i.naturalWidth > 0); }", row)


def _kept_psnr(info):
    """'Kept: simplified step 3 (12.34 dB …), corrected step 5 (…)' → {model: dB}."""
    return {m: float(v) for m, v in re.findall(r"(simplified|corrected) step \d+ \(([0-9.]+) dB", info)}


def _progress_owners(page):
    return page.evaluate("(sel) => [...document.querySelectorAll(sel)].filter(e => e.offsetParent !== null)"
                         ".map(e => (e.closest('[id]') || {}).id)", PROGRESS)


def _greyed(page, elem_id):
    """The block shows Gradio's pending overlay (or is faded) while an event runs."""
    return page.evaluate("(id) => { const el = document.getElementById(id); if (!el) return false;"
                         " const wrap = el.querySelector(':scope > .wrap:not(.hide)');"
                         " return !!(wrap && (wrap.classList.contains('translucent') || wrap.classList.contains('generating')"
                         " || wrap.querySelector('.progress-text, .eta-bar'))) || getComputedStyle(el).opacity < 0.99; }",
                         elem_id)


def test_first_view_refine_cancel_and_a_new_input(demo_server, tmp_path):
    with _page(demo_server[0], tmp_path) as (page, errors):
        # the first view: the preloaded example already reconstructed, four rendered images
        for row in ROWS:
            page.wait_for_function("(r) => { const i = document.querySelector('#out-' + r + ' img');"
                                   " return i && i.complete && i.naturalWidth > 0; }", arg=row)
        assert "dB" in page.inner_text("#metrics")
        # the before/after slider spans its picture only: no empty margin for the handle to go into
        page.wait_for_selector("#compare img")
        box = page.locator("#compare img").first.bounding_box()
        assert abs(box["width"] - box["height"]) <= 2, box

        # a finished refinement first
        _set_number(page, "#refine-steps", "30")
        page.locator("#refine-run").click()
        earlier = _kept_psnr(_wait_text(page, "#refine-info", "simplified 30 steps", "corrected 30 steps"))
        assert set(earlier) == {"simplified", "corrected"}

        # a long one: both models at once, one progress element, the one-pass panels not greyed
        _set_number(page, "#refine-steps", "1000")
        page.locator("#refine-run").click()
        page.wait_for_function("() => /refining: simplified step [1-9]\\d*\\/1000.*corrected step [1-9]/"
                               ".test(document.body.innerText)")
        owners = _progress_owners(page)
        assert set(owners) == {"refine-info"}, owners  # one indicator for the whole refinement, under the button
        for elem_id in ("out-corrected", "out-simplified", "metrics", "cap-corrected"):
            assert not _greyed(page, elem_id), elem_id
        _shot(page, tmp_path, "demo_refining")
        page.locator("#refine-cancel").click()
        page.wait_for_function("() => /ancelled/.test(document.querySelector('#refine-info').innerText)")
        info = page.inner_text("#refine-info")
        this_run = info.split("Kept:")[0]  # a model that kept the earlier, better refinement has no steps here
        done = {m: int(n) for m, n in re.findall(r"(simplified|corrected) (\d+) steps", this_run)}
        kept_part = info.split("Kept:", 1)[1]
        for model in ("simplified", "corrected"):  # this run's steps, or the earlier run it kept, named as such
            assert done.get(model, 0) > 0 or re.search(rf"{model} step \d+ \([^)]*\), from the earlier refinement",
                                                       kept_part), info
        kept = _kept_psnr(info)
        for model in ("simplified", "corrected"):
            assert kept[model] >= earlier[model] - 0.01, (kept, earlier)  # never worse than the earlier result
        assert "corrected, refined" in page.inner_text("#metrics")

        # a new input: the refined panels, the curve and the refined rows go; the new image is reconstructed
        old = _src(page, "#out-corrected img")
        page.locator("#cifar-examples button.gallery-item").nth(3).click()
        _wait_src_change(page, "#out-corrected img", old)
        page.wait_for_function("() => !document.querySelector('#refine-info').innerText.trim()")
        assert not page.locator("#out-corrected_refined img").count()
        assert "refined" not in page.inner_text("#metrics")
        assert all(_rendered(page, row) for row in ROWS)
        assert not errors, errors


def _words_broken(page, selector):
    """Words of the cells under `selector` drawn on more than one line (from their glyphs' boxes). A break
    after a hyphen or a slash ("CIFAR-/10") is a line break between words, not inside one."""
    return page.evaluate("""(sel) => {
        const broken = [];
        for (const cell of document.querySelectorAll(sel)) {
            const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
            for (let node = walker.nextNode(); node; node = walker.nextNode()) {
                const re = /[^\\s\\-\u2010\u2013\u2014\\/]+/g; let m;
                while ((m = re.exec(node.data))) {
                    const range = document.createRange();
                    range.setStart(node, m.index); range.setEnd(node, m.index + m[0].length);
                    const tops = new Set([...range.getClientRects()].filter(r => r.width > 0).map(r => Math.round(r.top)));
                    if (tops.size > 1) broken.push(m[0]);
                }
            }
        }
        return broken; }""", selector)


def test_links_and_the_claims_table_on_a_phone(demo_server, tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(demo_server[0], wait_until="load")
            page.wait_for_selector("#claims table")
            assert page.locator("#tabs button[role=tab]", has_text="Walk").is_visible()  # no "•••" overflow
            for picker in ("#compare-left", "#compare-right"):  # wide enough for "corrected, refined"
                page.locator(picker).scroll_into_view_if_needed()
                width = page.evaluate("(sel) => document.querySelector(sel + ' input').clientWidth", picker)
                needed = page.evaluate("""(sel) => { const i = document.querySelector(sel + ' input');
                    const c = document.createElement('canvas').getContext('2d'); c.font = getComputedStyle(i).font;
                    return c.measureText('corrected, refined').width; }""", picker)
                assert width >= needed, (picker, width, needed)
            broken = _words_broken(page, "#claims td, #claims th")
            assert not broken, broken
            assert "🟡" not in page.inner_text("#claims") and "no GPU lent" not in page.inner_text("#claims")
            _shot(page, tmp_path, "demo_phone_claims")

            # the banner's model-card link opens the card and shows it
            page.locator("#banner a", has_text="model card").nth(1).click()
            page.wait_for_function("() => { const t = document.querySelector('#card-corrected-text');"
                                   " if (!t || t.offsetParent === null) return false;"
                                   " const r = t.getBoundingClientRect(); return r.top < innerHeight && r.bottom > 0; }")
            # "How to read this page" is reachable from the top
            page.evaluate("window.scrollTo(0, 0)")
            page.locator("#intro a", has_text="How to read this page").click()
            page.wait_for_function("() => { const el = document.querySelector('#how-to-read');"
                                   " return el && el.innerText.includes('Why the simplified panel is noise'); }")
        finally:
            browser.close()
