"""The page: layout and wiring. Behaviour lives in demo.service; models in demo.engine; each tab in
its own module (ui_reconstruct + ui_refine, ui_zoom, ui_walk); the explanations in ui_text."""
import logging
import tempfile

import gradio as gr

from . import ui_reconstruct, ui_refine, ui_text, ui_walk, ui_zoom
from .engine import MAX_SIZE
from .images import MAX_FILE_BYTES, MODEL_SIZE, cifar_examples, photo_examples
from .refine import CancelFlags
from .service import Service, UserError, check_resolution, check_sigma, check_upload
from .ui_common import safe_image, status, to_status, whole_number

log = logging.getLogger("demo")

TITLE = "Mamba-GINR on CIFAR-10: simplified vs corrected"
CSS = """
.pixelated img, .pixelated canvas { image-rendering: pixelated; }
#input-image img, #walk-image-b img { width: 100%; height: 100%; object-fit: contain; }
#banner { border-left: 4px solid #d97706; padding-left: 8px; }
.caption { font-size: 0.9em; line-height: 1.25; }
.caption p { margin: 2px 0 0 0; }
.caption small { color: var(--body-text-color); opacity: 0.85; }
.status-box:not(:empty) p { color: #b45309; font-weight: 600; }
"""


def banner_markdown(models):  # kept here: tests and the Space import it from demo.ui
    return ui_text.banner_markdown(models)


def build(engine):
    """→ gr.Blocks. `engine` is a demo.engine.Engine holding both loaded models."""
    service = Service(engine)
    models = engine.models
    default_example = next((p for p in cifar_examples() if "cat_0000" in p), None)
    crops = tempfile.mkdtemp(prefix="ginr-crops-")
    flags = CancelFlags()

    with gr.Blocks(title=TITLE) as demo:
        gr.Markdown(f"# {TITLE}")
        gr.Markdown(banner_markdown(models), elem_id="banner")
        state = gr.State(None)

        with gr.Row():
            with gr.Column(scale=1, min_width=280):
                gr.Markdown("**Input image** (image A of a walk): a CIFAR-10 example below, or upload one",
                            elem_id="input-label")
                image = safe_image(value=default_example, label="Input image", show_label=False,
                                   sources=["upload", "clipboard"], height=240, elem_id="input-image",
                                   elem_classes=["pixelated"])
                status_box = gr.Markdown("", elem_id="status", elem_classes=["status-box"])
                resolution = whole_number(128, label=f"Output resolution (pixels, {MODEL_SIZE}–{MAX_SIZE})",
                                       elem_id="resolution")
                random_btn = gr.Button("Random test image", elem_id="random")
                notes = gr.Markdown("", elem_id="notes")
            with gr.Column(scale=3):
                with gr.Tabs(elem_id="tabs"):
                    rec = ui_reconstruct.build_tab(service, engine)
                    ui_zoom.build_tab(demo, service, image, resolution, state, status_box)
                    ui_walk.build_tab(service, image, resolution, state)
        gr.Examples(examples=[[p] for p in cifar_examples()], inputs=[image], label="CIFAR-10 test images",
                    examples_per_page=20, cache_examples=False, elem_id="cifar-examples")
        gr.Examples(examples=[[p] for p in photo_examples()], inputs=[image],
                    label="High-resolution photos (downsampled to 32×32 for the models; the photo is the reference)",
                    cache_examples=False, elem_id="photo-examples")
        with gr.Accordion("How to read this page", open=False, elem_id="how-to-read"):
            gr.Markdown(ui_text.HOW_TO_READ)
        claims = ui_text.claims_markdown()
        if claims:
            with gr.Accordion("What the notes claim, and what we measured", open=True, elem_id="claims"):
                gr.Markdown(claims)
        with gr.Accordion("Model cards", open=False, elem_id="cards"):
            for name, lm in models.items():
                with gr.Accordion(f"{name}", open=False, elem_id=f"card-{name}"):
                    gr.Markdown(lm.card or "No model card in this weights folder.")

        # ---- events ---------------------------------------------------------------------------
        page = ui_reconstruct.wire(rec, service, engine, image, resolution, state, status_box, notes)
        ui_refine.wire(rec["refine"], page, service, engine, image, resolution, state, status_box, flags)
        random_btn.click(lambda: service.random_example(), None, image, api_visibility="undocumented",
                         queue=False).then(page["on_run"], page["inputs"], page["outputs"],
                                           api_visibility="undocumented")

        @to_status(3, 1)
        def on_upload(path):
            """A new upload is checked at once: a bad file is refused here, with a message that stays
            until the next action; a non-square one is shown as the centre crop the models see."""
            if not path:
                return None, status(), ""
            try:
                shown, note = check_upload(path, crops)
            except UserError as err:
                log.info("rejected upload: %s", err)
                return None, status(str(err)), ""
            return (shown if shown != path else gr.skip()), status(), (f"Input: {note}." if note else "")

        image.upload(on_upload, image, [image, status_box, notes], api_visibility="undocumented",
                     show_progress="hidden")

        def check_typed(check):
            @to_status(1, 0)
            def checker(value):
                check(value)
                return status()
            return checker

        for box, check in ((resolution, check_resolution), (rec["sigma"], check_sigma)):
            for event in (box.submit, box.blur):
                event(check_typed(check), box, status_box, queue=False, show_progress="hidden",
                      api_visibility="undocumented")

        ui_reconstruct.api(service)
        ui_refine.api(service)
        ui_zoom.build_api(service)
        ui_walk.build_api(service)
    return demo


def launch_kwargs():
    """launch() arguments shared by the CLI and the tests."""
    return {"css": CSS, "max_file_size": MAX_FILE_BYTES, "theme": gr.themes.Soft()}


def queue(demo, concurrency=2, max_size=32):
    return demo.queue(default_concurrency_limit=concurrency, max_size=max_size)
