"""The Reconstruct tab: both renders with a caption line each, the clicked pixel's attention right
under them, the scores, Refine, a before/after slider, and (on demand) the jitter sweep and LP-token maps.

Every panel of the tab follows the input: a new image (an example, an upload, *Random*) is
reconstructed at once and the refined panels of another image are cleared (`page_values`)."""
import logging

import gradio as gr

from . import metrics_view, pair_figures, ui_refine
from .engine import MAX_SIGMA
from .service import UserError, check_seed, check_sigma, to_display
from .ui_common import (DISPLAY_SIDE, Newest, enlarge, guard, message_to, render_panel, render_stamp_js, status,
                        status_line, unchanged, whole_number)

LP = ("LP tokens are the latent tokens the encoder makes from the image; the decoder reads every "
      "pixel's colour from them by attention")
CLICK_HINT = (f"**Click a pixel** of the simplified or corrected render to see, right here, how that query "
              f"attends over the LP tokens ({LP}).")
EMPTY = "Pick an example or upload an image: the page reconstructs it at once."
COMPARE_DEFAULT = ("bicubic", "corrected")
log = logging.getLogger("demo")


def panel_choices(state):
    """The panels the slider can compare: label → row, those that exist in `state`."""
    panels = (state or {}).get("panels", {})
    return [(metrics_view.LABELS[row], row) for row in (*metrics_view.ROWS, *metrics_view.REFINED_ROWS)
            if row in panels]


def compare_pair(state, left, right):
    """The two chosen panels, enlarged like the renders → (left, right) or None."""
    panels = (state or {}).get("panels", {})
    if left not in panels or right not in panels:
        return None
    k = state.get("display_scale", 1)
    return enlarge(panels[left], k), enlarge(panels[right], k)


def sigma_label(size):
    return f"Jitter robustness: PSNR vs σ at {size}×{size} (this image)"


def build_tab(service):
    """Layout (call inside gr.Tabs; service: the first pair's) → dict of the components the page wires."""
    c = {}
    with gr.Tab("Reconstruct", id="reconstruct", elem_id="tab-reconstruct"):
        with gr.Row(equal_height=True):
            c["sigma"] = gr.Number(0.0, label=f"Query jitter σ (0–{MAX_SIGMA})", step=0.001, elem_id="sigma")
            c["seed"] = whole_number(0, label="Seed (jitter noise)", minimum=0, elem_id="seed")
            c["run"] = gr.Button("Reconstruct", variant="primary", elem_id="run")
        c["status"] = status_line("rec-status")
        c["out"], c["cap"] = {}, {}
        with gr.Row(equal_height=False):
            for row in metrics_view.ROWS:
                c["out"][row], c["cap"][row] = render_panel(row, metrics_view.LABELS[row])
        c["pixel_text"] = gr.Markdown(CLICK_HINT, elem_id="pixel-text")
        with gr.Row(visible=False, elem_id="attention-row") as c["attention_row"]:
            c["pixel_plot"] = gr.Image(label="Attention of the clicked pixel over LP tokens", format="png",
                                       interactive=False, show_label=False, elem_id="pixel-plot", scale=3, buttons=[])
            c["bias_plot"] = gr.Image(label="Corrected: spatial bias (queries × LP tokens)", format="png",
                                      interactive=False, show_label=False, elem_id="bias-plot", scale=2, buttons=[])
        with gr.Row(equal_height=False):  # the scores, and beside them the pair's measured figures (bicubic's too)
            with gr.Column(scale=2, min_width=300):
                c["metrics"] = gr.Markdown(EMPTY, elem_id="metrics")
            with gr.Column(scale=3, min_width=300):
                c["figures"] = gr.Markdown("", elem_id="pair-figures")
        c["refine"] = ui_refine.build_section(service.size)
        _compare_section(c)
        _on_demand_sections(c, service)
    return c


