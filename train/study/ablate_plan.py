"""What the training-ablation study runs: its scales, its ablations, each run's trainer settings and the budget.

A *scale* is the corrected model the ablations start from, the optimisation every run shares and the pass
budget of a run:
- "full": SPEC's corrected model (8.93 M parameters) at a named recipe (train/recipes.py) — a GPU study.
- "reduced": the same architecture narrowed and made shallower (dim 64, depth 2, ff 256, 64 LP tokens,
  decoder width 64, heads 2 × 32: 260,422 parameters, a latent of 4,096 floats), 128,000 image passes per run
  (2.8 epochs of the 45,000 training images), batch 16, peak lr 1e-3, warm-up 1/8, bf16 autocast. Why:
  the intact model must beat an 8×8 thumbnail (21.4 dB on the test split, train/eval/thumbnails.py) by
  ≥ 1.5 dB, or the study cannot speak to claims about detail. Pilots (shared/CALIBRATION.md and
  train/results/ablation-pilots/): this model gains ≈ 3 dB between 14k and 22k passes and reached 21.8 dB
  at the end of a 48k-pass schedule, still climbing; the 0.88 M model (dim 128) learns faster per pass but
  costs ≈ 2.4× per pass, and 25 of its runs at 48k passes would already fill the budget below the target.
  On the project's machine (Intel Xeon, Sapphire Rapids, AVX-512 bf16 + AMX; one thread per run, two runs
  side by side) the real trainer runs this model at 37–39 img/s in bf16 (32–34 in float32; loss within
  noise), so 5 rows × 5 seeds × 128,000 passes plan at ≈ 25 core-hours of the 30 allowed.
"""
import hashlib
import json
import math
from pathlib import Path

BASE = "corrected"
# name → (what is removed, trainer overrides). Every other setting is the base's.
ABLATIONS = {
    BASE: ("nothing (all corrections)", {}),
    "alpha0": ("spatial bias off (α = 0)", {"model_config": {"bias_alpha": 0.0}}),
    "pixels512": ("512 random pixels per image per step (with replacement) instead of all 1,024, equal image passes",
                  {"pixels": 512}),
    "one-band": ("one band (σ = 32) instead of two (128, 32)", {"model_config": {"sigma_bands": [32.0]}}),
    "no-jitter": ("no training jitter (σ = 0)", {"train_sigma": 0.0}),
    "no-fourier-pe": ("no Fourier positional encoding of the patches", {"model_config": {"pos_freqs": 0}}),
    "patch4-lp32": ("patch 4 and 32 LP tokens (the simplified model's)",
                    {"model_config": {"patch_size": 4, "num_lp": 32}}),
}
DEFAULT_ABLATIONS = (BASE, "alpha0", "pixels512", "one-band", "no-jitter")  # the claims' rows (issue 35)
SCALES = {
    # speed: training img/s per core (one thread per run, two runs side by side) where it was measured
    "full": {"model": {}, "optim": None, "passes": 30_000, "bf16": True,
             "speed": {"img_s_per_core": 1.8, "cpu": "Intel Xeon with AVX-512 bf16 (docs/history.md)"},
             "about": "SPEC's corrected model at a named recipe"},
    "reduced": {"model": {"dim": 64, "depth": 2, "ff_dim": 256, "num_lp": 64, "hidden": 64, "head_dim": 32},
                "optim": {"lr": 1e-3, "batch_size": 16, "warmup_frac": 1 / 8}, "passes": 128_000, "bf16": True,
                "speed": {"img_s_per_core": 37.0, "cpu": "Intel Xeon (Sapphire Rapids, AVX-512 bf16 + AMX), bf16 "
                                                         "autocast, 1 thread per run, 2 runs side by side"},
                "about": "dim 64, depth 2, ff 256, 64 LP tokens, decoder width 64, heads 2 × 32"},
}
MIN_SEEDS = 5
CPU_BUDGET_CORE_H = 30.0  # the whole study on the project machine's 2 cores (issue 35)
GPU_IMG_S = 804  # full corrected training on one H200 (train/README, measured)
SCORE_COST = 1 / 3  # a scored image (forward only) ≈ a third of a training pass
CURVE_POINTS = 10  # validations per run, log-spaced over its steps
CURVE_IMAGES = 500  # validation images each curve point scores
CURVE_SIGMA = 0.02  # each curve point also scores the jittered grid (the off-grid loss)


class AblationError(ValueError):
    """Bad input: an unknown ablation, too few seeds, a study over its budget, a folder holding another study,
    data without a manifest."""


