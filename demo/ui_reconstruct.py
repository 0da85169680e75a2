"""The Reconstruct tab: both renders with a caption line each, the clicked pixel's attention right
under them, the scores, a before/after slider, and (on demand) the jitter sweep and LP-token maps."""
import gradio as gr

from . import metrics_view, ui_refine
from .engine import MAX_SIGMA
from .service import to_display
from .ui_common import DISPLAY_SIDE, enlarge, guard, render_panel, status, to_status, whole_number

CLICK_HINT = ("**Click a pixel** of the simplified or corrected render to see, right here, how that query "
              "attends over the LP tokens.")
COMPARE_DEFAULT = ("bicubic", "corrected")


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


def build_tab(service, engine):
    """Layout (call inside gr.Tabs) → dict of the components the page wires."""
    c = {}
    with gr.Tab("Reconstruct", id="reconstruct", elem_id="tab-reconstruct"):
        with gr.Row(equal_height=True):
            c["sigma"] = gr.Number(0.0, label=f"Query jitter σ (0–{MAX_SIGMA})", step=0.001, elem_id="sigma")
            c["seed"] = whole_number(0, label="Seed (jitter noise)", minimum=0, elem_id="seed")
            c["run"] = gr.Button("Reconstruct", variant="primary", elem_id="run")
        c["out"], c["cap"] = {}, {}
        with gr.Row(equal_height=False):
            for row in metrics_view.ROWS:
                with gr.Column(min_width=160):
                    c["out"][row], c["cap"][row] = render_panel(row, metrics_view.LABELS[row])
        c["pixel_text"] = gr.Markdown(CLICK_HINT, elem_id="pixel-text")
        with gr.Row(visible=False, elem_id="attention-row") as c["attention_row"]:
            c["pixel_plot"] = gr.Image(label="Attention of the clicked pixel over LP tokens", format="png",
                                       interactive=False, show_label=False, elem_id="pixel-plot", scale=3)
            c["bias_plot"] = gr.Image(label="Corrected: spatial bias (queries × LP tokens)", format="png",
                                      interactive=False, show_label=False, elem_id="bias-plot", scale=2)
        c["metrics"] = gr.Markdown("Pick an example (or upload an image) and press **Reconstruct**.",
                                   elem_id="metrics")
        c["refine"] = ui_refine.build_section()
        with gr.Accordion("Compare two panels (slider)", open=True, elem_id="compare-box"):
            with gr.Row():
                c["left"] = gr.Dropdown([], value=None, label="left", elem_id="compare-left", min_width=120)
                c["right"] = gr.Dropdown([], value=None, label="right", elem_id="compare-right", min_width=120)
            c["slider"] = gr.ImageSlider(label="before / after", show_label=False, format="png", type="numpy",
                                         interactive=False, elem_id="compare", elem_classes=["pixelated"],
                                         max_height=320)
        with gr.Accordion("Jitter robustness: PSNR vs σ at 32×32 (this image)", open=False,
                          elem_id="sigma-box") as c["sigma_box"]:
            c["sigma_plot"] = gr.Image(label="PSNR vs σ (this image)", format="png", interactive=False,
                                       show_label=False, elem_id="sigma-plot")
        with gr.Accordion("Where each LP token is attended", open=False, elem_id="token-box") as c["token_box"]:
            with gr.Row():
                c["token_model"] = gr.Radio(choices=["corrected", "simplified"], value="corrected", label="Model",
                                            elem_id="token-model")
                c["token"] = gr.Slider(0, engine.num_lp("corrected") - 1, value=0, step=1, label="LP token",
                                       elem_id="token")
            c["token_plot"] = gr.Image(label="Where this LP token is attended", format="png", interactive=False,
                                       show_label=False, elem_id="token-plot")
    return c


