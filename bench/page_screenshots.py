"""Screenshots of a running demo page for docs/screenshots/ (Debian's chromium through Playwright).

    python app.py --port 7871 &
    python -m bench.page_screenshots http://127.0.0.1:7871/ --prefix after

Desktop 1400×900: the first view, a clicked pixel with its spatial-bias row, a refused upload, Refine
while it runs and after it; phone 390×844: the first view, the panels, Refine while it runs, a Walk,
the corrected model card and the claims table. Viewport-sized PNGs (not whole pages), so the files
stay small.

    python app.py --port 7871 --photos64-simplified DIR --photos64-corrected DIR &
    python -m bench.page_screenshots http://127.0.0.1:7871/ --prefix issue37_pairs --pairs

--pairs (a server offering the photo pair): desktop 1400×900 only — the CIFAR-10 pair at 256² with its
measured figures under the scores, the photo pair just chosen (the note, the kept input, the captions), and
its Zoom tab.
"""
import argparse
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
OUT = Path(__file__).resolve().parent.parent / "docs" / "screenshots"


def desktop(browser, url, prefix, steps):
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.set_default_timeout(300_000)
    page.goto(url, wait_until="load")
    page.wait_for_selector("#run")
    page.wait_for_timeout(8_000)  # a first view computed at start-up shows at once; give a demo.load time
    page.screenshot(path=str(OUT / f"{prefix}_desktop_first_view.png"))
    render = page.locator("#out-corrected img")
    size = render.bounding_box()
    render.click(position={"x": size["width"] * 0.53, "y": size["height"] * 0.90})
    page.wait_for_selector("#bias-plot img")
    page.wait_for_timeout(1_000)
    page.evaluate("document.querySelector('#attention-row').scrollIntoView({block: 'center'})")
    page.screenshot(path=str(OUT / f"{prefix}_desktop_bias_click.png"))
    with tempfile.NamedTemporaryFile(suffix=".png") as not_image:
        not_image.write(b"just text, renamed .png\n")
        not_image.flush()
        page.locator("#input-image input[type=file]").set_input_files(not_image.name)
        page.wait_for_function("() => /not an image/.test(document.querySelector('#status').innerText)")
    page.wait_for_timeout(2_000)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(OUT / f"{prefix}_desktop_refused_upload.png"))
    box = page.locator("#refine-steps input")
    box.fill(str(steps))
    box.press("Enter")
    page.locator("#refine-run").click()
    page.wait_for_timeout(3_000)
    page.evaluate("document.querySelector('#refine-curve').scrollIntoView({block: 'end'})")
    page.screenshot(path=str(OUT / f"{prefix}_desktop_refining.png"))
    page.wait_for_function("() => /Refined/.test(document.querySelector('#refine-info').innerText)")
    page.locator("#refine-info").scroll_into_view_if_needed()
    page.screenshot(path=str(OUT / f"{prefix}_desktop_refined.png"))
    page.close()


def phone(browser, url, prefix):
    page = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=1, is_mobile=True)
    page.set_default_timeout(300_000)
    page.goto(url, wait_until="load")
    page.wait_for_selector("#run")
    page.wait_for_timeout(8_000)
    page.screenshot(path=str(OUT / f"{prefix}_phone_first_view.png"))
    page.locator("#out-nearest").scroll_into_view_if_needed()
    page.screenshot(path=str(OUT / f"{prefix}_phone_panels.png"))
    box = page.locator("#refine-steps input")
    box.fill("1000")
    box.press("Enter")
    page.locator("#refine-run").click()
    page.wait_for_function("() => /refining: simplified step/.test(document.body.innerText)")
    page.evaluate("document.querySelector('#refine-run').scrollIntoView({block: 'center'})")
    page.screenshot(path=str(OUT / f"{prefix}_phone_refining.png"))
    page.locator("#refine-cancel").click()
    page.wait_for_function("() => /ancelled/.test(document.querySelector('#refine-info').innerText)")
    page.get_by_role("tab", name="Walk").click()
    page.locator("#walk-run").click()
    page.wait_for_function("() => /Walk at/.test(document.querySelector('#walk-info').innerText)")
    page.wait_for_timeout(2_000)
    page.evaluate("document.querySelector('#walk-label-simplified').scrollIntoView({block: 'start'})")
    page.screenshot(path=str(OUT / f"{prefix}_phone_walk.png"))
    page.evaluate("window.scrollTo(0, 0)")
    page.locator("#banner a", has_text="model card").nth(1).click()
    page.wait_for_timeout(1_500)
    page.evaluate("document.querySelector('#card-corrected-text table').scrollIntoView({block: 'center'})")
    page.screenshot(path=str(OUT / f"{prefix}_phone_card.png"))
    if page.locator("#claims").count():
        page.locator("#claims").scroll_into_view_if_needed()
        page.evaluate("document.querySelectorAll('#claims tr')[4].scrollIntoView({block: 'start'})")
        page.screenshot(path=str(OUT / f"{prefix}_phone_claims.png"))
    page.close()


def pairs(browser, url, prefix):
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.set_default_timeout(300_000)
    page.goto(url, wait_until="load")
    page.wait_for_selector("#run")
    page.wait_for_function("() => /dB/.test(document.querySelector('#metrics').innerText)")
    box = page.locator("#resolution input")
    box.fill("256")
    box.press("Enter")
    page.wait_for_function("() => /Scores at 256×256/.test(document.querySelector('#metrics').innerText)")
    page.wait_for_timeout(1_500)
    page.evaluate("document.querySelector('#out-bicubic').scrollIntoView({block: 'start'})")
    page.evaluate("window.scrollBy(0, -20)")
    page.screenshot(path=str(OUT / f"{prefix}_cifar_figures.png"))
    page.evaluate("window.scrollTo(0, 0)")
    page.locator("#pair").get_by_text("Photos").click()
    page.wait_for_function("() => /Photos/.test(document.querySelector('#metrics').innerText)")
    page.wait_for_timeout(2_000)
    page.screenshot(path=str(OUT / f"{prefix}_photos_chosen.png"))
    page.get_by_role("tab", name="Zoom").click()
    page.locator("#zoom-run").click()
    page.wait_for_function("() => /dB/.test(document.querySelector('#zoom-metrics').innerText)")
    page.wait_for_timeout(1_500)
    page.evaluate("document.querySelector('#zoom-help').scrollIntoView({block: 'start'})")
    page.screenshot(path=str(OUT / f"{prefix}_photos_zoom.png"))
    page.close()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--prefix", default="after")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--pairs", action="store_true", help="the pair choice's screenshots only")
    args = parser.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=args.chromium, args=ARGS)
        try:
            if args.pairs:
                pairs(browser, args.url, args.prefix)
                return
            phone(browser, args.url, args.prefix)
            desktop(browser, args.url, args.prefix, args.steps)
        finally:
            browser.close()


if __name__ == "__main__":
    main()
