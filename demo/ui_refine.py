"""The Refine section of the Reconstruct tab and the `/refine` API: test-time refinement of both
models' latents for the current image, both at once, with one progress indicator and a Cancel button."""
import gradio as gr

from . import attention_view, metrics_view, refine
from .service import check_seed, check_sigma, check_steps, to_display
from .ui_common import (enlarge, guard, message_to, render_panel, safe_image, status, status_line,
                        unchanged, whole_number)

HELP = """**Refine** fits each model's latent tokens to *this* image by gradient steps on the {n}×{n}
pixel centres (the decoder stays frozen), starting from the one encoder pass above; both models
refine at once. It shows how far one pass is from the best code the decoder can use. Each model
keeps its **best step** (highest PSNR at the pixel centres), not necessarily its last. Zoom and
Walk then decode the refined latents of this image (they say so). 0–{steps:,} steps;
Cancel keeps what is done, and never replaces a better earlier refinement of this image."""
REFERENCES = ("The curve scores the {n}×{n} reconstruction at the pixel centres against the input; the "
              "captions and the table score the render at the output resolution against their reference.")


def help_text(size):
    """HELP for a pair whose input is size×size."""
    return HELP.format(n=size, steps=refine.MAX_STEPS)


def references(refined):
    n = refined.input_size
    return REFERENCES.format(n=n) if n else REFERENCES.replace("{n}×{n} ", "")


def build_section(size):
    """Layout (call inside the Reconstruct tab; size: the first pair's input side) → dict of components."""
    c = {}
    with gr.Accordion("Refine: fit this image's latents", open=True, elem_id="refine-box"):
        c["help"] = gr.Markdown(help_text(size), elem_id="refine-help")
        with gr.Row(equal_height=True):
            c["steps"] = whole_number(refine.DEFAULT_STEPS, label=f"Refinement steps (0–{refine.MAX_STEPS:,})",
                                      elem_id="refine-steps")
            c["refine"] = gr.Button("Refine", variant="primary", elem_id="refine-run")
            c["cancel"] = gr.Button("Cancel", variant="stop", elem_id="refine-cancel")
        c["status"] = status_line("refine-status")
        c["info"] = gr.Markdown("", elem_id="refine-info")
        c["out"], c["cap"] = {}, {}
        with gr.Row(equal_height=False):
            for row in metrics_view.REFINED_ROWS:
                c["out"][row], c["cap"][row] = render_panel(row, metrics_view.LABELS[row])
            with gr.Column(min_width=320, scale=2):
                c["curve"] = gr.Image(label="PSNR vs refinement step", show_label=False, format="png",
                                      interactive=False, elem_id="refine-curve", buttons=[])
    return c


def outputs(c):
    return [*c["out"].values(), *c["cap"].values(), c["curve"], c["info"], c["status"]]


def describe(refined):
    """The time taken, the step each model kept, and what the numbers are scored against. Every figure
    belongs to a named run: this one (steps done, seconds, cancelled or not), or the earlier refinement
    of this image whose better latents a cancelled run kept."""
    r = refined.as_dict()
    this = [name for name in refine.NAMES if name not in refined.earlier]
    run = refined.run_of(this[0]) if this else None
    kept = "; ".join(_kept(refined, r, name) for name in refine.NAMES)
    if not refined.earlier:
        done = ", ".join(f"{name} {r['steps_done'][name]} steps" for name in refine.NAMES)
        head = f"**Refined** ({done}, both at once; {r['seconds_total']:.1f} s). Kept: {kept}."
        if refined.cancelled:
            head += " Cancelled: the steps done so far are kept."
        return f"{head} {references(refined)}"
    if run is None:  # every model kept the earlier run's latents: this run's own figures are not kept
        head = (f"**Refined** — this run was cancelled after {r['seconds_total']:.1f} s and reached no better "
                "step; both models keep the earlier refinement of this image.")
    else:
        done = ", ".join(f"{name} {r['steps_done'][name]} steps" for name in this)
        head = (f"**Refined** — this run (cancelled after {r['seconds_total']:.1f} s of {run.steps:,} steps asked): "
                f"{done}.")
    return f"{head} Kept: {kept}. {references(refined)}"


def _kept(refined, r, name):
    text = f"{name} step {r['kept_step'][name]} ({r['kept_psnr'][name]:.2f} dB at the pixel centres)"
    if name not in refined.earlier:
        return text + (", from this run" if refined.earlier else "")
    run = refined.run_of(name)
    status = "cancelled" if run.cancelled else "finished"
    return (text + f", from the earlier refinement ({r['steps_done'][name]} of {run.steps:,} steps, {status}, "
            f"{run.wall:.1f} s), better than this run reached")


