"""Where is test PSNR heading? Fit PSNR against image passes and project the budget of a target.

    python -m train.study.project SOURCE [SOURCE ...] --target 22 [--target 28] [--img-s 1.8] [--n-train 50000]
                            [--end-only] [--plot OUT.png] [--json OUT.json]

SOURCE: a run directory or an exported weights folder (its metrics.jsonl `val` / `epoch` records:
image passes = step × the run's batch size, from run.json; with --end-only only the last one), or a
sweep result (`runs/sweep-*/results/NAME.json`: its image passes and test PSNR). Points from different
runs can be mixed, e.g. a sweep configuration at 1× and 2× passes and a long run of the same recipe.

The fit is PSNR = a + b · ln(passes) by least squares: on these curves PSNR grows roughly linearly in
log passes over the range measured, and the fit says so (R²). It cannot know about saturation, so a
projection far beyond the points measured is an optimistic trend line, not a promise. Mid-run points of a
decaying-rate schedule lie below the end of a shorter run with the same passes: mix them with care
(--end-only keeps the end of each run). Budgets: passes → epochs (÷ --n-train) and hours at --img-s.
"""
import argparse
import json
import math
import sys
from pathlib import Path

from ..figure import save_log_x
from ..metrics_log import METRICS, jsonl_file, read_jsonl


class ProjectError(ValueError):
    """A source that holds no usable points, or too few points to fit."""


def points_from(source, end_only=False):
    """→ [(image passes, PSNR, label)] from a run / weights folder or a sweep result file (val_psnr, or
    test_psnr of a sweep scored before the validation split)."""
    p = Path(source)
    if p.is_file() and p.suffix == ".json":
        r = json.loads(p.read_text())
        psnr = r.get("val_psnr", r.get("test_psnr"))  # sweeps before the validation split scored the test split
        if r.get("status") != "done" or psnr is None:
            raise ProjectError(f"{p}: not a finished sweep result (status {r.get('status')!r})")
        return [(float(r["image_passes"]), float(psnr), r.get("name", p.stem))]
    metrics, run_json = p / METRICS, p / "run.json"
    if not (jsonl_file(metrics) and run_json.is_file()):
        raise ProjectError(f"{p}: neither a sweep result (.json) nor a run/weights folder with metrics.jsonl "
                           f"and run.json")
    batch = json.loads(run_json.read_text())["config"]["batch_size"]
    pts = {}
    for r in read_jsonl(metrics):
        if r.get("kind") in ("val", "epoch") and r.get("val_psnr") is not None and r.get("step"):
            pts[r["step"]] = float(r["val_psnr"])  # a step validated twice keeps its last record
    if not pts:
        raise ProjectError(f"{p}: no validation records in {metrics}")
    steps = sorted(pts)[-1:] if end_only else sorted(pts)
    return [(float(s * batch), pts[s], f"{p.name}@{s}") for s in steps]


def fit_log(points):
    """Least squares PSNR = a + b·ln(passes) → dict(a, b, r2, n, per_doubling)."""
    if len({x for x, _, _ in points}) < 2:
        raise ProjectError(f"need points at ≥ 2 different numbers of image passes to fit, got {len(points)}")
    xs = [math.log(x) for x, _, _ in points]
    ys = [y for _, y, _ in points]
    n, mx, my = len(xs), sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx
    a = my - b * mx
    ss_res = sum((y - a - b * x) ** 2 for x, y in zip(xs, ys))
    ss_tot = sum((y - my) ** 2 for y in ys)
    return dict(a=a, b=b, r2=1.0 - ss_res / ss_tot if ss_tot > 0 else 1.0, n=n, per_doubling=b * math.log(2))


def passes_for(fit, target):
    """Image passes at which the fitted line reaches `target` dB (None when it does not rise)."""
    if fit["b"] <= 0:
        return None
    return math.exp((target - fit["a"]) / fit["b"])


def project(points, targets, img_s=None, n_train=50_000):
    fit = fit_log(points)
    rows = []
    for t in targets:
        passes = passes_for(fit, t)
        rows.append(dict(target=t, passes=passes, epochs=None if passes is None else passes / n_train,
                         hours=None if passes is None or not img_s else passes / img_s / 3600))
    return fit, rows


def plot(path, points, fit, rows):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    ax.scatter([x for x, _, _ in points], [y for _, y, _ in points], s=14, label="measured", zorder=3)
    top = max([x for x, _, _ in points] + [r["passes"] for r in rows if r["passes"]])
    lo = min(x for x, _, _ in points)
    xs = [lo * (top / lo) ** (i / 100) for i in range(101)]
    ax.plot(xs, [fit["a"] + fit["b"] * math.log(x) for x in xs], "--", lw=1,
            label=f"fit: {fit['per_doubling']:+.2f} dB per doubling (R² {fit['r2']:.2f})")
    for r in rows:
        ax.axhline(r["target"], color="grey", lw=0.6, ls=":")
    save_log_x(fig, ax, path, "image passes", "test PSNR (dB)")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("sources", nargs="+")
    ap.add_argument("--target", type=float, action="append", required=True, help="dB; repeat for several")
    ap.add_argument("--img-s", type=float, help="training speed (img/s) to turn passes into hours")
    ap.add_argument("--n-train", type=int, default=50_000, help="training images per epoch")
    ap.add_argument("--end-only", action="store_true", help="only the last validation of each run")
    ap.add_argument("--plot")
    ap.add_argument("--json")
    a = ap.parse_args(argv)
    try:
        points = [pt for s in a.sources for pt in points_from(s, a.end_only)]
        fit, rows = project(points, a.target, a.img_s, a.n_train)
    except (ProjectError, OSError, KeyError, json.JSONDecodeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for x, y, label in sorted(points):
        print(f"  {label:40s} {x:>12,.0f} passes  {y:6.2f} dB")
    print(f"fit over {fit['n']} points: PSNR = {fit['a']:.2f} + {fit['b']:.3f}·ln(passes); "
          f"{fit['per_doubling']:+.2f} dB per doubling of image passes; R² {fit['r2']:.3f}")
    top = max(x for x, _, _ in points)
    for r in rows:
        if r["passes"] is None:
            print(f"  {r['target']:g} dB: not reached (the fitted line does not rise)")
            continue
        where = "within the points measured" if r["passes"] <= top else f"{r['passes'] / top:,.1f}× the most measured"
        hours = f", ≈ {r['hours']:,.1f} h at {a.img_s:g} img/s" if r["hours"] is not None else ""
        print(f"  {r['target']:g} dB at ≈ {r['passes']:,.0f} image passes ({r['epochs']:,.1f} epochs{hours}); {where}")
    if a.plot:
        plot(a.plot, points, fit, rows)
    if a.json:
        Path(a.json).write_text(json.dumps(dict(points=points, fit=fit, targets=rows), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
