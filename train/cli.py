"""python -m train --model {simplified,corrected} --data {cifar10|PATH} --out DIR [overrides]

Defaults are the SPEC §5 protocol. --max-steps / --time-budget make a budgeted run: its total number
of optimiser steps is fixed before the first step (--max-steps, or --time-budget × the img/s measured
over a short probe) and the rate keeps the protocol's shape over those steps. Re-running with the same
--out resumes it (same budget flags, or none). Everything that shapes the rate (lr, batch, warm-up,
recipe, epochs, ...) is the run's identity: a resume that changes it is refused. Training longer is
explicit: --extend-to STEPS (any run, protocol or budgeted) with --rewarmup-steps N when the rate would
rise (see --extend-to). --bf16 and --threads may change between resumed segments; the card lists each.
--recipe picks named (lr, batch, warm-up) presets (train/recipes.py); --lr / --batch-size override them.
"""
import argparse
import json
import sys

from .checkpoint import RunDirError
from .config import TrainConfig, parse_duration
from .data import DataError


def parser():
    p = argparse.ArgumentParser(prog="python -m train", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, choices=["simplified", "corrected"])
    p.add_argument("--data", default="cifar10", help="'cifar10' (torchvision download), an ImageFolder root "
                                                     "with train/ and test/, or a .npz pack from train.gpu.pack; "
                                                     "with --image-size: any folder of images")
    p.add_argument("--image-size", type=int, default=0, metavar="N",
                   help="train on any folder of images (--data FOLDER, searched recursively; train/ and test/ are "
                        "ordinary sub-folders then, the split is by file) at N×N: the model's image_size, a multiple "
                        "of its patch size. Left out: the CIFAR-10 sources at 32×32, exactly as before")
    p.add_argument("--scale-range", default="", metavar="LO,HI",
                   help="with --image-size: targets are random crops of side s·N, s uniform in [LO, HI], the input "
                        "their area-reduction to N×N (scale-aware training; default 1,4; 1,1 turns it off)")
    p.add_argument("--out", required=True, help="run directory (checkpoints, metrics.jsonl, hf/ export)")
    p.add_argument("--data-root", default="data", help="download folder for --data cifar10")
    p.add_argument("--cache-dir", default="", help="decoded-image cache (default ~/.cache/lainr-train)")
    p.add_argument("--epochs", type=int, help="protocol epochs (a budgeted run's cap); part of the run's identity: "
                                              "a resume without it keeps the run's")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--recipe", default="protocol",
                   help="named preset of peak lr, batch size and warm-up fraction: protocol (SPEC §5, default), "
                        "cpu, gpu (train/recipes.py); --lr / --batch-size / --warmup-frac override it")
    p.add_argument("--init-from", default="", help="a weights folder (Hub format) a new run starts from, "
                                                   "e.g. weights/corrected; the optimiser starts afresh")
    p.add_argument("--warmup-frac", type=float, help="share of the run in linear warm-up (default: the recipe's)")
    p.add_argument("--max-steps", type=int, default=0, help="planned total of optimiser steps")
    p.add_argument("--time-budget", default="", help="training time, e.g. 2h, 90m, 1h30m: planned total steps = "
                                                     "budget × the img/s measured at the start")
    p.add_argument("--extend-to", type=int, default=None, metavar="STEPS",
                   help="resume a run (protocol or budgeted) with a new planned total of STEPS optimiser steps: from "
                        "the current step on, the rate follows the compressed protocol schedule over the new total. "
                        "Where that would raise the rate more than 2x at once (a finished corrected run stands at "
                        "1e-8; the new schedule at that step is often ~half the peak), --rewarmup-steps must say how: "
                        "otherwise the command is refused. Listed on the model card")
    p.add_argument("--rewarmup-steps", type=int, default=None, metavar="N",
                   help="with --extend-to: ramp the rate linearly over N steps from where the run stands to the new "
                        "schedule (e.g. an eighth of the added steps); 0 takes the jump at once, as asked")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="", help="cpu, cuda, cuda:1 (default: cuda if available)")
    p.add_argument("--workers", type=int, default=0, help="processes decoding images into the cache")
    p.add_argument("--threads", type=int, default=0, help="CPU threads for torch and numba (0 = their defaults); "
                                                          "may change between resumed segments")
    p.add_argument("--bf16", action="store_true",
                   help="autocast in bfloat16 (CUDA, or a CPU with AVX-512 BF16 / AMX; Fourier features and the "
                        "spatial bias stay in float32)")
    p.add_argument("--val-from", choices=["train", "test"], default="train",
                   help="validate on the held-out tenth of the training split (default; never trained on, "
                        "train/splits.py) or on the test split (then every training image is used)")
    p.add_argument("--val-list", default="", help="a custom validation list (JSON of ranks within each class of "
                                                  "the training split; see train/splits.py)")
    p.add_argument("--val-limit", type=int, default=1000, help="validation images per validation (0 = all)")
    p.add_argument("--val-minutes", type=float, default=0.0, help="also validate every N minutes")
    p.add_argument("--val-points", type=int, default=0,
                   help="also validate at N log-spaced steps of the planned total, from 1/128 of it to the end "
                        "(a learning curve in metrics.jsonl; 0 = none)")
    p.add_argument("--val-jitter", type=float, default=0.0, metavar="SIGMA",
                   help="validations also score the grid jittered by SIGMA (val_psnr_jitter in metrics.jsonl)")
    p.add_argument("--ckpt-minutes", type=float, default=10.0)
    p.add_argument("--log-every", type=int, default=1)
    p.add_argument("--resume", action="store_true", help="require an existing checkpoint in --out")
    p.add_argument("--no-export", action="store_true", help="skip the Hub-format export at the end")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--config-json", default="", metavar="JSON",
                   help="overrides of the model's configuration, e.g. a small model for a CPU: "
                        "'{\"depth\": 2, \"dim\": 64, \"ff_dim\": 128, \"num_lp\": 64, \"hidden\": 64}' "
                        "(fields of lainr.CorrectedConfig / SimplifiedConfig)")
    p.add_argument("--pixels", type=int, help=argparse.SUPPRESS)
    p.add_argument("--train-sigma", type=float, help=argparse.SUPPRESS)  # training jitter σ (ablations)
    return p


