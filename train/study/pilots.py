"""Pilot runs as committed evidence: each run's learning curve, binned training loss, speed and settings.

    python -m train.study.pilots RUN_DIR [RUN_DIR …] --out train/results/ablation-pilots [--bin 100]

RUN_DIR is a `python -m train` run folder (run.json, metrics.jsonl). Writes OUT/pilots.json (per run: the
settings that shape training, the hardware, img/s over the run, validation records and the training loss
averaged over bins of --bin steps) and OUT/pilots.png (validation PSNR and binned training loss against
image passes, every run on the same axes: e.g. bf16 autocast against float32 from the same seed). A run
still going or stopped early is recorded as far as it got (its steps say so).
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np

from ..atomic import atomic_write_json
from ..portable import portable_path

KEEP = ("model", "model_config", "lr", "batch_size", "warmup_frac", "max_steps", "pixels", "train_sigma", "seed",
        "bf16", "threads", "val_limit", "val_from")


def read_run(run_dir, bin_steps):
    run_dir = Path(run_dir)
    info = json.loads((run_dir / "run.json").read_text())
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    steps = [r for r in records if r["kind"] == "step"]
    vals = [r for r in records if r["kind"] in ("val", "epoch") and "val_psnr" in r]
    batch = info["config"]["batch_size"]
    bins = []
    for start in range(0, len(steps), bin_steps):
        part = steps[start:start + bin_steps]
        bins.append({"passes": part[-1]["step"] * batch, "loss": float(np.mean([r["loss"] for r in part]))})
    last = steps[-1] if steps else {"step": 0, "elapsed": 0.0}
    starts = info.get("history") or [{}]
    return {"run": run_dir.name, "settings": {k: info["config"].get(k) for k in KEEP},
            "planned_steps": info.get("total_steps"), "steps_done": last["step"], "launches": len(starts),
            "hardware": sorted({s.get("hardware", "") for s in starts}),
            "img_s": last["step"] * batch / max(last["elapsed"], 1e-9), "elapsed_s": last["elapsed"],
            "data": portable_path(info["config"].get("data", "")),
            "validation": [{"passes": r["step"] * batch, "psnr": r["val_psnr"], "n": r.get("n")} for r in vals],
            "train_loss": bins}


def plot(path, runs):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 4))
    for r in runs:
        a.plot([v["passes"] for v in r["validation"]], [v["psnr"] for v in r["validation"]], "-o", ms=3, label=r["run"])
        b.plot([v["passes"] for v in r["train_loss"]], [v["loss"] for v in r["train_loss"]], "-", lw=1, label=r["run"])
    a.set_ylabel("validation PSNR (dB)")
    b.set_ylabel("training loss (MSE, binned)")
    b.set_yscale("log")
    for ax in (a, b):
        ax.set_xlabel("image passes")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m train.study.pilots", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", help="run folders of python -m train")
    p.add_argument("--out", required=True)
    p.add_argument("--bin", type=int, default=100, help="training steps per loss bin")
    a = p.parse_args(argv)
    missing = [r for r in a.runs if not (Path(r) / "metrics.jsonl").is_file()]
    if missing:
        print(f"error: not a run folder (no metrics.jsonl): {', '.join(missing)}", file=sys.stderr)
        return 2
    runs = [read_run(r, a.bin) for r in a.runs]
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "pilots.json", {"runs": runs})
    plot(out / "pilots.png", runs)
    for r in runs:
        last = r["validation"][-1] if r["validation"] else {}
        print(f"{r['run']}: {r['steps_done']} of {r['planned_steps']} steps, {r['img_s']:.1f} img/s, "
              f"last validation {last.get('psnr', float('nan')):.2f} dB at {last.get('passes', 0):,} passes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