def values(c, metrics, panels, k, refined):
    """The section's panels → {component: value}; empty when `refined` is None (another image, or none)."""
    if refined is None or "simplified_refined" not in panels:
        out = {c["out"][row]: None for row in metrics_view.REFINED_ROWS}
        out.update({c["cap"][row]: f"**{metrics_view.LABELS[row]}**" for row in metrics_view.REFINED_ROWS})
        return {**out, c["curve"]: None, c["info"]: ""}
    out = {c["out"][row]: enlarge(panels[row], k) for row in metrics_view.REFINED_ROWS}
    for row in metrics_view.REFINED_ROWS:
        name = row.split("_")[0]
        what = (f"{metrics_view.what(row, metrics.get('input_size'))} (step {refined.best_step(name)} of "
                f"{refined.steps_done(name)} kept)")
        out[c["cap"][row]] = metrics_view.caption_line(metrics, row, what)
    curve = attention_view.refine_curve_plot(refined.psnr, {n: refined.best_step(n) for n in refine.NAMES},
                                             metrics.get("input_size"))
    return {**out, c["curve"]: curve, c["info"]: describe(refined)}


def wire(c, page, rec, services, flags):
    """The section's events. page: the page's shared components; rec: the Reconstruct tab's components and
    its wiring (outputs, reconstruct_values); services: the pair's Service of a pair choice (ui_common.Services)."""
    tab = rec["tab"]

    @message_to(c["status"])
    def on_refine(img, steps, res, sig, sd, old_state, key, request: gr.Request, progress=gr.Progress()):
        service = services(key)
        check_steps(steps), service.check_resolution(res), check_sigma(sig), check_seed(sd)  # refused before any work
        session = getattr(request, "session_hash", None) or "api"
        flag = flags.start(session)
        try:
            _, refined = service.refine_latents(img, steps, progress=progress, stop=flag.is_set)
        finally:
            flags.finish(session, flag)
        if flag.superseded:  # another image was chosen meanwhile: this image's result is not shown
            return unchanged(rec["outputs"])
        earlier = (old_state or {}).get("refined")
        refined = refine.keep_better(refined, earlier)
        out = rec["reconstruct_values"](tab, page, service, (img, res, sig, sd), old_state, refined=refined)
        return {**out, c["status"]: status()}

    inputs = [page["image"], c["steps"], page["resolution"], tab["sigma"], tab["seed"], page["state"], page["pair"]]
    running = c["refine"].click(on_refine, inputs, rec["outputs"], api_visibility="undocumented", concurrency_limit=2,
                                concurrency_id="refine", show_progress_on=[c["info"]])  # right under the button

    def on_cancel(request: gr.Request):
        session = getattr(request, "session_hash", None) or "api"
        return status("") if flags.cancel(session) else status("Nothing to cancel: no refinement is running.")

    def on_new_input(img, st, key, request: gr.Request):
        """Another image: a refinement of the previous one stops, and its result is dropped. The same
        picture put back after a refused upload (or the refused file itself) stops nothing."""
        if services.is_new(img, st, key):
            flags.cancel(getattr(request, "session_hash", None) or "api", superseded=True)

    page["image"].change(on_new_input, [page["image"], page["state"], page["pair"]], None, queue=False,
                         api_visibility="undocumented")

    c["cancel"].click(on_cancel, None, c["status"], queue=False, api_visibility="undocumented",
                      show_progress="hidden")

    @message_to(c["status"])
    def check_steps_typed(value):
        check_steps(value)
        return {c["status"]: status()}

    c["steps"].change(check_steps_typed, c["steps"], c["status"], queue=False, show_progress="hidden",
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
        """Refine both models' latents for the image (test-time optimisation, decoder frozen; each model
        keeps its best step) and render them. image: any image file; steps: 0–1000; resolution: output
        side in pixels (32–512). Returns the simplified and corrected renders of the refined latents (PNG)
        and a JSON with the scores of the one-pass and refined renders, the PSNR history per step, the
        step kept and the seconds taken."""
        _, _, images, metrics = service.refine(image, steps, resolution)
        return to_display(images["simplified_refined"]), to_display(images["corrected_refined"]), metrics

    api_button.click(refine_api, [api_image, api_steps, api_resolution], [api_simplified, api_corrected, api_metrics],
                     api_name="refine", concurrency_limit=2, concurrency_id="refine")
