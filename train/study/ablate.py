"""Training ablations: the corrected model with one correction removed at a time, at equal image passes.

    python -m train.study.ablate --data PATH --out DIR [--passes 30000] [--ablations NAME,NAME]
                                 [--seeds 0,1] [--eval-images 1000] [--recipe protocol] [--threads 1]
                                 [--device cuda] [--bf16] [--dry-run | --report]

Each configuration × seed trains DIR/runs/<name>-s<seed> with `python -m train` for
ceil(passes / batch) optimiser steps (the schedule's shape compressed over them; the validation
images of train/splits.py held out), then its checkpoint is scored here per image on the first
--eval-images of the validation split (never the test split): clamped PSNR of the 32×32
reconstruction. An ablation is reported against "corrected" (nothing removed) as the paired
difference over the same images of the seed-averaged per-image PSNR, with its 95 % bootstrap interval,
beside each seed's own mean. Results: DIR/results/<name>-s<seed>.{json,npz}, DIR/ablations.json,
DIR/table.md, DIR/ablations.png. Re-running the same command skips scored runs and resumes unfinished
ones; --report writes the reports from what is scored so far and trains nothing; --dry-run prints the
plan and its budget and writes nothing.
"""
import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from ..atomic import atomic_write_json
from ..checkpoint import CKPT
from ..recipes import RECIPES, recipe
from ..stats import bootstrap_mean, paired_difference
from .jobs import run_job
from .study_folder import check_study_folder

BASE = "corrected"
# name → (what is removed, trainer overrides). Every other setting is the base's.
ABLATIONS = {
    BASE: ("nothing (all corrections)", {}),
    "alpha0": ("spatial bias off (α = 0)", {"model_config": {"bias_alpha": 0.0}}),
    "no-jitter": ("no training jitter (σ = 0)", {"train_sigma": 0.0}),
    "pixels512": ("512 random pixels per image per step (with replacement) instead of all 1,024",
                  {"pixels": 512}),
    "no-fourier-pe": ("no Fourier positional encoding of the patches", {"model_config": {"pos_freqs": 0}}),
    "one-band": ("one band (σ = 32) instead of two (128, 32)", {"model_config": {"sigma_bands": [32.0]}}),
    "patch4-lp32": ("patch 4 and 32 LP tokens (the simplified model's)",
                    {"model_config": {"patch_size": 4, "num_lp": 32}}),
    "simplified-schedule": ("the simplified protocol's optimisation: peak lr 1e-4, batch 32, no warm-up "
                            "(cosine as the corrected trainer's)", {"lr": 1e-4, "batch_size": 32, "warmup_frac": 0.0}),
}
IDENTITY = "ablate_identity.json"
GPU_IMG_S = 804  # corrected training on one H200 (train/README, measured)
CPU_IMG_S_PER_CORE = 1.8  # corrected training per core on this CPU (BENCHMARKS.md, measured)
SCORE_COST = 1 / 3  # a scored image (forward only) ≈ a third of a training pass


class AblationError(ValueError):
    """Bad input: an unknown ablation, a folder holding another study."""


def parse_names(text):
    names = [n.strip() for n in (text or "").split(",") if n.strip()] or list(ABLATIONS)
    unknown = [n for n in names if n not in ABLATIONS]
    if unknown:
        raise AblationError(f"unknown ablation(s) {', '.join(unknown)}; known: {', '.join(ABLATIONS)}")
    return names


def parse_seeds(text):
    try:
        seeds = [int(s) for s in str(text).split(",") if s.strip()]
    except ValueError as err:
        raise AblationError(f"--seeds must be integers separated by commas, got {text!r}") from err
    if not seeds or len(set(seeds)) != len(seeds):
        raise AblationError(f"--seeds must name distinct seeds, got {text!r}")
    return seeds


def job(name, seed, a):
    """One run: its trainer settings (the recipe's numbers, then the ablation's overrides)."""
    base = recipe(a.recipe, "corrected")
    over = ABLATIONS[name][1]
    conf = {"lr": over.get("lr", base["lr"]), "batch_size": over.get("batch_size", base["batch_size"]),
            "warmup_frac": over.get("warmup_frac", base["warmup_frac"]),
            "model_config": {**json.loads(a.config_json_base or "{}"), **over.get("model_config", {})},
            "pixels": over.get("pixels"), "train_sigma": over.get("train_sigma")}
    return {"name": name, "seed": seed, "run": f"{name}-s{seed}", "removed": ABLATIONS[name][0],
            "passes": a.passes, "steps": math.ceil(a.passes / conf["batch_size"]), **conf}


