"""What each page event does, independent of the layout: validate, run the engine, format.

One Service per pair of models (its Engine); every size it checks or prepares for is that pair's
input size (`engine.size`)."""
import logging
import math
import random
from pathlib import Path

import numpy as np
import torch

from . import attention_view, metrics_view, refine, walk, zoom
from .engine import MAX_SIGMA, MAX_SIZE, bicubic, nearest
from .images import MODEL_SIZE, InputError, centre_crop_file, cifar_examples, prepare, to_uint8

log = logging.getLogger("demo")

SIGMA_SWEEP = (0.0, 0.005, 0.01, 0.02, 0.05)
TOKEN_GRID = 64  # token maps are drawn on at most a 64×64 query grid (cheap at any output size)
MAX_SEED = 2**31 - 1


def no_progress(*args, **kwargs):
    """Progress reporting when nobody listens (a gr.Progress is falsy: never `progress or …`)."""


class UserError(ValueError):
    """A request the demo refuses, with a message for the user (turned into gr.Error by the UI)."""


# ---- validation -------------------------------------------------------------------------------
def _number(value, what):
    if isinstance(value, bool) or value is None:
        raise UserError(f"{what} is missing.")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise UserError(f"{what} must be a number, got {value!r}.") from None
    if not math.isfinite(number):
        raise UserError(f"{what} must be a finite number, got {value!r}.")
    return number


def check_resolution(value, low=MODEL_SIZE):
    """An output side from `low` (the pair's input size) to MAX_SIZE."""
    size = _number(value, "Resolution")
    if size != int(size) or not low <= size <= MAX_SIZE:
        raise UserError(f"Resolution must be a whole number of pixels from {low} to {MAX_SIZE}; "
                        f"got {value!r}.")
    return int(size)


def check_sigma(value):
    sigma = 0.0 if value is None else _number(value, "σ (jitter)")
    if not 0.0 <= sigma <= MAX_SIGMA:
        raise UserError(f"σ (jitter) must be between 0 and {MAX_SIGMA}; got {value!r}.")
    return sigma


def check_seed(value):
    seed = 0 if value in (None, "") else _number(value, "Seed")
    return int(abs(seed)) % (MAX_SEED + 1)


def check_window(y, x, size, input_size):
    """Corner (y, x) and side in input pixels (real numbers) → zoom.Window inside the input_size² input."""
    n = int(input_size)
    y, x, size = _number(y, "Window y"), _number(x, "Window x"), _number(size, "Window size")
    if not zoom.MIN_WINDOW <= size <= n:
        raise UserError(f"Window size must be from {zoom.MIN_WINDOW:g} to {n} input pixels; got {size:g}.")
    eps = 1e-6
    if y < -eps or x < -eps or y + size > n + eps or x + size > n + eps:
        raise UserError(f"The window (y={y:g}, x={x:g}, size {size:g}) reaches outside the {n}×{n} "
                        f"input: y and x must be at least 0, and y + size and x + size at most {n}.")
    return zoom.Window(min(max(y, 0.0), n - size), min(max(x, 0.0), n - size), size, n)


def check_steps(value):
    steps = _number(value, "Refinement steps")
    if steps != int(steps) or not 0 <= steps <= refine.MAX_STEPS:
        raise UserError(f"Refinement steps must be a whole number from 0 to {refine.MAX_STEPS}; got {value!r}.")
    return int(steps)


