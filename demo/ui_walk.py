"""The Walk tab and the `/interpolate` API: decodes of mixed latents between two images."""
import tempfile

import gradio as gr

from . import walk
from .service import UserError, check_upload, load_input
from .ui_common import enlarge, guard, safe_image, status, status_line, to_status, whole_number

STRIP_PANEL = 128  # strip panels smaller than this are shown enlarged by an integer factor
DEFAULT_TS = ", ".join(f"{t:g}" for t in walk.TS)
HELP = """**Walk between two images.** Image A is the input on the left, image B is chosen here. Each
model decodes the linear mix of the two images' latents, (1 − t)·z(A) + t·z(B), at the chosen
resolution (left to right: the t values below); the top strip is the plain pixel cross-fade of the
two bicubic enlargements, for comparison. The animation (A → B → A) can be downloaded. A walk
costs about five renders per model: lower the resolution for a quicker one."""


def _strips(rows, size):
    k = max(1, STRIP_PANEL // size)
    return {row: walk.strip([enlarge(frame, k) for frame in rows[row]], gap=4) for row in walk.ROWS}, k


def build_tab(services, page, pairs):
    """The tab's layout and events (call inside gr.Tabs). services: a pair choice's Service
    (ui_common.Services); page: the page's shared components (image — image A —, resolution, state — the
    session's refined latents of image A, if any —, pair); pairs: the offered demo.pairs.Pair, in order."""
    image, resolution, state, pair = page["image"], page["resolution"], page["state"], page["pair"]
    default_b = pairs[0].default_b()
    crops = tempfile.mkdtemp(prefix="ginr-crops-b-")
    with gr.Tab("Walk", id="walk", elem_id="tab-walk"):
        gr.Markdown(HELP)
        with gr.Row():
            with gr.Column(scale=1, min_width=240):
                gr.Markdown("**Image B**", elem_id="walk-image-b-label")
                image_b = safe_image(which="Image B", value=default_b, label="Image B", show_label=False,
                                     sources=["upload", "clipboard"], height=220, elem_id="walk-image-b",
                                     elem_classes=["pixelated"])
            with gr.Column(scale=2):
                ts = gr.Textbox(DEFAULT_TS, label="t values (0 = image A, 1 = image B), comma-separated",
                                elem_id="walk-t")
                run = gr.Button("Walk", variant="primary", elem_id="walk-run")
                walk_status = status_line("walk-status")
                animation = gr.File(label="Animation (GIF, A → B → A)", elem_id="walk-animation")
        galleries = {}  # pair key → the column of its image-B examples (shown for the chosen pair only)
        for i, p in enumerate(pairs):
            with gr.Column(visible=i == 0, elem_id=f"walk-examples-{p.key}") as galleries[p.key]:
                for group in p.spec.walk_examples:
                    gr.Examples(examples=[[f] for f in group.files], inputs=[image_b], label=group.label,
                                examples_per_page=max(1, len(group.files)), cache_examples=False,
                                elem_id=group.elem_id)
        info = gr.Markdown("", elem_id="walk-info")
        strips = []
        for row in walk.ROWS:
            gr.Markdown(f"**{walk.LABELS[row]}**", elem_id=f"walk-label-{row}", elem_classes=["caption"])
            strips.append(gr.Image(label=walk.LABELS[row], show_label=False, format="png", interactive=False,
                                   type="numpy", elem_id=f"walk-{row}", elem_classes=["pixelated", "walk-strip"],
                                   buttons=["download", "fullscreen"]))

    outputs = [*strips, animation, info, walk_status]

    @to_status(len(outputs), len(outputs) - 1)
    def on_walk(a, b, res, t_text, st, key, progress=gr.Progress()):
        service = services(key)
        rows, meta = service.interpolate(a, b, res, t_text, progress=progress, refined=(st or {}).get("refined"))
        progress(0.95, desc="animation")
        gif = walk.write_gif(rows, meta["t"])
        shown, k = _strips(rows, meta["resolution"])
        n = meta["resolution"]
        text = (f"**Walk at {n}×{n}** ({meta['pair']} pair, both images at its {meta['input_size']}×"
                f"{meta['input_size']} input), left to right t = " + ", ".join(f"{t:g}" for t in meta["t"])
                + ". Each model mixes its own latents; the cross-fade mixes pixels. Image A: the models decode "
                f"its **{meta['latents_a']}**.")
        if k > 1:
            text += f" Shown enlarged ×{k} (nearest neighbour)."
        notes = [f"image {w}: " + "; ".join(v) for w, v in meta["notes"].items() if v]
        if notes:
            text += "\n\n" + "\n".join(f"- {note}" for note in notes)
        return (*(shown[row] for row in walk.ROWS), gif, text, status())

    run.click(on_walk, [image, image_b, resolution, ts, state, pair], outputs, api_name="walk_page",
              api_visibility="undocumented", show_progress_on=[strips[-1]])  # one indicator

    kept_b = gr.State(default_b)  # the last image B the demo could read: a refused upload puts it back
    _wire_upload_b(image_b, walk_status, crops, kept_b)
    return {"cleared": {**{s: None for s in strips}, animation: None, info: "", walk_status: ""}, "status": walk_status,
            "image_b": image_b, "kept_b": kept_b, "galleries": galleries, "info": info}


def _readable(path):
    try:
        load_input(path)
    except UserError:
        return False
    return True


def _wire_upload_b(image_b, walk_status, crops, kept_b):
    """Image B's upload is checked as it arrives. A refused file leaves image B as it was: the box gets the
    last readable image B back (`kept_b`), and the refusal is said under the Walk button."""
    @to_status(3, 1)
    def on_upload_b(path, kept):
        if not path:
            return None, status(), gr.skip()
        try:
            shown, _ = check_upload(path, crops, "Image B")
        except UserError as err:
            return kept, status(str(err)), gr.skip()
        return (shown if shown != path else gr.skip()), status(), shown

    image_b.upload(on_upload_b, [image_b, kept_b], [image_b, walk_status, kept_b], api_visibility="undocumented",
                   show_progress="hidden")

    def remember(path, kept):
        """An example chosen (or any readable image put in the box) becomes the one to put back."""
        return path if path and path != kept and _readable(path) else gr.skip()

    image_b.change(remember, [image_b, kept_b], kept_b, queue=False, show_progress="hidden",
                   api_visibility="undocumented")


def build_api(service):
    """Hidden components and the named `/interpolate` endpoint."""
    with gr.Column(visible=False):
        api_a = safe_image(which="Image A", label="image_a")
        api_b = safe_image(which="Image B", label="image_b")
        api_resolution = whole_number(value=128, label="resolution")
        api_ts = gr.Textbox(DEFAULT_TS, label="t")
        api_strips = [gr.Image(format="png", label=f"{row} strip") for row in ("simplified", "corrected", "crossfade")]
        api_animation = gr.File(label="animation")
        api_info = gr.JSON(label="info")
        api_button = gr.Button("interpolate")

    @guard
    def interpolate(image_a, image_b, resolution, t):
        """Walk from image_a to image_b. resolution: output side in pixels (32–512); t: comma-separated
        values in [0, 1] (default "0, 0.25, 0.5, 0.75, 1"; at most 9). Returns three PNG strips (the
        simplified and corrected decodes of the latent mix (1 − t)·z(A) + t·z(B), and the pixel
        cross-fade), each one resolution×resolution panel per t, left to right, no gaps; an animated
        GIF of the walk; and a JSON with the t values."""
        rows, meta = service.interpolate(image_a, image_b, resolution, t)
        return (*(walk.strip(rows[row]) for row in ("simplified", "corrected", "crossfade")),
                walk.write_gif(rows, meta["t"]), meta)

    api_button.click(interpolate, [api_a, api_b, api_resolution, api_ts], [*api_strips, api_animation, api_info],
                     api_name="interpolate")