def plan(a):
    names, seeds = parse_names(a.ablations), parse_seeds(a.seeds)
    data = a.data if a.data == "cifar10" else str(Path(a.data).resolve())
    identity = {"data": data, "passes": a.passes, "eval_images": a.eval_images, "recipe": a.recipe,
                "config_json_base": a.config_json_base or ""}
    return identity, [job(n, s, a) for n in names for s in seeds]


def check_out_dir(out, identity):
    """A folder holding another ablation study (or anything else) → AblationError, before anything is written."""
    return check_study_folder(out, identity, IDENTITY, "ablation study", AblationError)


def budget(jobs, eval_images):
    passes = sum(j["steps"] * j["batch_size"] for j in jobs) + len(jobs) * eval_images * SCORE_COST
    return {"image_passes": int(passes), "gpu_h200_min": passes / GPU_IMG_S / 60,
            "cpu_core_h": passes / CPU_IMG_S_PER_CORE / 3600}


def train_command(a, identity, j, out):
    cmd = [sys.executable, "-m", "train", "--model", "corrected", "--data", identity["data"],
           "--out", str(out / "runs" / j["run"]), "--data-root", a.data_root,
           *(["--cache-dir", a.cache_dir] if a.cache_dir else []),
           "--recipe", a.recipe, "--lr", repr(j["lr"]), "--batch-size", str(j["batch_size"]),
           "--warmup-frac", repr(j["warmup_frac"]), "--max-steps", str(j["steps"]), "--seed", str(j["seed"]),
           "--threads", str(a.threads), "--val-from", "train", "--val-limit", str(min(a.eval_images, 100)),
           "--ckpt-minutes", "5", "--no-export", "--no-progress",
           *(["--device", a.device] if a.device else []), *(["--bf16"] if a.bf16 else [])]
    if j["model_config"]:
        cmd += ["--config-json", json.dumps(j["model_config"])]
    if j["pixels"] is not None:
        cmd += ["--pixels", str(j["pixels"])]
    if j["train_sigma"] is not None:
        cmd += ["--train-sigma", repr(j["train_sigma"])]
    return cmd


def score(run, a):
    """The run's checkpoint → per-image PSNR (n,) on the first --eval-images of the validation split."""
    import torch

    from ..checkpoint import load_checkpoint
    from ..config import TrainConfig
    from ..loop import train_and_validation_sets
    from ..model_factory import build_model
    from ..per_image import measure
    from ..validate import val_indices
    ckpt = load_checkpoint(run / CKPT)
    cfg = TrainConfig.from_dict({**ckpt["config"], "data_root": a.data_root, "cache_dir": a.cache_dir})
    model = build_model(cfg.resolved())
    model.load_state_dict(ckpt["model"])
    _, val_set, _ = train_and_validation_sets(cfg)
    dev = a.device or "cpu"
    with torch.no_grad():
        per = measure(model.to(dev).eval(), val_set.images, val_indices(len(val_set), a.eval_images), (0.0,),
                      split="val", device=dev)
    return per.psnr[0], int(ckpt["step"])


def collect(out, jobs):
    """→ {name: [(seed, per-image psnr)]} of the scored runs."""
    got = {}
    for j in jobs:
        npz = out / "results" / f"{j['run']}.npz"
        if npz.is_file():
            with np.load(npz) as z:
                got.setdefault(j["name"], []).append((j["seed"], z["psnr"]))
    return got


def summarise(identity, jobs, got):
    rows = {}
    base = got.get(BASE)
    base_mean = np.mean([p for _, p in base], axis=0) if base else None
    for name in dict.fromkeys(j["name"] for j in jobs):
        runs = got.get(name, [])
        row = {"removed": ABLATIONS[name][0], "seeds_done": [s for s, _ in runs],
               "per_seed_val_psnr": {str(s): float(p.mean()) for s, p in runs}}
        if runs:
            mean = np.mean([p for _, p in runs], axis=0)
            row["val_psnr"] = bootstrap_mean(mean).as_dict()
            if base_mean is not None and name != BASE:
                row["delta"] = paired_difference(mean, base_mean).as_dict()
        rows[name] = row
    return {**identity, "base": BASE, "ablations": rows}