def check_ts(value):
    """t values of the walk: a number, a list, or text such as "0, 0.25, 0.5" → tuple of floats in [0, 1]."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return walk.TS
    items = value.replace(";", ",").split(",") if isinstance(value, str) else (
        list(value) if isinstance(value, (list, tuple)) else [value])
    ts = tuple(_number(item.strip() if isinstance(item, str) else item, "t") for item in items)
    if not 1 <= len(ts) <= walk.MAX_TS:
        raise UserError(f"Give from 1 to {walk.MAX_TS} values of t; got {len(ts)}.")
    bad = [t for t in ts if not 0.0 <= t <= 1.0]
    if bad:
        raise UserError(f"t must be between 0 and 1 (0 = image A, 1 = image B); got {bad[0]:g}.")
    return ts


def load_input(image, which="", size=MODEL_SIZE):
    """The image prepared for a size×size model input; a file the demo cannot use is a UserError."""
    try:
        return prepare(image, size=size)
    except InputError as err:
        raise UserError(f"{which}: {err}" if which else str(err)) from None


def check_upload(path, directory, which=""):
    """An upload, checked as it arrives → (path to show, note): the picture the models see — the centre
    crop of a non-square image, the first frame of an animation — else the file itself. Raises UserError
    for a file the demo cannot use."""
    name = Path(str(path)).name
    try:
        cropped = centre_crop_file(path, directory)
    except InputError as err:
        raise UserError(f"{which + ': ' if which else ''}{name}: {err}") from None
    if cropped is None:
        return path, ""
    return cropped, "the models see its first frame / centre square, shown here"


def is_new_input(image, state, size=None):
    """Whether `image` (the input box's file), prepared for a size×size input (default: the size of the
    picture shown), is another model input than the one the page shows — another picture, or the same one
    for another pair's size. False for a file the demo cannot read (its upload is refused, the page stays)
    and for the same picture again."""
    if image is None:
        return True
    shown = (state or {}).get("prepared")
    size = size or (shown.size if shown is not None else MODEL_SIZE)
    try:
        prepared = load_input(image, size=size)
    except UserError:
        return False
    return shown is None or shown.content_key != prepared.content_key


def apply_refined(prepared, refined):
    """The input decoded from its refined latents when `refined` belongs to this image, else as is."""
    if refined is not None and refined.applies_to(prepared):
        return prepared.with_latents(refined.latents, refined.tag)
    return prepared


# ---- events -----------------------------------------------------------------------------------
class Service:
    """The page's events for one pair: `engine` (demo.engine.Engine); `pair`, the pair's label as the page
    names it (default: its input size, e.g. "32×32"); `figures`, its measured figures (demo.pair_figures)."""

    def __init__(self, engine, pair=None, figures=None, key=None):
        from .pair_figures import Figures

        self.engine = engine
        self.size = engine.size
        self.pair = pair or f"{self.size}×{self.size}"
        self.figures = figures if figures is not None else Figures(self.size)
        self.key = key  # the page's name of the pair (demo.pairs), kept in a session's state

    def check_resolution(self, value):
        return check_resolution(value, self.size)

    def check_window(self, y, x, size):
        return check_window(y, x, size, self.size)

    def load_input(self, image, which=""):
        return load_input(image, which, self.size)

    def _renders(self, prepared, size, sigma, seed, progress):
        out = {}
        for i, name in enumerate(("simplified", "corrected")):
            def step(frac, i=i, name=name):
                progress(0.1 + 0.35 * (i + frac), f"rendering {name} at {size}×{size}")
            out[name] = self.engine.render(name, prepared, size, sigma, seed, progress=step)
        return out

    def reconstruct(self, image, resolution, sigma, seed=0, progress=None, refined=None):
        """→ (prepared, {row: image}, metrics dict). With `refined` (demo.refine.Refined) belonging to
        this image, the rows "<model>_refined" (its latents, unjittered) and its record are added."""
        progress = no_progress if progress is None else progress
        size, sigma, seed = self.check_resolution(resolution), check_sigma(sigma), check_seed(seed)
        prepared = self.load_input(image)
        progress(0.05, "encoding")
        renders = self._renders(prepared, size, sigma, seed, progress)
        images = {"nearest": nearest(prepared, size), "bicubic": bicubic(prepared, size), **renders}
        refined = refined if refined is not None and refined.applies_to(prepared) else None
        if refined is not None:
            tuned = apply_refined(prepared, refined)
            for name in ("simplified", "corrected"):
                images[f"{name}_refined"] = self.engine.render(name, tuned, size)
        metrics = metrics_view.compute(prepared, size, images, self.pair)
        metrics.update(sigma=sigma, seed=seed, input_notes=list(prepared.notes),
                       models={name: lm.as_dict() for name, lm in self.engine.models.items()})
        if refined is not None:
            metrics["refinement"] = refined.as_dict()
        return prepared, images, metrics

    def refine_latents(self, image, steps, progress=None, stop=None):
        """Validate and refine both models' latents for the image → (prepared, Refined). A diverging
        refinement is a UserError (the one-pass result stays)."""
        steps = check_steps(steps)
        prepared = self.load_input(image)
        try:
            return prepared, refine.run(self.engine, prepared, steps, progress, stop)
        except ValueError as err:  # the library's RefineDiverged, or a refusal of its inputs
            raise UserError(f"The refinement failed: {err}. The one-pass result is kept.") from None

    def zoom(self, image, y, x, size, resolution, progress=None, refined=None):
        """→ (prepared, window, {row: (n, n, 3) image}, metrics dict) for the window at n×n; the models
        decode `refined` latents (demo.refine.Refined) when they belong to this image."""
        progress = no_progress if progress is None else progress
        n, window = self.check_resolution(resolution), self.check_window(y, x, size)
        prepared = apply_refined(self.load_input(image), refined)
        progress(0.05, "encoding")
        images = zoom.render(self.engine, prepared, window, n, progress)
        metrics = zoom.compute(prepared, window, n, images, self.pair)
        metrics.update(input_notes=list(prepared.notes), latents=latents_used(prepared, refined),
                       models={name: lm.as_dict() for name, lm in self.engine.models.items()})
        return prepared, window, images, metrics

    def interpolate(self, image_a, image_b, resolution, ts=None, progress=None, refined=None):
        """→ ({row: [frame per t]}, info dict) for the walk from image A to image B (image A's refined
        latents when `refined` belongs to it)."""
        n, ts = self.check_resolution(resolution), check_ts(ts)
        first = apply_refined(self.load_input(image_a, "Image A"), refined)
        second = self.load_input(image_b, "Image B")
        rows = walk.frames(self.engine, first, second, ts, n, progress)
        info = {"resolution": n, "input_size": self.size, "pair": self.pair, "t": list(ts), "rows": list(walk.ROWS),
                "latents_a": latents_used(first, refined),
                "notes": {"A": list(first.notes), "B": list(second.notes)}}
        return rows, info

    def refine(self, image, steps, resolution, progress=None, stop=None):
        """The API: refine both models' latents → (prepared, Refined, {row: image}, metrics dict); the
        rows are the one-pass ones and "<model>_refined", all at resolution×resolution, unjittered."""
        check_steps(steps), self.check_resolution(resolution)  # both refused before any work
        prepared, refined = self.refine_latents(image, steps, progress, stop)
        return (prepared, refined, *self.reconstruct(image, resolution, 0.0, 0, refined=refined)[1:])

    def sigma_curve(self, prepared, seed):
        curves = {name: self.engine.psnr_vs_sigma(name, prepared, SIGMA_SWEEP, seed)
                  for name in ("simplified", "corrected")}
        return curves, attention_view.psnr_sigma_plot(list(SIGMA_SWEEP), curves, self.size, self.pair)

    def bias_grid(self):
        """The side of the query raster the spatial-bias map is drawn on: the pair's input size."""
        return self.size

    def bias_plot(self, marker_query=None):
        bias = self.engine.bias_matrix("corrected", self.bias_grid())
        return None if bias is None else attention_view.bias_heatmap(bias, marker_query)

    @staticmethod
    def raster_query(x, y, size, grid):
        """Pixel (x, y) of a size×size render → the index of the grid×grid raster pixel that contains it."""
        return (y * grid // size) * grid + x * grid // size

    def pixel(self, state, x, y):
        """Attention of the clicked pixel (x, y) of the last render, both models → (plot, text, bias plot with
        the pixel's query row highlighted, the corrected model's most-attended LP token)."""
        if not state:
            raise UserError("Run a reconstruction first, then click a pixel of a render.")
        prepared, size = state["prepared"], state["size"]
        x, y = int(np.clip(x, 0, size - 1)), int(np.clip(y, 0, size - 1))
        coord = np.array([[(y + 0.5) / size, (x + 0.5) / size]], dtype=np.float32)
        coords = torch.from_numpy(coord)
        simplified = self.engine.attention_at("simplified", prepared, coords)
        corrected = self.engine.attention_at("corrected", prepared, coords)
        plot = attention_view.pixel_attention_plot((x, y), size, simplified, corrected)
        grid = self.bias_grid()
        query = self.raster_query(x, y, size, grid)
        top = int(np.argmax(corrected["weights"][:, 0].mean(axis=0)))
        text = (f"Pixel (x={x}, y={y}) of the {size}×{size} render = coordinate (y, x) = "
                f"({coord[0, 0]:.4f}, {coord[0, 1]:.4f}), unjittered. Corrected: most-attended LP token "
                f"{top}; simplified: token {int(np.argmax(simplified['weights'][:, 0].mean(axis=0)))}. "
                f"Spatial-bias map: query {query} of the {grid}×{grid} raster, highlighted.")
        return plot, text, self.bias_plot(query), top

    def token(self, state, model, token):
        if not state:
            raise UserError("Run a reconstruction first, then choose an LP token.")
        if model not in self.engine.models:
            raise UserError(f"Unknown model {model!r}.")
        num_lp = self.engine.num_lp(model)
        token = int(np.clip(int(_number(token, "LP token")), 0, num_lp - 1))
        grid = min(state["size"], TOKEN_GRID)
        maps = self.engine.token_map(model, state["prepared"], token, grid)
        centre = None
        config = self.engine.model(model).config
        if model == "corrected" and getattr(config, "bias_alpha", 0):
            centre = attention_view.token_bias_centre(token, num_lp, config.image_size // config.patch_size)
        return attention_view.token_map_plot(maps, model, token, num_lp, grid, centre)

    def warm_upload(self, directory, size=128):
        """The page's upload path once, on a made-up non-square photo: the check and centre crop, the
        decode, the photo's reference, both renders and the scores. Its first run pays seconds of set-up
        (image codecs, resampling, the score kernels) that the first visitor's upload would otherwise pay."""
        from PIL import Image

        rng = np.random.default_rng(0)
        path = Path(directory) / "warm-up-photo.jpg"
        side = size + self.size  # a photo larger than the output: the reference path, as a real photo takes
        Image.fromarray(rng.integers(0, 256, (side, side + self.size, 3), dtype=np.uint8)).save(path, quality=90)
        shown, _ = check_upload(path, directory)
        self.reconstruct(shown, size, 0.0, 0)
        return shown

    @staticmethod
    def random_example(rng=random, examples=None):
        """A shipped example at random (default: the CIFAR-10 test images)."""
        return rng.choice(list(examples or cifar_examples()))


def latents_used(prepared, refined):
    """What the models decoded, in words for the page and the API."""
    return refined.describe() if prepared.latents is not None and refined is not None else "one encoder pass"


def to_display(array):
    return to_uint8(array)
