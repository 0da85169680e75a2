"""What the training-ablation study runs: its scales, its ablations, each run's trainer settings and the budget.

A *scale* is the corrected model the ablations start from and the optimisation every run shares:
- "full": SPEC's corrected model (8.93 M parameters) at a named recipe (train/recipes.py) — a GPU study.
- "reduced": the same architecture narrowed and made shallower (dim 64, depth 2, 64 LP tokens, decoder
  width 64, 32-wide heads: 0.26 M parameters) so that 27 runs fit 16 core-hours on a CPU. Why this size:
  measured in the 2026-12-07 calibration (shared/CALIBRATION.md), it trains at ≈ 12 img/s per AVX2 core
  in the real loop and climbs steadily (15.5 → 17.8 dB validation over 3,200 → 12,800 image passes) —
  it clearly learns within the budget, and α = 0 already stood 0.5–0.9 dB below it. Its optimisation
  (batch 16, peak lr 1e-3, warm-up 1/8) is that calibration's.
"""
import math

BASE = "corrected"
# name → (what is removed, trainer overrides). Every other setting is the base's.
ABLATIONS = {
    BASE: ("nothing (all corrections)", {}),
    "alpha0": ("spatial bias off (α = 0)", {"model_config": {"bias_alpha": 0.0}}),
    "no-jitter": ("no training jitter (σ = 0)", {"train_sigma": 0.0}),
    "pixels512": ("512 random pixels per image per step (with replacement) instead of all 1,024, equal image passes",
                  {"pixels": 512}),
    "pixels512-eqc": ("512 random pixels per image per step, equal compute (more image passes: the ratio of "
                      "training FLOPs per image)", {"pixels": 512, "equal_compute": True}),
    "no-fourier-pe": ("no Fourier positional encoding of the patches", {"model_config": {"pos_freqs": 0}}),
    "one-band": ("one band (σ = 32) instead of two (128, 32)", {"model_config": {"sigma_bands": [32.0]}}),
    "patch4-lp32": ("patch 4 and 32 LP tokens (the simplified model's)",
                    {"model_config": {"patch_size": 4, "num_lp": 32}}),
    "simplified-schedule": ("the simplified protocol's optimisation: peak lr 1e-4, batch 32, no warm-up "
                            "(cosine as the corrected trainer's)", {"lr": 1e-4, "batch_size": 32, "warmup_frac": 0.0}),
}
SCALES = {
    # img_s_per_core: full, bf16 on an Intel Xeon with AVX-512 (docs/history.md); reduced, per AVX2 core (above)
    "full": {"model": {}, "optim": None, "passes": 30_000, "img_s_per_core": 1.8,
             "about": "SPEC's corrected model at a named recipe"},
    "reduced": {"model": {"dim": 64, "depth": 2, "ff_dim": 256, "num_lp": 64, "hidden": 64, "head_dim": 32},
                "optim": {"lr": 1e-3, "batch_size": 16, "warmup_frac": 1 / 8}, "passes": 12_000,
                "img_s_per_core": 11.6,
                "about": "dim 64, depth 2, ff 256, 64 LP tokens, decoder width 64, heads 2 × 32"},
}
MIN_SEEDS = 3
CPU_BUDGET_CORE_H = 16.0  # 8 hours on the 2 cores of the project's machine (issue 28)
GPU_IMG_S = 804  # full corrected training on one H200 (train/README, measured)
SCORE_COST = 1 / 3  # a scored image (forward only) ≈ a third of a training pass


class AblationError(ValueError):
    """Bad input: an unknown ablation, too few seeds, a study over its budget, a folder holding another study."""


def parse_names(text):
    names = [n.strip() for n in (text or "").split(",") if n.strip()] or list(ABLATIONS)
    unknown = [n for n in names if n not in ABLATIONS]
    if unknown:
        raise AblationError(f"unknown ablation(s) {', '.join(unknown)}; known: {', '.join(ABLATIONS)}")
    return names


def parse_seeds(text, pilot=False):
    try:
        seeds = [int(s) for s in str(text).split(",") if s.strip()]
    except ValueError as err:
        raise AblationError(f"--seeds must be integers separated by commas, got {text!r}") from err
    if not seeds or len(set(seeds)) != len(seeds):
        raise AblationError(f"--seeds must name distinct seeds, got {text!r}")
    if len(seeds) < MIN_SEEDS and not pilot:
        raise AblationError(f"--seeds {text!r} names {len(seeds)} seed(s); a study needs at least {MIN_SEEDS} "
                            f"(an interval over seeds), e.g. --seeds 0,1,2 (--pilot allows fewer, for a trial run)")
    return seeds


