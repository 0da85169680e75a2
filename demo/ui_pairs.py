"""The pair choice at the top of the page, and what switching pair does to every tab.

Choosing a pair: the note under the choice says "loading…" at once (a pair not loaded yet is loaded
now, once: demo.pairs); then every text that names a size or a pair follows it (the input's label, the
resolution's range, the examples, Zoom's window — rescaled to the new input —, Refine's help, the
banner, the model cards, "How to read this page"); the input image and Walk's image B are kept and
prepared again for the new input size (a shipped example of the other pair too small for this one is
swapped for this pair's own), the note says which; Zoom and Walk panels made by the other pair are
cleared; a refinement running for the other pair stops; then the Reconstruct tab renders the kept input
with the new pair. A pair that fails to load is said in the note and the choice goes back.
"""
from pathlib import Path

import gradio as gr

from . import pair_figures, ui_refine, ui_text, ui_zoom
from .engine import MAX_SIZE
from .images import InputError, prepare
from .pairs import PairUnavailable
from .ui_common import status, unchanged


def input_label(pair):
    return (f"**Input image** (image A of a walk): an example below, or upload one — the {pair.label} models see "
            f"it at {pair.size}×{pair.size}")


def resolution_label(size):
    return f"Output resolution (pixels, {size}–{MAX_SIZE})"


def pair_note(registry, pair):
    """What the page says under the choice: the chosen pair's data (and licence, where it must be stated),
    and the pairs that are not offered, with why."""
    lines = []
    if pair.spec.licence:
        figures = pair.figures()
        lines.append(f"{pair.label}: trained on {pair.spec.trained_on}; "
                     f"{pair_figures.data_line(figures, licence=True)}.")
    for other, why in registry.not_offered():
        lines.append(f"{other.label}: not offered here ({why}).")
    return "  \n".join(f"<small>{line}</small>" for line in lines)


def build_choice(registry):
    """The choice (a Radio of the offered pairs) and its note → {"radio", "note"}."""
    default = registry.default
    radio = gr.Radio(registry.choices(), value=default.key, label="Pair of models (every tab follows it)",
                     container=True,
                     elem_id="pair", interactive=True)
    note = gr.Markdown(pair_note(registry, default), elem_id="pair-note")
    return {"radio": radio, "note": note}


def _side(prepared):
    width, height = prepared.original_size or (prepared.size, prepared.size)
    return min(width, height)


def carried(path, old, new, fallback):
    """The picture to show under pair `new` when the page switches from pair `old` → (path, note). A picture
    the new pair can use is kept (prepared again at its size: the note says how); a shipped example of the
    old pair smaller than the new input is swapped for `fallback` (this pair's own example)."""
    n = new.size
    if not path:
        return fallback, ""
    name = Path(str(path)).name
    try:
        prepared = prepare(path, size=n)
    except InputError:
        return fallback, f"{Path(fallback).name} ({name} could not be read again)"
    side = _side(prepared)
    old_examples = {Path(f).name for f in old.all_example_files()} - {Path(f).name for f in new.all_example_files()}
    if name in old_examples and side < n:
        return fallback, f"{Path(fallback).name} instead of the {side}×{side} example {name}"
    if prepared.source is not None:
        how = f"area-downsampled from {side}×{side} to {n}×{n}"
    elif side < n:
        how = f"enlarged (bicubic) from {side}×{side} to {n}×{n}; scored against that enlarged input"
    else:
        how = f"already {n}×{n}"
    return path, f"{name} kept, prepared again: {how}"


