"""Test-time refinement ("fit this image", SPEC §9): gradient steps on one image's latents, decoder frozen.

    result = model.fit_latents(images)            # or lainr.fit_latents(model, images, ...)
    big = model.decode(result.latents, coords)    # render the refined latents like one-pass ones

The loss is the sum over images of each image's MSE at its S² pixel centres (1,024 at 32×32) (optionally at
jittered centres, the target then sampled from the input there; or, with `area=K`, of the mean of
K×K sub-pixel samples over each pixel — how a photo's pixel is made: an area average, not a point),
so each image's gradient is the same whether it is refined alone or in a batch. Only the latents receive gradients: the decoder is
evaluated by a fresh folded copy made for each call (`model.decoder.fuse()`, lainr.fused: copies of
the weights, no parameters), so no parameter, `requires_grad` flag or other shared state is touched —
two threads may refine with one model at once. Its coordinate part is computed once while the
queries stay at the pixel centres (σ = 0); each step then runs only its latent part.
"""
import math
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from einops import rearrange

from .coords import jitter, pixel_centres
from .denormals import denormals_flushed

MAX_STEPS = 1000
MAX_AREA = 4  # K×K = 16 samples per pixel: 16× the cost of a step
OPTIMIZERS = ("adam", "sgd")  # sgd = SGD with Nesterov momentum 0.9
SCHEDULES = ("constant", "cosine", "warmup")
WARMUP_STEPS = 20
# t = steps taken. cosine: lr·½(1 + cos(π·t/steps)); warmup: lr·min(1, (t + 1)/WARMUP_STEPS), then constant.
# constant and warmup do not depend on `steps`: a run stopped at step s equals the run with steps=s.
PREFIX_CONSISTENT = ("constant", "warmup")


@dataclass(frozen=True)
class RefineDefaults:
    steps: int
    lr: float
    sigma: float
    optimizer: str
    schedule: str


# Chosen on validation images of the training split: python -m train.study.refine_defaults (train/README.md).
REFINE_DEFAULTS = RefineDefaults(steps=200, lr=5e-2, sigma=0.0, optimizer="adam", schedule="warmup")


class RefineDiverged(ValueError):
    """The loss or the latents became NaN/inf; the caller should keep the one-pass latents."""


@dataclass
class RefineResult:
    latents: torch.Tensor  # (B, m, d), detached
    psnr: torch.Tensor  # (steps_done + 1, B): clamped PSNR at the pixel centres; row 0 = one pass
    steps_done: int
    seconds: float
    stopped: object = None  # None | "callback"
    snapshots: dict = None  # {step: latents (B, m, d)} for the steps asked for with `snapshots=`
    best_latents: torch.Tensor = None  # (B, m, d): each image's latents at its highest-PSNR step (ties: earliest)
    best_step: torch.Tensor = None  # (B,) long: that step (0 = one pass); psnr[best_step[b], b] is its PSNR


def _check_number(name, value, *, positive):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if positive and value <= 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    if not positive and value < 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")


def check_area(area, sigma, smooth):
    """fit_latents' checks of area, sigma and smooth → ValueError naming the bad one."""
    if isinstance(area, bool) or not isinstance(area, int) or not 1 <= area <= MAX_AREA:
        raise ValueError(f"area must be an int in 1..{MAX_AREA} (K×K sub-pixel samples per pixel), got {area!r}")
    if area > 1 and sigma:
        raise ValueError("area > 1 fits pixel areas on a fixed sub-pixel grid; it takes sigma = 0")
    _check_number("smooth", smooth, positive=False)
    if smooth and area == 1:
        raise ValueError("smooth > 0 penalises differences between sub-pixel samples; it needs area > 1")


def subpixel_coords(size, area, *, device=None, dtype=None):
    """(size² · area², 2): K×K sample positions inside each pixel, grouped pixel by pixel in raster order."""
    fine = pixel_centres(size * area, device=device, dtype=dtype)  # (size²·K², 2), fine raster
    return rearrange(fine, "(h a w b) c -> (h w a b) c", h=size, a=area, w=size, b=area)


