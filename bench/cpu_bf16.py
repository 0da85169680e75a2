"""`python -m bench.cpu_bf16 [--models corrected,simplified] [--rounds 5] [--steps 3] [--threads 1] [--json PATH]`

Training-step time in float32 against bfloat16 autocast on the CPU, at each model's `cpu` recipe batch
(train/recipes.py) with the protocol's pixels and jitter. Two identically initialised models, one per
precision, are stepped in alternation (`--steps` steps each per round, after one warm-up round), so
a machine whose load changes during the run slows both alike; the figure is the median over rounds.
Autocast keeps the Fourier features, the spatial bias and the biased attention in float32 (lainr).
bf16 is only worth it where `lscpu` shows avx512_bf16 or amx_bf16; elsewhere torch emulates it.
"""
import argparse
import statistics
import time

import torch

from bench.configs import build_model, protocol
from bench.measure import load_average
from bench.train_step import TrainStep
from train import hardware
from train.recipes import recipe
from lainr.atomic import atomic_write_json


def compare(name, *, rounds, steps, quick=False):
    """→ dict(model, batch, fp32_ms, bf16_ms, speedup, ...): median ms per optimiser step."""
    p = protocol(name, quick)
    batch = 2 if quick else recipe("cpu", name)["batch_size"]
    runners = {}
    for label, dtype in (("fp32", None), ("bf16", torch.bfloat16)):
        runners[label] = TrainStep(build_model(name, quick), batch=batch, pixels=p["pixels"], sigma=p["sigma"],
                                   lr=p["lr"], weight_decay=p["weight_decay"], autocast_dtype=dtype)
    times = {k: [] for k in runners}
    for r in range(rounds + 1):  # round 0 warms up (numba compile, allocator)
        for label, step in runners.items():
            t0 = time.perf_counter()
            for _ in range(steps):
                step()
            if r:
                times[label].append((time.perf_counter() - t0) / steps)
    fp32, bf16 = statistics.median(times["fp32"]), statistics.median(times["bf16"])
    return dict(model=name, batch=batch, fp32_ms=round(fp32 * 1e3, 1), bf16_ms=round(bf16 * 1e3, 1),
                fp32_img_s=round(batch / fp32, 2), bf16_img_s=round(batch / bf16, 2),
                speedup=round(fp32 / bf16, 3), rounds=rounds, steps_per_round=steps)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="corrected,simplified")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=3, help="steps per precision per round")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--quick", action="store_true", help="tiny models (a smoke test)")
    ap.add_argument("--json", help="also write the results here")
    a = ap.parse_args(argv)
    hardware.set_threads(a.threads)
    machine = hardware.describe("cpu")
    print(f"{machine}; load average {' '.join(f'{x:.2f}' for x in load_average() or [])}")
    rows = []
    for name in a.models.split(","):
        row = compare(name, rounds=a.rounds, steps=a.steps, quick=a.quick)
        rows.append(row)
        print(f"{name:10s} batch {row['batch']:3d}: fp32 {row['fp32_ms']:8.1f} ms/step ({row['fp32_img_s']} img/s)  "
              f"bf16 {row['bf16_ms']:8.1f} ms/step ({row['bf16_img_s']} img/s)  speed-up ×{row['speedup']}", flush=True)
    if a.json:
        atomic_write_json(a.json, dict(machine=machine, bf16_native=hardware.cpu_has_bf16(), threads=a.threads,
                                       rows=rows), indent=1, sort_keys=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