def wire(c, service, engine, image, resolution, state, status_box, notes):
    """The tab's events. image / resolution / status_box / notes: the page's shared components."""
    bias_unmarked = {}

    def bias_plot(query=None):
        if query is None:
            if "img" not in bias_unmarked:
                bias_unmarked["img"] = service.bias_plot()
            return bias_unmarked["img"]
        return service.bias_plot(query)

    run_outputs = [*c["out"].values(), *c["cap"].values(), c["metrics"], state, notes, status_box,
                   c["pixel_text"], c["attention_row"], c["left"], c["right"], c["slider"], c["sigma_box"],
                   c["sigma_plot"], c["token_box"], c["token_plot"]]

    def fill(prepared, images, metrics, old_state, refined=None):
        """The page after a render → (values of run_outputs, the session's new state). `refined`: the
        refinement just made, else the session's earlier one if it belongs to this image."""
        size = metrics["resolution"]
        k = max(1, DISPLAY_SIDE // size)  # small renders are sent enlarged by an integer factor (nearest):
        # the browser never smooths them, and click coordinates map back exactly (x // k)
        if refined is None:
            refined = (old_state or {}).get("refined")
            refined = refined if refined is not None and refined.applies_to(prepared) else None
        panels = {row: to_display(image) for row, image in images.items()}
        new_state = {"prepared": prepared, "size": size, "sigma": metrics.get("sigma", 0.0),
                     "seed": metrics.get("seed", 0), "display_scale": k, "panels": panels, "refined": refined}
        table = metrics_view.markdown(metrics, metrics.get("sigma", 0.0))
        if k > 1:
            table += f"\n\nShown enlarged ×{k} (nearest neighbour); downloads are the same enlarged pixels."
        if refined is not None:
            table += f"\n\nZoom and Walk decode this image's {refined.describe()}."
        choices = panel_choices(new_state)
        left, right = COMPARE_DEFAULT[0], ("corrected_refined" if "corrected_refined" in panels else COMPARE_DEFAULT[1])
        values = (*(enlarge(panels[row], k) for row in metrics_view.ROWS),
                  *(metrics_view.caption_line(metrics, row, what(engine, row)) for row in metrics_view.ROWS),
                  table, new_state, input_notes(prepared), status(), CLICK_HINT, gr.Row(visible=False),
                  gr.Dropdown(choices=choices, value=left), gr.Dropdown(choices=choices, value=right),
                  compare_pair(new_state, left, right), gr.Accordion(open=False), None, gr.Accordion(open=False),
                  None)
        return values, new_state

    @to_status(len(run_outputs), run_outputs.index(status_box))
    def on_run(img, res, sig, sd, old_state, progress=gr.Progress()):
        """Renders and scores only: the secondary panels are drawn when their section is opened."""
        prepared, images, metrics = service.reconstruct(img, res, sig, sd, progress=progress)
        return fill(prepared, images, metrics, old_state)[0]

    inputs = [image, resolution, c["sigma"], c["seed"], state]
    c["run"].click(on_run, inputs, run_outputs, api_name="run", api_visibility="undocumented")

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
        plot, text, _, query = service.pixel(st, x, y)
        return text, gr.Row(visible=True), plot, bias_plot(query)

    for row in ("simplified", "corrected"):
        c["out"][row].select(on_select, [state], [c["pixel_text"], c["attention_row"], c["pixel_plot"],
                                                  c["bias_plot"]], api_visibility="undocumented")

    @guard
    def on_sigma_box(st):
        if not st:
            return None
        return service.sigma_curve(st["prepared"], st["seed"])[1]

    c["sigma_box"].expand(on_sigma_box, [state], c["sigma_plot"], api_visibility="undocumented")

    @guard
    def on_token(st, model, tok):
        return service.token(st, model, tok) if st else None

    c["token_box"].expand(on_token, [state, c["token_model"], c["token"]], c["token_plot"],
                          api_visibility="undocumented")
    c["token"].release(on_token, [state, c["token_model"], c["token"]], c["token_plot"],
                       api_visibility="undocumented")

    @guard
    def on_token_model(st, model, tok):
        """Switching model: the slider's range becomes that model's LP tokens."""
        last = engine.num_lp(model) - 1
        tok = min(int(tok or 0), last)
        return gr.Slider(maximum=last, value=tok), (service.token(st, model, tok) if st else None)

    c["token_model"].change(on_token_model, [state, c["token_model"], c["token"]], [c["token"], c["token_plot"]],
                            api_visibility="undocumented")
    return {"on_run": on_run, "inputs": inputs, "outputs": run_outputs, "fill": fill}


def what(engine, row):
    """The caption's "what it is", with the model's token count."""
    if row in ("simplified", "corrected"):
        return f"{metrics_view.WHAT[row]}, {engine.num_lp(row)} LP tokens"
    return metrics_view.WHAT[row]


def input_notes(prepared):
    return ("Input: " + "; ".join(prepared.notes)) if prepared.notes else ""


def api(service):
    """Hidden components and the named `/reconstruct` endpoint."""
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