def area_smoothness(fine, size, area):
    """(B,): mean squared difference between neighbouring samples of the (size·K)² sub-pixel grid.

    fine (B, size²·K², 3) in subpixel_coords' order; K = area. Sums the horizontal and vertical terms.
    """
    grid = rearrange(fine, "b (h w a c) ch -> b ch (h a) (w c)", h=size, w=size, a=area, c=area)  # (B, 3, sK, sK)
    dy = (grid[:, :, 1:] - grid[:, :, :-1]).pow(2).flatten(1).mean(1)  # (B,)
    dx = (grid[..., 1:] - grid[..., :-1]).pow(2).flatten(1).mean(1)  # (B,)
    return dx + dy


def _check_args(steps, lr, sigma, seed, optimizer, schedule, callback):
    if isinstance(steps, bool) or not isinstance(steps, int) or not 0 <= steps <= MAX_STEPS:
        raise ValueError(f"steps must be an int in 0..{MAX_STEPS}, got {steps!r}")
    _check_number("lr", lr, positive=True)
    _check_number("sigma", sigma, positive=False)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed must be an int, got {seed!r}")
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {optimizer!r}")
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")
    if callback is not None and not callable(callback):
        raise ValueError("callback must be callable or None")


def sample_image(images, coords):
    """The input's value at continuous coords: images (B, 3, H, W), coords (B, Q, 2) (y, x) → (B, Q, 3).

    Bicubic, borders replicated, clamped to [0, 1]; at pixel centres it returns the pixels exactly.
    """
    grid = (coords.flip(-1) * 2 - 1)[:, None]  # (B, 1, Q, 2) as (x, y) in [-1, 1]
    out = F.grid_sample(images, grid, mode="bicubic", padding_mode="border", align_corners=False)  # (B, 3, 1, Q)
    return out[:, :, 0].transpose(1, 2).clamp(0, 1)


def _per_image_mse(pred, target):
    """(B, Q, 3) × 2 → (B,)"""
    return (pred - target).pow(2).flatten(1).mean(dim=1)


def _clamped_psnr(pred, target):
    """Clamped PSNR per image (the metric's formula, lainr.metrics) → (B,)."""
    mse = _per_image_mse(pred.detach().clamp(0, 1), target)
    return -10.0 * torch.log10(mse.clamp_min(1e-10))


def _make_optimizer(name, params, lr):
    if name == "adam":
        return torch.optim.Adam(params, lr=lr)
    return torch.optim.SGD(params, lr=lr, momentum=0.9, nesterov=True)


def _lr_at(schedule, lr, taken, steps):
    if schedule == "cosine":
        return lr * 0.5 * (1 + math.cos(math.pi * taken / steps))
    if schedule == "warmup":
        return lr * min(1.0, (taken + 1) / WARMUP_STEPS)
    return lr


def _resolved(steps, lr, sigma, optimizer, schedule):
    """None → the REFINE_DEFAULTS value, for each setting."""
    d = REFINE_DEFAULTS
    pick = lambda v, default: default if v is None else v  # noqa: E731
    return (pick(steps, d.steps), pick(lr, d.lr), pick(sigma, d.sigma), pick(optimizer, d.optimizer),
            pick(schedule, d.schedule))


def _start(model, images, latents):
    """Checked images on the model's device and dtype, and the start latents (None → one encoder pass)."""
    model._check_images(images)
    if not torch.isfinite(images).all():
        raise ValueError("images contain NaN or inf")
    images = images.to(device=model._device(), dtype=model._dtype())
    if latents is None:
        with torch.no_grad():
            latents = model.encode(images)
    model._check_latents(latents)
    if latents.shape[0] != images.shape[0]:
        raise ValueError(f"latents are for {latents.shape[0]} images, images has {images.shape[0]}")
    return images, latents


def _check_finite(t, what, step, hint=""):
    if not torch.isfinite(t).all():
        raise RefineDiverged(f"refinement diverged at step {step}: {what} is NaN/inf{hint}; keep the one-pass latents")


def _take_step(opt, loss, z, lr, step):
    """One optimiser step on the latents `z` at rate `lr` (NaN/inf in the loss or the result → RefineDiverged)."""
    _check_finite(loss, "the loss", step)
    for group in opt.param_groups:
        group["lr"] = lr
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    _check_finite(z, "the latents", step + 1)


class _Best:
    """Each image's latents at its highest-PSNR step so far (ties: the earliest; step 0 = the start)."""

    def __init__(self, z):
        self.latents = z.detach().clone()  # (B, m, d)
        self.step = torch.zeros(z.shape[0], dtype=torch.long, device=z.device)  # (B,)
        self.psnr = None

    def update(self, step, psnr, z):
        if self.psnr is None:
            self.psnr = psnr
            return
        better = psnr > self.psnr
        if better.any():
            self.latents[better] = z.detach()[better]
            self.step[better] = step
        self.psnr = torch.maximum(self.psnr, psnr)


