"""Seconds for test-time refinement of one image: `python -m bench.refine_speed [--threads 2] [--steps 200]`.

For each model (bundled weights, or freshly initialised full-size ones when --weights-dir lacks them):
`fit_latents(steps)` (fused decoder, coordinate part computed once, no weight gradients) beside the plain
loop it replaces (Adam on the latents through `model.decode`, weights left requires_grad as loaded),
interleaved so both see the same machine load. Prints the CPU model and the load average: on a shared
box the figures move with the load.
"""
import argparse
import os
import time
from pathlib import Path

import torch
from einops import rearrange

from lainr import CorrectedGINR, SimplifiedGINR
from lainr.cpu_threads import set_cpu_threads


def plain_loop(model, images, steps, lr=3e-2):
    """The reference: Adam on the latents through model.decode at the pixel centres."""
    z = model.encode(images).detach().requires_grad_(True)
    opt = torch.optim.Adam([z], lr=lr)
    coords = model.query_grid(len(images), 32)
    target = rearrange(images, "b c h w -> b (h w) c")
    for _ in range(steps):
        loss = (model.decode(z, coords) - target).pow(2).flatten(1).mean(1).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.zero_grad(set_to_none=True)
    return z.detach()


def load(cls, folder):
    return (cls.from_pretrained(str(folder)) if (Path(folder) / "model.safetensors").is_file() else cls()).eval()


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench.refine_speed", description=__doc__)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--weights-dir", default="weights")
    p.add_argument("--repeats", type=int, default=2)
    a = p.parse_args(argv)
    set_cpu_threads(a.threads)
    from train.hardware import cpu_description
    print(f"CPU: {cpu_description()}, {a.threads} thread(s), load average before: {os.getloadavg()[0]:.2f}")
    x = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    total = 0.0
    for name, cls in (("corrected", CorrectedGINR), ("simplified", SimplifiedGINR)):
        model = load(cls, Path(a.weights_dir) / name)
        model.fit_latents(x, steps=3)
        ours, plain = [], []
        for _ in range(a.repeats):
            ours.append(model.fit_latents(x, steps=a.steps).seconds)
            t = time.perf_counter()
            plain_loop(model, x, a.steps)
            plain.append(time.perf_counter() - t)
        total += min(ours)
        print(f"{name}: fit_latents {min(ours):.2f} s, plain loop {min(plain):.2f} s for {a.steps} steps "
              f"(best of {a.repeats})")
    print(f"both models: {total:.2f} s; load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
