"""Export a run's checkpoint to Hugging Face format with a model card.

    python -m train.publish.export RUN_DIR OUT_DIR [--dtype auto|float16|float32] [--eval-limit N] [--jitter]
                                           [--metrics METRICS_JSON]

auto: float16 parameters when they cost < 0.05 dB test PSNR against float32 (measured here), else float32.
--metrics takes the card's test and jitter figures from a `train.eval.evaluate` metrics.json measured on
OUT_DIR (e.g. on the full test split) instead of measuring again; the file it measured must be the
one written now (checked by sha256).
"""
import argparse
import json
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

import torch

from .card import card_command, write_card
from ..checkpoint import CKPT, load_checkpoint
from ..config import TrainConfig
from ..data import load_split
from ..eval.eval_split import entry_path
from ..eval.evaluate import weights_sha256
from ..hardware import set_threads
from ..model_factory import build_model
from ..schedule import extensions, plan_total, recipe_description, schedule_description
from ..eval.validate import evaluate_sigmas, evaluate_split, val_indices

FP16_MAX_COST_DB = 0.05
JITTER_SIGMAS = (0.0, 0.005, 0.01, 0.02, 0.05)


def _half_roundtrip(model):
    """A copy of model whose parameters went through float16 (what the exported file holds)."""
    import copy
    twin = copy.deepcopy(model)
    with torch.no_grad():
        for p in twin.parameters():
            p.copy_(p.half().float())
    return twin


def _metrics_entry(metrics_file, out_dir):
    """The entry of a train.eval.evaluate metrics.json that measured out_dir (keys: `eval_split.entry_key`, a relative
    one read against the repository root, whatever the working folder)."""
    results = json.loads(Path(metrics_file).read_text())
    for key, entry in results.items():
        if entry_path(key) == Path(out_dir).resolve():
            return entry
    raise ValueError(f"{metrics_file} has no entry for {out_dir} (it has: {', '.join(results)})")


def _check_measured_file(entry, model, weights_dtype, out_dir, metrics_file):
    """The metrics must be of the very file this export writes: compared by sha256 in a scratch
    folder, before out_dir is touched."""
    with tempfile.TemporaryDirectory() as scratch:
        model.cpu().save_pretrained(scratch, weights_dtype=weights_dtype)
        if entry.get("weights_sha256") != weights_sha256(scratch):
            raise ValueError(f"{metrics_file} measured a different model.safetensors than the one this export "
                             f"writes (re-run train.eval.evaluate on {out_dir} after a plain export)")


def _from_metrics(entry, n_total):
    """metrics.json entry → the card's test dict and jitter table (with the 95 % intervals and the data
    they stand on, when the entry has them)."""
    jit = {s: {"psnr": p, "ssim": entry["jitter_ssim"][s], "n": entry["n_test"]}
           for s, p in entry["jitter_psnr"].items()}
    for s, row in jit.items():
        for key in ("psnr", "ssim"):
            if s in entry.get(f"jitter_{key}_ci", {}):
                row[f"{key}_ci"] = entry[f"jitter_{key}_ci"][s]
    test = {"psnr": entry["test_psnr"], "ssim": entry["test_ssim"], "n": entry["n_test"], "of": n_total}
    for key in ("psnr", "ssim"):
        if f"test_{key}_ci" in entry:
            test[f"{key}_ci"] = entry[f"test_{key}_ci"]
    if entry.get("data"):
        test["data"] = entry["data"]
    return test, jit


