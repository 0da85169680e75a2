"""The training configuration: one dataclass, protocol defaults per model (SPEC §5), recipes."""
import json
from dataclasses import asdict, dataclass, field, fields

from lainr import CorrectedConfig, SimplifiedConfig

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
                   "val_list", "image_size", "scale_range")
PHOTO_SCALE_RANGE = [1.0, 4.0]  # a photo run's default --scale-range (train/photo_batches.py)
MAX_SCALE = 8.0


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
    image_size: int = 0  # 0 → the CIFAR sources at 32×32; N → `data` is a folder of any images, N×N (photo_folder.py)
    scale_range: list = None  # photo runs: [lo, hi] of the scale-aware crops (None → PHOTO_SCALE_RANGE); CIFAR: None

    def resolved(self):
        """Copy with every None field filled in: explicit values, then the recipe's, then the protocol's."""
        if self.model not in PROTOCOLS:
            raise ValueError(f"unknown model {self.model!r}; choose from {sorted(PROTOCOLS)}")
        values = asdict(self)
        for key, default in {**PROTOCOLS[self.model], **recipe_numbers(self.recipe, self.model)}.items():
            if values[key] is None:
                values[key] = default
        cfg = TrainConfig(**values)
        if cfg.image_size:
            cfg = cfg._resolved_photo_run()
        elif cfg.scale_range is not None:
            raise ValueError("--scale-range belongs to a folder of images: give it with --image-size N")
        max_pixels = max(1024, cfg.image_size ** 2)
        if cfg.pixels < 1 or cfg.pixels > max_pixels:
            raise ValueError(f"pixels must be in 1..{max_pixels}, got {cfg.pixels}")
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

    def _resolved_photo_run(self):
        """The checks and defaults of `--image-size N` (a folder of any images) → a copy with the model's image_size
        set to N and the scale range filled in. ValueError naming the flag at fault."""
        size = self.image_size
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"--image-size must be a positive int, got {size!r}")
        if self.data == "cifar10" or str(self.data).endswith(".npz"):
            raise ValueError(f"--image-size takes a folder of images as --data, not {self.data!r} (CIFAR-10 and "
                             f"packs are 32×32: leave --image-size out)")
        if self.val_from != "train" or self.val_list:
            raise ValueError("a folder of images validates on its held-out files (split by file name hash): "
                             "--val-from test and --val-list do not apply with --image-size")
        given = self.model_config.get("image_size", size)
        if given != size:
            raise ValueError(f"--config-json sets image_size {given}, --image-size {size}: give one")
        conf_cls = SimplifiedConfig if self.model == "simplified" else CorrectedConfig
        patch = self.model_config.get("patch_size", conf_cls.patch_size)
        if size % patch:
            raise ValueError(f"--image-size {size}: the {self.model} model's patch size {patch} does not divide it "
                             f"(choose a multiple of {patch}, or another patch_size in --config-json)")
        scale = list(PHOTO_SCALE_RANGE if self.scale_range is None else self.scale_range)
        if len(scale) != 2 or not 1 <= scale[0] <= scale[1] <= MAX_SCALE:
            raise ValueError(f"--scale-range must be LO,HI with 1 <= LO <= HI <= {MAX_SCALE:g}, got {scale}")
        return TrainConfig(**{**asdict(self), "model_config": {**self.model_config, "image_size": size},
                              "scale_range": [float(v) for v in scale]})

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