def parse_names(text, scale="reduced"):
    names = [n.strip() for n in (text or "").split(",") if n.strip()] or list(DEFAULT_ABLATIONS)
    unknown = [n for n in names if n not in ABLATIONS]
    if unknown:
        raise AblationError(f"unknown ablation(s) {', '.join(unknown)}; known: {', '.join(ABLATIONS)}")
    if BASE not in names:
        raise AblationError(f"--ablations must include {BASE} (every Δ is taken against it)")
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
                            f"(a t-interval over seeds), e.g. --seeds 0,1,2,3,4 (--pilot allows fewer, for a trial)")
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


def data_identity(data):
    """The data as the study's identity names it — never a machine's path: 'cifar10' (torchvision's arrays), or
    the folder's manifest name and the sha256 of its manifest.json (a folder without one is refused)."""
    if data == "cifar10":
        return {"name": "cifar10 (torchvision arrays)"}
    if str(data).endswith(".npz") and Path(data).is_file():  # a pack (train.gpu.pack): named by its own hash
        digest = hashlib.sha256()
        with open(data, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        return {"name": Path(data).name, "pack_sha256": digest.hexdigest()}
    manifest = Path(data) / "manifest.json"
    if not manifest.is_file():
        raise AblationError(f"--data {data} has no manifest.json: a study names its data by the manifest's hash, "
                            f"so that its results can be checked on another machine (write one: the project's "
                            f"CIFAR-10 copy has one)")
    raw = manifest.read_bytes()
    try:
        name = json.loads(raw).get("name") or Path(data).name
    except ValueError as err:
        raise AblationError(f"{manifest} is not JSON ({err})") from err
    return {"name": name, "manifest_sha256": hashlib.sha256(raw).hexdigest()}


def model_config(scale, a):
    return {**SCALES[scale]["model"], **json.loads(a.config_json_base or "{}")}


def base_optim(a):
    from ..recipes import recipe
    return SCALES[a.scale]["optim"] or recipe(a.recipe, "corrected")


def param_count(config):
    from lainr import CorrectedConfig
    from lainr.models import CorrectedGINR
    return sum(p.numel() for p in CorrectedGINR(CorrectedConfig(**config)).parameters())


def job(name, seed, a):
    """One run: its trainer settings (the scale's numbers, then the ablation's overrides)."""
    base, over = base_optim(a), ABLATIONS[name][1]
    conf = {"lr": over.get("lr", base["lr"]), "batch_size": over.get("batch_size", base["batch_size"]),
            "warmup_frac": over.get("warmup_frac", base["warmup_frac"]),
            "model_config": {**model_config(a.scale, a), **over.get("model_config", {})},
            "pixels": over.get("pixels"), "train_sigma": over.get("train_sigma")}
    return {"name": name, "seed": seed, "run": f"{name}-s{seed}", "removed": ABLATIONS[name][0],
            "passes": a.passes, "steps": math.ceil(a.passes / conf["batch_size"]), **conf}


def plan(a, data=None):
    """→ (the study's identity, its jobs in seed-major order: every ablation's first seed before any second).
    The identity holds no path and no speed: a copy of the results checks and reports on any machine.
    data: the data's identity where it is known already (a report reads it from the study folder)."""
    names, seeds = parse_names(a.ablations, a.scale), parse_seeds(a.seeds, a.pilot)
    cfg = model_config(a.scale, a)
    identity = {"scale": a.scale, "data": data or data_identity(a.data), "passes": a.passes, "seeds": seeds,
                "ablations": names, "eval_images": a.eval_images, "test_images": a.test_images,
                "curve": {"points": CURVE_POINTS, "images": CURVE_IMAGES, "sigma": CURVE_SIGMA},
                "recipe": a.recipe, "model_config": cfg, "optim": base_optim(a), "params": param_count(cfg),
                "bf16": bool(a.bf16)}
    return identity, [job(n, s, a) for s in seeds for n in names]


def budget(jobs, a):
    scored = a.eval_images + a.test_images + CURVE_POINTS * CURVE_IMAGES * 2  # curve points score σ 0 and σ 0.02
    passes = sum(j["steps"] * j["batch_size"] for j in jobs) + len(jobs) * scored * SCORE_COST
    speed = SCALES[a.scale]["speed"]
    return {"image_passes": int(passes), "gpu_h200_min": passes / GPU_IMG_S / 60,
            "cpu_core_h": passes / speed["img_s_per_core"] / 3600, **speed}


def check_budget(jobs, a):
    """A CPU study whose estimate passes its budget → AblationError naming both numbers."""
    cap = a.budget_core_hours or CPU_BUDGET_CORE_H
    if (a.device or "cpu") != "cpu":
        return
    b = budget(jobs, a)
    if b["cpu_core_h"] > cap:
        raise AblationError(f"{len(jobs)} runs need ≈ {b['cpu_core_h']:.1f} core-hours at the {b['img_s_per_core']} "
                            f"img/s per core measured on {b['cpu']}, over the {cap:g} core-hour CPU budget; fewer "
                            f"--passes, ablations or seeds (or --budget-core-hours, or a GPU with --device cuda)")
