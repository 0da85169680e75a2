"""What a photo run (`--image-size N`, a folder of any images) adds to the trainer's run: its data and validation
split (train/photo_folder.py), its manifest beside run.json, its validation figures in metrics.jsonl, its export."""
import json
import os
import sys
from pathlib import Path

from .atomic import atomic_write_json
from .photo_folder import load_photo_folder

DATA_MANIFEST = "data_manifest.json"  # a photo run's data, written beside run.json


def photo_sets(cfg):
    """A photo run's data (--image-size N) → (training photos, validation photos, what run.json records about the
    validation, the manifest). The split is by file (train/photo_folder.py); --val-limit caps each validation."""
    train_set, val_set, manifest = load_photo_folder(cfg.data, cfg.image_size, cfg.scale_range[1],
                                                     cache_dir=cfg.cache_dir, workers=cfg.workers)
    info = {"from": "folder", "n": len(val_set), "rule": manifest["split_rule"], "note": "held out of training, by file"}
    return train_set, val_set, info, manifest


def manifest_summary(manifest, cfg):
    """What run.json's history entry of each start records about a photo run's data."""
    return {"file": DATA_MANIFEST, "content_sha256": manifest["content_sha256"],
            "images_used": manifest["images_used"], "n_skipped": manifest["n_skipped"], "scale_range": cfg.scale_range}


def write_manifest(out, manifest, step):
    """RUN/data_manifest.json. On a resume whose folder changed (another content hash), the previous manifest is
    kept as data_manifest.before-step-N.json and a warning says so; training goes on with the files as they are."""
    path = Path(out) / DATA_MANIFEST
    if path.is_file():
        previous = json.loads(path.read_text())
        if previous.get("content_sha256") != manifest["content_sha256"]:
            kept = path.with_name(f"data_manifest.before-step-{step}.json")
            os.replace(path, kept)
            print(f"warning: {manifest['source']} changed since this run's last start (content sha256 "
                  f"{previous.get('content_sha256', '?')[:16]} → {manifest['content_sha256'][:16]}); training continues "
                  f"on the files as they are now; the previous manifest is kept as {kept.name}", file=sys.stderr)
    atomic_write_json(path, manifest)


def sr_fields(m):
    """A photo run's ×4 validation figures for metrics.jsonl (none for CIFAR)."""
    return {k: m[k] for k in ("sr4_psnr", "sr4_bicubic_psnr", "sr4_n") if k in m}


def export_photo_run(model, out_dir, summary, manifest):
    """A photo run's weights in Hub format (config.json with its image_size, model.safetensors) and
    training_info.json (the run's summary and its data); the model card of train.publish is CIFAR's."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.cpu().save_pretrained(out_dir)
    info = {k: v for k, v in summary.items() if k != "config"}
    info["config"] = summary["config"]
    info["data"] = {k: manifest[k] for k in ("source", "image_size", "images_used", "n_skipped", "n_train",
                                             "n_validation", "content_sha256")}
    atomic_write_json(out_dir / "training_info.json", info)
    return info
