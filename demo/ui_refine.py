"""The Refine section of the Reconstruct tab and the `/refine` API: test-time refinement of both
models' latents for the current image, with a live progress bar and a Cancel button."""
import gradio as gr

from . import attention_view, metrics_view, refine
from .service import to_display
from .ui_common import enlarge, guard, render_panel, safe_image, status, to_status, whole_number

HELP = f"""**Refine** fits each model's latent tokens to *this* image by gradient steps on the 32×32
pixel centres (the decoder stays frozen), starting from the one encoder pass above. It shows how
far one pass is from the best code the decoder can use. Zoom and Walk then decode the refined
latents of this image (they say so). 0–{refine.MAX_STEPS:,} steps; Cancel keeps what is done."""


def build_section():
    """Layout (call inside the Reconstruct tab) → dict of components."""
    c = {}
    with gr.Accordion("Refine: fit this image's latents", open=True, elem_id="refine-box"):
        gr.Markdown(HELP)
        with gr.Row(equal_height=True):
            c["steps"] = whole_number(refine.DEFAULT_STEPS, label=f"Refinement steps (0–{refine.MAX_STEPS:,})",
                                   elem_id="refine-steps")
            c["refine"] = gr.Button("Refine", variant="primary", elem_id="refine-run")
            c["cancel"] = gr.Button("Cancel", variant="stop", elem_id="refine-cancel")
        c["out"], c["cap"] = {}, {}
        with gr.Row(equal_height=False):
            for row in metrics_view.REFINED_ROWS:
                with gr.Column(min_width=160):
                    c["out"][row], c["cap"][row] = render_panel(row, metrics_view.LABELS[row])
            with gr.Column(min_width=320, scale=2):
                c["curve"] = gr.Image(label="PSNR vs refinement step", show_label=False, format="png",
                                      interactive=False, elem_id="refine-curve")
        c["info"] = gr.Markdown("", elem_id="refine-info")
    return c


def describe(refined):
    """The time taken (the scores are in the tab's table, refined rows included)."""
    r = refined.as_dict()
    done = ", ".join(f"{name} {r['steps_done'][name]} steps in {r['seconds'][name]:.1f} s" for name in refine.NAMES)
    head = f"**Refined** ({done}; {r['seconds_total']:.1f} s in all)."
    if refined.cancelled:
        head += " Cancelled: the steps done so far are kept."
    return head + " Scores: in the table above, refined rows included."


def wire(c, page, service, engine, image, resolution, state, status_box, flags):
    """The section's events. page: the Reconstruct tab's components and its `fill` function."""
    outputs = [*page["outputs"], *c["out"].values(), *c["cap"].values(), c["curve"], c["info"]]

    @to_status(len(outputs), outputs.index(status_box))
    def on_refine(img, steps, res, old_state, request: gr.Request, progress=gr.Progress()):
        session = getattr(request, "session_hash", None) or "api"
        flag = flags.start(session)
        try:
            prepared, refined, images, metrics = service.refine(img, steps, res, progress=progress, stop=flag.is_set)
        finally:
            flags.finish(session, flag)
        values, new_state = page["fill"](prepared, images, metrics, old_state, refined)
        k = new_state["display_scale"]
        curve = attention_view.refine_curve_plot(refined.psnr)
        return (*values, *(enlarge(to_display(images[row]), k) for row in metrics_view.REFINED_ROWS),
                *(metrics_view.caption_line(metrics, row, f"{metrics_view.WHAT[row]} ({refined.steps_done(row.split('_')[0])} steps)")
                  for row in metrics_view.REFINED_ROWS),
                curve, describe(refined))

    c["refine"].click(on_refine, [image, c["steps"], resolution, state], outputs, api_visibility="undocumented",
                      concurrency_limit=2, concurrency_id="refine")

    def on_cancel(request: gr.Request):
        session = getattr(request, "session_hash", None) or "api"
        return status("") if flags.cancel(session) else status("Nothing to cancel: no refinement is running.")

    c["cancel"].click(on_cancel, None, status_box, queue=False, api_visibility="undocumented")

    @to_status(1, 0)
    def check_steps_typed(value):
        from .service import check_steps
        check_steps(value)
        return status()

    c["steps"].change(check_steps_typed, c["steps"], status_box, queue=False, show_progress="hidden",
                      api_visibility="undocumented")


def api(service):
    """Hidden components and the named `/refine` endpoint."""
    with gr.Column(visible=False):
        api_image = safe_image(label="image")
        api_steps = whole_number(value=refine.DEFAULT_STEPS, label="steps")
        api_resolution = whole_number(value=128, label="resolution")
        api_simplified = gr.Image(format="png", label="simplified refined render")
        api_corrected = gr.Image(format="png", label="corrected refined render")
        api_metrics = gr.JSON(label="metrics")
        api_button = gr.Button("refine")

    @guard
    def refine_api(image, steps, resolution):
        """Refine both models' latents for the image (test-time optimisation, decoder frozen) and render
        them. image: any image file; steps: 0–1000; resolution: output side in pixels (32–512).
        Returns the simplified and corrected renders of the refined latents (PNG) and a JSON with the
        scores of the one-pass and refined renders, the PSNR history per step and the seconds taken."""
        _, _, images, metrics = service.refine(image, steps, resolution)
        return to_display(images["simplified_refined"]), to_display(images["corrected_refined"]), metrics

    api_button.click(refine_api, [api_image, api_steps, api_resolution], [api_simplified, api_corrected, api_metrics],
                     api_name="refine", concurrency_limit=2, concurrency_id="refine")