def table_md(summary):
    lines = [f"Training ablations of the corrected model at {summary['passes']:,} image passes each, recipe "
             f"'{summary['recipe']}', scored on the validation split (held-out training images, train/splits.py), "
             f"first {summary['eval_images']:,} images; Δ = ablation − corrected, paired over the same images of "
             f"the seed-averaged per-image PSNR, [95 % bootstrap interval over images].", "",
             "| ablation | removed | seeds | val PSNR (dB), per seed | mean [95 %] | Δ vs corrected (dB) |",
             "|---|---|---|---|---|---|"]
    for name, r in summary["ablations"].items():
        v, d = r.get("val_psnr"), r.get("delta")
        lines.append(f"| {name} | {r['removed']} | {len(r['seeds_done'])} | "
                     + (", ".join(f"{x:.2f}" for x in r["per_seed_val_psnr"].values()) or "not run") + " | "
                     + (f"{v['mean']:.2f} [{v['low']:.2f}, {v['high']:.2f}]" if v else "–") + " | "
                     + (f"{d['mean']:+.2f} [{d['low']:+.2f}, {d['high']:+.2f}]" if d else "–") + " |")
    return "\n".join(lines) + "\n"


def plot(path, summary):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    names = [n for n, r in summary["ablations"].items() if "val_psnr" in r]
    fig, ax = plt.subplots(figsize=(8, 0.5 * len(names) + 1.5))
    for i, n in enumerate(names):
        r = summary["ablations"][n]
        v = r["val_psnr"]
        ax.errorbar(v["mean"], i, xerr=[[v["mean"] - v["low"]], [v["high"] - v["mean"]]], fmt="o", color="k")
        ax.scatter(list(r["per_seed_val_psnr"].values()), [i] * len(r["per_seed_val_psnr"]), s=12, color="tab:blue")
    ax.set_yticks(range(len(names)), names)
    ax.invert_yaxis()
    ax.set_xlabel(f"validation PSNR (dB) after {summary['passes']:,} image passes (dots: seeds)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_reports(out, identity, jobs):
    summary = summarise(identity, jobs, collect(out, jobs))
    atomic_write_json(out / "ablations.json", summary)
    (out / "table.md").write_text(table_md(summary))
    if any("val_psnr" in r for r in summary["ablations"].values()):
        plot(out / "ablations.png", summary)
    return summary


def parser():
    p = argparse.ArgumentParser(prog="python -m train.study.ablate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="cifar10")
    p.add_argument("--data-root", default="data")
    p.add_argument("--cache-dir", default="")
    p.add_argument("--out", required=True)
    p.add_argument("--passes", type=int, default=30_000, help="image passes per run (equal for every run)")
    p.add_argument("--ablations", default="", help=f"comma-separated names (default all): {', '.join(ABLATIONS)}")
    p.add_argument("--seeds", default="0,1")
    p.add_argument("--eval-images", type=int, default=1000, help="validation images scored per run")
    p.add_argument("--recipe", default="protocol", choices=list(RECIPES), help="the base's lr / batch / warm-up")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="")
    p.add_argument("--bf16", action="store_true")
    p.add_argument("--config-json-base", default="", help=argparse.SUPPRESS)  # model overrides for every run (tests)
    p.add_argument("--dry-run", action="store_true", help="print the plan and its budget; write nothing")
    p.add_argument("--report", action="store_true", help="write the reports from what is scored; train nothing")
    return p


def main(argv=None):
    a = parser().parse_args(argv)
    out = Path(a.out)
    try:
        identity, jobs = plan(a)
        if a.dry_run:
            b = budget(jobs, a.eval_images)
            for j in jobs:
                print(f"{j['run']}: {j['steps']} steps of batch {j['batch_size']} — removed: {j['removed']}")
            print(f"{len(jobs)} runs, {b['image_passes']:,} image passes (scoring included): ≈ {b['gpu_h200_min']:.0f} min "
                  f"on one H200 at {GPU_IMG_S} img/s; ≈ {b['cpu_core_h']:.0f} core-hours on this CPU at "
                  f"{CPU_IMG_S_PER_CORE} img/s per core")
            return 0
        check_out_dir(out, identity)
    except AblationError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if not a.report:
        for sub in ("runs", "results", "logs"):
            (out / sub).mkdir(parents=True, exist_ok=True)
        atomic_write_json(out / IDENTITY, identity)
        failed = [j["run"] for j in jobs if run_job(a, identity, j, out)["status"] == "failed"]
        if failed:
            write_reports(out, identity, jobs)
            print(f"error: {len(failed)} run(s) failed: {', '.join(failed)}", file=sys.stderr)
            return 1
    elif not (out / IDENTITY).is_file():
        print(f"error: --out {out} holds no ablation study to report on", file=sys.stderr)
        return 2
    print(table_md(write_reports(out, identity, jobs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
