"""Training ablations: the corrected model with one correction removed at a time, at equal image passes.

    python -m train.study.ablate --data PATH --out DIR [--scale full|reduced] [--passes N]
                                 [--ablations NAME,NAME] [--seeds 0,1,2,3,4] [--eval-images 1000]
                                 [--test-images 2000] [--runs-dir DIR] [--shard K/N] [--threads 1]
                                 [--device cuda] [--fp32] [--dry-run | --report]

--scale picks the base (train/study/ablate_plan.py): "full" is SPEC's corrected model at --recipe (a GPU
study); "reduced" a smaller version with its own optimisation and pass budget, sized for a CPU. Each
configuration × seed trains RUNS/<name>-s<seed> with `python -m train` for ceil(passes / batch) optimiser steps
(the schedule's shape compressed over them; the validation images of train/splits.py held out; bf16 autocast
unless --fp32), validating 500 validation images at 10 log-spaced steps (σ 0 and 0.02: the learning curve).
Seeds are paired across configurations: a seed fixes the initialisation and the data order of every row.
When a run ends, its weights are exported (DIR/weights/<run>.safetensors, parameters in float16) and scored
from that file per image, at query jitter σ ∈ {0, 0.01, 0.02}, on the first --eval-images validation images.
The test split is scored once, from the same files, when every planned run is in — never before.

DIR holds what must survive a lost machine (commit it as runs land): ablate_identity.json (no machine path:
the data is named by its manifest's sha256), results/<run>.{json,npz,curve.json}, results/baselines-val.npz,
weights/, and after the last run results/test/; the reports ablations.json, table.md, ablations.png (Δ vs
passes) are rebuilt from them by --report on any machine. RUNS (--runs-dir, default DIR/runs) holds
checkpoints and logs. Re-running the same command skips scored runs and resumes unfinished ones; --shard K/N
lets N processes share the jobs; --dry-run prints the plan and its budget and writes nothing. At least 5 seeds
(--pilot allows fewer), and a CPU study must fit its budget (30 core-hours unless --budget-core-hours says
otherwise, planned at the scale's measured img/s per core).
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np

from ..atomic import atomic_write_json
from ..checkpoint import CKPT
from ..recipes import RECIPES
from . import ablate_score
from .ablate_plan import (ABLATIONS, CURVE_IMAGES, CURVE_POINTS, CURVE_SIGMA, GPU_IMG_S, SCALES, AblationError,
                          budget, check_budget, parse_shard, plan)
from .ablate_report import table_md, write_reports
from .study_folder import check_study_folder
from .trainer_job import DIVERGED, report_failure, run_trainer

IDENTITY = "ablate_identity.json"


def check_out_dir(out, identity):
    """A folder holding another ablation study (or anything else) → AblationError, before anything is written."""
    return check_study_folder(out, identity, IDENTITY, "ablation study", AblationError)


def train_command(a, identity, j, runs):
    cmd = [sys.executable, "-m", "train", "--model", "corrected", "--data", a.data,
           "--out", str(runs / j["run"]), "--data-root", a.data_root,
           *(["--cache-dir", a.cache_dir] if a.cache_dir else []),
           "--recipe", a.recipe, "--lr", repr(j["lr"]), "--batch-size", str(j["batch_size"]),
           "--warmup-frac", repr(j["warmup_frac"]), "--max-steps", str(j["steps"]), "--seed", str(j["seed"]),
           "--threads", str(a.threads), "--val-from", "train", "--val-limit", str(min(a.eval_images, CURVE_IMAGES)),
           "--val-points", str(CURVE_POINTS), "--val-jitter", repr(CURVE_SIGMA),
           "--ckpt-minutes", "5", "--no-export", "--no-progress",
           *(["--device", a.device] if a.device else []), *(["--bf16"] if identity["bf16"] else [])]
    if j["model_config"]:
        cmd += ["--config-json", json.dumps(j["model_config"])]
    if j["pixels"] is not None:
        cmd += ["--pixels", str(j["pixels"])]
    if j["train_sigma"] is not None:
        cmd += ["--train-sigma", repr(j["train_sigma"])]
    return cmd


def run_job(a, identity, j, out, runs):
    res_path = out / "results" / f"{j['run']}.json"
    if res_path.is_file():
        return json.loads(res_path.read_text())
    log_path = runs / "logs" / f"{j['run']}.log"
    rc, _ = run_trainer(train_command(a, identity, j, runs), log_path, a.threads)
    if rc == DIVERGED:
        result = {**j, "status": "diverged"}
    elif rc != 0:
        report_failure(j["run"], rc, log_path, "re-run to resume it")
        return {**j, "status": "failed", "rc": rc}
    else:
        weights = ablate_score.export_weights(runs / j["run"] / CKPT, out / "weights" / f"{j['run']}.safetensors")
        psnr = ablate_score.score(weights, a, "val", a.eval_images)
        np.savez(out / "results" / f"{j['run']}.npz", sigmas=np.array(ablate_score.SIGMAS), val=psnr)
        atomic_write_json(out / "results" / f"{j['run']}.curve.json", ablate_score.curve(runs / j["run"], j))
        result = {**j, "status": "done", **ablate_score.run_facts(runs / j["run"] / CKPT),
                  "val_psnr": float(psnr[0].mean()), "n_val": int(psnr.shape[1])}
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
    p.add_argument("--ablations", default="", help=f"comma-separated names (default: corrected, alpha0, pixels512, "
                                                   f"one-band, no-jitter); known: {', '.join(ABLATIONS)}")
    p.add_argument("--seeds", default="0,1,2,3,4")
    p.add_argument("--pilot", action="store_true", help="allow fewer than 5 seeds (a trial, no interval over seeds)")
    p.add_argument("--eval-images", type=int, default=1000, help="validation images scored per run")
    p.add_argument("--test-images", type=int, default=2000, help="test images scored per run (once, at the end)")
    p.add_argument("--recipe", default="protocol", choices=list(RECIPES), help="scale 'full': lr / batch / warm-up")
    p.add_argument("--shard", default="0/1", help="K/N: run every N-th job from the K-th (N processes share a study)")
    p.add_argument("--budget-core-hours", type=float, default=0.0, help="a CPU study's cap (default 30)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="")
    p.add_argument("--fp32", action="store_true", help="train in float32 (default: the scale's bf16 autocast)")
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
          f"{b['img_s_per_core']} img/s per core ({b['cpu']})")


def _prepare(a, out):
    """Parse, plan and check everything before anything is written → (identity, jobs, shard) or AblationError.
    A report takes the data's identity from the study folder: it reads results, never the data."""
    a.passes = a.passes or SCALES[a.scale]["passes"]
    a.bf16 = SCALES[a.scale]["bf16"] and not a.fp32
    saved = out / IDENTITY
    if a.report and not saved.is_file():
        raise AblationError(f"--out {out} holds no ablation study to report on")
    identity, jobs = plan(a, json.loads(saved.read_text())["data"] if a.report else None)
    shard = parse_shard(a.shard)
    if not a.report and not a.dry_run:
        check_budget(jobs, a)
    return identity, jobs, shard


def main(argv=None):
    a = parser().parse_args(argv)
    out = Path(a.out)
    runs = Path(a.runs_dir) if a.runs_dir else out / "runs"
    try:
        identity, jobs, (k, n) = _prepare(a, out)
        if a.dry_run:
            print_plan(jobs, a)
            return 0
        check_out_dir(out, identity)
    except AblationError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if not a.report:
        (out / "results").mkdir(parents=True, exist_ok=True)
        atomic_write_json(out / IDENTITY, identity)
        ablate_score.baselines(out / "results" / "baselines-val.npz", a, "val", a.eval_images)
        failed = [j["run"] for j in jobs[k::n] if run_job(a, identity, j, out, runs)["status"] == "failed"]
        if failed:
            write_reports(out, identity, jobs)
            print(f"error: {len(failed)} run(s) failed: {', '.join(failed)}", file=sys.stderr)
            return 1
        ablate_score.score_test_once(out, a, jobs)  # only when every planned run is in
    print(table_md(write_reports(out, identity, jobs), "validation"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
