"""A real browser (Playwright + Debian chromium) on a page with two pairs of models (issue 37, item 6): the
CIFAR-10 pair (tiny models) and a tiny 64×64 photo pair given by GINR_PHOTOS64_*. Switching to the photo
pair says "loading…", then every tab follows it — Reconstruct, Refine, Zoom, Walk —, with its size, its
examples, its figures and its licence; a refused upload of Walk's image B keeps image B; switching back
keeps the photo input, prepared again at 32×32. Helpers and the browser set-up: test_browser_demo."""
from tests.test_browser_demo import _captions_below_renders, _page, _shot, _visible, _wait_text, _wait_width


def _src(page, selector):
    return page.eval_on_selector(selector, "el => el.getAttribute('src') || ''")


def test_switching_pair_in_every_tab_and_back(demo_pairs_server, tmp_path):
    url, _, registry = demo_pairs_server
    with _page(url, tmp_path, viewport={"width": 1400, "height": 1000}, shot="pairs_failure") as (page, errors):
        _wait_text(page, "#metrics", "dB", "CIFAR-10 · 32×32 pair")
        assert "CIFAR-10 · 32×32" in page.inner_text("#pair") and "Photos · 64×64" in page.inner_text("#pair")
        assert _visible(page, "#cifar-examples") and not _visible(page, "#photos64-examples")
        assert not registry.get("photos64").loaded  # not before its first selection

        # the photo pair: "loading…" at once, then the page follows it
        page.locator("#pair").get_by_text("Photos · 64×64").click()
        page.wait_for_function("() => /Loading the Photos · 64×64 models|Photos · 64×64 loaded/"
                               ".test(document.querySelector('#pair-note').innerText)")
        _wait_text(page, "#metrics", "Scores at 128×128", "Photos · 64×64 pair", "uploaded photo")
        note = _wait_text(page, "#pair-note", "loaded in", "astronaut.png instead of the 32×32 example cat_0000.png",
                          "data licence: CC0-1.0")
        assert "chelsea.png instead of the 32×32 example dog_0000.png" in note
        assert "astronaut" in _src(page, "#input-image img")
        assert "64×64" in page.inner_text("#input-label") and "64–512" in page.inner_text("#resolution")
        assert _visible(page, "#photos64-examples") and not _visible(page, "#cifar-examples")
        assert page.inner_text("#random").strip() == "Random example photo"
        _captions_below_renders(page, "out-", ("nearest", "bicubic", "simplified", "corrected"))
        bicubic = page.inner_text("#cap-bicubic")
        assert "Photos · 64×64 pair" in bicubic and "PSNR vs the photo area-resized to 128" in bicubic
        assert "this pair measured at ×2 (Set5, n = 5" in bicubic and "refined not measured yet" in bicubic
        figures = page.inner_text("#pair-figures")
        assert "Measured figures of the Photos · 64×64 pair" in figures and "not measured yet" in figures
        _shot(page, tmp_path, "pairs_photo_reconstruct")

        # Reconstruct at 256 (×4, not measured: said so), then Refine a few steps at the 64×64 pixel centres
        box = page.locator("#resolution input")
        box.fill("256")
        box.press("Enter")
        _wait_text(page, "#metrics", "Scores at 256×256", "Photos · 64×64 pair")
        assert "×4 on benchmark photos: not measured yet" in page.inner_text("#cap-bicubic")
        steps = page.locator("#refine-steps input")
        steps.fill("5")
        steps.press("Enter")
        page.locator("#refine-run").click()
        info = _wait_text(page, "#refine-info", "Refined", "simplified 5 steps", "corrected 5 steps")
        assert "64×64 reconstruction at the pixel centres" in info
        assert "64×64 pixel" in page.inner_text("#refine-help")
        page.wait_for_selector("#out-corrected_refined img")
        assert "corrected, refined" in page.inner_text("#metrics")
        box.fill("128")
        box.press("Enter")
        _wait_text(page, "#metrics", "Scores at 128×128")

        # Zoom: the window is in the 64×64 input's pixels (rescaled from 8, 8, 16), decoded from the refined latents
        page.get_by_role("tab", name="Zoom").click()
        assert [page.locator(f"#zoom-{k} input").input_value() for k in ("y", "x", "size")] == ["16", "16", "32"]
        assert "1–64" in page.inner_text("#zoom-size") and "64×64 input" in page.inner_text("#zoom-help")
        page.locator("#zoom-run").click()
        text = _wait_text(page, "#zoom-metrics", "window y 16–48, x 16–48", "Photos · 64×64 pair", "refined latents")
        assert "dB" in text
        for row in ("bicubic", "simplified", "corrected"):
            _wait_width(page, f"#zoom-{row} img", 256)
        assert "this pair measured at ×4" in page.inner_text("#zoom-cap-bicubic")
        page.locator("#zoom-size input").fill("80")
        page.locator("#zoom-run").click()
        _wait_text(page, "#zoom-status", "Window size must be from 1 to 64")
        _shot(page, tmp_path, "pairs_photo_zoom")

        # Walk: image B is the pair's photo; a refused upload of image B keeps it (it used to clear it)
        page.get_by_role("tab", name="Walk").click()
        assert "chelsea" in _src(page, "#walk-image-b img")
        assert _visible(page, "#photos64-walk-examples") and not _visible(page, "#walk-examples")
        page.locator("#walk-t textarea, #walk-t input").first.fill("0, 0.5, 1")
        page.locator("#walk-run").click()
        _wait_text(page, "#walk-info", "Walk at 128×128", "Photos · 64×64 pair", "64×64 input")
        for row in ("crossfade", "simplified", "corrected"):
            _wait_width(page, f"#walk-{row} img", 3 * 128 + 2 * 4)
        before = _src(page, "#walk-image-b img")
        bad = tmp_path / "b.png"
        bad.write_text("not a picture\n")
        page.locator("#walk-image-b input[type=file]").set_input_files(str(bad))
        _wait_text(page, "#walk-status", "Image B: b.png", "not an image")
        page.wait_for_timeout(2_000)
        assert _src(page, "#walk-image-b img") == before, "a refused upload cleared image B"
        _shot(page, tmp_path, "pairs_photo_walk")

        # back to CIFAR-10: the photo input is kept, prepared again at 32×32; the photo pair's panels go
        page.get_by_role("tab", name="Reconstruct").click()
        page.locator("#pair").get_by_text("CIFAR-10 · 32×32").click()
        _wait_text(page, "#metrics", "Scores at 128×128", "CIFAR-10 · 32×32 pair", "uploaded photo")
        note = _wait_text(page, "#pair-note", "astronaut.png kept, prepared again: area-downsampled from 256×256 to 32×32")
        assert "loaded in" not in note  # loaded at start, never again
        assert not page.locator("#out-corrected_refined img").count()  # the photo pair's refinement is not this one's
        assert _visible(page, "#cifar-examples") and "32–512" in page.inner_text("#resolution")
        page.get_by_role("tab", name="Zoom").click()
        assert [page.locator(f"#zoom-{k} input").input_value() for k in ("y", "x", "size")][:2] == ["8", "8"]
        assert not page.locator("#zoom-corrected img").count()  # the other pair's zoom panels are cleared
        assert registry.get("photos64").loads == 1 and registry.get("cifar10").loads == 1
        assert not errors, errors