def wire(registry, services, page, parts):
    """The choice's events. parts: rec (the Reconstruct tab's components), wiring (its events: on_input,
    inputs, outputs, busy), zoom, walk (their tabs' components), reading (ui._reading_sections), flags."""
    rec, wiring, zoom_tab, walk_tab, reading = (parts[k] for k in ("rec", "wiring", "zoom", "walk", "reading"))
    radio, note = page["pair"], page["pair_note"]
    shown = gr.State(registry.default.key)  # the pair the page's texts and panels belong to
    galleries = [*page["galleries"].values(), *walk_tab["galleries"].values()]
    stale = {comp: value for tab in (zoom_tab, walk_tab) for comp, value in tab["cleared"].items()}
    outputs = [radio, note, shown, page["banner"], page["input_label"], page["image"], page["resolution"],
               page["random"], zoom_tab["help"], zoom_tab["y"], zoom_tab["x"], zoom_tab["size"], zoom_tab["picker"],
               walk_tab["image_b"], walk_tab["kept_b"], rec["refine"]["help"], rec["token"], reading["how"],
               *reading["cards"].values(), *galleries, *stale]

    def on_choose(key, previous):
        """At once, before any loading: the note says what is happening (nothing when the choice went back
        to the pair shown, after a failed load: its message stays)."""
        if key == previous:
            return gr.skip()
        try:
            pair = registry.get(key)
        except PairUnavailable as err:
            return status(str(err))
        if pair.loaded:
            return f"<small>Switching to {pair.label}…</small>"
        return f"<small>⏳ Loading the {pair.label} models (first use: a few seconds)…</small>"

    def on_switch(key, previous, img, img_b, res, zy, zx, zs, token_model, request: gr.Request):
        if key == previous:
            return unchanged([*outputs, walk_tab["info"]])
        try:
            pair = registry.get(key)
            first_load = not pair.loaded
            service = pair.load()
        except PairUnavailable as err:
            return {radio: previous, note: status(str(err))}
        flags = parts["flags"]
        flags.cancel(getattr(request, "session_hash", None) or "api", superseded=True)  # the other pair's refinement
        old = registry.pairs.get(previous, registry.default)
        image, image_note = carried(img, old, pair, pair.default_example())
        image_b, b_note = carried(img_b, old, pair, pair.default_b())
        n, scale = service.size, service.size / old.size
        window = _rescaled(service, (zy, zx, zs), scale)
        values = {radio: gr.skip(), shown: key, page["banner"]: ui_text.banner_markdown(service.engine.models, service.pair),
                  page["input_label"]: input_label(pair), page["image"]: image if image != img else gr.skip(),
                  page["resolution"]: _resolution(res, n), page["random"]: gr.Button(pair.spec.random_label),
                  zoom_tab["help"]: ui_zoom.help_text(n), zoom_tab["y"]: window.y, zoom_tab["x"]: window.x,
                  zoom_tab["size"]: gr.Number(window.size, label=ui_zoom.size_label(n)),
                  zoom_tab["picker"]: ui_zoom.picker_image(service, image, window.y, window.x, window.size),
                  walk_tab["image_b"]: image_b if image_b != img_b else gr.skip(), walk_tab["kept_b"]: image_b,
                  rec["refine"]["help"]: ui_refine.help_text(n), reading["how"]: ui_text.how_to_read(
                      service, pair.spec.trained_on), **stale}
        values[rec["token"]] = gr.Slider(maximum=service.engine.num_lp(token_model or "corrected") - 1, value=0)
        values.update({md: service.engine.models[name].card or "No model card in this weights folder."
                       for name, md in reading["cards"].items()})
        values.update({col: gr.Column(visible=k == key) for k, col in page["galleries"].items()})
        values.update({col: gr.Column(visible=k == key) for k, col in walk_tab["galleries"].items()})
        said = [f"**{pair.label}**" + (f" loaded in {pair.seconds:.1f} s" if first_load else ""),
                f"input: {image_note}" if image_note else "", f"image B: {b_note}" if b_note else "",
                f"Zoom window rescaled to {n}×{n}" if (window.size, window.y, window.x) != (zs, zy, zx) else "",
                "Zoom and Walk panels of the other pair cleared"]
        values[note] = "<small>" + " · ".join(s for s in said if s) + ".</small>  \n" + pair_note(registry, pair)
        values[walk_tab["info"]] = ""
        return values

    inputs = [radio, shown, page["image"], walk_tab["image_b"], page["resolution"], zoom_tab["y"], zoom_tab["x"],
              zoom_tab["size"], rec["token_model"]]
    radio.change(on_choose, [radio, shown], note, queue=False, show_progress="hidden", api_visibility="undocumented").then(
        on_switch, inputs, [*outputs, walk_tab["info"]], show_progress_on=[note], api_visibility="undocumented"
    ).success(wiring["on_input"], wiring["inputs"], wiring["outputs"], show_progress_on=wiring["busy"],
              api_visibility="undocumented", js=wiring["stamped"])


def _resolution(res, n):
    """The resolution box for an n×n pair: its range in the label; a value below n raised to n."""
    try:
        value = int(res) if res is not None and float(res) == int(float(res)) else res
    except (TypeError, ValueError):
        value = res
    if isinstance(value, int) and value < n:
        value = n
    return gr.Number(value, label=resolution_label(n))


def _rescaled(service, window, scale):
    """The zoom window (y, x, size) in the other pair's input pixels → the same part of the image in this
    pair's (the default window when the old one was not valid)."""
    y, x, size = window
    try:
        return service.check_window(float(y) * scale, float(x) * scale, float(size) * scale)
    except (TypeError, ValueError):
        return ui_zoom.default_window(service.size)
