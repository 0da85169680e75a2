"""Re-check the refinement defaults on more validation images, as paired differences.

    python -m train.study.refine_recheck --data PATH [--images 200] [--batch 50] [--threads 1]

The defaults (lainr.REFINE_DEFAULTS: Adam, lr 5e-2 after a 20-step warm-up, 200 steps) won the study of
train/study/refine_defaults.py on 20 validation images, its interval overlapping the runner-up's. This
runs the winner and the runners-up of that study on --images class-balanced validation images (never
the test split) and reports each one's PSNR at the pixel centres after 200 steps, with the paired
difference to the defaults (same images) and its 95 % bootstrap interval. Resumable: each (model,
configuration) is written to OUT/refine_recheck.json when done. Writes OUT/refine_recheck.md.
"""
import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from lainr import fit_latents
from lainr.cpu_threads import set_cpu_threads

from ..atomic import atomic_write, atomic_write_json
from ..data import describe_source, load_split, to_float
from ..hardware import cpu_model
from ..splits import validation_indices
from ..eval.stats import bootstrap_mean, paired_difference
from .refine_defaults import balanced

DEFAULT = "adam-warmup-5e-2"
CONFIGS = {  # the defaults, then the runners-up of refine_defaults.md (corrected: next two; simplified: its best)
    DEFAULT: dict(optimizer="adam", schedule="warmup", lr=5e-2),
    "adam-const-3e-2": dict(optimizer="adam", schedule="constant", lr=3e-2),
    "adam-const-1e-2": dict(optimizer="adam", schedule="constant", lr=1e-2),
    "adam-const-1e-1": dict(optimizer="adam", schedule="constant", lr=1e-1),
}
PLAN = {"corrected": (DEFAULT, "adam-const-3e-2", "adam-const-1e-2"),
        "simplified": (DEFAULT, "adam-const-3e-2", "adam-const-1e-1")}
STEPS = 200


def run(model, images, kw, batch):
    """→ PSNR (N,) at the pixel centres after STEPS steps, seconds."""
    t0, out = time.time(), []
    for part in images.split(batch):
        out.append(fit_latents(model, part, steps=STEPS, **kw).psnr[-1])
    return torch.cat(out).numpy(), time.time() - t0


def markdown(state):
    machines = sorted({f"{r['cpu']}, {r['threads']} thread(s)" for r in state["rows"].values()})
    lines = [f"Refinement defaults re-checked: {state['n']} class-balanced validation images (train.splits) of "
             f"{state['data']}, {STEPS} steps, PSNR at the pixel centres; Δ = configuration − the defaults "
             f"({DEFAULT}), paired over the same images, [95 % bootstrap interval]. Seconds on {'; '.join(machines)}.",
             "",
             "| model | configuration | PSNR (dB) | Δ vs defaults (dB) | s / image |", "|---|---|---|---|---|"]
    for key, r in state["rows"].items():
        model, name = key.split(" ", 1)
        e, d = r["psnr"], r.get("delta")
        lines.append(f"| {model} | {name} | {e['mean']:.2f} [{e['low']:.2f}, {e['high']:.2f}] | "
                     + (f"{d['mean']:+.2f} [{d['low']:+.2f}, {d['high']:+.2f}]" if d else "(the defaults)")
                     + f" | {r['seconds'] / state['n']:.2f} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m train.study.refine_recheck", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="cifar10")
    p.add_argument("--weights-dir", default="weights")
    p.add_argument("--images", type=int, default=200)
    p.add_argument("--batch", type=int, default=50)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default="train/results")
    a = p.parse_args(argv)
    from ..eval.evaluate import load_weights
    set_cpu_threads(a.threads)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "refine_recheck.json"
    state = json.loads(path.read_text()) if path.is_file() else {"n": a.images, "rows": {}, "values": {}}
    if state["n"] != a.images:
        print(f"error: {path} holds a re-check on {state['n']} images; use --images {state['n']} or another --out",
              file=sys.stderr)
        return 2
    state.setdefault("data", describe_source(a.data))
    train = load_split(a.data, "train")
    images = to_float(train.images[balanced(validation_indices(train.labels), train.labels, a.images)])
    for model_name, names in PLAN.items():
        model = load_weights(Path(a.weights_dir) / model_name)
        for name in names:
            key = f"{model_name} {name}"
            if key in state["rows"]:
                continue
            v, sec = run(model, images, CONFIGS[name], a.batch)
            state["values"][key] = v.round(4).tolist()
            row = {"psnr": bootstrap_mean(v).as_dict(), "seconds": sec, "cpu": cpu_model(), "threads": a.threads}
            if name != DEFAULT:
                row["delta"] = paired_difference(v, state["values"][f"{model_name} {DEFAULT}"]).as_dict()
            state["rows"][key] = row
            atomic_write_json(path, state)
            print(f"{key}: {v.mean():.2f} dB ({sec:.0f} s)", file=sys.stderr)
    atomic_write_json(path, state)
    atomic_write(out / "refine_recheck.md", markdown(state))
    print(markdown(state))
    return 0


if __name__ == "__main__":
    sys.exit(main())
