"""The page: layout and wiring. Behaviour lives in demo.service; models in demo.engine; each tab in
its own module (ui_reconstruct + ui_refine, ui_zoom, ui_walk); the explanations in ui_text."""
import logging
import tempfile

import gradio as gr

from . import ui_reconstruct, ui_refine, ui_text, ui_walk, ui_zoom, upload_guard
from .engine import MAX_SIZE
from .images import MAX_FILE_BYTES, MODEL_SIZE, cifar_examples, photo_examples
from .refine import CancelFlags
from .service import Service, UserError, check_upload, is_new_input
from .ui_common import app_kwargs, refuse_bad_requests, safe_image, status, to_status, unchanged, whole_number

log = logging.getLogger("demo")

TITLE = "Mamba-GINR on CIFAR-10: simplified vs corrected"
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
#cifar-examples .gallery, #photo-examples .gallery { gap: 4px; }
#cifar-examples .gallery-item .container, #photo-examples .gallery-item .container { width: 44px !important;
  height: 44px !important; }
#cifar-examples .gallery-item img, #photo-examples .gallery-item img { width: 100%; height: 100%; object-fit: cover;
  image-rendering: pixelated; }
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


def banner_markdown(models):  # kept here: tests and the Space import it from demo.ui
    return ui_text.banner_markdown(models)


def build(engine):
    """→ gr.Blocks. `engine` is a demo.engine.Engine holding both loaded models."""
    service = Service(engine)
    flags = CancelFlags()
    with gr.Blocks(title=TITLE) as demo:
        gr.Markdown(f"# {TITLE}")
        gr.Markdown(INTRO, elem_id="intro")
        gr.Markdown(banner_markdown(engine.models), elem_id="banner")
        page = {"demo": demo, "state": gr.State(None)}
        with gr.Row():
            with gr.Column(scale=1, min_width=280):
                _input_column(page)
            with gr.Column(scale=3):
                with gr.Tabs(elem_id="tabs"):
                    rec = ui_reconstruct.build_tab(service, engine)
                    zoom_tab = ui_zoom.build_tab(demo, service, page["image"], page["resolution"], page["state"],
                                                 page["status_box"])
                    walk_tab = ui_walk.build_tab(service, page["image"], page["resolution"], page["state"])
        _reading_sections(engine.models)

        wiring = ui_reconstruct.wire(rec, service, engine, page)
        ui_refine.wire(rec["refine"], page, dict(wiring, tab=rec), service, engine, flags)
        _wire_inputs(page, service, rec, [zoom_tab, walk_tab])
        upload_guard.wire(dict(zip(UPLOAD_ZONES, (page["status_box"], walk_tab["status"]))))
        ui_reconstruct.api(service)
        ui_refine.api(service)
        ui_zoom.build_api(service)
        ui_walk.build_api(service)
    return refuse_bad_requests(demo)


def default_example():
    """The image the page opens with (reconstructed on load; the warm-up renders it first)."""
    return next((p for p in cifar_examples() if "cat_0000" in p), None)


def _input_column(page):
    gr.Markdown("**Input image** (image A of a walk): a CIFAR-10 example below, or upload one", elem_id="input-label")
    page["image"] = safe_image(value=default_example(), label="Input image", show_label=False,
                               sources=["upload", "clipboard"], height=240, elem_id="input-image",
                               elem_classes=["pixelated"])
    page["status_box"] = gr.Markdown("", elem_id="status", elem_classes=["status-box"])
    _examples(page["image"])  # right under the input, where the label points
    page["resolution"] = whole_number(128, label=f"Output resolution (pixels, {MODEL_SIZE}–{MAX_SIZE})",
                                      elem_id="resolution")
    page["random"] = gr.Button("Random test image", elem_id="random")
    page["notes"] = gr.Markdown("", elem_id="notes")


def _examples(image):
    gr.Examples(examples=[[p] for p in cifar_examples()], inputs=[image], label="CIFAR-10 test images",
                examples_per_page=20, cache_examples=False, elem_id="cifar-examples")
    gr.Examples(examples=[[p] for p in photo_examples()], inputs=[image],
                label="High-resolution photos (downsampled to 32×32 for the models; the photo is the reference)",
                cache_examples=False, elem_id="photo-examples")


def _reading_sections(models):
    with gr.Accordion("How to read this page", open=False, elem_id="how-to-read"):
        gr.Markdown(ui_text.HOW_TO_READ)
    claims = ui_text.claims_markdown()
    if claims:
        with gr.Accordion("What the notes claim, and what we measured", open=True, elem_id="claims"):
            gr.Markdown(claims)
    for name, lm in models.items():  # top level: a link to a card opens it (a closed section draws no content)
        with gr.Accordion(f"Model card: {name}", open=False, elem_id=f"card-{name}"):
            gr.Markdown(lm.card or "No model card in this weights folder.", elem_id=f"card-{name}-text",
                        elem_classes=["model-card"])


def _wire_inputs(page, service, rec, tabs):
    """A new input clears the other tabs' panels (the Reconstruct tab recomputes its own); an upload is
    checked at once, and a refused one leaves the previous input and every panel as they were; typed
    values are checked where they are typed."""
    image, state, status_box = page["image"], page["state"], page["status_box"]
    crops = tempfile.mkdtemp(prefix="ginr-crops-")
    page["random"].click(lambda: service.random_example(), None, image, api_visibility="undocumented", queue=False)
    stale = {comp: value for tab in tabs for comp, value in tab["cleared"].items()}

    def clear_if_new(img, st):
        """The other tabs' panels go when the input is another image; an unreadable file (refused by
        on_upload) or the same image again changes nothing."""
        return stale if is_new_input(img, st) else unchanged(stale)

    image.change(clear_if_new, [image, state], list(stale), queue=False, show_progress="hidden",
                 api_visibility="undocumented")

    @to_status(2, 1)
    def on_upload(path, st):
        """A bad file is refused here, with a message that stays until the next action, and the input
        box gets the previous image back; a non-square or animated one is shown as the 32×32-bound
        picture the models see (its notes travel with it to the Reconstruct tab)."""
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
