"""Sample-efficiency study (issue 9, SPEC §5 "Recipes for short budgets"): named recipes at equal image passes.

    python -m train.study.sweep --model {simplified,corrected} --data PATH --out DIR --passes N
                          [--configs NAME,NAME] [--confirm K] [--eval-images 500] [--parallel 2] [--threads 1]
                          [--dry-run | --report]

Every configuration differs from the protocol only in peak lr, batch size and warm-up fraction (plus,
for the corrected model, one ablation with the spatial bias off). Each trains DIR/runs/<name> for
ceil(passes / batch) optimiser steps with `python -m train --max-steps ...` (the protocol's schedule
shape compressed over those steps, seed 0) and is scored on the same first --eval-images images of the
validation split (held-out training images, train/splits.py), in the trainer's fixed validation order
(train.eval.validate.val_indices); results carry val_psnr / val_ssim / n_val. (The earlier tracked results in
train/results/ were scored on the first 500 images of the test split, before the validation split existed.) --confirm K re-runs the best K at
twice the passes (<name>@2x). Results: DIR/sweep.json, DIR/table.md, DIR/psnr_vs_passes.png.
Re-running the same command skips scored configurations and resumes unfinished ones. --report writes
the three reports from what is scored so far (e.g. beside a sweep still running) and trains nothing.
"""
import argparse
import json
import math
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..atomic import atomic_write_json
from ..checkpoint import CKPT
from ..metrics_log import read_metrics
from ..config import PROTOCOLS
from ..recipes import describe_warmup, recipe
from .study_folder import check_study_folder
from .trainer_job import DIVERGED, report_failure, run_trainer

IDENTITY = "sweep_identity.json"
# Measured training speed per core on the AVX-512 Xeon (train/README, BENCHMARKS): for --dry-run estimates.
IMG_S_PER_CORE = {"corrected": 1.8, "simplified": 13.9}
EVAL_COST = 1 / 3  # a scored test image (forward only) ≈ a third of a training image pass


class SweepError(ValueError):
    """Bad sweep input (unknown configuration, a folder holding another sweep ...)."""


def fmt_lr(lr):
    m, e = f"{lr:e}".split("e")
    m = m.rstrip("0").rstrip(".")
    return f"{m}e{int(e)}"


def config_name(batch, lr, warmup, ablation=""):
    return f"b{batch}-lr{fmt_lr(lr)}-w{warmup:g}" + (f"-{ablation}" if ablation else "")


