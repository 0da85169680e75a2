"""The one-pass headline on the test images that no decision ever saw.

    python -m train.study.untouched [--eval-dir weights/eval] [--simplified weights/simplified]
                                    [--corrected weights/corrected]

Before the project had a validation split, 500 test images steered it: the recipe study
(train.study.sweep) ranked recipes on them, and the bundled models' CPU and GPU stages were watched
on them (`--val-from test --val-limit 500`: the trainer's fixed subset, train.eval.validate.val_indices).
This reads the whole-split per-image PSNR of `train.eval.evaluate` (EVAL/per_image.npz, σ = 0) and
reports both models, and their paired difference, on the other test images only. Measures nothing
new; writes EVAL/untouched.{json,md}.
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np

from ..atomic import atomic_write_json
from ..eval.eval_split import REPO, read_per_image
from ..eval.stats import bootstrap_mean, paired_difference

STEERED = 500  # test images used for decisions: val_indices(10,000, 500)
WHY = ("the first 500 test images of the trainer's fixed subset (train.eval.validate.val_indices): the recipe study "
       "ranked recipes on them and the bundled models' training stages were watched on them")


def steered_indices(n_total=10_000):
    from ..eval.validate import val_indices
    return val_indices(n_total, STEERED).numpy()


def measure(npz, prefixes):
    """{name: (indices, psnr)} at σ = 0 → the untouched images' estimates and the paired difference."""
    per = {name: read_per_image(npz, prefix, 0.0)[:2] for name, prefix in prefixes.items()}
    n_total = max(len(idx) for idx, _ in per.values())
    drop = steered_indices(n_total)
    common = np.intersect1d(*[idx for idx, _ in per.values()])
    keep = np.setdiff1d(common, drop)
    vals = {name: dict(zip(idx.tolist(), psnr.tolist())) for name, (idx, psnr) in per.items()}
    vals = {name: np.array([v[i] for i in keep.tolist()]) for name, v in vals.items()}
    out = {"n": int(len(keep)), "excluded": int(len(common) - len(keep)), "why_excluded": WHY,
           "models": {name: bootstrap_mean(v).as_dict() for name, v in vals.items()}}
    if set(vals) == {"simplified", "corrected"}:
        out["corrected − simplified"] = paired_difference(vals["corrected"], vals["simplified"]).as_dict()
    return out


def markdown(r):
    f = lambda e, s="": f"{e['mean']:{s}.2f} [{e['low']:{s}.2f}, {e['high']:{s}.2f}] dB"  # noqa: E731
    lines = [f"One encoder pass, 32×32, on the {r['n']:,} test images no decision saw ({r['excluded']} excluded: "
             f"{r['why_excluded']}). Mean PSNR [95 % bootstrap interval over images].", "",
             "| model | PSNR |", "|---|---|"]
    lines += [f"| {name} | {f(e)} |" for name, e in r["models"].items()]
    if "corrected − simplified" in r:
        lines.append(f"| corrected − simplified (paired) | {f(r['corrected − simplified'], '+')} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m train.study.untouched", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--eval-dir", default="weights/eval")
    p.add_argument("--simplified", default="weights/simplified")
    p.add_argument("--corrected", default="weights/corrected")
    a = p.parse_args(argv)
    ev = Path(a.eval_dir)
    npz = ev / "per_image.npz"
    if not npz.is_file():
        print(f"error: missing {npz} (python -m train.eval.evaluate --split test on both models)", file=sys.stderr)
        return 2
    key = lambda w: Path(w).resolve().relative_to(REPO).as_posix().replace("/", "__")  # noqa: E731
    r = measure(npz, {"simplified": key(a.simplified), "corrected": key(a.corrected)})
    r["generated"] = time.strftime("%Y-%m-%d")
    atomic_write_json(ev / "untouched.json", r)
    (ev / "untouched.md").write_text(markdown(r))
    print(markdown(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
