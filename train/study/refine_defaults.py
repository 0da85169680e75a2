"""Choose the test-time refinement defaults (optimiser, lr, schedule, steps, jitter) on validation images.

    python -m train.study.refine_defaults --data PATH [--images 50] [--threads 1]

CIFAR-10: class-balanced images of the *validation* split (held-out tenth of the training images,
train.splits.validation_indices); the bundled weights were trained on all 50,000 training images,
these included, so their one-pass PSNR is reported beside the test split's. Photos: the named
validation photos of train.eval.refine_photos (SR ×2/×4/×8 vs bicubic per step count and jitter σ).
Each configuration is written to train/results/refine_defaults.json as soon as it is done; a rerun
skips those already there (resume). The Markdown table is rewritten from the JSON each time.
"""
import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from lainr.cpu_threads import set_cpu_threads

from ..atomic import atomic_write
from ..hardware import cpu_description
from ..data import load_split, to_float
from ..splits import validation_indices
from ..eval.stats import bootstrap_mean
from ..eval.validate import val_indices
from ..eval.refine_photos import VALIDATION_PHOTOS, load_photos, sr_psnr

RESULTS = Path(__file__).resolve().parent.parent / "results"
REPORT_STEPS = (0, 5, 10, 20, 50, 100, 200)
PHOTO_STEPS = (0, 10, 25, 50, 100, 200, 400)
PHOTO_SIGMAS = (0.0, 0.005, 0.01, 0.02)


