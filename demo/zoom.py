"""Zoom: a square window of the N×N input (N: the pair's input size) rendered at any resolution, from
the same latents.

A window is (y, x, size) in input pixels: its top-left corner and its side, real numbers, inside
[0, N]². Both models decode it on an n×n pixel-centre grid inside the window
(`lainr.window_grid`) from the image's cached latents: nothing is cropped from a bigger render.
Bicubic and nearest sample the N×N input at the very same coordinates (`grid_sample`; on the
whole image this is `F.interpolate(…, align_corners=False)`).

Scores (the reference is named, as on the Reconstruct tab):
- a photo with at least n of its pixels across the window: against the photo's window, area-averaged
  to n×n (true super-resolution scores);
- otherwise: every image area-averaged to the window's k×k input pixels (k = round(size), at least
  1) and compared with the input's same k×k cells — a consistency check only, labelled "↓k".
Area averages are exact box means over fractional cells (`box_mean`), so windows need not be
aligned to input pixels.
"""
from dataclasses import dataclass

import numpy as np
import torch.nn.functional as F

from lainr import window_grid

from . import metrics_view
from .images import to_array, to_tensor

MIN_WINDOW = 1.0  # input pixels


def no_progress(*args, **kwargs):
    """Progress reporting when nobody listens (a gr.Progress is falsy: never `progress or …`)."""
ROWS = metrics_view.ROWS


@dataclass(frozen=True)
class Window:
    """A square window of the input_size×input_size input: corner (y, x) and side `size`, in input pixels."""
    y: float
    x: float
    size: float
    input_size: int

    def unit(self):
        """(y0, x0, size) in the unit square's coordinates (what the models are queried in)."""
        n = self.input_size
        return self.y / n, self.x / n, self.size / n

    def coords(self, n):
        """(n², 2) pixel-centre queries (y, x) inside the window."""
        return window_grid(*self.unit(), n)

    def describe(self):
        return f"y {self.y:g}–{self.y + self.size:g}, x {self.x:g}–{self.x + self.size:g} ({self.size:g} px wide)"

    def as_dict(self):
        return {"y": self.y, "x": self.x, "size": self.size}


def centred(cy, cx, size, input_size):
    """The window of side `size` centred on (cy, cx) (input pixels), moved inside the input_size² image."""
    size = float(min(max(size, MIN_WINDOW), input_size))
    y = float(np.clip(cy - size / 2, 0, input_size - size))
    x = float(np.clip(cx - size / 2, 0, input_size - size))
    return Window(round(y, 2), round(x, 2), size, int(input_size))


def sample(array, coords, n, mode="bicubic"):
    """An (H, W, 3) image covering the unit square, sampled at (n², 2) coords (y, x) → (n, n, 3)."""
    grid = (coords[:, [1, 0]].float() * 2 - 1).reshape(1, n, n, 2)  # grid_sample wants (x, y) in [-1, 1]
    out = F.grid_sample(to_tensor(array), grid, mode=mode, padding_mode="border", align_corners=False)
    return to_array(out.clamp(0, 1))


def box_mean(array, y0, x0, size, m):
    """Exact means of an (H, W, 3) image (piecewise constant over the unit square) over the m×m cells
    of the window [y0, y0 + size] × [x0, x0 + size] (unit coordinates) → (m, m, 3) float32.

    The integral of a piecewise-constant image is bilinear between pixel corners, so the summed-area
    table interpolated bilinearly at fractional cell edges gives each cell's exact sum.
    """
    h, w = array.shape[:2]
    sat = np.zeros((h + 1, w + 1, array.shape[2]))
    sat[1:, 1:] = np.asarray(array, dtype=np.float64).cumsum(0).cumsum(1)
    ey = np.clip((y0 + size * np.arange(m + 1) / m) * h, 0, h)
    ex = np.clip((x0 + size * np.arange(m + 1) / m) * w, 0, w)

    def lower(e, limit):  # index of the pixel corner at or below each edge, and the fraction beyond it
        i = np.minimum(np.floor(e).astype(int), limit - 1)
        return i, e - i

    iy, fy = lower(ey, h)
    ix, fx = lower(ex, w)
    rows = sat[iy] * (1 - fy)[:, None, None] + sat[iy + 1] * fy[:, None, None]  # (m+1, w+1, C)
    corner = rows[:, ix] * (1 - fx)[None, :, None] + rows[:, ix + 1] * fx[None, :, None]  # integral up to each edge
    cells = corner[1:, 1:] - corner[:-1, 1:] - corner[1:, :-1] + corner[:-1, :-1]
    area = np.outer(np.diff(ey), np.diff(ex))[..., None]
    return (cells / np.maximum(area, 1e-12)).astype(np.float32)


