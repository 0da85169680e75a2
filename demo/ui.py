"""The page: layout and wiring. Behaviour lives in demo.service; models in demo.engine."""
import logging

import gradio as gr

from . import metrics_view, ui_walk, ui_zoom
from .engine import MAX_SIGMA, MAX_SIZE
from .images import MAX_FILE_BYTES, MODEL_SIZE, cifar_examples, photo_examples
from .service import Service, to_display
from .ui_common import DISPLAY_SIDE, errors_as_gr, guard, enlarge, safe_image

log = logging.getLogger("demo")

TITLE = "Mamba-GINR on CIFAR-10: simplified vs corrected"
CSS = """
.pixelated img, .pixelated canvas { image-rendering: pixelated; }
#input-image img { width: 100%; height: 100%; object-fit: contain; }
#banner { border-left: 4px solid #d97706; padding-left: 8px; }
"""
EXPLAINER = """
**What am I looking at?** Both models are *generalizable implicit neural representations*: an
encoder turns the 32×32 image into latent tokens in one pass, and a decoder returns the RGB colour
at **any** continuous coordinate (y, x) in [0, 1]². Rendering the decoder on an N×N grid of pixel
centres gives an N×N image — at 32 a reconstruction, above 32 a super-resolution the models were
never trained for (they only saw 32×32 CIFAR-10 images).

- **input (nearest)** is what the models see, enlarged without smoothing; **bicubic** is the
  classical baseline. **simplified** (Mamba encoder, 32 latent "LP" tokens, one attention head, no
  positional information) and **corrected** (bidirectional Mamba + positional encoding, 256 LP tokens,
  LAINR decoder with 2 heads and a *spatial bias*) are the two models.
- **Scores** name their reference: at 32 the input; for an uploaded photo the photo itself resized to
  the output size (real super-resolution); for a 32×32 source rendered larger there is no ground
  truth, so the render is area-downsampled back to 32 and compared with the input (a consistency
  check only).
- **σ (jitter)** moves every query by Gaussian noise before decoding: a smooth field barely changes.
  The plot repeats this at 32×32 for several σ.
- **Spatial bias** (corrected only): a fixed term −α·(t − s)² added to the attention logits that pulls
  each query towards LP tokens near its own position (in raster order). **Click any pixel of a render**
  to see that query's attention over the LP tokens per head — solid with the bias, dashed without it —
  and its bias row. **Choose an LP token** to see which parts of the image attend to it.
- **Zoom** (tab): any square window of the input, down to one input pixel, decoded on a fresh grid
  inside the window at the chosen resolution — what only a continuous representation can do.
  Scores: against the photo's window for a photo with enough pixels there, else each image
  area-averaged to the window's k×k input pixels ("↓k", a consistency check).
- **Walk** (tab): each model decodes the mix (1 − t)·z(A) + t·z(B) of two images' latents, beside
  the pixel cross-fade; an animated GIF of the walk can be downloaded.
"""


def banner_markdown(models):
    lines = ["**Loaded models**"] + [f"- {lm.summary()}" for lm in models.values()]
    problems = [m for lm in models.values() for m in lm.messages]
    if problems:
        lines += ["", "⚠️ **Weights notice**"] + [f"- {m}" for m in problems]
    return "\n".join(lines)


