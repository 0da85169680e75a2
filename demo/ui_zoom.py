"""The Zoom tab and the `/zoom` API: a square window of the input rendered at the chosen resolution."""
import gradio as gr

from . import metrics_view, zoom
from .images import MODEL_SIZE
from .service import UserError, check_window, load_input, to_display
from .ui_common import DISPLAY_SIDE, enlarge, guard, safe_image, status, status_line, to_status, whole_number

PICKER_SCALE = 8  # the picker shows the 32×32 input at 256×256
DEFAULT = zoom.Window(8.0, 8.0, 16.0)
HELP = f"""**Zoom anywhere.** The decoders are functions of a continuous (y, x): the window is decoded
from the image's cached latents on a fresh pixel-centre grid *inside* it — nothing is cropped from a
bigger render. Type the window's corner and size in input pixels (real numbers, size
{zoom.MIN_WINDOW:g}–{MODEL_SIZE}) or **click the input below to centre the window there**; the output
size is the *Output resolution* box on the left. Bicubic and nearest sample the 32×32 input at the same coordinates."""


def picker_image(image, y, x, size):
    """The input ×8 with the window outlined; the bare input when the window is not valid; None without
    input; unchanged for a file the demo cannot read (its upload is refused and the previous input stays)."""
    if image is None:
        return None
    try:
        prepared = load_input(image)
    except UserError:
        return gr.skip()
    try:
        window = check_window(y, x, size)
    except UserError:
        window = None
    return zoom.picker(prepared.model_input, window, PICKER_SCALE)


def _shown(images, metrics):
    k = max(1, DISPLAY_SIDE // metrics["resolution"])
    shown = [enlarge(to_display(images[row]), k) for row in metrics_view.ROWS]
    captions = [metrics_view.caption_line(metrics, row, WHAT.get(row)) for row in metrics_view.ROWS]
    table = metrics_view.markdown(metrics)
    if k > 1:
        table += f"\n\nImages are shown enlarged ×{k} (nearest neighbour)."
    return shown, captions, table


WHAT = {"nearest": "the input's window, sampled without smoothing",
        "bicubic": "the input's window, bicubic",
        "simplified": "the simplified model's decode of the window",
        "corrected": "the corrected model's decode of the window"}


def build_tab(demo, service, image, resolution, state, status_box):
    """The tab's layout and events (call inside gr.Tabs). image / resolution / state / status_box: the
    page's shared components (state: the session's refined latents, if any)."""
    with gr.Tab("Zoom", id="zoom", elem_id="tab-zoom"):
        gr.Markdown(HELP)
        with gr.Row():
            with gr.Column():
                gr.Markdown("**The input**: click to centre the window there", elem_classes=["caption"])
                picker = gr.Image(label="Input: click to centre the window", show_label=False, format="png",
                                  interactive=False, type="numpy", elem_id="zoom-picker", elem_classes=["pixelated"],
                                  height=256, buttons=[])
            with gr.Column():
                y = gr.Number(DEFAULT.y, label="Window corner y (input pixels from the top)", elem_id="zoom-y")
                x = gr.Number(DEFAULT.x, label="Window corner x (input pixels from the left)", elem_id="zoom-x")
                size = gr.Number(DEFAULT.size, label=f"Window size (input pixels, {zoom.MIN_WINDOW:g}–{MODEL_SIZE})",
                                 elem_id="zoom-size")
                run = gr.Button("Zoom", variant="primary", elem_id="zoom-run")
                zoom_status = status_line("zoom-status")
        outs, caps = [], []
        with gr.Row(equal_height=False):
            for row in metrics_view.ROWS:
                with gr.Column(min_width=160):
                    outs.append(gr.Image(label=metrics_view.LABELS[row], show_label=False, format="png",
                                         interactive=False, type="numpy", elem_id=f"zoom-{row}",
                                         elem_classes=["pixelated", "render"], buttons=["download", "fullscreen"]))
                    caps.append(gr.Markdown(f"**{metrics_view.LABELS[row]}**", elem_id=f"zoom-cap-{row}",
                                            elem_classes=["caption"]))
        table = gr.Markdown("Choose a window and press **Zoom**.", elem_id="zoom-metrics")

    outputs = [*outs, *caps, table, picker, zoom_status]

    @to_status(len(outputs), len(outputs) - 1)
    def on_zoom(img, yy, xx, ss, res, st, progress=gr.Progress()):
        refined = (st or {}).get("refined")
        prepared, window, images, metrics = service.zoom(img, yy, xx, ss, res, progress=progress, refined=refined)
        shown, captions, text = _shown(images, metrics)
        text += f"\n\nThe models decode this image's **{metrics['latents']}**."
        note = ("\n\nInput: " + "; ".join(prepared.notes)) if prepared.notes else ""
        return (*shown, *captions, text + note, zoom.picker(prepared.model_input, window, PICKER_SCALE), status())

    run.click(on_zoom, [image, y, x, size, resolution, state], outputs, api_name="zoom_page",
              api_visibility="undocumented", show_progress_on=[outs[-1]])  # one indicator, on the corrected panel

    @guard
    def on_pick(ss, evt: gr.SelectData):
        """A click on the picker centres the window there (moved inside the image) → new y, x."""
        ss = ss if isinstance(ss, (int, float)) and ss > 0 else DEFAULT.size
        window = zoom.centred((evt.index[1] + 0.5) / PICKER_SCALE, (evt.index[0] + 0.5) / PICKER_SCALE, ss)
        return window.y, window.x, window.size

    picker.select(on_pick, [size], [y, x, size], api_visibility="undocumented", queue=False).then(
        on_zoom, [image, y, x, size, resolution, state], outputs, api_visibility="undocumented",
        show_progress_on=[outs[-1]])
    redraw = dict(fn=picker_image, inputs=[image, y, x, size], outputs=picker, api_visibility="undocumented",
                  queue=False, show_progress="hidden")
    gr.on([image.change, y.input, x.input, size.input, demo.load], **redraw)
    cleared = {**{o: None for o in outs}, **{cap: f"**{metrics_view.LABELS[row]}**" for cap, row in
                                               zip(caps, metrics_view.ROWS)},
               table: "Choose a window and press **Zoom**.", zoom_status: ""}
    return {"cleared": cleared}


def build_api(service):
    """Hidden components and the named `/zoom` endpoint."""
    with gr.Column(visible=False):
        api_image = safe_image(label="image")
        api_y = gr.Number(value=DEFAULT.y, label="y")
        api_x = gr.Number(value=DEFAULT.x, label="x")
        api_size = gr.Number(value=DEFAULT.size, label="size")
        api_resolution = whole_number(value=128, label="resolution")
        api_outs = [gr.Image(format="png", label=f"{row} render") for row in ("simplified", "corrected", "bicubic")]
        api_metrics = gr.JSON(label="metrics")
        api_button = gr.Button("zoom")

    @guard
    def zoom_api(image, y, x, size, resolution):
        """Render a square window of the image with both models. image: any image file; y, x: the
        window's top-left corner and size: its side, in pixels of the 32×32 model input (real
        numbers; size 1–32; the window must lie inside the input); resolution: output side in pixels
        (32–512). Returns the simplified, corrected and bicubic renders of the window (PNG) and a
        JSON of PSNR/SSIM (with the reference used) and the window."""
        _, _, images, metrics = service.zoom(image, y, x, size, resolution)
        return (*(to_display(images[row]) for row in ("simplified", "corrected", "bicubic")), metrics)

    api_button.click(zoom_api, [api_image, api_y, api_x, api_size, api_resolution], [*api_outs, api_metrics],
                     api_name="zoom")