def _compare_section(c):
    with gr.Accordion("Compare two panels (slider)", open=True, elem_id="compare-box"):
        with gr.Row():
            c["left"] = gr.Dropdown([], value=None, label="left", elem_id="compare-left", min_width=200)
            c["right"] = gr.Dropdown([], value=None, label="right", elem_id="compare-right", min_width=200)
        c["slider"] = gr.ImageSlider(label="before / after", show_label=False, format="png", type="numpy",
                                     interactive=False, elem_id="compare", elem_classes=["pixelated"],
                                     max_height=320, buttons=[])


def _on_demand_sections(c, service):
    with gr.Accordion(sigma_label(service.size), open=False, elem_id="sigma-box") as c["sigma_box"]:
        c["sigma_plot"] = gr.Image(label="PSNR vs σ (this image)", format="png", interactive=False,
                                   show_label=False, elem_id="sigma-plot", buttons=[])
    with gr.Accordion("Where each LP token is attended", open=False, elem_id="token-box") as c["token_box"]:
        with gr.Row():
            c["token_model"] = gr.Radio(choices=["corrected", "simplified"], value="corrected", label="Model",
                                        elem_id="token-model")
            c["token"] = gr.Slider(0, service.engine.num_lp("corrected") - 1, value=0, step=1, label="LP token",
                                   elem_id="token")
        c["token_plot"] = gr.Image(label="Where this LP token is attended", format="png", interactive=False,
                                   show_label=False, elem_id="token-plot", buttons=[])


def outputs(c, page):
    """Every component `page_values` sets (the tab's, the Refine section's and the page's state / notes)."""
    r = c["refine"]
    return [*c["out"].values(), *c["cap"].values(), c["metrics"], c["figures"], c["status"], c["pixel_text"],
            c["attention_row"], c["pixel_plot"], c["bias_plot"], c["left"], c["right"], c["slider"], c["sigma_box"],
            c["sigma_plot"], c["token_box"], c["token_plot"], *ui_refine.outputs(r), page["state"], page["notes"]]


def _secondary_closed(c, service):
    """The click read-out hidden and the on-demand sections closed (they are redrawn when opened); the
    sweep's title names `service`'s input size."""
    return {c["pixel_text"]: CLICK_HINT, c["attention_row"]: gr.Row(visible=False), c["pixel_plot"]: None,
            c["bias_plot"]: None, c["sigma_box"]: gr.Accordion(open=False, label=sigma_label(service.size)),
            c["sigma_plot"]: None, c["token_box"]: gr.Accordion(open=False), c["token_plot"]: None}


def bicubic_extra(service, size):
    """The pair's measured figures at this output's ×k, to stand beside bicubic's caption."""
    return pair_figures.bicubic_line(service.figures, pair_figures.factor_of(size, service.size))