def config_from_args(a):
    return TrainConfig(model=a.model, data=a.data, out=a.out, data_root=a.data_root, cache_dir=a.cache_dir,
                       model_config=json.loads(a.config_json) if a.config_json else {}, lr=a.lr,
                       epochs=a.epochs, batch_size=a.batch_size, pixels=a.pixels,
                       train_sigma=a.train_sigma, max_steps=a.max_steps,
                       time_budget=parse_duration(a.time_budget) if a.time_budget else 0.0, seed=a.seed,
                       device=a.device, workers=a.workers, threads=a.threads, bf16=a.bf16,
                       val_from=a.val_from, val_list=a.val_list, val_limit=a.val_limit, val_minutes=a.val_minutes,
                       val_points=a.val_points, val_jitter=a.val_jitter, ckpt_minutes=a.ckpt_minutes,
                       log_every=a.log_every, recipe=a.recipe, warmup_frac=a.warmup_frac, init_from=a.init_from,
                       image_size=a.image_size, scale_range=parse_scale_range(a.scale_range))


def parse_scale_range(text):
    """'1,4' → [1.0, 4.0]; '' → None (the run's default)."""
    if not text:
        return None
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) != 2:
        raise ValueError(f"--scale-range must be two numbers LO,HI (e.g. 1,4), got {text!r}")
    return values


def main(argv=None):
    a = parser().parse_args(argv)
    from .loop import TrainingDiverged, TrainingStopped, train
    try:
        cfg = config_from_args(a)
        summary = train(cfg, resume=a.resume, export=not a.no_export, progress=not a.no_progress,
                        extend_to=a.extend_to, rewarmup_steps=a.rewarmup_steps)
    except TrainingStopped as err:  # Ctrl-C / SIGTERM after a checkpoint: resumable
        print(str(err), file=sys.stderr)
        return err.exit_code
    except TrainingDiverged as err:
        print(f"error: training diverged: {err}", file=sys.stderr)
        return 3
    except (DataError, RunDirError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if summary:
        vp = summary["val_psnr"]
        print(f"done: {summary['schedule']}; {summary['elapsed'] / 60:.1f} min; "
              f"val PSNR {vp if vp is None else round(vp, 2)} dB on {summary['val_n']} {summary.get('val_from', 'test')} "
              f"images")
    return 0