def export_run(run_dir, out_dir, *, dtype="auto", eval_limit=1000, device="cpu", jitter=False, notes="",
               test_split=None, dtype_check_limit=200, metrics=None):
    run_dir, out_dir = Path(run_dir), Path(out_dir)
    if not (run_dir / CKPT).is_file():
        raise FileNotFoundError(f"{run_dir} has no {CKPT}: nothing to export")
    ckpt = load_checkpoint(run_dir / CKPT)
    cfg = TrainConfig.from_dict(ckpt["config"]).resolved()  # older checkpoints: their trainer's recipe/warm-up
    if cfg.image_size:
        raise ValueError(f"{run_dir} is a run on a folder of images (--image-size {cfg.image_size}): its weights are "
                         f"exported at its end to {run_dir / 'hf'}; this export and its card score CIFAR-10 test images")
    plan = ckpt.get("plan")
    model = build_model(cfg)
    model.load_state_dict(ckpt["model"])
    model.to(device).eval()
    test = test_split or load_split(cfg.data, "test", data_root=cfg.data_root, cache_dir=cfg.cache_dir,
                                    workers=cfg.workers)
    idx = val_indices(len(test), eval_limit)
    entry = _metrics_entry(metrics, out_dir) if metrics else None  # fail before any work
    check = val_indices(len(test), min(dtype_check_limit, len(idx)) if dtype_check_limit else eval_limit)
    delta, chosen = None, dtype
    if dtype in ("auto", "float16"):  # float16 parameters vs float32, on the same images
        m32 = evaluate_split(model, test.images, check, device=device)
        m16 = evaluate_split(_half_roundtrip(model), test.images, check, device=device)
        delta = m32["psnr"] - m16["psnr"]
        if dtype == "auto":
            chosen = "float16" if delta < FP16_MAX_COST_DB else "float32"
    if chosen == "float16":
        model = _half_roundtrip(model)
    weights_dtype = torch.float16 if chosen == "float16" else None
    if entry is not None:
        _check_measured_file(entry, model, weights_dtype, out_dir, metrics)
        result, jit = _from_metrics(entry, len(test))
    elif jitter:
        jit = {str(s): m for s, m in evaluate_sigmas(model, test.images, idx, JITTER_SIGMAS, device=device).items()}
        result = dict(jit["0.0"], of=len(test))
    else:
        jit = None
        result = dict(evaluate_split(model, test.images, idx, device=device), of=len(test))
    out_dir.mkdir(parents=True, exist_ok=True)
    model.cpu().save_pretrained(out_dir, weights_dtype=weights_dtype)
    epochs = ckpt["step"] / ckpt["steps_per_epoch"]
    info = {"model": cfg.model, "schedule": schedule_description(cfg, ckpt["step"], epochs, plan),
            "recipe": recipe_description(cfg), "total_steps": plan_total(plan), "extensions": extensions(plan),
            "step": ckpt["step"],
            "epochs": epochs, "elapsed": ckpt["elapsed"], "hardware": ckpt["hardware"],
            "data_source": ckpt["data_source"], "config": asdict(cfg), "test": result, "dtype": chosen,
            "dtype_delta_db": delta, "dtype_check_n": len(check), "params": model.num_parameters(), "jitter": jit,
            "n_train": ckpt.get("n_train", 50000),
            "lineage": ckpt.get("lineage") or [], "segments": ckpt.get("segments") or []}
    write_card(out_dir, info, notes, finished=bool(ckpt.get("finished")))
    return info


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m train.publish.export", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_dir")
    p.add_argument("out_dir")
    p.add_argument("--dtype", choices=["auto", "float16", "float32"], default="auto")
    p.add_argument("--eval-limit", type=int, default=1000, help="test images to measure (0 = all 10,000)")
    p.add_argument("--jitter", action="store_true", help="also measure the jitter table for the card")
    p.add_argument("--dtype-check-limit", type=int, default=200, help="test images for the float16 check")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--notes", default="", help="extra markdown for the model card")
    p.add_argument("--metrics", default="", help="train.eval.evaluate metrics.json measured on OUT_DIR: the card's "
                   "test/jitter figures come from it (no re-measurement)")
    a = p.parse_args(argv)
    if a.threads:
        set_threads(a.threads)
    return card_command(
        lambda: export_run(a.run_dir, a.out_dir, dtype=a.dtype, eval_limit=a.eval_limit, device=a.device,
                           jitter=a.jitter, notes=a.notes, dtype_check_limit=a.dtype_check_limit,
                           metrics=a.metrics or None),
        lambda info, t: (f"exported {a.run_dir} → {a.out_dir} ({info['dtype']}, Δ={info['dtype_delta_db']}): "
                         f"PSNR {t['psnr']:.2f} dB, SSIM {t['ssim']:.4f} on {t['n']} test images"))

if __name__ == "__main__":
    sys.exit(main())