def parse_shard(text):
    """'K/N' → (K, N): this process runs every N-th job from the K-th (0-based)."""
    try:
        k, n = (int(x) for x in text.split("/"))
    except ValueError as err:
        raise AblationError(f"--shard takes K/N (e.g. 0/2), got {text!r}") from err
    if not 0 <= k < n:
        raise AblationError(f"--shard {text}: K must be in 0 … N−1")
    return k, n


def model_config(scale, a):
    import json
    return {**SCALES[scale]["model"], **json.loads(a.config_json_base or "{}")}


def base_optim(a):
    from ..recipes import recipe
    return SCALES[a.scale]["optim"] or recipe(a.recipe, "corrected")


def train_flops_per_image(config, pixels):
    """Matmul FLOPs (torch's FlopCounterMode: linear, bmm, attention) of one training pass of one image at
    `pixels` queries, forward + backward; element-wise work is not counted, for either configuration."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from lainr import CorrectedConfig
    from lainr.models import CorrectedGINR
    model = CorrectedGINR(CorrectedConfig(**config))
    x, coords = torch.rand(2, 3, 32, 32), torch.rand(2, pixels, 2) * 2 - 1
    with FlopCounterMode(display=False) as counter:
        model(x, coords).sum().backward()
    return counter.get_total_flops() / 2


def param_count(config):
    from lainr import CorrectedConfig
    from lainr.models import CorrectedGINR
    return sum(p.numel() for p in CorrectedGINR(CorrectedConfig(**config)).parameters())


def job(name, seed, a, compute_ratio):
    """One run: its trainer settings (the scale's numbers, then the ablation's overrides)."""
    base, over = base_optim(a), ABLATIONS[name][1]
    conf = {"lr": over.get("lr", base["lr"]), "batch_size": over.get("batch_size", base["batch_size"]),
            "warmup_frac": over.get("warmup_frac", base["warmup_frac"]),
            "model_config": {**model_config(a.scale, a), **over.get("model_config", {})},
            "pixels": over.get("pixels"), "train_sigma": over.get("train_sigma")}
    passes = round(a.passes * compute_ratio) if over.get("equal_compute") else a.passes
    return {"name": name, "seed": seed, "run": f"{name}-s{seed}", "removed": ABLATIONS[name][0],
            "passes": passes, "steps": math.ceil(passes / conf["batch_size"]), **conf}


def plan(a):
    """→ (the study's identity, its jobs in seed-major order: every ablation's first seed before any second)."""
    from pathlib import Path
    names, seeds = parse_names(a.ablations), parse_seeds(a.seeds, a.pilot)
    data = a.data if a.data == "cifar10" else str(Path(a.data).resolve())
    ratio = 1.0
    if any(ABLATIONS[n][1].get("equal_compute") for n in names):
        cfg = model_config(a.scale, a)
        ratio = train_flops_per_image(cfg, 1024) / train_flops_per_image(cfg, 512)
    identity = {"scale": a.scale, "data": data, "passes": a.passes, "eval_images": a.eval_images,
                "test_images": a.test_images, "recipe": a.recipe, "model_config": model_config(a.scale, a),
                "optim": base_optim(a), "params": param_count(model_config(a.scale, a)),
                "compute_ratio_1024_512": round(ratio, 4)}
    return identity, [job(n, s, a, ratio) for s in seeds for n in names]


def budget(jobs, a):
    scored = a.eval_images + a.test_images
    passes = sum(j["steps"] * j["batch_size"] for j in jobs) + len(jobs) * scored * SCORE_COST
    rate = SCALES[a.scale]["img_s_per_core"]
    return {"image_passes": int(passes), "gpu_h200_min": passes / GPU_IMG_S / 60,
            "cpu_core_h": passes / rate / 3600, "img_s_per_core": rate}


def check_budget(jobs, a):
    """A CPU study whose estimate passes its scale's budget → AblationError naming both numbers."""
    cap = a.budget_core_hours or CPU_BUDGET_CORE_H
    if (a.device or "cpu") != "cpu":
        return
    need = budget(jobs, a)["cpu_core_h"]
    if need > cap:
        raise AblationError(f"{len(jobs)} runs need ≈ {need:.1f} core-hours at {SCALES[a.scale]['img_s_per_core']} "
                            f"img/s per core, over the {cap:g} core-hour CPU budget; fewer "
                            f"--passes, ablations or seeds (or --budget-core-hours, or a GPU with --device cuda)")
