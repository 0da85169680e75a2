"""Walk between two images: decode the linear mix of their latents, beside the pixel cross-fade.

For each t, each model decodes (1 − t)·z(A) + t·z(B) on the full pixel-centre grid at the chosen
resolution (the latents are the engine's cached ones; t = 0 and 1 are the plain renders). The
comparison is the pixel cross-fade (1 − t)·bicubic(A) + t·bicubic(B). The frames are returned per
row, put side by side in strips, and written as an animated GIF (A → B → A).
"""
import tempfile
import threading
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from .engine import bicubic
from .images import to_uint8

TS = (0.0, 0.25, 0.5, 0.75, 1.0)


def no_progress(*args, **kwargs):
    """Progress reporting when nobody listens (a gr.Progress is falsy: never `progress or …`)."""
MAX_TS = 9
ROWS = ("crossfade", "simplified", "corrected")
LABELS = {"crossfade": "pixel cross-fade", "simplified": "simplified: latent mix",
          "corrected": "corrected: latent mix"}
GIF_PANEL = 128  # animation panels are this many pixels wide (small downloads)
GIF_MS = 400
KEEP_FILES = 32  # animations kept on disk (Gradio copies each into its own cache when it is returned)

_tmp = {"dir": None}
_lock = threading.Lock()


def frames(engine, first, second, ts, size, progress=None):
    """→ {row: [(size, size, 3) float32 per t]} for the cross-fade and both models."""
    progress = no_progress if progress is None else progress
    a, b = bicubic(first, size), bicubic(second, size)
    out = {"crossfade": [(1 - t) * a + t * b for t in ts], "simplified": [], "corrected": []}
    for i, name in enumerate(("simplified", "corrected")):
        for j, t in enumerate(ts):
            progress(0.1 + 0.8 * (i * len(ts) + j) / (2 * len(ts)), f"{name}: latent mix at t = {t:g}")
            out[name].append(engine.render_mix(name, first, second, t, size))
    return out


def strip(images, gap=0):
    """Frames side by side (uint8), `gap` white pixels between them."""
    tiles = [to_uint8(im) for im in images]
    if gap:
        white = np.full((tiles[0].shape[0], gap, 3), 255, np.uint8)
        tiles = [part for tile in tiles for part in (tile, white)][:-1]
    return np.concatenate(tiles, axis=1)


def _panel(image, side):
    im = Image.fromarray(to_uint8(image))
    if im.width == side:
        return im
    return im.resize((side, side), Image.Resampling.LANCZOS if im.width > side else Image.Resampling.NEAREST)


def animation_frames(rows, ts):
    """One labelled frame per t (cross-fade | simplified | corrected), there and back → list of PIL images."""
    side = GIF_PANEL
    result = []
    for j, t in enumerate(ts):
        panels = [_panel(rows[row][j], side) for row in ROWS]
        w, h, band = panels[0].width, panels[0].height, 14
        frame = Image.new("RGB", (3 * w + 8, h + band), (255, 255, 255))
        draw = ImageDraw.Draw(frame)
        for k, (row, panel) in enumerate(zip(ROWS, panels)):
            frame.paste(panel, (k * (w + 4), band))
            draw.text((k * (w + 4) + 2, 1), f"{row.replace('crossfade', 'pixels')} t={t:.2f}", fill=(0, 0, 0))
        result.append(frame)
    return result + result[-2:0:-1]


def shared_palette(frames):
    """The frames (RGB) mapped to one 256-colour palette made from all of them at once (fast octree):
    GIF needs palette images, and quantizing each frame on its own (PIL's default median cut) cost
    seconds per walk. Repeated frames (the way back) stay the same objects → P-mode images."""
    unique = list({id(f): f for f in frames}.values())
    w, h = unique[0].size
    mosaic = Image.new("RGB", (w, h * len(unique)))
    for i, frame in enumerate(unique):
        mosaic.paste(frame, (0, h * i))
    palette = mosaic.quantize(colors=256, method=Image.Quantize.FASTOCTREE)
    mapped = {id(f): f.quantize(palette=palette, dither=Image.Dither.NONE) for f in unique}
    return [mapped[id(f)] for f in frames]


def write_gif(rows, ts):
    """The animation as a GIF in a private temp dir (the oldest files beyond KEEP_FILES are removed) → path."""
    images = shared_palette(animation_frames(rows, ts))
    with _lock:
        if _tmp["dir"] is None:
            _tmp["dir"] = Path(tempfile.mkdtemp(prefix="ginr-walk-"))
        old = sorted(_tmp["dir"].glob("*.gif"), key=lambda p: p.stat().st_mtime)
        for path in old[:max(0, len(old) - KEEP_FILES + 1)]:
            path.unlink(missing_ok=True)
        handle = tempfile.NamedTemporaryFile(dir=_tmp["dir"], prefix="walk-", suffix=".gif", delete=False)
    with handle:
        images[0].save(handle, format="GIF", save_all=True, append_images=images[1:], duration=GIF_MS, loop=0)
    return handle.name
