"""An ablation run's evidence: its exported weights, per-image scores, learning curve and cost; the thumbnail
baselines on the same images; the one scoring of the test split when every run is in.

Weights are kept in the study folder (parameters in float16, buffers — the random Fourier matrices — in
float32) so that the test split can be scored at the end on any machine, from exactly the weights the
validation scores came from.
"""
import json
import sys
from pathlib import Path

import numpy as np
import torch

from ..atomic import replacing
from ..checkpoint import load_checkpoint

SIGMAS = (0.0, 0.01, 0.02)  # query jitter of the final scores


def export_weights(ckpt_path, path):
    """The run's final checkpoint → a safetensors file (metadata: the model config) → its path."""
    from safetensors.torch import save_file
    ckpt = load_checkpoint(ckpt_path)
    params = {name for name, _ in _model(ckpt["config"]["model_config"]).named_parameters()}
    tensors = {k: (v.half() if k in params else v.float()).contiguous() for k, v in ckpt["model"].items()}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with replacing(path) as tmp:
        save_file(tensors, str(tmp), metadata={"model_config": json.dumps(ckpt["config"]["model_config"])})
    return path


def _model(model_config):
    from lainr import CorrectedConfig
    from lainr.models import CorrectedGINR
    return CorrectedGINR(CorrectedConfig(**model_config))


def load_weights(path):
    """→ the corrected model of an exported run, in float32, eval mode."""
    from safetensors import safe_open
    from safetensors.torch import load_file
    with safe_open(str(path), "pt") as f:
        config = json.loads(f.metadata()["model_config"])
    model = _model(config)
    model.load_state_dict({k: v.float() for k, v in load_file(str(path)).items()})
    return model.eval()


def _images(a, split):
    """The study's images of a split: 'val' = the held-out validation images of the training split."""
    from ..data import load_split
    from ..splits import validation_indices
    if split == "test":
        return load_split(a.data, "test", data_root=a.data_root, cache_dir=a.cache_dir or None).images
    train = load_split(a.data, "train", data_root=a.data_root, cache_dir=a.cache_dir or None)
    return train.images[torch.as_tensor(validation_indices(train.labels))]


def score(weights, a, split, n):
    """Per-image PSNR (len(SIGMAS), n) of the exported run on the first n images of the split's fixed subset."""
    from ..eval.per_image import measure
    from ..eval.validate import val_indices
    images = _images(a, split)
    with torch.no_grad():
        return measure(load_weights(weights), images, val_indices(len(images), n), SIGMAS, split=split,
                       device=a.device or "cpu").psnr.astype(np.float32)


def baselines(path, a, split, n):
    """Thumbnail and mean-colour PSNR per image on the same images as `score` → path (.npz), once."""
    from ..eval.thumbnails import baseline_psnr
    from ..eval.validate import val_indices
    path = Path(path)
    if path.is_file():
        return path
    images = _images(a, split)
    values = baseline_psnr(images, val_indices(len(images), n))
    path.parent.mkdir(parents=True, exist_ok=True)
    with replacing(path) as tmp:
        np.savez(tmp, names=np.array(list(values)), psnr=np.stack(list(values.values())))
    return path


def curve(run_dir, job):
    """The run's validations (metrics.jsonl 'val' records) → {"points": [{step, passes, psnr, psnr_jitter}], …}."""
    points = []
    for line in (Path(run_dir) / "metrics.jsonl").read_text().splitlines():
        r = json.loads(line)
        if r.get("kind") == "val":
            points.append({"step": r["step"], "passes": r["step"] * job["batch_size"], "psnr": r["val_psnr"],
                           "psnr_jitter": r.get("val_psnr_jitter"), "n": r["n"]})
    return {"run": job["run"], "sigma_jitter": 0.02, "points": points}


def run_facts(ckpt_path):
    """What the run cost: steps, training seconds over all its launches, img/s, threads, bf16, the CPU."""
    ckpt = load_checkpoint(ckpt_path)
    seg = ckpt.get("segments") or [{}]
    passes = ckpt["step"] * ckpt["config"]["batch_size"]
    return {"steps_done": int(ckpt["step"]), "epochs": passes / ckpt["n_train"], "wall_s": float(ckpt["elapsed"]),
            "img_s": passes / max(ckpt["elapsed"], 1e-9), "launches": len(seg),
            "threads": sorted({s.get("threads") for s in seg if s.get("threads")}),
            "bf16": sorted({bool(s.get("bf16")) for s in seg}), "hardware": ckpt.get("hardware", "")}


def score_test_once(out, a, jobs):
    """When every planned run has its result: score the test split for each (and the baselines), once → bool."""
    results, test = Path(out) / "results", Path(out) / "results" / "test"
    if not all((results / f"{j['run']}.json").is_file() for j in jobs):
        return False
    todo = [j for j in jobs if not (test / f"{j['run']}.npz").is_file()]
    for j in todo:
        print(f"{j['run']}: scoring the test split (every run is in)", file=sys.stderr)
        psnr = score(Path(out) / "weights" / f"{j['run']}.safetensors", a, "test", a.test_images)
        test.mkdir(parents=True, exist_ok=True)
        with replacing(test / f"{j['run']}.npz") as tmp:
            np.savez(tmp, sigmas=np.array(SIGMAS), test=psnr)
    baselines(test / "baselines.npz", a, "test", a.test_images)
    return True
