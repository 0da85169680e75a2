"""Run directory bookkeeping and atomic checkpoints (train.atomic: a temp file, fsync, os.replace)."""
import json
import random
from pathlib import Path

import numpy as np
import torch

from .atomic import atomic_write_json, replacing
from .config import TrainConfig

CKPT = "checkpoint.pt"
RUN_JSON = "run.json"


class RunDirError(ValueError):
    """--out points at a directory that holds something other than this run."""


def save_checkpoint(path, state):
    with replacing(path) as tmp:  # a crash leaves either the old or the new checkpoint, never half of one
        torch.save(state, tmp)


def load_checkpoint(path):
    return torch.load(path, map_location="cpu", weights_only=False)  # our own file, written by save_checkpoint


def rng_state():
    state = {"torch": torch.get_rng_state(), "python": random.getstate(), "numpy": np.random.get_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state):
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# What to do instead of changing a field of the run's identity on resume.
_INSTEAD = {"epochs": "to train longer, resume with the run's --epochs (or none) and --extend-to STEPS "
                      "(--rewarmup-steps N for a re-warm-up)"}
_NEW_RUN = "a new run: another --out, with --init-from a weights folder exported from this one to keep its weights"


def _differences(a, b):
    """'field: old → new (instead: …)' for each identity field that differs (a: the directory's run)."""
    return [f"{k}: {a.get(k)!r} → {b.get(k)!r} ({_INSTEAD.get(k, _NEW_RUN)})" for k in sorted(set(a) | set(b))
            if a.get(k) != b.get(k)]


def inspect_run_dir(out, cfg: TrainConfig, resume=False):
    """Decide what --out holds. Returns the checkpoint path to resume from, or None for a new run.

    Raises RunDirError (before anything is written) when the directory holds a different run or
    unrelated files, or when --resume is asked for but there is no checkpoint.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise RunDirError(f"--out {out} is a file, not a directory")
    run_json, ckpt = out / RUN_JSON, out / CKPT
    if out.is_dir() and run_json.is_file():
        saved = TrainConfig.from_dict(json.loads(run_json.read_text())["config"]).resolved()  # fills fields of
        # older run.json files (recipe, warmup_frac) with the values their trainer used
        diffs = _differences(saved.identity(), cfg.identity())
        if diffs:
            raise RunDirError(f"--out {out} holds a different run than this command describes; refusing to resume "
                              f"or overwrite it (nothing written). A resumed run keeps everything that shapes its "
                              f"schedule. Changed (directory → this command):\n  " + "\n  ".join(diffs))
        if ckpt.is_file():
            return ckpt
        if resume:
            raise RunDirError(f"--resume: {out} has no {CKPT} yet")
        return None
    if resume:
        raise RunDirError(f"--resume: {out} holds no run ({RUN_JSON} missing)")
    if out.is_dir() and any(out.iterdir()):
        raise RunDirError(f"--out {out} is not empty and holds no training run ({RUN_JSON}); "
                          f"refusing to write into it. Choose an empty or new directory.")
    return None


def write_run_json(out, cfg, extra, plan=None, world_size=None):
    """run.json: the config, the step plan of a budgeted run (total_steps, each extension), the number of
    DDP processes (`world_size`: a resume must use the same) and one history entry per start."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / RUN_JSON
    record = json.loads(path.read_text()) if path.is_file() else {"history": []}
    record["config"] = json.loads(cfg.to_json())
    if plan is not None:
        record["plan"], record["total_steps"], record["extensions"] = plan, plan[-1]["total_steps"], plan[1:]
    if world_size is not None:
        record["world_size"] = world_size
    record["history"].append(extra)
    atomic_write_json(path, record)