@denormals_flushed()  # ~2.4× faster steps on a CPU (lainr.denormals); the thread's flag restored after
def fit_latents(model, images, steps=None, lr=None, sigma=None, seed=0, latents=None, callback=None, *,
                optimizer=None, schedule=None, snapshots=(), area=1, smooth=0.0):
    """Refine the latents of `images` (B, 3, S, S) in [0, 1] (S = config.image_size) by gradient steps; decoder frozen.

    steps 0..1000, lr > 0, sigma ≥ 0 (query jitter; target sampled bicubically from the input at the
    jittered coords), None → REFINE_DEFAULTS. `latents` (B, m, d) is the start (None → model.encode).
    callback(step, psnr (B,)) is called for step = 0 (one pass) … steps_done; returning True stops
    (result.stopped = "callback"). result.latents are the last step's; result.best_latents each image's
    at its highest-PSNR step (result.best_step), which long runs that oscillate need.
    optimizer "adam" | "sgd", schedule "constant" | "cosine" | "warmup" (SCHEDULES).
    snapshots: step counts at which a copy of the latents is kept (result.snapshots[step]).
    area K > 1 (sigma = 0): fit each pixel as the mean of K×K sub-pixel samples (result.psnr scores that
    mean); smooth ≥ 0 adds smooth × area_smoothness (neighbouring samples' squared differences) to the loss.
    Deterministic for a seed. Raises ValueError on bad input, RefineDiverged on NaN/inf.
    """
    steps, lr, sigma, optimizer, schedule = _resolved(steps, lr, sigma, optimizer, schedule)
    _check_args(steps, lr, sigma, seed, optimizer, schedule, callback)
    check_area(area, sigma, smooth)
    start = time.perf_counter()
    images, latents = _start(model, images, latents)
    batch, size, device, dtype = images.shape[0], images.shape[-1], images.device, images.dtype

    decoder = model.decoder.fuse()  # a fresh frozen copy for this call: the model is never touched
    centres = pixel_centres(size, device=device, dtype=dtype).expand(batch, -1, -1)  # (B, S², 2)
    target = rearrange(images, "b c h w -> b (h w) c")  # (B, S², 3), raster order like `centres`
    fixed = centres if area == 1 else subpixel_coords(size, area, device=device, dtype=dtype).expand(batch, -1, -1)
    with torch.no_grad():
        fixed_part = decoder.coordinate_part(fixed)  # reused by every step at the fixed queries (B, S²·K², …)
    generator = torch.Generator(device=device).manual_seed(seed)

    z = latents.detach().to(dtype).clone().requires_grad_(True)  # (B, m, d): the only leaf with a gradient
    opt = _make_optimizer(optimizer, [z], lr)
    keep, kept, best = set(snapshots), {}, _Best(z)
    history, stopped = [], None
    for step in range(steps + 1):
        with torch.set_grad_enabled(sigma == 0 and step < steps):
            fine = decoder.latent_part(z, fixed_part)  # (B, S²·K², 3)
            pred = fine if area == 1 else fine.view(batch, -1, area * area, 3).mean(2)  # (B, S², 3): area means
        psnr = _clamped_psnr(pred, target)  # (B,)
        history.append(psnr)
        best.update(step, psnr, z)
        if step in keep:
            kept[step] = z.detach().clone()
        _check_finite(pred, "the decoder output", step, f" (lr {lr} may be too high)")
        if callback is not None and callback(step, psnr.clone()):
            stopped = "callback"
            break
        if step == steps:
            break
        if sigma == 0:
            loss = _per_image_mse(pred, target).sum()
            if smooth:
                loss = loss + smooth * area_smoothness(fine, size, area).sum()
        else:
            coords = jitter(centres, sigma, generator)  # (B, S², 2), fresh each step
            loss = _per_image_mse(decoder(z, coords), sample_image(images, coords)).sum()
        _take_step(opt, loss, z, _lr_at(schedule, lr, step, steps), step)
    return RefineResult(latents=z.detach(), psnr=torch.stack(history), steps_done=len(history) - 1,
                        seconds=time.perf_counter() - start, stopped=stopped, snapshots=kept,
                        best_latents=best.latents, best_step=best.step)