def balanced(indices, labels, n):
    """n indices, n/10 per class (the first of each class in a seeded order) → sorted tensor."""
    labels = torch.as_tensor(labels)[indices]
    per = max(1, n // int(labels.max() + 1))
    g = torch.Generator().manual_seed(0)
    picked = []
    for c in labels.unique():
        members = indices[labels == c]
        picked.append(members[torch.randperm(len(members), generator=g)[:per]])
    return torch.cat(picked).sort().values


def configs():
    """(name, model, kwargs for fit_latents) in order of importance (the box is shared: each run counts)."""
    out = []
    for name, kw in [("adam-const-3e-2", dict(optimizer="adam", schedule="constant", lr=3e-2)),
                     ("adam-cos-1e-1", dict(optimizer="adam", schedule="cosine", lr=1e-1)),
                     ("adam-cos-3e-2", dict(optimizer="adam", schedule="cosine", lr=3e-2)),
                     ("adam-const-1e-2", dict(optimizer="adam", schedule="constant", lr=1e-2))]:
        out.append((f"corrected {name}", "corrected", dict(kw, steps=200)))
    out += [("corrected adam-warmup-5e-2", "corrected", dict(optimizer="adam", schedule="warmup", lr=5e-2, steps=200)),
            ("corrected adam-warmup-3e-2 (20 steps)", "corrected", dict(optimizer="adam", schedule="warmup", lr=3e-2, steps=20))]
    for name, kw in [("adam-const-3e-2", dict(optimizer="adam", schedule="constant", lr=3e-2)),
                     ("adam-const-1e-1", dict(optimizer="adam", schedule="constant", lr=1e-1)),
                     ("adam-cos-1e-1", dict(optimizer="adam", schedule="cosine", lr=1e-1))]:
        out.append((f"simplified {name}", "simplified", dict(kw, steps=200)))
    return out


def estimates(psnr, steps):
    """psnr (steps+1, N) → {step: Estimate dict} for the report steps ≤ steps (and the last one)."""
    keep = sorted({s for s in REPORT_STEPS if s <= steps} | {steps})
    return {str(s): bootstrap_mean(psnr[s].numpy()).as_dict() for s in keep}


def save(state, path):
    atomic_write(path, json.dumps(state, indent=1) + "\n")  # the resume point: never half-written
    atomic_write(path.with_suffix(".md"), markdown(state))


def markdown(state):
    lines = [f"# Test-time refinement defaults study\n",
             f"CPU: {state['cpu']}, {state['threads']} torch thread(s). CIFAR-10: {state['n_val']} class-balanced "
             f"validation images (train split, held out by train.splits). Mean PSNR (dB) at the 1,024 pixel centres, "
             f"clamped; 95 % bootstrap interval of the mean in brackets for the last column.\n"]
    gap = state.get("one_pass", {})
    if gap:
        lines.append("One pass (no refinement), same count of images: " + "; ".join(
            f"{m}: validation {g['validation']['mean']:.2f} dB, test {g['test']['mean']:.2f} dB"
            for m, g in gap.items()) + " (the bundled weights were trained on every training image, the "
            "validation images included).\n")
    lines.append("| config | " + " | ".join(f"{s}" for s in REPORT_STEPS) + " steps | s / image-step |")
    lines.append("|---" * (len(REPORT_STEPS) + 2) + "|")
    for name, r in state["configs"].items():
        p = r["psnr"]
        cells = []
        for s in REPORT_STEPS:
            e = p.get(str(s))
            if e is None:
                cells.append("–")
            elif s == max(int(k) for k in p):
                cells.append(f"**{e['mean']:.2f}** [{e['low']:.2f}, {e['high']:.2f}]")
            else:
                cells.append(f"{e['mean']:.2f}")
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {r['sec_per_image_step']:.4f} |")
    photos = state.get("photos", {})
    for model, by_sigma in photos.items():
        lines.append(f"\n**Photos ({model}, validation: {', '.join(VALIDATION_PHOTOS)})**, "
                     f"{state.get('photo_recipe', {}).get(model, '')}: PSNR at 32×32 / SR ×2, ×4, ×8 model − bicubic "
                     f"(dB, mean over photos)\n")
        lines.append("| σ | " + " | ".join(f"{s} steps" for s in PHOTO_STEPS) + " |")
        lines.append("|---" * (len(PHOTO_STEPS) + 1) + "|")
        for sigma, by_step in by_sigma.items():
            cells = []
            for s in PHOTO_STEPS:
                r = by_step.get(str(s))
                cells.append("–" if r is None else f"{r['psnr32']:.1f} / " + ", ".join(
                    f"{r['sr'][k]['model'] - r['sr'][k]['bicubic']:+.2f}" for k in ("2", "4", "8")))
            lines.append(f"| {sigma} | " + " | ".join(cells) + " |")
    if state.get("chosen"):
        lines.append(f"\nChosen: {state['chosen']}\n")
    return "\n".join(lines) + "\n"


def run_config(model, images, kw, batch):
    psnr, seconds = [], 0.0
    for part in images.split(batch):
        r = model.fit_latents(part, seed=0, **kw)
        psnr.append(r.psnr)
        seconds += r.seconds
    psnr = torch.cat(psnr, dim=1)  # (steps+1, N)
    return psnr, seconds / (len(images) * max(kw["steps"], 1))


def photo_study(model, hi, kw, state_photos):
    """Constant-rate runs with snapshots at PHOTO_STEPS for each σ → per-step on-grid and SR scores."""
    x = torch.nn.functional.interpolate(hi, size=(32, 32), mode="area")
    for sigma in PHOTO_SIGMAS:
        if str(sigma) in state_photos:
            continue
        r = model.fit_latents(x, steps=max(PHOTO_STEPS), sigma=sigma, seed=0, snapshots=PHOTO_STEPS, **kw)
        by_step = {}
        for s in PHOTO_STEPS:
            sr = sr_psnr(model, r.snapshots[s], hi)
            by_step[str(s)] = {"psnr32": r.psnr[s].mean().item(),
                               "sr": {str(k): {"model": v["model"].mean().item(), "bicubic": v["bicubic"].mean().item()}
                                      for k, v in sr.items()}}
        state_photos[str(sigma)] = by_step
        yield


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m train.study.refine_defaults", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="cifar10", help="'cifar10' (torchvision), an ImageFolder root or a pack")
    p.add_argument("--weights-dir", default="weights")
    p.add_argument("--images", type=int, default=50, help="class-balanced validation images")
    p.add_argument("--batch", type=int, default=50)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default=str(RESULTS / "refine_defaults.json"))
    p.add_argument("--only", default="", help="comma-separated: cifar,photos (default both)")
    a = p.parse_args(argv)
    set_cpu_threads(a.threads)
    from lainr import CorrectedGINR, SimplifiedGINR
    models = {"corrected": CorrectedGINR.from_pretrained(f"{a.weights_dir}/corrected").eval(),
              "simplified": SimplifiedGINR.from_pretrained(f"{a.weights_dir}/simplified").eval()}
    out = Path(a.out)
    state = json.loads(out.read_text()) if out.is_file() else {}
    state.update(cpu=cpu_description(), threads=a.threads, n_val=a.images)
    state.setdefault("configs", {})
    parts = set(a.only.split(",")) if a.only else {"cifar", "photos"}

    if "cifar" in parts:
        train = load_split(a.data, "train")
        val_idx = balanced(validation_indices(train.labels), train.labels, a.images)
        val = to_float(train.images[val_idx])
        state["val_indices"] = val_idx.tolist()
        if "one_pass" not in state:
            test = load_split(a.data, "test")
            test_x = to_float(test.images[balanced(torch.arange(len(test.labels)), test.labels, a.images)])
            state["one_pass"] = {}
            for name, model in models.items():
                with torch.no_grad():
                    g = {}
                    for split, x in (("validation", val), ("test", test_x)):
                        r = model.fit_latents(x, steps=0)
                        g[split] = bootstrap_mean(r.psnr[0].numpy()).as_dict()
                state["one_pass"][name] = g
            save(state, out)
        for name, arch, kw in configs():
            if name in state["configs"]:
                continue
            t = time.time()
            psnr, sec = run_config(models[arch], val, kw, a.batch)
            state["configs"][name] = dict(model=arch, **kw, sigma=0.0, psnr=estimates(psnr, kw["steps"]),
                                          sec_per_image_step=sec)
            save(state, out)
            print(f"{name}: {psnr[-1].mean():.2f} dB after {kw['steps']} steps ({time.time() - t:.0f} s)", flush=True)

    if "photos" in parts:
        hi = load_photos(VALIDATION_PHOTOS)
        state.setdefault("photos", {})
        state.setdefault("photo_recipe", {})
        for arch in ("corrected", "simplified"):
            kw = dict(optimizer="adam", schedule="constant", lr=3e-2)
            state["photo_recipe"][arch] = "Adam, constant lr 3e-2, snapshots of one 400-step run"
            for _ in photo_study(models[arch], hi, kw, state["photos"].setdefault(arch, {})):
                save(state, out)
                print(f"photos {arch}: σ done", flush=True)
    save(state, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
