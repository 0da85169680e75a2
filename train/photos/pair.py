"""Train, publish and score the photo pair from its plan (train/photos/pair_plan.json).

    python -m train.photos.pair train MODEL [--runs-dir runs/photos64]     # one process per core; resumes
    python -m train.photos.pair publish [--runs-dir runs/photos64]         # RUN/hf → weights/photos64/MODEL
    python -m train.photos.pair command MODEL                               # print the trainer's command

`train` runs `python -m train` with the plan's configuration and flags (the same command resumes a stopped run
from its checkpoint). `publish` copies each finished run's export (config.json, model.safetensors,
training_info.json) and its history (metrics.jsonl.gz, run.json, curves.png) into weights/<pair>/<model>; then
`python -m train.eval.photo_pair` scores the pair and `python -m train.publish.photo_card` writes the cards.
"""
import argparse
import gzip
import json
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PLAN = Path(__file__).resolve().parent / "pair_plan.json"
EXPORT_FILES = ("config.json", "model.safetensors", "training_info.json")
HISTORY_FILES = ("run.json", "curves.png")


def load_plan(path=PLAN):
    return json.loads(Path(path).read_text())


def trainer_command(plan, model, runs_dir):
    """→ argv of `python -m train` for `model` of the plan."""
    if model not in plan["runs"]:
        raise ValueError(f"unknown model {model!r}: the plan has {', '.join(plan['runs'])}")
    run = plan["runs"][model]
    return [sys.executable, "-m", "train", "--model", model, "--data", plan["data"], "--image-size",
            str(plan["image_size"]), "--out", str(Path(runs_dir) / model), "--config-json",
            json.dumps(run["config"], sort_keys=True), *run["args"]]


def publish(plan, runs_dir, weights_root=REPO / "weights"):
    """Each finished run (RUN/hf/model.safetensors) → weights/<pair>/<model>; → the folders written."""
    written = []
    for model in plan["runs"]:
        run = Path(runs_dir) / model
        if not (run / "hf" / "model.safetensors").is_file():
            print(f"{model}: not finished ({run / 'hf'} has no model.safetensors); skipped", file=sys.stderr)
            continue
        dest = Path(weights_root) / plan["pair"] / model
        dest.mkdir(parents=True, exist_ok=True)
        for name in EXPORT_FILES:
            shutil.copy2(run / "hf" / name, dest / name)
        for name in HISTORY_FILES:
            if (run / name).is_file():
                shutil.copy2(run / name, dest / name)
        with open(run / "metrics.jsonl", "rb") as src, gzip.GzipFile(dest / "metrics.jsonl.gz", "wb", mtime=0) as out:
            shutil.copyfileobj(src, out)
        written.append(dest)
    if not written:
        raise FileNotFoundError(f"no finished run under {runs_dir}")
    return written


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("action", choices=["train", "publish", "command"])
    p.add_argument("model", nargs="?", default="")
    p.add_argument("--runs-dir", default="runs/photos64")
    p.add_argument("--plan", default=str(PLAN))
    a = p.parse_args(argv)
    plan = load_plan(a.plan)
    try:
        if a.action == "publish":
            for dest in publish(plan, a.runs_dir):
                print(dest)
            return 0
        cmd = trainer_command(plan, a.model, a.runs_dir)
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if a.action == "command":
        config = cmd[cmd.index("--config-json") + 1]
        print("python " + " ".join(cmd[1:]).replace(config, f"'{config}'"))
        return 0
    return subprocess.call(cmd, cwd=REPO)


if __name__ == "__main__":
    sys.exit(main())