def render(engine, prepared, window, n, progress=None):
    """→ {row: (n, n, 3) float32}: nearest and bicubic samples of the input window, both models' decodes."""
    progress = no_progress if progress is None else progress
    coords = window.coords(n)
    images = {"nearest": sample(prepared.model_input, coords, n, "nearest"),
              "bicubic": sample(prepared.model_input, coords, n, "bicubic")}
    for i, name in enumerate(("simplified", "corrected")):
        def step(frac, i=i, name=name):
            progress(0.1 + 0.4 * (i + frac), f"rendering the window with {name} at {n}×{n}")
        images[name] = engine.render_window(name, prepared, window.unit(), n, progress=step)
    return images


def reference_for(prepared, window, n):
    """→ (mode, reference array, description, tag, k): what the window's scores compare with."""
    photo = prepared.source
    if photo is not None and window.size * photo.shape[0] / window.input_size >= n:
        ref = box_mean(photo, *window.unit(), n)
        across = window.size * photo.shape[0] / window.input_size
        return ("sr", ref, f"the uploaded photo's window ({across:.0f} photo pixels across) resized (area) to "
                f"{n}×{n} — true super-resolution scores", " vs photo", n)
    k = max(1, int(round(window.size)))
    ref = box_mean(prepared.model_input, *window.unit(), k)
    return ("downsampled", ref, f"each image area-averaged {n}→{k} (the window's {k}×{k} input pixels) and "
            f"compared with the input's window (no higher-resolution ground truth)", f" ↓{k}", k)


HOW = {"sr": "scored: PSNR vs the photo's window area-resized to {n}×{n} (real super-resolution)",
       "downsampled": "scored: PSNR after area-averaging to the window's {k}×{k} input pixels, vs the input "
                      "(a consistency check)"}


def compute(prepared, window, n, images, pair=None):
    """Scores of the window's images → metrics dict (JSON-safe; metrics_view.markdown/caption format it)."""
    mode, reference, description, tag, k = reference_for(prepared, window, n)
    rows = {}
    for row in ROWS:
        if row not in images:
            continue
        pred = images[row] if mode == "sr" else box_mean(images[row], 0.0, 0.0, 1.0, k)
        p, s = metrics_view.score(pred, reference)
        rows[row] = metrics_view.entry(row, p, s, mode)
    out = {"resolution": n, "input_size": window.input_size, "mode": mode, "reference": description, "tag": tag,
           "how": HOW[mode].format(n=n, k=k), "window": window.as_dict(),
           "title": f"Scores of the window {window.describe()} at {n}×{n}", "metrics": rows}
    if pair:
        out["pair"] = pair
    return out


def picker(model_input, window, scale=8):
    """The input enlarged ×scale (nearest) with the window (if any) outlined → uint8 (N·scale, N·scale, 3)."""
    big = np.repeat(np.repeat(np.clip(model_input, 0, 1), scale, 0), scale, 1)
    out = (big * 255 + 0.5).astype(np.uint8)
    if window is None:
        return out
    side = out.shape[0]
    y0, x0 = int(round(window.y * scale)), int(round(window.x * scale))
    y1 = min(side, int(round((window.y + window.size) * scale)))
    x1 = min(side, int(round((window.x + window.size) * scale)))
    for colour, pad in (((0, 0, 0), 1), ((255, 214, 0), 0)):  # a yellow outline with a dark rim
        ya, xa, yb, xb = max(0, y0 - pad), max(0, x0 - pad), min(side, y1 + pad), min(side, x1 + pad)
        t = 2
        out[ya:ya + t, xa:xb] = colour
        out[max(ya, yb - t):yb, xa:xb] = colour
        out[ya:yb, xa:xa + t] = colour
        out[ya:yb, max(xa, xb - t):xb] = colour
    return out