def page_values(c, page, service, prepared, images, metrics):
    """The tab after a render → {component: value}; the new session state is page["state"]'s value.
    `metrics["refinement"]` is present when the refined rows are in `images` (demo.service.reconstruct)."""
    size = metrics["resolution"]
    k = max(1, DISPLAY_SIDE // size)  # small renders are sent enlarged by an integer factor (nearest):
    # the browser never smooths them, and click coordinates map back exactly (x // k)
    refined = page.get("refined")
    panels = {row: to_display(image) for row, image in images.items()}
    state = {"prepared": prepared, "size": size, "sigma": metrics.get("sigma", 0.0), "seed": metrics.get("seed", 0),
             "display_scale": k, "panels": panels, "refined": refined, "pair": service.key}
    table = metrics_view.markdown(metrics, metrics.get("sigma", 0.0))
    if k > 1:
        table += f"\n\nShown enlarged ×{k} (nearest neighbour); downloads are the same enlarged pixels."
    values = {c["out"][row]: enlarge(panels[row], k) for row in metrics_view.ROWS}
    values.update({c["cap"][row]: metrics_view.caption_line(
        metrics, row, what(service, row), bicubic_extra(service, size) if row == "bicubic" else "")
        for row in metrics_view.ROWS})
    values.update(_secondary_closed(c, service))
    values.update(ui_refine.values(c["refine"], metrics, panels, k, refined))
    choices = panel_choices(state)
    left, right = COMPARE_DEFAULT[0], ("corrected_refined" if "corrected_refined" in panels else COMPARE_DEFAULT[1])
    values.update({c["metrics"]: table, c["figures"]: pair_figures.markdown(service.figures, service.pair, size),
                   c["status"]: status(), c["left"]: gr.Dropdown(choices=choices, value=left),
                   c["right"]: gr.Dropdown(choices=choices, value=right), c["slider"]: compare_pair(state, left, right),
                   page["state"]: state, page["notes"]: input_notes(prepared)})
    return values


def cleared_values(c, page, service):
    """The tab with no input: every panel empty, the refined ones too, the state forgotten."""
    values = {c["out"][row]: None for row in metrics_view.ROWS}
    values.update({c["cap"][row]: f"**{metrics_view.LABELS[row]}**" for row in metrics_view.ROWS})
    values.update(_secondary_closed(c, service))
    values.update(ui_refine.values(c["refine"], None, {}, 1, None))
    values.update({c["metrics"]: EMPTY, c["figures"]: "", c["left"]: gr.Dropdown(choices=[], value=None),
                   c["right"]: gr.Dropdown(choices=[], value=None), c["slider"]: None,
                   page["state"]: None, page["notes"]: ""})
    return values


def reconstruct_values(c, page, service, args, old_state, progress=None, refined=None):
    """Render `args` (image, resolution, σ, seed) with `service`'s pair and the session's refinement of this
    image, if any → {component: value}. `refined`: a refinement just made (else the one in old_state)."""
    refined = refined if refined is not None else (old_state or {}).get("refined")
    prepared, images, metrics = service.reconstruct(*args, progress=progress, refined=refined)
    kept = refined if "refinement" in metrics else None
    values = page_values(c, dict(page, refined=kept), service, prepared, images, metrics)
    values[page["state"]]["source"] = args[0]  # what the input box gets back after a refused upload
    return values


def wire(c, services, page):
    """The tab's events. services: the Service of a pair choice (ui_common.Services); page: the page's shared
    components (image, resolution, state, status_box, notes, pair)."""
    image, resolution, state = page["image"], page["resolution"], page["state"]
    outs = outputs(c, page)
    stamp = gr.Number(0, visible=False, elem_id="render-stamp")  # the order the page asked for renders in (Newest)
    inputs = [image, resolution, c["sigma"], c["seed"], state, page["pair"], stamp]
    stamped = render_stamp_js(len(inputs) - 1, len(inputs))

    newest = Newest()

    def render(service, args, old_state, progress, request, seq=None):
        """reconstruct_values, unless a render this session asked for later has started (its result wins)."""
        ticket = newest.start(request, seq)
        values = reconstruct_values(c, page, service, args, old_state, progress)
        return values if newest.is_newest(ticket) else unchanged(outs)

    @message_to(c["status"])
    def on_run(img, res, sig, sd, old_state, key, seq, request: gr.Request, progress=gr.Progress()):
        """Renders and scores only: the secondary panels are drawn when their section is opened."""
        return render(services(key), (img, res, sig, sd), old_state, progress, request, seq)

    @guard
    def on_input(img, res, sig, sd, old_state, key, seq, request: gr.Request, progress=gr.Progress()):
        """A new input, another pair, or the first view: reconstructed at once. A file that cannot be read
        changes nothing (its refusal is the upload's message, beside the image); no image clears every panel."""
        service = services(key)
        if img is None:
            return cleared_values(c, page, service)
        if not services.is_new(img, old_state, key):
            return unchanged(outs)  # the same picture (e.g. put back after a refused upload), or a refused file
        try:
            service.check_resolution(res), check_sigma(sig), check_seed(sd)
        except ValueError:  # a refused typed value waits for Reconstruct; the new image is shown
            res, sig, sd = max(128, service.size), 0.0, 0
        try:
            return render(service, (img, res, sig, sd), old_state, progress, request, seq)
        except ValueError:
            return cleared_values(c, page, service)

    busy = [c["out"]["corrected"]]  # one progress indicator, on the slowest panel
    first = page["demo"].load(on_input, inputs, outs, api_visibility="undocumented", show_progress_on=busy,
                              js=stamped)
    run = c["run"].click(on_run, inputs, outs, api_name="run", api_visibility="undocumented", show_progress_on=busy,
                         cancels=[first], js=stamped)
    # No render cancels a Reconstruct click: the image box fires "change" again when its picture has loaded in
    # the browser (seconds later on a busy server), and a change that cancelled `run` then discarded the click's
    # render; the newest render wins through `newest` instead (an older one's result is dropped).
    changed = image.change(on_input, inputs, outs, api_visibility="undocumented", show_progress_on=busy,
                           trigger_mode="always_last", cancels=[first], js=stamped)
    _wire_settings(c, page, inputs, outs, render, services)
    c["run"].click(None, None, None, cancels=[changed], api_visibility="undocumented")  # the newest request wins
    _wire_secondary(c, services, state)
    return {"outputs": outs, "inputs": inputs, "reconstruct_values": reconstruct_values, "on_input": on_input,
            "busy": busy, "stamped": stamped}


SETTINGS = (("resolution", "check_resolution", "Resolution"), ("sigma", check_sigma, "σ (jitter)"),
            ("seed", check_seed, "Seed"))  # a name: the pair's Service's own check (its input size is the minimum)


def settings_key(size, sigma, seed):
    """What a render depends on besides the image (the seed only when there is jitter)."""
    return size, sigma, (seed if sigma else 0)


def _wire_settings(c, page, inputs, outs, render, services):
    """Output resolution, σ and seed re-render the panels as soon as a new value is committed (Enter, or
    leaving the box); a refused value is said beside its box, once, and the panels stay as they were. A
    commit that changes nothing (leaving the box after Enter) does nothing. These events cancel no other
    (a cancelled render marks its panel with an error badge); each renders the input box's current image
    at the values committed; of two renders that overlap, the newer one's result is shown (`render`)."""
    boxes = {"resolution": page["resolution"], "sigma": c["sigma"], "seed": c["seed"]}
    lines = {"resolution": page["status_box"], "sigma": c["status"], "seed": c["status"]}
    for i, (name, check, prefix) in enumerate(SETTINGS):
        line = lines[name]

        def on_setting(img, res, sig, sd, old_state, key, seq, shown, request: gr.Request, progress=gr.Progress(), i=i,
                       check=check, line=line, prefix=prefix):
            said = str(shown or "").startswith(status(prefix))  # this box's own refusal is on its line
            service = services(key)
            check = getattr(service, check) if isinstance(check, str) else check
            try:
                check((res, sig, sd)[i])
            except UserError as err:
                if shown == status(str(err)):
                    return unchanged([line])  # already said (Enter, then leaving the box): one message, one log line
                log.info("refused: %s", err)
                return {line: status(str(err))}
            cleared = {line: status() if said else gr.skip()}
            try:
                size, sigma, seed = service.check_resolution(res), check_sigma(sig), check_seed(sd)
            except UserError:
                return cleared  # another box's refusal stands until it is corrected
            st = old_state or {}
            same = st and settings_key(size, sigma, seed) == settings_key(st["size"], st["sigma"], st["seed"])
            if img is None or (same and not services.is_new(img, st, key)):
                return cleared  # nothing to render, or nothing new
            return {**render(service, (img, size, sigma, seed), old_state, progress, request, seq), **cleared}

        handler = message_to(line)(on_setting)
        for trigger in (boxes[name].submit, boxes[name].blur):
            trigger(handler, [*inputs, line], [*outs, page["status_box"]], api_visibility="undocumented",
                    show_progress_on=[c["out"]["corrected"]], trigger_mode="always_last",
                    js=render_stamp_js(len(inputs) - 1, len(inputs) + 1))


def _wire_secondary(c, services, state):
    """The slider, the pixel click, the jitter sweep and the token maps."""
    @guard
    def on_compare(st, left, right):
        return compare_pair(st, left, right)

    for dropdown in (c["left"], c["right"]):
        dropdown.input(on_compare, [state, c["left"], c["right"]], c["slider"], api_visibility="undocumented")

    @guard
    def on_select(st, evt: gr.SelectData):
        if not st:
            return CLICK_HINT, gr.Row(visible=False), None, None
        k = st.get("display_scale", 1)
        x, y = evt.index[0] // k, evt.index[1] // k
        plot, text, bias, _ = services.of_state(st).pixel(st, x, y)  # the bias map highlights the clicked pixel's query row
        return text, gr.Row(visible=True), plot, bias

    for row in ("simplified", "corrected"):
        c["out"][row].select(on_select, [state], [c["pixel_text"], c["attention_row"], c["pixel_plot"],
                                                  c["bias_plot"]], api_visibility="undocumented")

    @guard
    def on_sigma_box(st):
        return services.of_state(st).sigma_curve(st["prepared"], st["seed"])[1] if st else None

    c["sigma_box"].expand(on_sigma_box, [state], c["sigma_plot"], api_visibility="undocumented")
    _wire_tokens(c, services, state)


def _wire_tokens(c, services, state):
    @guard
    def on_token(st, model, tok):
        return services.of_state(st).token(st, model, tok) if st else None

    token_inputs = [state, c["token_model"], c["token"]]
    c["token_box"].expand(on_token, token_inputs, c["token_plot"], api_visibility="undocumented")
    c["token"].release(on_token, token_inputs, c["token_plot"], api_visibility="undocumented")

    @guard
    def on_token_model(st, model, tok):
        """Switching model: the slider's range becomes that model's LP tokens."""
        service = services.of_state(st)
        last = service.engine.num_lp(model) - 1
        tok = min(int(tok or 0), last)
        return gr.Slider(maximum=last, value=tok), (service.token(st, model, tok) if st else None)

    c["token_model"].change(on_token_model, token_inputs, [c["token"], c["token_plot"]],
                            api_visibility="undocumented")


def what(service, row):
    """The caption's "what it is", with the model's token count."""
    text = metrics_view.what(row, service.size)
    return f"{text}, {service.engine.num_lp(row)} LP tokens" if row in ("simplified", "corrected") else text


def input_notes(prepared):
    return ("Input: " + "; ".join(prepared.notes)) if prepared.notes else ""


def api(service):
    """Hidden components and the named `/reconstruct` endpoint (the first pair's `service`)."""
    from .ui_common import safe_image

    with gr.Column(visible=False):
        api_image = safe_image(label="image")
        api_resolution = whole_number(value=128, label="resolution")
        api_sigma = gr.Number(value=0.0, label="sigma")
        api_simplified = gr.Image(format="png", label="simplified render")
        api_corrected = gr.Image(format="png", label="corrected render")
        api_metrics = gr.JSON(label="metrics")
        api_button = gr.Button("reconstruct")

    @guard
    def reconstruct(image, resolution, sigma):
        """Render the image with both models. image: any image file; resolution: output side in
        pixels (32–512); sigma: query jitter (0–0.05). Returns the simplified render, the corrected
        render (PNG) and a JSON of PSNR/SSIM (with the reference used) and the loaded weights."""
        _, images, metrics = service.reconstruct(image, resolution, sigma, 0)
        return to_display(images["simplified"]), to_display(images["corrected"]), metrics

    api_button.click(reconstruct, [api_image, api_resolution, api_sigma],
                     [api_simplified, api_corrected, api_metrics], api_name="reconstruct")
