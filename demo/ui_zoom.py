"""The Zoom tab and the `/zoom` API: a square window of the input rendered at the chosen resolution."""
import gradio as gr

from . import metrics_view, pair_figures, zoom
from .service import UserError, to_display
from .ui_common import DISPLAY_SIDE, enlarge, guard, safe_image, status, status_line, to_status, whole_number

PICKER_SIDE = 256  # the picker shows the input at about 256×256 (×8 for 32×32, ×4 for 64×64)
HELP = """**Zoom anywhere.** The decoders are functions of a continuous (y, x): the window is decoded
from the image's cached latents on a fresh pixel-centre grid *inside* it — nothing is cropped from a
bigger render. Type the window's corner and size in input pixels (real numbers, size
{low:g}–{n}) or **click the input below to centre the window there**; the output
size is the *Output resolution* box on the left. Bicubic and nearest sample the {n}×{n} input at the same
coordinates."""


def help_text(size):
    return HELP.format(low=zoom.MIN_WINDOW, n=size)


def size_label(size):
    return f"Window size (input pixels, {zoom.MIN_WINDOW:g}–{size})"


def default_window(size):
    """The page's first window: the centre quarter of a size×size input (8, 8, 16 for 32×32)."""
    return zoom.Window(size / 4, size / 4, size / 2, size)


