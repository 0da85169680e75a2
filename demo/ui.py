"""The page: layout and wiring. Behaviour lives in demo.service; models in demo.engine; the pairs of
models in demo.pairs (the choice at the top: ui_pairs); each tab in its own module (ui_reconstruct +
ui_refine, ui_zoom, ui_walk); the explanations in ui_text."""
import logging
import tempfile

import gradio as gr

from . import ui_pairs, ui_reconstruct, ui_refine, ui_text, ui_walk, ui_zoom, upload_guard
from .ui_pairs import input_label, resolution_label
from .images import MAX_FILE_BYTES
from .pairs import Registry
from .refine import CancelFlags
from .service import UserError, check_upload
from .ui_common import (Services, app_kwargs, guard, keep_in_view, refuse_bad_requests, safe_image, status, to_status,
                        unchanged, whole_number)

log = logging.getLogger("demo")

TITLE = "Mamba-GINR: simplified vs corrected"
CSS = upload_guard.CSS + """
.pixelated img, .pixelated canvas { image-rendering: pixelated; }
#input-image img, #walk-image-b img { width: 100%; height: 100%; object-fit: contain; }
#banner { border-left: 4px solid #d97706; padding-left: 8px; }
.caption { font-size: 0.9em; line-height: 1.25; }
.caption p { margin: 2px 0 0 0; }
.caption small { color: var(--body-text-color); opacity: 0.85; }
.status-box:not(:empty) p { color: #b45309; font-weight: 600; }
.render-card { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 4px !important; }
#compare .slider-wrap { max-width: 320px; margin: 0 auto; }  /* square panels: the handle stays on the picture */
#claims table { display: block; overflow-x: auto; }
#claims td, #claims th { word-break: normal !important; overflow-wrap: normal !important; hyphens: none; }
#claims td:first-child { min-width: 11em; }
#claims td:last-child { white-space: nowrap; }
.input-examples .gallery { gap: 4px; }
.input-examples .gallery-item .container { width: 44px !important; height: 44px !important; }
.input-examples .gallery-item img { width: 100%; height: 100%; object-fit: cover; image-rendering: pixelated; }
#pair-note p { margin: 2px 0; font-size: 0.9em; }
#pair-figures table { display: block; overflow-x: auto; font-size: 0.9em; }  /* a wide table scrolls */
#pair-figures td, #pair-figures th { word-break: normal !important; overflow-wrap: normal !important; hyphens: none; }
#pair-figures td:first-child { white-space: nowrap; }
#refine-info { min-height: 3.5em; }  /* the refinement's progress is drawn here, right under the button */
.model-card table { display: block; overflow-x: auto; max-width: 100%; }  /* a wide table scrolls, not the card */
.model-card td, .model-card th { word-break: normal !important; overflow-wrap: normal !important; hyphens: none; }
.model-card code { overflow-wrap: anywhere; word-break: break-all; }  /* a sha256 wraps inside the card */
.model-card { overflow-wrap: break-word; }
@media (max-width: 640px) {
  .walk-strip .image-container { overflow-x: auto; display: block !important; }  /* a strip keeps its frames'
     size and scrolls sideways, from its first frame */
  .walk-strip .image-container > button, .walk-strip .image-frame { display: block !important;
    width: max-content !important; max-width: none !important; }
  .walk-strip img { width: auto !important; max-width: none !important; height: auto !important;
    object-fit: none !important; }
  .walk-strip .icon-button-wrapper { position: static !important; justify-content: flex-end; }  /* above it */
  #claims td:last-child { white-space: normal; }
  #refine-info { min-height: 6em; }  /* room for the progress text's lines */
  .render-card { margin-bottom: 16px; }
  #claims thead { display: none; }
  #claims table, #claims tbody, #claims tr, #claims td { display: block; width: auto !important; }
  #claims tr { border-bottom: 2px solid var(--border-color-primary); padding: 6px 0; }
  #claims td { border: none !important; padding: 2px 4px !important; min-width: 0 !important; }
  #claims td:first-child { font-weight: 600; }
  #claims td:last-child::before { content: "verdict: "; }
}
"""
# Links to a collapsed section (the banner's model cards, "How to read this page") open every accordion
# around and at the target, then scroll to it; Gradio's accordions ignore a plain #anchor.
HEAD = """<script>
document.addEventListener("click", (event) => {
  const link = event.target.closest && event.target.closest("a[href^='#']");
  const target = link && document.getElementById(link.getAttribute("href").slice(1));
  if (!target) return;
  event.preventDefault();
  for (let el = target; el; el = el.parentElement) {
    const button = el.querySelector(":scope > button.label-wrap");
    if (button && !button.classList.contains("open")) button.click();
  }
  setTimeout(() => target.scrollIntoView({block: "start"}), 200);
});
</script>"""
UPLOAD_ZONES = ("input-image", "walk-image-b")  # the upload controls whose over-limit files the browser refuses
HEAD += upload_guard.script(UPLOAD_ZONES)
INTRO = ("[How to read this page](#how-to-read) · [What the notes claim, and what we measured](#claims) · "
         "model cards: [simplified](#card-simplified), [corrected](#card-corrected)")


