"""Throughput of one training step as the trainer runs it, and the selective scan's share of it.

`measure(model, model_config, batch, device, bf16=…)` builds a freshly initialised model, runs the
trainer's own step (train.batches: the protocol's pixels, jitter and loss; AdamW; clipping) on random
images, and times `steps` steps after two warm-up steps. The scan's share: the model's selective-scan
calls (2 × depth mixers, the model's sequence length and width) timed alone, forward + backward, on
random inputs of the same shapes, divided by the step time.
"""
import statistics
import time

import torch

from lainr import CorrectedConfig, SimplifiedConfig, model_class
from lainr.scan import selective_scan

from ..batches import loss_and_psnr, queries, step_generator
from ..config import GRAD_CLIP, PROTOCOLS, WEIGHT_DECAY


def _sync(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def _timed(fn, device, steps, warmup=2):
    for _ in range(warmup):
        fn()
    _sync(device)
    times = []
    for _ in range(steps):
        t = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def _scan_seconds(conf, batch, device, steps, variant):
    """Forward + backward of all the model's scan calls on random inputs of its shapes (fp32)."""
    grid = conf.image_size // conf.patch_size
    length, d_inner, n = grid * grid + conf.num_lp, conf.expand * conf.dim, conf.d_state
    g = torch.Generator(device=device).manual_seed(0)

    def rnd(*shape, scale=1.0):
        return (torch.randn(*shape, generator=g, device=device) * scale).requires_grad_()

    u, z = rnd(batch, d_inner, length), rnd(batch, d_inner, length)
    delta = (torch.rand(batch, d_inner, length, generator=g, device=device) * 0.1 + 1e-3).requires_grad_()
    A = (-torch.arange(1, n + 1, device=device, dtype=torch.float32).repeat(d_inner, 1)).requires_grad_()
    B, C, D = rnd(batch, n, length), rnd(batch, n, length), rnd(d_inner)
    gy = torch.randn(batch, d_inner, length, generator=g, device=device)

    def calls():
        for _ in range(2 * conf.depth):
            y = selective_scan(u, delta, A, B, C, D, variant=variant, z=z)
            torch.autograd.grad(y, (u, delta, A, B, C, D, z), gy)

    return _timed(calls, device, max(1, steps // 2), warmup=1)


def measure(model, model_config, batch, device, *, bf16=False, steps=8, scan_variant=None, seed=0):
    """→ dict(batch, step_ms, img_per_s, scan_ms, scan_share, peak_mem_gib)"""
    conf = (SimplifiedConfig if model == "simplified" else CorrectedConfig)(**model_config)
    torch.manual_seed(seed)
    net = model_class(model)(conf).to(device).train()
    opt = torch.optim.AdamW(net.parameters(), lr=1e-4, weight_decay=WEIGHT_DECAY)
    proto = PROTOCOLS[model]
    images = torch.rand(batch, 3, conf.image_size, conf.image_size, device=device)
    state = {"step": 0}
    cuda = torch.device(device).type == "cuda"

    def step():
        coords, targets = queries(images, proto["pixels"], proto["train_sigma"],
                                  step_generator(seed, state["step"], 0, device))
        with torch.autocast(torch.device(device).type, dtype=torch.bfloat16, enabled=bf16):
            pred = net(images, coords)
        loss, _ = loss_and_psnr(model, pred, targets)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), GRAD_CLIP)
        opt.step()
        state["step"] += 1

    if cuda:
        torch.cuda.reset_peak_memory_stats(device)
    seconds = _timed(step, device, steps)
    peak = torch.cuda.max_memory_allocated(device) / 2 ** 30 if cuda else None
    del net, opt
    scan = _scan_seconds(conf, batch, device, steps, scan_variant)
    if cuda:
        torch.cuda.empty_cache()
    return {"batch": batch, "step_ms": round(seconds * 1e3, 2), "img_per_s": round(batch / seconds, 1),
            "scan_ms": round(scan * 1e3, 2), "scan_share": round(min(scan / seconds, 1.0), 3),
            "peak_mem_gib": None if peak is None else round(peak, 2), "bf16": bf16,
            "scan_variant": scan_variant or "default"}
