"""Training ablations: the corrected model with one correction removed at a time, at equal image passes.

    python -m train.study.ablate --data PATH --out DIR [--scale full|reduced] [--passes N]
                                 [--ablations NAME,NAME] [--seeds 0,1,2] [--eval-images 1000] [--test-images 2000]
                                 [--runs-dir DIR] [--shard K/N] [--threads 1] [--device cuda] [--bf16]
                                 [--dry-run | --report]

--scale picks the base (train/study/ablate_plan.py): "full" is SPEC's corrected model at --recipe (a GPU
study); "reduced" a 0.26 M-parameter version with its own optimisation, sized for a CPU. Each
configuration × seed trains RUNS/<name>-s<seed> with `python -m train` for ceil(passes / batch) optimiser
steps (the schedule's shape compressed over them; the validation images of train/splits.py held out), then
its checkpoint is scored per image, at query jitter σ ∈ {0, 0.01, 0.02}, on the first --eval-images
validation images and the first --test-images test images. Reports (train/study/ablate_report.py): the
validation table with intervals over seeds and images; the test table once every run is scored.

DIR holds only what must survive a lost machine (commit it as runs land): ablate_identity.json,
results/<run>.{json,npz}, ablations.json, table.md, ablations.png. RUNS (--runs-dir, default DIR/runs)
holds checkpoints and logs. Re-running the same command skips scored runs and resumes unfinished ones;
--shard K/N lets N processes share the jobs; --report writes the reports and trains nothing; --dry-run
prints the plan and its budget and writes nothing. At least 3 seeds (--pilot allows fewer), and a CPU
study must fit its budget (16 core-hours unless --budget-core-hours says otherwise).
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np

from ..atomic import atomic_write_json
from ..checkpoint import CKPT
from ..recipes import RECIPES
from .ablate_plan import (ABLATIONS, GPU_IMG_S, SCALES, AblationError, budget, check_budget, parse_shard,
                          plan)
from .ablate_report import table_md, write_reports
from .study_folder import check_study_folder
from .trainer_job import DIVERGED, report_failure, run_trainer

IDENTITY = "ablate_identity.json"
SIGMAS = (0.0, 0.01, 0.02)


def check_out_dir(out, identity):
    """A folder holding another ablation study (or anything else) → AblationError, before anything is written."""
    return check_study_folder(out, identity, IDENTITY, "ablation study", AblationError)


def train_command(a, identity, j, runs):
    cmd = [sys.executable, "-m", "train", "--model", "corrected", "--data", identity["data"],
           "--out", str(runs / j["run"]), "--data-root", a.data_root,
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
    """The run's checkpoint → ({"val": (S, n), "test": (S, n')} per-image PSNR at SIGMAS, its step)."""
    import torch

    from ..checkpoint import load_checkpoint
    from ..config import TrainConfig
    from ..data import load_split
    from ..loop import train_and_validation_sets
    from ..model_factory import build_model
    from ..eval.per_image import measure
    from ..eval.validate import val_indices
    ckpt = load_checkpoint(run / CKPT)
    cfg = TrainConfig.from_dict({**ckpt["config"], "data_root": a.data_root, "cache_dir": a.cache_dir})
    model = build_model(cfg.resolved())
    model.load_state_dict(ckpt["model"])
    dev = a.device or "cpu"
    model = model.to(dev).eval()
    _, val_set, _ = train_and_validation_sets(cfg)
    test_set = load_split(cfg.data, "test", data_root=cfg.data_root, cache_dir=cfg.cache_dir)
    out = {}
    with torch.no_grad():
        for split, images, n in (("val", val_set.images, a.eval_images), ("test", test_set.images, a.test_images)):
            out[split] = measure(model, images, val_indices(len(images), n), SIGMAS, split=split, device=dev).psnr
    return out, int(ckpt["step"])


def run_job(a, identity, j, out, runs):
    res_path = out / "results" / f"{j['run']}.json"
    if res_path.is_file():
        return json.loads(res_path.read_text())
    log_path = runs / "logs" / f"{j['run']}.log"
    rc, wall = run_trainer(train_command(a, identity, j, runs), log_path, a.threads)
    if rc == DIVERGED:
        result = {**j, "status": "diverged", "wall_s": wall}
    elif rc != 0:
        report_failure(j["run"], rc, log_path, "re-run to resume it")
        return {**j, "status": "failed", "rc": rc}
    else:
        psnr, step = score(runs / j["run"], a)
        np.savez(out / "results" / f"{j['run']}.npz", sigmas=np.array(SIGMAS),
                 **{k: v.astype(np.float32) for k, v in psnr.items()})
        result = {**j, "status": "done", "steps_done": step, "val_psnr": float(psnr["val"][0].mean()),
                  "n_val": psnr["val"].shape[1], "n_test": psnr["test"].shape[1], "wall_s": wall}
    atomic_write_json(res_path, result)
    print(f"{j['run']}: {result['status']}" + (f", {result['val_psnr']:.2f} dB" if "val_psnr" in result else ""),
          file=sys.stderr)
    return result


def parser():
    p = argparse.ArgumentParser(prog="python -m train.study.ablate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default="cifar10")
    p.add_argument("--data-root", default="data")
    p.add_argument("--cache-dir", default="")
    p.add_argument("--out", required=True, help="the study's results (small; commit it)")
    p.add_argument("--runs-dir", default="", help="checkpoints and logs (default OUT/runs)")
    p.add_argument("--scale", default="full", choices=list(SCALES), help="the base model and its optimisation")
    p.add_argument("--passes", type=int, default=0, help="image passes per run (default: the scale's)")
    p.add_argument("--ablations", default="", help=f"comma-separated names (default all): {', '.join(ABLATIONS)}")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--pilot", action="store_true", help="allow fewer than 3 seeds (a trial, no interval over seeds)")
    p.add_argument("--eval-images", type=int, default=1000, help="validation images scored per run")
    p.add_argument("--test-images", type=int, default=2000, help="test images scored per run (reported once)")
    p.add_argument("--recipe", default="protocol", choices=list(RECIPES), help="scale 'full': lr / batch / warm-up")
    p.add_argument("--shard", default="0/1", help="K/N: run every N-th job from the K-th (N processes share a study)")
    p.add_argument("--budget-core-hours", type=float, default=0.0, help="a CPU study's cap (default 16)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="")
    p.add_argument("--bf16", action="store_true")
    p.add_argument("--config-json-base", default="", help=argparse.SUPPRESS)  # model overrides for every run (tests)
    p.add_argument("--dry-run", action="store_true", help="print the plan and its budget; write nothing")
    p.add_argument("--report", action="store_true", help="write the reports from what is scored; train nothing")
    return p


def print_plan(jobs, a):
    b = budget(jobs, a)
    for j in jobs:
        print(f"{j['run']}: {j['steps']} steps of batch {j['batch_size']} ({j['passes']:,} passes) — removed: {j['removed']}")
    print(f"{len(jobs)} runs, {b['image_passes']:,} image passes (scoring included): ≈ {b['gpu_h200_min']:.0f} min "
          f"on one H200 at {GPU_IMG_S} img/s; ≈ {b['cpu_core_h']:.1f} core-hours on a CPU at "
          f"{b['img_s_per_core']} img/s per core")


def main(argv=None):
    a = parser().parse_args(argv)
    a.passes = a.passes or SCALES[a.scale]["passes"]
    out = Path(a.out)
    runs = Path(a.runs_dir) if a.runs_dir else out / "runs"
    try:
        identity, jobs = plan(a)
        k, n = parse_shard(a.shard)
        if a.dry_run:
            print_plan(jobs, a)
            return 0
        if not a.report:
            check_budget(jobs, a)
        check_out_dir(out, identity)
    except AblationError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if not a.report:
        (out / "results").mkdir(parents=True, exist_ok=True)
        atomic_write_json(out / IDENTITY, identity)
        mine = jobs[k::n]
        failed = [j["run"] for j in mine if run_job(a, identity, j, out, runs)["status"] == "failed"]
        if failed:
            write_reports(out, identity, jobs)
            print(f"error: {len(failed)} run(s) failed: {', '.join(failed)}", file=sys.stderr)
            return 1
    elif not (out / IDENTITY).is_file():
        print(f"error: --out {out} holds no ablation study to report on", file=sys.stderr)
        return 2
    print(table_md(write_reports(out, identity, jobs), "validation"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