def build(engine):
    """→ gr.Blocks. `engine` is a demo.engine.Engine holding both loaded models."""
    service = Service(engine)
    models = engine.models
    default_example = next((p for p in cifar_examples() if "cat_0000" in p), None)
    bias_unmarked = service.bias_plot()  # drawn once; a pixel click marks its row

    with gr.Blocks(title=TITLE) as demo:
        gr.Markdown(f"# {TITLE}")
        gr.Markdown(banner_markdown(models), elem_id="banner")
        state = gr.State(None)

        with gr.Row():
            with gr.Column(scale=1, min_width=280):
                image = safe_image(value=default_example, label="Input image (image A of a walk)",
                                   sources=["upload", "clipboard"], height=240, elem_id="input-image",
                                   elem_classes=["pixelated"])
                resolution = gr.Slider(MODEL_SIZE, MAX_SIZE, value=128, step=1, label="Output resolution (pixels)",
                                       elem_id="resolution")
                random_btn = gr.Button("Random test image", elem_id="random")
                notes = gr.Markdown("", elem_id="notes")
            with gr.Column(scale=3):
                with gr.Tabs(elem_id="tabs"):
                    with gr.Tab("Reconstruct", id="reconstruct", elem_id="tab-reconstruct"):
                        with gr.Row():
                            sigma = gr.Slider(0.0, MAX_SIGMA, value=0.0, step=0.001, label="Query jitter σ",
                                              elem_id="sigma")
                            seed = gr.Number(value=0, precision=0, label="Seed (jitter noise)", minimum=0,
                                             elem_id="seed")
                            run = gr.Button("Reconstruct", variant="primary", elem_id="run")
                        with gr.Row():
                            out = {}
                            for row in metrics_view.ROWS:
                                out[row] = gr.Image(label=metrics_view.LABELS[row], format="png", interactive=False,
                                                    type="numpy", elem_id=f"out-{row}",
                                                    elem_classes=["pixelated", "outputs"],
                                                    buttons=["download", "fullscreen"])
                        metrics_md = gr.Markdown("Pick an example (or upload an image) and press **Reconstruct**.",
                                                 elem_id="metrics")
                    ui_zoom.build_tab(demo, service, image, resolution)
                    ui_walk.build_tab(service, image, resolution)
        gr.Examples(examples=[[p] for p in cifar_examples()], inputs=[image], label="CIFAR-10 test images",
                    examples_per_page=20, cache_examples=False, elem_id="cifar-examples")
        gr.Examples(examples=[[p] for p in photo_examples()], inputs=[image],
                    label="High-resolution photos (downsampled to 32×32 for the models; the photo is the reference)",
                    cache_examples=False, elem_id="photo-examples")

        with gr.Row():
            sigma_plot = gr.Image(label="PSNR vs σ (this image)", format="png", interactive=False,
                                  show_label=False, elem_id="sigma-plot")
            bias_plot = gr.Image(label="Corrected: spatial bias (queries × LP tokens)", format="png",
                                 interactive=False, show_label=False, elem_id="bias-plot", value=bias_unmarked)
        gr.Markdown("### Reconstruct: jitter and attention\n**Click a pixel** of the simplified or corrected "
                    "render (Reconstruct tab) to see its attention.")
        pixel_text = gr.Markdown("", elem_id="pixel-text")
        with gr.Row():
            pixel_plot = gr.Image(label="Attention of the clicked pixel over LP tokens", format="png",
                                  interactive=False, show_label=False, elem_id="pixel-plot")
            with gr.Column():
                token_model = gr.Radio(choices=["corrected", "simplified"], value="corrected", label="Model",
                                       elem_id="token-model")
                token = gr.Slider(0, engine.num_lp("corrected") - 1, value=0, step=1, label="LP token",
                                  elem_id="token")
                token_plot = gr.Image(label="Where this LP token is attended", format="png", interactive=False,
                                      show_label=False, elem_id="token-plot")
        with gr.Accordion("What am I looking at?", open=False):
            gr.Markdown(EXPLAINER)

        # API-only components (the `reconstruct` endpoint); hidden from the page
        with gr.Column(visible=False):
            api_image = safe_image(label="image")
            api_resolution = gr.Number(value=128, label="resolution")
            api_sigma = gr.Number(value=0.0, label="sigma")
            api_simplified = gr.Image(format="png", label="simplified render")
            api_corrected = gr.Image(format="png", label="corrected render")
            api_metrics = gr.JSON(label="metrics")
            api_button = gr.Button("reconstruct")

        # ---- events ---------------------------------------------------------------------------
        def on_run(img, res, sig, sd, current_token, current_model, progress=gr.Progress()):
            """Renders and scores first, then the jitter sweep and the token map (a generator: the
            images appear as soon as they exist)."""
            with errors_as_gr():
                prepared, images, metrics = service.reconstruct(img, res, sig, sd, progress=progress)
                size, sig = metrics["resolution"], metrics["sigma"]
                new_state = {"prepared": prepared, "size": size, "sigma": sig, "seed": metrics["seed"]}
                # small renders are sent enlarged by an integer factor (nearest): the browser never
                # upscales images itself, and click coordinates map back exactly (x // k)
                k = max(1, DISPLAY_SIDE // size)
                new_state["display_scale"] = k
                shown = [gr.Image(value=enlarge(to_display(images[row]), k), label=metrics_view.caption(metrics, row))
                         for row in metrics_view.ROWS]
                note = ("Input: " + "; ".join(prepared.notes)) if prepared.notes else ""
                table = metrics_view.markdown(metrics, sig)
                if k > 1:
                    table += (f"\n\nImages are shown enlarged ×{k} (nearest neighbour); downloads are the same "
                              "enlarged pixels.")
                yield (*shown, table, gr.skip(), new_state, note, None, "", gr.skip(), bias_unmarked)
                progress(0.85, desc="jitter sweep at 32×32")
                _, curve = service.sigma_curve(prepared, metrics["seed"])
                progress(0.95, desc="token map")
                token_img = service.token(new_state, current_model, current_token)
                yield (*[gr.skip()] * len(shown), gr.skip(), curve, gr.skip(), gr.skip(), gr.skip(), gr.skip(),
                       token_img, gr.skip())

        run_outputs = [*out.values(), metrics_md, sigma_plot, state, notes, pixel_plot, pixel_text, token_plot,
                       bias_plot]
        run.click(on_run, [image, resolution, sigma, seed, token, token_model], run_outputs,
                              api_name="run", api_visibility="undocumented")

        random_btn.click(lambda: service.random_example(), None, image, api_visibility="undocumented",
                         queue=False).then(on_run, [image, resolution, sigma, seed, token, token_model],
                                           run_outputs, api_visibility="undocumented")

        @guard
        def on_select(st, evt: gr.SelectData):
            k = (st or {}).get("display_scale", 1)
            x, y = evt.index[0] // k, evt.index[1] // k
            plot, text, bias_img, _ = service.pixel(st, x, y)
            return plot, text, bias_img

        for row in ("simplified", "corrected"):
            out[row].select(on_select, [state], [pixel_plot, pixel_text, bias_plot], api_visibility="undocumented")

        @guard
        def on_token(st, model, tok):
            if not st:
                return None
            return service.token(st, model, tok)

        token.release(on_token, [state, token_model, token], token_plot, api_visibility="undocumented")

        @guard
        def on_token_model(st, model, tok):
            """Switching model: the slider's range becomes that model's LP tokens."""
            last = engine.num_lp(model) - 1
            tok = min(int(tok or 0), last)
            return gr.Slider(maximum=last, value=tok), (service.token(st, model, tok) if st else None)

        token_model.change(on_token_model, [state, token_model, token], [token, token_plot],
                           api_visibility="undocumented")

        @guard
        def reconstruct(image, resolution, sigma):
            """Render the image with both models. image: any image file; resolution: output side in
            pixels (32–512); sigma: query jitter (0–0.05). Returns the simplified render, the corrected
            render (PNG) and a JSON of PSNR/SSIM (with the reference used) and the loaded weights."""
            _, images, metrics = service.reconstruct(image, resolution, sigma, 0)
            return to_display(images["simplified"]), to_display(images["corrected"]), metrics

        api_button.click(reconstruct, [api_image, api_resolution, api_sigma],
                         [api_simplified, api_corrected, api_metrics], api_name="reconstruct")
        ui_zoom.build_api(service)
        ui_walk.build_api(service)
    return demo


def launch_kwargs():
    """launch() arguments shared by the CLI and the tests."""
    return {"css": CSS, "max_file_size": MAX_FILE_BYTES, "theme": gr.themes.Soft()}


def queue(demo, concurrency=2, max_size=32):
    return demo.queue(default_concurrency_limit=concurrency, max_size=max_size)
