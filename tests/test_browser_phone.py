"""A real browser at a phone's size (390×844) on the live demo: Refine's progress beside its button,
the model cards and the claims inside their boxes, the Walk strips at a readable size (issue 36,
items 7, 8, 11). Helpers: test_browser_demo."""
from tests.test_browser_demo import PROGRESS, _page, _shot, _wait_text, _words_broken

PHONE = {"width": 390, "height": 844}


def _phone(url, tmp_path):
    return _page(url, tmp_path, viewport=PHONE, is_mobile=True, shot="demo_phone_failure")


def _visible_progress(page):
    """The visible progress elements → [(owner id, box)]."""
    return page.evaluate("(sel) => [...document.querySelectorAll(sel)].filter(e => e.offsetParent !== null)"
                         ".map(e => { const r = e.getBoundingClientRect();"
                         " return [(e.closest('[id]') || {}).id, {y: r.top + scrollY, height: r.height}]; })", PROGRESS)


def test_refine_progress_is_where_the_button_is(demo_server, tmp_path):
    """Item 7: while both models refine, the one progress indicator sits right under the Refine button."""
    with _phone(demo_server[0], tmp_path) as (page, errors):
        page.wait_for_function("() => document.querySelector('#metrics').innerText.includes('dB')")
        steps = page.locator("#refine-steps input")
        steps.fill("1000")
        steps.press("Enter")
        page.locator("#refine-run").click()
        page.wait_for_function("() => /refining: simplified step [1-9]/.test(document.body.innerText)")
        shown = _visible_progress(page)
        button = page.locator("#refine-run").bounding_box()
        top = button["y"] + page.evaluate("scrollY") + button["height"]
        assert {owner for owner, _ in shown} == {"refine-info"}, shown  # one indicator, not on the curve
        assert all(0 <= box["y"] - top < 200 for _, box in shown), (shown, top)  # under the button, in view
        _shot(page, tmp_path, "demo_phone_refining")
        page.locator("#refine-cancel").click()
        _wait_text(page, "#refine-info", "ancelled")
        assert not errors, errors


def test_model_cards_and_claims_stay_inside_their_boxes(demo_server, tmp_path):
    """Item 8: no word or number of a card's tables is broken across lines, nothing makes the page scroll
    sideways (the sha256 wraps inside its card), each claim's verdict stays inside the claims box, and
    the claims name runs in words."""
    with _phone(demo_server[0], tmp_path) as (page, errors):
        page.locator("#banner a", has_text="model card").nth(1).click()  # opens the corrected card
        page.wait_for_function("() => { const t = document.querySelector('#card-corrected-text');"
                               " return t && t.offsetParent !== null && t.querySelector('table'); }")
        assert not _words_broken(page, "#card-corrected-text td, #card-corrected-text th")
        assert "sha256" in page.inner_text("#card-corrected-text")
        widths = page.evaluate("() => [document.documentElement.scrollWidth, innerWidth,"
                               " ...[...document.querySelectorAll('.model-card')].map(c => c.scrollWidth - c.clientWidth)]")
        assert widths[0] <= widths[1] and all(extra <= 1 for extra in widths[2:]), widths
        _shot(page, tmp_path, "demo_phone_card")

        page.locator("#claims").scroll_into_view_if_needed()
        outside = page.evaluate("""() => { const box = document.querySelector('#claims').getBoundingClientRect();
            return [...document.querySelectorAll('#claims td')].map(td => td.getBoundingClientRect())
                .filter(r => r.right > box.right + 1 || r.left < box.left - 1).length; }""")
        assert outside == 0
        assert "pixels512" not in page.inner_text("#claims")
        _shot(page, tmp_path, "demo_phone_claims")
        assert not errors, errors


def test_walk_strips_keep_their_frames_readable(demo_server, tmp_path):
    """Item 11: each frame of a walk strip is drawn at least at its own size (128 px for a 128² walk; the
    strip scrolls sideways), and no button covers any frame."""
    with _phone(demo_server[0], tmp_path) as (page, errors):
        page.get_by_role("tab", name="Walk").click()
        page.locator("#walk-run").click()
        _wait_text(page, "#walk-info", "Walk at 128×128", "t = 0, 0.25, 0.5, 0.75, 1")
        for row in ("crossfade", "simplified", "corrected"):
            img = page.locator(f"#walk-{row} img")
            page.wait_for_function("(s) => { const i = document.querySelector(s); return i && i.complete"
                                   " && i.naturalWidth > 0; }", arg=f"#walk-{row} img")
            box = img.bounding_box()
            assert box["width"] >= 5 * 128, (row, box)  # 5 frames of 128 px (and 4 gaps)
            for button in page.locator(f"#walk-{row} .icon-button").all():
                b = button.bounding_box()
                if b:
                    assert b["y"] + b["height"] <= box["y"] + 1, (row, b, box)  # above the strip, not on it
        page.locator("#walk-corrected").scroll_into_view_if_needed()
        _shot(page, tmp_path, "demo_phone_walk")
        assert not errors, errors