def default_grid(model):
    """{name: {"lr", "batch_size", "warmup_frac", "model_config", "ablation"}}, in a fixed order.

    peak lr ∈ {protocol, 2×, 4×} × batch ∈ {protocol, ¼ of it} at the protocol's warm-up, then warm-up
    variants at the ¼-batch / 2×-lr point, and (corrected) the spatial-bias ablation at that point.
    The ¼-batch / 2×-lr point is the a-priori favourite: the 2026-11-30 calibration pilot's best run (corrected).
    """
    p = recipe("protocol", model)
    lr0, b0, w0 = p["lr"], p["batch_size"], p["warmup_frac"]
    grid = {}

    def add(batch, lr, warmup, model_config=None, ablation=""):
        grid[config_name(batch, lr, warmup, ablation)] = dict(lr=lr, batch_size=batch, warmup_frac=warmup,
                                                              model_config=model_config or {}, ablation=ablation)
    for batch in (b0, b0 // 4):
        for mult in (1, 2, 4):
            add(batch, lr0 * mult, w0)
    favourite = (b0 // 4, lr0 * 2)
    for w in ((0.0, 0.25) if model == "corrected" else (1 / 8,)):  # the protocol's own (1/8 or 0) is above
        add(*favourite, w)
    if model == "corrected":  # SPEC §6 calls the spatial bias "critical": measure it (an ablation, never a recipe)
        add(*favourite, w0, {"bias_alpha": 0}, "alpha0")
    return grid


def steps_for(passes, batch):
    return math.ceil(passes / batch)


# ---- the plan -----------------------------------------------------------------------------------
def plan(a):
    """→ (identity, jobs): jobs = [{"name", "passes", "steps", ...config}] for the grid (no --confirm)."""
    grid = default_grid(a.model)
    base = json.loads(a.config_json_base) if a.config_json_base else {}
    if a.configs:
        names = [n.strip() for n in a.configs.split(",") if n.strip()]
        unknown = [n for n in names if n not in grid]
        if unknown:
            raise SweepError(f"unknown configuration(s) {', '.join(unknown)} for the {a.model} model; "
                             f"known: {', '.join(grid)}")
    else:
        names = list(grid)
    data = a.data if a.data == "cifar10" else str(Path(a.data).resolve())
    identity = {"model": a.model, "data": data, "passes": a.passes, "eval_images": a.eval_images, "seed": 0,
                "model_config_base": base, "grid": grid}
    jobs = [job(n, grid[n], a.passes, base) for n in names]
    return identity, jobs


def job(name, conf, passes, base):
    return {"name": name, "passes": passes, "steps": steps_for(passes, conf["batch_size"]), **conf,
            "model_config": {**base, **conf["model_config"]}}


def check_out_dir(out, identity):
    """A folder holding another sweep (or anything else) → SweepError, before anything is written."""
    return check_study_folder(out, identity, IDENTITY, "sweep", SweepError)


# ---- running and scoring ------------------------------------------------------------------------
def train_command(a, identity, j, out):
    return [sys.executable, "-m", "train", "--model", a.model, "--data", identity["data"],
            "--out", str(out / "runs" / j["name"]), "--data-root", a.data_root,
            *(["--cache-dir", a.cache_dir] if a.cache_dir else []),
            "--lr", repr(j["lr"]), "--batch-size", str(j["batch_size"]), "--warmup-frac", repr(j["warmup_frac"]),
            "--max-steps", str(j["steps"]), "--seed", "0", "--threads", str(a.threads),
            # the trainer's own end-of-run validation on the same first N test images is the score
            # (--val-limit 0 would mean all 10,000 there)
            "--val-limit", str(a.eval_images), "--ckpt-minutes", "5", "--no-export", "--no-progress",
            *(["--config-json", json.dumps(j["model_config"])] if j["model_config"] else [])]


def score_run(run, j, a, identity, wall_s):
    """The finished run's numbers. Validation PSNR/SSIM: the trainer's validation at the final step on the first
    --eval-images of val_indices (evaluate_split), else measured here from the checkpoint."""
    recs = read_metrics(run)
    steps = [r for r in recs if r.get("kind") == "step"]
    last = steps[-1]["step"] if steps else 0
    vals = [r for r in recs if r.get("kind") in ("val", "epoch") and r.get("step") == last and "val_psnr" in r]
    source = "trainer validation at the final step"
    # the trainer validated on val_indices(n_val, --eval-images): n < --eval-images only when the validation
    # split is smaller than that (then it is the whole split)
    if vals and 0 < vals[-1]["n"] <= a.eval_images:
        psnr, ssim, n = vals[-1]["val_psnr"], vals[-1]["val_ssim"], vals[-1]["n"]
    else:
        m = score_checkpoint(run, identity, a)
        psnr, ssim, n, source = m["psnr"], m["ssim"], m["n"], "checkpoint, evaluate_split"
    batch = j["batch_size"]
    secs = sum(batch / r["img_s"] for r in steps if r.get("img_s"))
    end = [r for r in recs if r.get("kind") == "end"]
    return {"status": "done", "steps": last, "image_passes": last * batch, "epochs": end[-1]["epochs"] if end else None,
            "val_psnr": psnr, "val_ssim": ssim, "n_val": n, "score_source": source,
            "train_s": end[-1]["elapsed"] if end else None, "step_s": secs,
            "img_s": len(steps) * batch / secs if secs else None, "wall_s": wall_s}


def score_checkpoint(run, identity, a):
    """Load run's checkpoint and measure PSNR/SSIM on the first --eval-images of the validation order."""
    import torch

    from ..checkpoint import load_checkpoint
    from ..config import TrainConfig
    from ..hardware import set_threads
    from ..loop import train_and_validation_sets
    from ..model_factory import build_model
    from ..eval.validate import evaluate_split, val_indices
    set_threads(a.threads)
    ckpt = load_checkpoint(run / CKPT)
    model = build_model(TrainConfig.from_dict(ckpt["config"]).resolved())
    model.load_state_dict(ckpt["model"])
    cfg = TrainConfig.from_dict({**ckpt["config"], "data_root": a.data_root, "cache_dir": a.cache_dir})
    _, val_set, _ = train_and_validation_sets(cfg)  # the images the trainer validated on
    with torch.no_grad():
        return evaluate_split(model.eval(), val_set.images, val_indices(len(val_set), a.eval_images))


def run_job(a, identity, j, out):
    """Train (or resume) one configuration and score it → result dict (also DIR/results/<name>.json)."""
    res_path = out / "results" / f"{j['name']}.json"
    if res_path.is_file():
        return json.loads(res_path.read_text())
    run = out / "runs" / j["name"]
    log_path = out / "logs" / f"{j['name']}.log"
    rc, wall = run_trainer(train_command(a, identity, j, out), log_path, a.threads)
    if rc == DIVERGED:  # deterministic (seed 0), so recorded as this configuration's result
        result = {"status": "diverged", "wall_s": wall}
    elif rc != 0:
        report_failure(j["name"], rc, log_path, "re-run the sweep to resume it")
        return {**j, "status": "failed", "rc": rc}
    else:
        result = score_run(run, j, a, identity, wall)
    result = {**{k: v for k, v in j.items()}, **result}
    atomic_write_json(res_path, result)
    print(f"{j['name']}: {result['status']}"
          + (f", {result['val_psnr']:.2f} dB / SSIM {result['val_ssim']:.3f} after {result['image_passes']} image "
             f"passes ({result['wall_s'] / 60:.1f} min)" if result["status"] == "done" else ""), file=sys.stderr)
    return result


def run_all(a, identity, jobs, out):
    """The jobs, --parallel at a time. Ctrl-C: queued jobs are dropped (the running trainers get the
    signal too); re-running the same command resumes."""
    pool = ThreadPoolExecutor(max_workers=max(1, a.parallel))
    futures = [pool.submit(run_job, a, identity, j, out) for j in jobs]
    try:
        return [f.result() for f in futures]
    except KeyboardInterrupt:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    finally:
        pool.shutdown(wait=True)


# ---- reporting ----------------------------------------------------------------------------------
def _rank(results):
    return sorted((r for r in results if r["status"] == "done"), key=lambda r: -r["val_psnr"])


def confirm_report(grid_results, confirm_results):
    """→ (held: bool|None, text) comparing the confirmed configurations' order at 1× and 2× passes."""
    if not confirm_results:
        return None, ""
    base = {r["name"]: r for r in grid_results}
    done = [r for r in confirm_results if r["status"] == "done"]
    order1 = [r["base"] for r in sorted(done, key=lambda r: -base[r["base"]]["val_psnr"])]
    order2 = [r["base"] for r in sorted(done, key=lambda r: -r["val_psnr"])]
    if len(done) < 2:
        return None, f"Confirmation at 2× passes: {', '.join(order2) or 'none finished'} (one configuration: no ranking to compare)."
    held = order1 == order2
    return held, (f"Confirmation at 2× passes: order at 1×: {' > '.join(order1)}; at 2×: {' > '.join(order2)} — "
                  f"**the ranking {'held' if held else 'did NOT hold'}**.")


def confirmed(confirm_results):
    """True once every confirmation run has finished (a partial confirmation decides nothing)."""
    return bool(confirm_results) and all(r["status"] == "done" for r in confirm_results)


def best_of(grid_results, confirm_results):
    """The winning recipe: best confirmed at 2× when the confirmation has finished, else best at 1×
    (ablations excluded)."""
    pool = [r for r in (confirm_results if confirmed(confirm_results) else grid_results) if not r.get("ablation")]
    ranked = _rank(pool)
    return ranked[0] if ranked else None


def _row(i, r, note=""):
    if r["status"] != "done":
        return (f"| – | `{r['name']}` | {fmt_lr(r['lr'])} | {r['batch_size']} | {r['warmup_frac']:g} | {r['steps']} | "
                f"– | {r['status']} | – | – | – | {note} |")
    return (f"| {i} | `{r['name']}` | {fmt_lr(r['lr'])} | {r['batch_size']} | {r['warmup_frac']:g} | {r['steps']} | "
            f"{r['image_passes']:,} | {r['val_psnr']:.2f} | {r['val_ssim']:.3f} | {r['img_s']:.2f} | "
            f"{(r['train_s'] or r['wall_s']) / 60:.1f} | {note} |")


HEADER = ["| rank | configuration | peak lr | batch | warm-up | steps | image passes | val PSNR (dB) | SSIM | img/s | "
          "training (min) | note |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]


def table_md(identity, grid_results, confirm_results):
    held, text = confirm_report(grid_results, confirm_results)
    lines = [f"# Recipe study: {identity['model']} model, {identity['passes']:,} image passes per configuration",
             "", f"Data `{identity['data']}`; val PSNR / SSIM on the same first {identity['eval_images']} images of "
             f"the validation split (held-out training images, train/splits.py) in the trainer's validation order; "
             f"seed 0; everything but peak lr, batch and warm-up is SPEC §5's. Sorted by val PSNR. (Earlier tracked "
             f"results in train/results/ were scored on the test split, before the validation split existed.)",
             "", *HEADER]
    ranked = _rank(grid_results)
    for i, r in enumerate(ranked + [r for r in grid_results if r["status"] != "done"], 1):
        lines.append(_row(i, r, "ablation: spatial bias off (α = 0)" if r.get("ablation") == "alpha0"
                          else r.get("ablation") or ""))
    lines.append("")
    if confirm_results:
        base = {r["name"]: r for r in grid_results}
        lines += [f"## Confirmation: the best {len(confirm_results)} at {2 * identity['passes']:,} image passes", "",
                  *HEADER]
        for i, r in enumerate(_rank(confirm_results) + [r for r in confirm_results if r["status"] != "done"], 1):
            b = base[r["base"]]
            lines.append(_row(i, r, f"{b['val_psnr']:.2f} dB at 1× ({r['val_psnr'] - b['val_psnr']:+.2f})"
                              if r["status"] == "done" else ""))
        lines += ["", text, ""]
    best = best_of(grid_results, confirm_results)
    if best:
        lines += [f"Best recipe: `{recipe_name(best)}` (peak lr {fmt_lr(best['lr'])}, batch {best['batch_size']}, "
                  f"{describe_warmup(best['warmup_frac'])}): {best['val_psnr']:.2f} dB after "
                  f"{best['image_passes']:,} image passes"
                  + (" (the best confirmed)" if confirmed(confirm_results)
                     else " (at 1×; the confirmation has not finished)" if confirm_results else "")
                  + ".", ""]
    return "\n".join(lines)


def recipe_name(r):
    return r.get("base") or r["name"]


def _train_curve(run, batch, window_frac=0.05):
    """(image passes, moving-average training PSNR) from a run's step records; ([], []) without them."""
    steps = [r for r in read_metrics(run) if r.get("kind") == "step" and r.get("psnr") is not None]
    if not steps:
        return [], []
    w = max(1, int(len(steps) * window_frac))
    ys = [r["psnr"] for r in steps]
    smooth = [sum(ys[max(0, i - w + 1):i + 1]) / (i + 1 - max(0, i - w + 1)) for i in range(len(ys))]
    return [r["step"] * batch for r in steps], smooth


def plot(path, grid_results, confirm_results, runs_dir=None):
    """Left: each run's training PSNR (moving average over 5 % of its steps) against image passes, the
    `@2x` runs dashed; right: val PSNR at the end of each run, a line from 1× to 2× for the confirmed."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (left, ax) = plt.subplots(1, 2, figsize=(12, 4.5))
    by_base = {r["base"]: r for r in confirm_results if r["status"] == "done"}
    started = {r["base"]: r for r in confirm_results}
    for r in grid_results:
        if r["status"] != "done":
            continue
        xs, ys = [r["image_passes"]], [r["val_psnr"]]
        if r["name"] in by_base:
            xs.append(by_base[r["name"]]["image_passes"])
            ys.append(by_base[r["name"]]["val_psnr"])
        line, = ax.plot(xs, ys, "o-" if len(xs) > 1 else "o", label=r["name"])
        if runs_dir is not None:
            left.plot(*_train_curve(Path(runs_dir) / r["name"], r["batch_size"]), color=line.get_color(), lw=1,
                      label=r["name"])
            if r["name"] in started:
                left.plot(*_train_curve(Path(runs_dir) / started[r["name"]]["name"], r["batch_size"]),
                          color=line.get_color(), lw=1, ls="--")
    ax.set_xlabel("image passes")
    ax.set_ylabel("val PSNR (dB)")
    ax.set_title("val PSNR at the end of each run (lines: the confirmation at 2× passes)", fontsize=9)
    left.set_xlabel("image passes")
    left.set_ylabel("training PSNR (dB), moving average")
    left.set_title("during training (dashed: the 2× runs); each run's own pixels and jitter", fontsize=9)
    for a in (left, ax):
        a.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_reports(out, identity, grid_results, confirm_results):
    held, text = confirm_report(grid_results, confirm_results)
    best = best_of(grid_results, confirm_results)
    atomic_write_json(out / "sweep.json", {"identity": identity, "configs": grid_results,
                                           "confirm": confirm_results, "ranking_held": held,
                                           "best": best and recipe_name(best)})
    (out / "table.md").write_text(table_md(identity, grid_results, confirm_results))
    plot(out / "psnr_vs_passes.png", grid_results, confirm_results, out / "runs")
    return best


# ---- CLI ----------------------------------------------------------------------------------------
def parser():
    p = argparse.ArgumentParser(prog="python -m train.study.sweep", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, choices=sorted(PROTOCOLS))
    p.add_argument("--data", required=True, help="as for python -m train (cifar10, ImageFolder root, .npz pack)")
    p.add_argument("--out", required=True, help="sweep folder: runs/, logs/, results/, sweep.json, table.md, png")
    p.add_argument("--passes", type=int, required=True, help="image passes per configuration (steps = passes / batch, "
                                                             "rounded up)")
    p.add_argument("--configs", default="", help="comma-separated subset of the grid's names (default: all)")
    p.add_argument("--confirm", type=int, default=0, metavar="K", help="re-run the best K at twice the passes")
    p.add_argument("--eval-images", type=int, default=500, help="validation images every configuration is scored on")
    p.add_argument("--parallel", type=int, default=2, help="training runs at a time")
    p.add_argument("--threads", type=int, default=1, help="CPU threads per run (torch and numba)")
    p.add_argument("--data-root", default="data")
    p.add_argument("--cache-dir", default="")
    p.add_argument("--dry-run", action="store_true", help="print the plan; train nothing, write nothing")
    p.add_argument("--report", action="store_true",
                   help="write table.md, sweep.json and the plot from what is scored so far; train nothing")
    p.add_argument("--config-json-base", default="", help=argparse.SUPPRESS)  # model-config overrides (tests)
    return p


def print_plan(a, jobs):
    rate = IMG_S_PER_CORE[a.model]
    print(f"sweep plan: {a.model} model, {a.passes:,} image passes per configuration, scored on {a.eval_images} "
          f"validation images")
    total = 0
    for j in jobs:
        passes = j["steps"] * j["batch_size"]
        total += passes + a.eval_images * EVAL_COST
        print(f"  {j['name']:28s} lr {fmt_lr(j['lr']):7s} batch {j['batch_size']:3d} warm-up {j['warmup_frac']:<6g} "
              f"{j['steps']:6d} steps  {passes:,} image passes"
              + (f"  model config {json.dumps(j['model_config'])}" if j["model_config"] else ""))
    if a.confirm:
        k = min(a.confirm, len([j for j in jobs if not j["ablation"]]))
        extra = k * (2 * a.passes + a.eval_images * EVAL_COST)
        total += extra
        print(f"  + --confirm {a.confirm}: the best {k} re-run at {2 * a.passes:,} image passes (<name>@2x)")
    hours = total / rate / 3600
    print(f"estimate: {total:,.0f} image-pass equivalents (training + scoring at 1/3 each) ≈ {hours:.1f} CPU-core hours at {rate} img/s per core (AVX-512 "
          f"Xeon); ≈ {hours / max(1, a.parallel):.1f} h wall with --parallel {a.parallel} --threads {a.threads} "
          f"on {a.parallel * a.threads} free cores")


def collect(identity, jobs, out):
    """What is scored so far, training nothing → (grid_results, confirm_results): each configuration's
    result, or {status: "unfinished"} (a checkpoint exists) / {status: "not started"}; the confirmation
    runs (`<name>@2x`) that were started."""
    def state(j):
        res = out / "results" / f"{j['name']}.json"
        if res.is_file():
            return json.loads(res.read_text())
        return {**j, "status": "unfinished" if (out / "runs" / j["name"] / CKPT).is_file() else "not started"}

    grid_results = [state(j) for j in jobs]
    names = {j["name"] for j in jobs}
    confirm_results = []
    for run in sorted((out / "runs").glob("*@2x")):
        base = run.name[:-len("@2x")]
        if base in names:
            cj = dict(job(run.name, identity["grid"][base], 2 * identity["passes"], identity["model_config_base"]),
                      base=base)
            confirm_results.append(state(cj))
    return grid_results, confirm_results


def run_sweep(a, identity, jobs, out):
    grid_results = run_all(a, identity, jobs, out)
    confirm_results = []
    if a.confirm:
        done = [r for r in _rank(grid_results) if not r.get("ablation")]
        grid = identity["grid"]
        cjobs = [dict(job(f"{r['name']}@2x", grid[r["name"]], 2 * a.passes, identity["model_config_base"]),
                      base=r["name"]) for r in done[:a.confirm]]
        confirm_results = run_all(a, identity, cjobs, out)
    return grid_results, confirm_results


def main(argv=None):
    a = parser().parse_args(argv)
    out = Path(a.out)
    try:
        if a.passes < 1 or a.eval_images < 1 or a.parallel < 1 or a.threads < 1 or a.confirm < 0:
            raise SweepError("--passes, --eval-images, --parallel and --threads must be positive, --confirm ≥ 0")
        identity, jobs = plan(a)
        existed = check_out_dir(out, identity)  # read-only: a dry run checks the folder too
        if a.dry_run:
            print_plan(a, jobs)
            return 0
        if a.report and not existed:
            raise SweepError(f"--report: {out} holds no sweep ({IDENTITY}) to report on")
    except (SweepError, json.JSONDecodeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for sub in ("runs", "logs", "results"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    if not existed:
        atomic_write_json(out / IDENTITY, identity)
    if a.report:
        write_reports(out, identity, *collect(identity, jobs, out))
        print((out / "table.md").read_text())
        return 0
    print_plan(a, jobs)
    try:
        grid_results, confirm_results = run_sweep(a, identity, jobs, out)
    except KeyboardInterrupt:
        print("interrupted: re-run the same command to resume (scored configurations are kept)", file=sys.stderr)
        return 130
    best = write_reports(out, identity, grid_results, confirm_results)
    print((out / "table.md").read_text())
    if best:
        print(f"best: {recipe_name(best)} (lr {fmt_lr(best['lr'])}, batch {best['batch_size']}, "
              f"warm-up {best['warmup_frac']:g})" + (" — the best at 2× passes" if confirm_results else ""))
        print(f"to make it the cpu preset: in train/recipes.py set RECIPES['cpu']['{a.model}'] = "
              f"dict(lr={fmt_lr(best['lr'])}, batch_size={best['batch_size']}, warmup_frac={best['warmup_frac']!r}) "
              f"and cite {out / 'table.md'} in the comment above it")
    failed = [r for r in grid_results + confirm_results if r["status"] == "failed"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