def banner_markdown(models, pair=""):  # kept here: tests and the Space import it from demo.ui
    return ui_text.banner_markdown(models, pair)


def build(registry):
    """→ gr.Blocks. `registry`: the pairs of models (demo.pairs.Registry; its first pair loaded already), or
    an Engine holding one loaded pair (tests)."""
    if not isinstance(registry, Registry):
        registry = Registry.of_engine(registry)
    services = Services(registry)
    first, pairs = services.default, registry.offered()
    flags = CancelFlags()
    with gr.Blocks(title=TITLE) as demo:
        gr.Markdown(f"# {TITLE}")
        gr.Markdown(INTRO, elem_id="intro")
        page = {"demo": demo, "state": gr.State(None)}
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                page["banner"] = gr.Markdown(banner_markdown(first.engine.models, first.pair), elem_id="banner")
            with gr.Column(scale=2, min_width=280):
                choice = ui_pairs.build_choice(registry)
                page.update(pair=choice["radio"], pair_note=choice["note"])
        with gr.Row():
            with gr.Column(scale=1, min_width=280):
                _input_column(page, first, pairs)
            with gr.Column(scale=3):
                with gr.Tabs(elem_id="tabs"):
                    rec = ui_reconstruct.build_tab(first)
                    zoom_tab = ui_zoom.build_tab(demo, services, page)
                    walk_tab = ui_walk.build_tab(services, page, pairs)
        reading = _reading_sections(first, registry.default.spec.trained_on)

        wiring = ui_reconstruct.wire(rec, services, page)
        ui_refine.wire(rec["refine"], page, dict(wiring, tab=rec), services, flags)
        _wire_inputs(page, services, [zoom_tab, walk_tab])
        ui_pairs.wire(registry, services, page, dict(rec=rec, wiring=wiring, zoom=zoom_tab, walk=walk_tab,
                                                        reading=reading, flags=flags))
        upload_guard.wire(dict(zip(UPLOAD_ZONES, (page["status_box"], walk_tab["status"]))))
        ui_reconstruct.api(first)  # the named API endpoints run the first pair (CIFAR-10)
        ui_refine.api(first)
        ui_zoom.build_api(first)
        ui_walk.build_api(first)
    return refuse_bad_requests(demo)


def _input_column(page, first, pairs):
    default = pairs[0]
    page["input_label"] = gr.Markdown(input_label(default), elem_id="input-label")
    page["image"] = safe_image(value=default.default_example(), label="Input image", show_label=False,
                               sources=["upload", "clipboard"], height=240, elem_id="input-image",
                               elem_classes=["pixelated"])
    page["status_box"] = keep_in_view(gr.Markdown("", elem_id="status", elem_classes=["status-box"]))
    page["galleries"] = _examples(page["image"], pairs)  # right under the input, where the label points
    page["resolution"] = whole_number(128, label=resolution_label(first.size), elem_id="resolution")
    page["random"] = gr.Button(default.spec.random_label, elem_id="random")
    page["notes"] = gr.Markdown("", elem_id="notes")


