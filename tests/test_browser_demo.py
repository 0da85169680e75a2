"""A real browser (Playwright + Debian chromium) drives the live demo page.

Picks an example, changes resolution and σ, runs, waits for both renders and the PSNR text,
clicks pixels and checks the attention plot updates, changes the LP-token view, and saves
screenshots (tmp dir + a copy in <repo>/screenshots/, git-ignored). Never skipped: a missing
browser is a failure (CI installs chromium; never `playwright install`).
"""
import os
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


def _shot(page, tmp_path, name):
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    try:
        SHOTS.mkdir(exist_ok=True)
        shutil.copy(path, SHOTS / path.name)
    except OSError:
        pass
    return path


def test_page_in_real_browser(demo_server, tmp_path):
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"chromium not found at {CHROMIUM}: apt-get install -y chromium (never `playwright install`)")
    url = demo_server[0]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1600})
            page.set_default_timeout(TIMEOUT_MS)
            errors = []
            page.on("pageerror", lambda err: errors.append(str(err)))
            page.goto(url, wait_until="load")
            page.wait_for_selector("#run")
            assert "Loaded models" in page.inner_text("#banner")

            # pick an example (cat_0001: the 8th CIFAR-10 thumbnail)
            page.locator("#cifar-examples button.gallery-item").nth(7).click()
            page.wait_for_function(
                "() => { const i = document.querySelector('#input-image img'); return i && i.src.includes('cat_0001'); }")

            # resolution 64, σ 0.01
            page.locator("#resolution").get_by_text("64", exact=True).click()
            sigma = page.locator("#sigma input[type=number]")
            sigma.fill("0.01")
            sigma.press("Enter")
            page.locator("#run").click()
            page.wait_for_function(
                "() => { const m = document.querySelector('#metrics');"
                " return m && m.innerText.includes('64×64') && m.innerText.includes('dB'); }")
            for row in ("simplified", "corrected"):
                page.wait_for_function(
                    f"() => {{ const i = document.querySelector('#out-{row} img');"
                    " return i && i.complete && i.naturalWidth === 256; }")
            metrics = page.inner_text("#metrics")
            assert "σ = 0.01" in metrics and "simplified" in metrics and "corrected" in metrics
            page.wait_for_selector("#sigma-plot img")
            _shot(page, tmp_path, "demo_after_run")

            # click two pixels of the corrected render: the attention plot appears, then changes
            render = page.locator("#out-corrected img")
            box = render.bounding_box()
            render.click(position={"x": box["width"] * 0.25, "y": box["height"] * 0.75})
            page.wait_for_function(
                "() => document.querySelector('#pixel-text').innerText.includes('Pixel (x=')")
            page.wait_for_selector("#pixel-plot img")
            first_text, first_plot = page.inner_text("#pixel-text"), _src(page, "#pixel-plot img")
            other = page.locator("#out-simplified img")
            obox = other.bounding_box()  # away from the corner buttons
            other.click(position={"x": obox["width"] * 0.6, "y": obox["height"] * 0.4})
            _wait_src_change(page, "#pixel-plot img", first_plot)
            assert page.inner_text("#pixel-text") != first_text
            _shot(page, tmp_path, "demo_pixel_attention")

            # LP-token view: switch model, then move the token slider
            token_plot = _src(page, "#token-plot img")
            page.locator("#token-model").get_by_text("simplified", exact=True).click()
            token_plot = _wait_src_change(page, "#token-plot img", token_plot)
            slider = page.locator("#token input[type=range]")
            slider.fill("3")
            slider.dispatch_event("pointerup")
            slider.dispatch_event("change")
            _wait_src_change(page, "#token-plot img", token_plot)
            _shot(page, tmp_path, "demo_token_map")

            # "Random test image" loads a shipped image and reconstructs it (the run clears the pixel text)
            page.locator("#random").click()
            page.wait_for_function("() => document.querySelector('#pixel-text').innerText.trim() === ''")
            page.wait_for_function(
                "() => document.querySelector('#metrics').innerText.includes('64×64')")

            # a high-resolution photo at 256: scored against the photo itself (true super-resolution)
            page.locator("#photo-examples button.gallery-item").nth(0).click()
            page.wait_for_function(
                "() => { const i = document.querySelector('#input-image img'); return i && i.src.includes('astronaut'); }")
            page.locator("#resolution").get_by_text("256", exact=True).click()
            page.locator("#run").click()
            page.wait_for_function(
                "() => { const m = document.querySelector('#metrics').innerText;"
                " return m.includes('256×256') && m.includes('uploaded photo'); }")
            _shot(page, tmp_path, "demo_photo_256")
            assert not errors, errors
        except Exception:
            _shot(page, tmp_path, "demo_failure")
            raise
        finally:
            browser.close()