def picker_scale(size):
    return max(1, PICKER_SIDE // size)


def picker_image(service, image, y, x, size):
    """The input enlarged to about 256 px with the window outlined; the bare input when the window is not
    valid; None without input; unchanged for a file the demo cannot read (its upload is refused and the
    previous input stays)."""
    if image is None:
        return None
    try:
        prepared = service.load_input(image)
    except UserError:
        return gr.skip()
    try:
        window = service.check_window(y, x, size)
    except UserError:
        window = None
    return zoom.picker(prepared.model_input, window, picker_scale(service.size))


def _shown(service, images, metrics):
    k = max(1, DISPLAY_SIDE // metrics["resolution"])
    shown = [enlarge(to_display(images[row]), k) for row in metrics_view.ROWS]
    factor = pair_figures.factor_of(metrics["resolution"], metrics["window"]["size"])
    extra = {"bicubic": pair_figures.bicubic_line(service.figures, factor)}
    captions = [metrics_view.caption_line(metrics, row, WHAT.get(row), extra.get(row, ""))
                for row in metrics_view.ROWS]
    table = metrics_view.markdown(metrics)
    if k > 1:
        table += f"\n\nImages are shown enlarged ×{k} (nearest neighbour)."
    return shown, captions, table


WHAT = {"nearest": "the input's window, sampled without smoothing",
        "bicubic": "the input's window, bicubic",
        "simplified": "the simplified model's decode of the window",
        "corrected": "the corrected model's decode of the window"}


def build_tab(demo, services, page):
    """The tab's layout and events (call inside gr.Tabs). services: a pair choice's Service
    (ui_common.Services); page: the page's shared components (image, resolution, state — the session's
    refined latents, if any —, pair)."""
    image, resolution, state, pair = page["image"], page["resolution"], page["state"], page["pair"]
    first = services.default.size
    default = default_window(first)
    with gr.Tab("Zoom", id="zoom", elem_id="tab-zoom"):
        help_md = gr.Markdown(help_text(first), elem_id="zoom-help")
        with gr.Row():
            with gr.Column():
                gr.Markdown("**The input**: click to centre the window there", elem_classes=["caption"])
                picker = gr.Image(label="Input: click to centre the window", show_label=False, format="png",
                                  interactive=False, type="numpy", elem_id="zoom-picker", elem_classes=["pixelated"],
                                  height=256, buttons=[])
            with gr.Column():
                y = gr.Number(default.y, label="Window corner y (input pixels from the top)", elem_id="zoom-y")
                x = gr.Number(default.x, label="Window corner x (input pixels from the left)", elem_id="zoom-x")
                size = gr.Number(default.size, label=size_label(first), elem_id="zoom-size")
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
    def on_zoom(img, yy, xx, ss, res, st, key, progress=gr.Progress()):
        service = services(key)
        refined = (st or {}).get("refined")
        prepared, window, images, metrics = service.zoom(img, yy, xx, ss, res, progress=progress, refined=refined)
        shown, captions, text = _shown(service, images, metrics)
        text += f"\n\nThe models decode this image's **{metrics['latents']}**."
        note = ("\n\nInput: " + "; ".join(prepared.notes)) if prepared.notes else ""
        picked = zoom.picker(prepared.model_input, window, picker_scale(service.size))
        return (*shown, *captions, text + note, picked, status())

    zoom_inputs = [image, y, x, size, resolution, state, pair]
    run.click(on_zoom, zoom_inputs, outputs, api_name="zoom_page",
              api_visibility="undocumented", show_progress_on=[outs[-1]])  # one indicator, on the corrected panel

    @guard
    def on_pick(ss, key, evt: gr.SelectData):
        """A click on the picker centres the window there (moved inside the image) → new y, x."""
        n = services(key).size
        ss = ss if isinstance(ss, (int, float)) and ss > 0 else default_window(n).size
        scale = picker_scale(n)
        window = zoom.centred((evt.index[1] + 0.5) / scale, (evt.index[0] + 0.5) / scale, ss, n)
        return window.y, window.x, window.size

    picker.select(on_pick, [size, pair], [y, x, size], api_visibility="undocumented", queue=False).then(
        on_zoom, zoom_inputs, outputs, api_visibility="undocumented", show_progress_on=[outs[-1]])

    @guard
    def redraw(img, yy, xx, ss, key):
        return picker_image(services(key), img, yy, xx, ss)

    gr.on([image.change, y.input, x.input, size.input, demo.load], fn=redraw, inputs=[image, y, x, size, pair],
          outputs=picker, api_visibility="undocumented", queue=False, show_progress="hidden")
    cleared = {**{o: None for o in outs}, **{cap: f"**{metrics_view.LABELS[row]}**" for cap, row in
                                               zip(caps, metrics_view.ROWS)},
               table: "Choose a window and press **Zoom**.", zoom_status: ""}
    return {"cleared": cleared, "help": help_md, "y": y, "x": x, "size": size, "picker": picker,
            "status": zoom_status}


def build_api(service):
    """Hidden components and the named `/zoom` endpoint (the first pair's `service`)."""
    default = default_window(service.size)
    with gr.Column(visible=False):
        api_image = safe_image(label="image")
        api_y = gr.Number(value=default.y, label="y")
        api_x = gr.Number(value=default.x, label="x")
        api_size = gr.Number(value=default.size, label="size")
        api_resolution = whole_number(value=128, label="resolution")
        api_outs = [gr.Image(format="png", label=f"{row} render") for row in ("simplified", "corrected", "bicubic")]
        api_metrics = gr.JSON(label="metrics")
        api_button = gr.Button("zoom")

    @guard
    def zoom_api(image, y, x, size, resolution):
        """Render a square window of the image with both models (the page's first pair). image: any image
        file; y, x: the window's top-left corner and size: its side, in pixels of the model input (32×32 for
        the CIFAR-10 pair; real numbers; size from 1 to the input's side; the window must lie inside the
        input); resolution: output side in pixels (the input's side to 512). Returns the simplified, corrected and bicubic renders of the window (PNG) and a
        JSON of PSNR/SSIM (with the reference used) and the window."""
        _, _, images, metrics = service.zoom(image, y, x, size, resolution)
        return (*(to_display(images[row]) for row in ("simplified", "corrected", "bicubic")), metrics)

    api_button.click(zoom_api, [api_image, api_y, api_x, api_size, api_resolution], [*api_outs, api_metrics],
                     api_name="zoom")
