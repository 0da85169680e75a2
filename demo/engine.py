"""Runs one pair of models for the page: cached latents, chunked renders, attention read-outs.

Both models of a pair take the same input size, `Engine.size` (their config's `image_size`); an input
of another size is refused with a message naming both sizes.

Only the public lainr API is used (encode, chunked decode, decode_with_attention, query_grid,
window_grid). Latents are cached per input (content hash), renders per (input, size, σ, seed),
zoom windows per (input, window, size) and latent mixes per (pair, t, size): changing the
resolution, σ, the window or t never re-encodes, and re-clicking a button is free.
"""
import threading
from collections import OrderedDict

import numpy as np
import torch
from einops import rearrange

from lainr import pixel_centres, window_grid

from .images import to_array, to_tensor

MAX_SIZE = 512
MAX_SIGMA = 0.05
RENDER_CACHE_BYTES = 96 * 2**20  # e.g. a 9-t walk of both models at 512² (18 × 3 MiB) and the renders beside it
CHUNK = 16384  # queries decoded at once: bounds memory (~70 MB for the corrected model), fastest on CPU


def nbytes(value):
    """Bytes held by an array, a tensor, or a dict / tuple of them (anything else: 0)."""
    if isinstance(value, np.ndarray):
        return value.nbytes
    if isinstance(value, torch.Tensor):
        return value.element_size() * value.nelement()
    if isinstance(value, dict):
        return sum(nbytes(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return sum(nbytes(v) for v in value)
    return 0


class LRU:
    """A small thread-safe least-recently-used cache of at most `capacity` entries and `max_bytes` bytes."""

    def __init__(self, capacity, max_bytes=None):
        self.capacity, self.max_bytes, self._data, self._lock = capacity, max_bytes, OrderedDict(), threading.Lock()
        self._bytes = 0

    def get(self, key):
        with self._lock:
            if key in self._data:
                self._data.move_to_end(key)
                return self._data[key]
        return None

    def put(self, key, value):
        with self._lock:
            if key in self._data:
                self._bytes -= nbytes(self._data[key])
            self._data[key] = value
            self._data.move_to_end(key)
            self._bytes += nbytes(value)
            while len(self._data) > self.capacity or (
                    self.max_bytes is not None and self._bytes > self.max_bytes and len(self._data) > 1):
                self._bytes -= nbytes(self._data.popitem(last=False)[1])
        return value

    @property
    def bytes(self):
        return self._bytes


def input_size(models):
    """The input side both models of a pair take (config.image_size) → int; ValueError when they differ."""
    sizes = {name: int(lm.model.config.image_size) for name, lm in models.items()}
    if len(set(sizes.values())) != 1:
        raise ValueError("the two models of a pair must take one input size; got "
                         + ", ".join(f"{name} {s}×{s}" for name, s in sizes.items()))
    return next(iter(sizes.values()))


class Engine:
    """Both models of a pair plus caches. `models` maps name → LoadedModel (see demo.weights)."""

    def __init__(self, models, *, chunk=CHUNK):
        self.models = models
        self.chunk = chunk
        self.size = input_size(models)  # the side of the model input, e.g. 32 (CIFAR-10) or 64 (photos)
        for lm in models.values():  # inference only: decode through the folded copy (lainr's fuse())
            if hasattr(lm.model, "fuse"):
                lm.model.fuse()
        self._latents = LRU(64, max_bytes=64 * 2**20)
        self._renders = LRU(32, max_bytes=RENDER_CACHE_BYTES)

    def clear(self):
        """Forget cached latents and renders (benchmarks)."""
        self._latents = LRU(self._latents.capacity, self._latents.max_bytes)
        self._renders = LRU(self._renders.capacity, self._renders.max_bytes)

    def model(self, name):
        return self.models[name].model

    def num_lp(self, name):
        return self.model(name).config.num_lp

    def check_input(self, prepared):
        """A model input of this pair's size, else ValueError naming both sizes."""
        h, w = prepared.model_input.shape[:2]
        if (h, w) != (self.size, self.size):
            raise ValueError(f"this pair's models take {self.size}×{self.size} inputs; the input is {h}×{w} "
                             f"(prepare it with size={self.size})")

    # ---- encode / render ---------------------------------------------------------------------
    def latents(self, name, prepared):
        if prepared.latents is not None:  # substituted (refined) latents: nothing to encode
            return prepared.latents[name]
        self.check_input(prepared)
        key = (name, prepared.key)
        cached = self._latents.get(key)
        if cached is None:
            with torch.inference_mode():
                cached = self._latents.put(key, self.model(name).encode(to_tensor(prepared.model_input)))
        return cached

    def render(self, name, prepared, size, sigma=0.0, seed=0, progress=None):
        """→ (size, size, 3) float32 in [0, 1]. σ > 0 jitters every query (same jitter for both models)."""
        key = (name, prepared.key, size, float(sigma), int(seed) if sigma > 0 else 0)
        cached = self._renders.get(key)
        if cached is not None:
            return cached
        model = self.model(name)
        generator = torch.Generator().manual_seed(int(seed))
        coords = model.query_grid(1, size, sigma=float(sigma), generator=generator)[0]
        image = self.decode(name, self.latents(name, prepared), coords, size, progress)
        return self._renders.put(key, image)

    def decode(self, name, latents, coords, size, progress=None):
        """Chunked decode of (size², 2) queries (y, x) → (size, size, 3) float32 in [0, 1]."""
        model = self.model(name)
        parts = coords[None].split(self.chunk, dim=1)
        out = []
        with torch.inference_mode():
            for i, part in enumerate(parts):
                out.append(model.decode(latents, part))
                if progress is not None:
                    progress((i + 1) / len(parts))
        rgb = torch.cat(out, dim=1).clamp(0, 1)
        return rearrange(rgb[0], "(h w) c -> h w c", h=size, w=size).numpy()

    def render_window(self, name, prepared, window, size, progress=None):
        """The square window (y0, x0, side) of the unit square decoded on a size×size pixel-centre grid
        inside it, from the image's cached latents → (size, size, 3). window (0, 0, 1) is `render`."""
        y0, x0, side = (float(v) for v in window)
        key = (name, prepared.key, "window", y0, x0, side, size)
        cached = self._renders.get(key)
        if cached is None:
            coords = window_grid(y0, x0, side, size)
            cached = self._renders.put(key, self.decode(name, self.latents(name, prepared), coords, size, progress))
        return cached

    def render_mix(self, name, first, second, t, size, progress=None):
        """The decode of the latent mix (1 − t)·z(first) + t·z(second) on a size×size grid → (size, size, 3).
        t = 0 and t = 1 are the plain renders (torch.lerp is exact at both ends) and share their cache."""
        t = float(t)
        if t in (0.0, 1.0):
            return self.render(name, first if t == 0.0 else second, size, progress=progress)
        key = (name, first.key, second.key, "mix", t, size)
        cached = self._renders.get(key)
        if cached is None:
            latents = torch.lerp(self.latents(name, first), self.latents(name, second), t)
            cached = self._renders.put(key, self.decode(name, latents, pixel_centres(size), size, progress))
        return cached

    def psnr_vs_sigma(self, name, prepared, sigmas, seed=0):
        """PSNR (dB) of the reconstruction at the input size N against the model input, per σ.

        The jittered grids are the ones `render(…, N, σ, seed)` uses; all σ decode in one call.
        """
        model = self.model(name)
        latents = self.latents(name, prepared)
        grids = [model.query_grid(1, self.size, sigma=float(s), generator=torch.Generator().manual_seed(int(seed)))
                 for s in sigmas]
        with torch.inference_mode():
            rgb = model.decode(latents, torch.cat(grids, dim=1)).clamp(0, 1)  # (1, S·N², 3)
        target = torch.from_numpy(prepared.model_input).reshape(1, -1, 3)
        mse = (rgb.reshape(len(sigmas), -1, 3) - target).pow(2).flatten(1).mean(dim=1)
        return [float(v) for v in -10.0 * torch.log10(mse.clamp_min(1e-10))]

    # ---- attention ----------------------------------------------------------------------------
    def attention_at(self, name, prepared, coords):
        """coords (Q, 2) in (y, x) → dict(weights (heads, Q, m), bias (Q, m) or None,
        content (heads, Q, m): the attention the same queries would have without the bias)."""
        model = self.model(name)
        latents = self.latents(name, prepared)
        with torch.inference_mode():
            _, weights, bias = model.decode_with_attention(latents, coords[None].float())
        weights = weights[0]  # (h, Q, m)
        result = {"weights": weights.numpy(), "bias": None, "content": weights.numpy()}
        if bias is not None:
            bias = bias[0]  # (Q, m)
            # softmax(content + bias) = weights ⇒ content logits = log(weights) − bias (+ const per row)
            content = (weights.clamp_min(1e-30).log() - bias[None]).softmax(dim=-1)
            result["bias"], result["content"] = bias.numpy(), content.numpy()
        return result

    def bias_matrix(self, name, grid=None):
        """The corrected decoder's spatial bias for a grid×grid raster of queries (default: the input
        size) → (grid², m), or None."""
        grid = self.size if grid is None else grid
        decoder = self.model(name).decoder
        if not hasattr(decoder, "bias"):
            return None
        bias = decoder.bias(pixel_centres(grid)[None])
        return None if bias is None else bias[0].numpy()

    def token_map(self, name, prepared, token, grid):
        """Attention every query of a grid×grid raster pays to LP token `token` → (heads, grid, grid)."""
        coords = pixel_centres(grid)
        weights = []
        for part in coords.split(self.chunk):
            weights.append(self.attention_at(name, prepared, part)["weights"][:, :, token])
        return np.concatenate(weights, axis=1).reshape(-1, grid, grid)


def bicubic(prepared, size):
    """Bicubic up-sampling of the N×N model input (align_corners=False, as the pixel-centre grid)."""
    t = torch.nn.functional.interpolate(to_tensor(prepared.model_input), size=(size, size), mode="bicubic",
                                        align_corners=False)
    return to_array(t.clamp(0, 1))


def nearest(prepared, size):
    """The N×N model input enlarged by nearest neighbour (what the models see, shown big)."""
    t = torch.nn.functional.interpolate(to_tensor(prepared.model_input), size=(size, size), mode="nearest")
    return to_array(t)


def warm_up(engine, sizes=None, example=None, first_size=128):
    """Throw-away renders per model: the first decode at a new size pays allocator set-up (seconds), and
    the first refinement step seconds of autograd set-up. Then `example` (the page's first view) is
    rendered at `first_size`, so the first visitor's page is filled from the cache. `sizes`: default the
    input size and 256."""
    from .images import Prepared, prepare, to_tensor

    blank = Prepared(model_input=np.full((engine.size, engine.size, 3), 0.5, dtype=np.float32))
    for size in sizes or (engine.size, 256):
        for name in engine.models:
            engine.render(name, blank, size)
    for name in engine.models:
        if hasattr(engine.model(name), "fit_latents"):
            engine.model(name).fit_latents(to_tensor(blank.model_input), steps=2)
    engine.clear()
    if example is not None:
        prepared = prepare(example, size=engine.size)
        for name in engine.models:
            engine.render(name, prepared, first_size)
    from .memory import trim

    trim()  # the set-up's freed memory goes back to the system
