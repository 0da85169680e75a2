"""The training configuration: one dataclass, protocol defaults per model (SPEC §5), recipes."""
import json
from dataclasses import asdict, dataclass, field, fields

from .recipes import recipe as recipe_numbers

# SPEC §5, per model: optimiser lr, epochs, batch, pixels per image per step, training jitter σ.
PROTOCOLS = {
    "simplified": dict(lr=1e-4, epochs=20, batch_size=32, pixels=512, train_sigma=0.0),
    "corrected": dict(lr=5e-4, epochs=40, batch_size=16, pixels=1024, train_sigma=0.01),
}
WEIGHT_DECAY = 1e-5
GRAD_CLIP = 1.0
COSINE_TMAX_RATIO = 50 / 20  # simplified: CosineAnnealingLR(T_max=50) over 20 epochs
WARMUP_EPOCHS, WARMUP_OF = 5, 40  # corrected: 5 warm-up epochs of 40
LR_FLOOR = 1e-8  # corrected cosine ends here

# Fields that define "the same run": a resumed run must agree on all of them. Everything that shapes the
# learning rate is here (lr, warmup_frac, recipe, epochs: a protocol run's cosine spans its epochs), so a
# resume never silently re-stretches the schedule; training longer is `--extend-to` (train/schedule.py).
# The budget flags (max_steps, time_budget) are checked against the run's step plan instead (train.loop).
IDENTITY_FIELDS = ("model", "model_config", "data", "lr", "batch_size", "pixels", "train_sigma", "seed",
                   "weight_decay", "grad_clip", "warmup_frac", "recipe", "epochs", "init_from", "val_from",
                   "val_list")


@dataclass
class TrainConfig:
    model: str = "simplified"  # simplified | corrected
    data: str = "cifar10"  # "cifar10" (torchvision, lossless) or an ImageFolder root with train/ and test/
    out: str = "runs/simplified"
    data_root: str = "data"  # where torchvision downloads CIFAR-10
    cache_dir: str = ""  # decoded uint8 cache; "" → ~/.cache/lainr-train
    model_config: dict = field(default_factory=dict)  # overrides of the model's config dataclass (tests, ablations)
    lr: float = None  # None → the recipe's peak rate (protocol: SPEC §5)
    epochs: int = None
    batch_size: int = None  # global batch (split over DDP ranks); None → the recipe's
    pixels: int = None  # pixels per image per step (1024 = all, in raster order)
    train_sigma: float = None
    weight_decay: float = WEIGHT_DECAY
    grad_clip: float = GRAD_CLIP
    max_steps: int = 0  # 0 → no step budget; else the planned total of optimiser steps
    time_budget: float = 0.0  # seconds of training → planned total steps from the measured img/s; 0 → none
    seed: int = 0
    device: str = ""  # "" → cuda if available else cpu
    workers: int = 0  # processes used to decode images into the cache
    threads: int = 0  # CPU threads for torch and numba (hardware.set_threads); 0 → their defaults
    bf16: bool = False  # autocast in bfloat16 (CUDA, or CPU: see train.loop._autocast)
    val_from: str = "train"  # validation images: "train" (the held-out tenth, train/splits.py) or "test"
    val_list: str = ""  # a custom validation list (JSON, train/splits.py); "" → the committed rule
    val_limit: int = 1000  # validation images in each validation pass (0 → all of them)
    val_minutes: float = 0.0  # also validate every N minutes (0 → only at epoch ends and the end)
    val_points: int = 0  # also validate at N log-spaced steps of the planned total (a learning curve; 0 → none)
    val_jitter: float = 0.0  # > 0: validations also score queries jittered by this σ (val_psnr_jitter)
    ckpt_minutes: float = 10.0
    log_every: int = 1  # steps between metrics.jsonl step records
    recipe: str = "protocol"  # named preset of (lr, batch_size, warmup_frac): train/recipes.py
    warmup_frac: float = None  # share of the run in linear warm-up; None → the recipe's (protocol: corrected 1/8, simplified 0)
    init_from: str = ""  # a weights folder (Hub format) a new run starts from; "" → random initialisation

    def resolved(self):
        """Copy with every None field filled in: explicit values, then the recipe's, then the protocol's."""
        if self.model not in PROTOCOLS:
            raise ValueError(f"unknown model {self.model!r}; choose from {sorted(PROTOCOLS)}")
        values = asdict(self)
        for key, default in {**PROTOCOLS[self.model], **recipe_numbers(self.recipe, self.model)}.items():
            if values[key] is None:
                values[key] = default
        cfg = TrainConfig(**values)
        if cfg.pixels < 1 or cfg.pixels > 1024:
            raise ValueError(f"pixels must be in 1..1024, got {cfg.pixels}")
        if cfg.batch_size < 1 or cfg.epochs < 1 or cfg.lr <= 0:
            raise ValueError("batch size, epochs and lr must be positive")
        if not 0 <= cfg.warmup_frac < 1:
            raise ValueError(f"--warmup-frac must be in [0, 1), got {cfg.warmup_frac}")
        if cfg.val_from not in ("train", "test"):
            raise ValueError(f"--val-from must be 'train' or 'test', got {cfg.val_from!r}")
        if cfg.val_list and cfg.val_from != "train":
            raise ValueError("--val-list names held-out training images; it needs --val-from train")
        if not 0 <= cfg.val_jitter <= 0.5:
            raise ValueError(f"--val-jitter must be a σ in [0, 0.5], got {cfg.val_jitter}")
        if cfg.val_points < 0:
            raise ValueError(f"--val-points must not be negative, got {cfg.val_points}")
        if cfg.max_steps < 0 or cfg.time_budget < 0:
            raise ValueError("--max-steps and --time-budget must not be negative")
        return cfg

    @property
    def budgeted(self):
        """True when the run is shorter than the protocol: the schedule is compressed (SPEC §5)."""
        return bool(self.max_steps or self.time_budget)

    def identity(self):
        d = asdict(self)
        return {k: d[k] for k in IDENTITY_FIELDS}

    def to_json(self):
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, d):
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


def parse_duration(text):
    """'2h', '90m', '45s', '1h30m', '3600' → seconds (float)."""
    text = str(text).strip().lower()
    if not text:
        raise ValueError("empty duration")
    try:
        return float(text)
    except ValueError:
        pass
    total, number = 0.0, ""
    units = {"h": 3600, "m": 60, "s": 1, "d": 86400}
    for ch in text:
        if ch.isdigit() or ch == ".":
            number += ch
        elif ch in units and number:
            total += float(number) * units[ch]
            number = ""
        else:
            raise ValueError(f"bad duration {text!r}; use e.g. 2h, 90m, 1h30m, 45s")
    if number:
        raise ValueError(f"bad duration {text!r}: a number without a unit at the end")
    return total
