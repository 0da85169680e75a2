"""One training job of a study (`train.study.sweep`, `train.study.ablate`): train or resume it in a subprocess,
score it, keep the result.

A job is a dict its study builds: an ablation's run has `j["run"]` ("<ablation>-s<seed>", its folder and file
names), a sweep's configuration only `j["name"]`; that key also says which study's `train_command` trains it and
how it is scored (`STUDIES`).
"""
import importlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from ..atomic import atomic_write_json

ROOT = Path(__file__).resolve().parents[2]  # `python -m train` of this very checkout, from any cwd


def _score_sweep(study, run, j, a, identity, out, wall_s):
    result = study.score_run(run, j, a, identity, wall_s)
    line = (f", {result['val_psnr']:.2f} dB / SSIM {result['val_ssim']:.3f} after {result['image_passes']} image "
            f"passes ({result['wall_s'] / 60:.1f} min)")
    return result, line


def _score_ablation(study, run, j, a, identity, out, wall_s):
    psnr, step = study.score(run, a)  # per-image PSNR on the validation images, kept for paired differences
    np.savez(out / "results" / f"{j['run']}.npz", psnr=psnr.astype(np.float32))
    result = {"status": "done", "steps_done": step, "val_psnr": float(psnr.mean()), "n_val": len(psnr),
              "wall_s": wall_s}
    return result, f", {result['val_psnr']:.2f} dB"


STUDIES = {"run": ("train.study.ablate", _score_ablation), "name": ("train.study.sweep", _score_sweep)}


def run_job(a, identity, j, out):
    """Train (or resume) job `j` of a study in OUT/runs/<name> and score it → its result (also
    OUT/results/<name>.json; a job with a result is not run again). The trainer's exit 3 (diverged) is a
    result too (deterministic: the same seed diverges again); any other failure is reported and not kept,
    so re-running the study resumes the job."""
    key = next(k for k in STUDIES if k in j)  # "run" first: an ablation's job also has a "name"
    module, scorer = STUDIES[key]
    study, name = importlib.import_module(module), j[key]
    res_path = out / "results" / f"{name}.json"
    if res_path.is_file():
        return json.loads(res_path.read_text())
    log_path = out / "logs" / f"{name}.log"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p))
    if a.threads:
        env["OMP_NUM_THREADS"] = str(a.threads)
    cmd = study.train_command(a, identity, j, out)
    t0 = time.time()
    with open(log_path, "a") as log:
        log.write(f"\n# {time.strftime('%Y-%m-%dT%H:%M:%S')} {' '.join(cmd)}\n")
        log.flush()
        rc = subprocess.call(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    wall, line = time.time() - t0, ""
    if rc == 3:
        result = {"status": "diverged", "wall_s": wall}
    elif rc != 0:
        print(f"{name}: the trainer failed (exit {rc}); see {log_path}; re-run the study to resume it",
              file=sys.stderr)
        return {**j, "status": "failed", "rc": rc}
    else:
        result, line = scorer(study, out / "runs" / name, j, a, identity, out, wall)
    result = {**j, **result}
    atomic_write_json(res_path, result)
    print(f"{name}: {result['status']}{line}", file=sys.stderr)
    return result