def _examples(image, pairs):
    """Each pair's example galleries in a column of its own, shown while that pair is chosen → {key: column}."""
    columns = {}
    for i, pair in enumerate(pairs):
        with gr.Column(visible=i == 0, elem_id=f"examples-{pair.key}", elem_classes=["input-examples"]) as column:
            for group in pair.spec.examples:
                gr.Examples(examples=[[f] for f in group.files], inputs=[image], label=group.label.format(n=pair.size),
                            examples_per_page=max(1, len(group.files)), cache_examples=False, elem_id=group.elem_id)
        columns[pair.key] = column
    return columns


def _reading_sections(service, trained_on):
    """How to read the page, the claims, the model cards → the components a pair change updates."""
    out = {}
    with gr.Accordion("How to read this page", open=False, elem_id="how-to-read"):
        out["how"] = gr.Markdown(ui_text.how_to_read(service, trained_on), elem_id="how-to-read-text")
    claims = ui_text.claims_markdown()
    if claims:
        with gr.Accordion("What the notes claim, and what we measured", open=True, elem_id="claims"):
            gr.Markdown("<small>About the CIFAR-10 · 32×32 pair (the notes' models).</small>\n\n" + claims)
    out["cards"] = {}
    for name, lm in service.engine.models.items():  # top level: a link to a card opens it (a closed section draws no content)
        with gr.Accordion(f"Model card: {name}", open=False, elem_id=f"card-{name}"):
            out["cards"][name] = gr.Markdown(lm.card or "No model card in this weights folder.",
                                             elem_id=f"card-{name}-text", elem_classes=["model-card"])
    return out


def _wire_inputs(page, services, tabs):
    """A new input clears the other tabs' panels (the Reconstruct tab recomputes its own); an upload is
    checked at once, and a refused one leaves the previous input and every panel as they were; typed
    values are checked where they are typed."""
    image, state, status_box, pair = page["image"], page["state"], page["status_box"], page["pair"]
    crops = tempfile.mkdtemp(prefix="ginr-crops-")

    @guard
    def random_example(key):
        return services(key).random_example(examples=services.registry.get(key).example_files())

    page["random"].click(random_example, pair, image, api_visibility="undocumented", queue=False)
    stale = {comp: value for tab in tabs for comp, value in tab["cleared"].items()}

    def clear_if_new(img, st, key):
        """The other tabs' panels go when the input is another image; an unreadable file (refused by
        on_upload) or the same image again changes nothing."""
        return stale if services.is_new(img, st, key) else unchanged(stale)

    image.change(clear_if_new, [image, state, pair], list(stale), queue=False, show_progress="hidden",
                 api_visibility="undocumented")

    @to_status(2, 1)
    def on_upload(path, st):
        """A bad file is refused here, with a message that stays until the next action, and the input
        box gets the previous image back; a non-square or animated one is shown as the square picture
        the models see (its notes travel with it to the Reconstruct tab)."""
        if not path:
            return None, status()
        try:
            shown, _ = check_upload(path, crops)
        except UserError as err:
            log.info("rejected upload: %s", err)
            return (st or {}).get("source"), status(str(err))
        return (shown if shown != path else gr.skip()), status()

    image.upload(on_upload, [image, state], [image, status_box], api_visibility="undocumented",
                 show_progress="hidden")


def launch_kwargs():
    """launch() arguments shared by the CLI and the tests."""
    return {"css": CSS, "head": HEAD, "max_file_size": MAX_FILE_BYTES, "theme": gr.themes.Soft(),
            "app_kwargs": app_kwargs()}


def queue(demo, concurrency=2, max_size=32):
    return demo.queue(default_concurrency_limit=concurrency, max_size=max_size)
