"""Evaluation of test-time refinement (issue 22, parts 3–4): `python -m train.eval.evaluate ... --refine-steps 0,10,50,200,1000`.

For each weights set, with lainr.REFINE_DEFAULTS (optimiser, lr, schedule, σ) and `fit_latents(steps=s)`:
- test PSNR / SSIM at 32×32 per step count s on `images` test images (the evaluation's seeded subset,
  train.eval.validate.val_indices), s > `long_from` on the first `long_images` of them only;
- the jitter row (queries + N(0, σ²), σ = 0.005 / 0.01 / 0.02, target = the pixel) one-pass and after
  the default step count;
- off-grid (part 4): the 128² render area-downsampled back to 32 against the input, one-pass and after
  each step count;
- SR ×2 / ×4 / ×8 against bicubic on the test photos (train.eval.refine_photos.TEST_PHOTOS) per step count;
- seconds per image (in batches of `batch`) and 200 steps of one image (both models), CPU model beside it.
Every figure is a mean over images with its 95 % bootstrap interval (train.eval.stats.bootstrap_mean).

Long: work is done in chunks of test images and saved to OUT/refine_partial.json after each chunk; a
rerun with the same arguments resumes. OUT/refine.{json,md,png} are rewritten from what is done.
"""
import json
import time
from pathlib import Path

import torch
from einops import rearrange

from lainr import REFINE_DEFAULTS, psnr_per_image, ssim_per_image
from lainr.refine import PREFIX_CONSISTENT

from ..atomic import atomic_write
from ..data import to_float
from ..figure import save_log_x
from .refine_photos import SR_FACTORS, TEST_PHOTOS, area, load_photos, render_latents, sr_psnr
from .stats import bootstrap_mean
from ..hardware import cpu_description
from .validate import val_indices

JITTER = (0.005, 0.01, 0.02)
OFF_GRID_SIZE = 128
# What the seconds were measured with: chunks timed under another TIMING are left out of the s / image
# figures (their PSNR values stand: flushing denormals changes no figure).
TIMING = "fit_latents with denormals flushed (lainr.denormals)"


def parse_steps(text):
    """'0,10,50,200,1000' → sorted unique ints in 0..1000; ValueError otherwise."""
    try:
        steps = sorted({int(s) for s in str(text).split(",") if s.strip()})
    except ValueError as err:
        raise ValueError(f"--refine-steps must be comma-separated integers, got {text!r}") from err
    if not steps or steps[0] < 0 or steps[-1] > 1000:
        raise ValueError(f"--refine-steps must be integers in 0..1000, got {text!r}")
    return steps


def latents_at(model, x, steps, seed=0):
    """{s: (latents (B, m, d), seconds)} for each s: one fit_latents(steps=s) run each; with a schedule
    that does not depend on the run's length (constant, warmup) the longer run's snapshots are the
    shorter runs (identical by construction)."""
    out = {}
    if REFINE_DEFAULTS.schedule in PREFIX_CONSISTENT and steps:
        r = model.fit_latents(x, steps=max(steps), seed=seed, snapshots=steps)
        per_step = r.seconds / max(max(steps), 1)
        return {s: (r.snapshots[s], per_step * s) for s in steps}
    for s in steps:
        r = model.fit_latents(x, steps=s, seed=seed)
        out[s] = (r.latents, r.seconds)
    return out


def _grid32(model, latents, sigma=0.0, generator=None):
    coords = model.query_grid(latents.shape[0], 32, sigma=sigma, generator=generator)
    with torch.no_grad():
        rgb = model.decode(latents, coords).clamp(0, 1)
    return rearrange(rgb, "b (h w) c -> b c h w", h=32)


def score_chunk(model, x, steps, default_steps):
    """Per-image figures of one chunk of test images x (B, 3, 32, 32) → dict of lists."""
    res = {"psnr": {}, "ssim": {}, "seconds": {}, "off_grid": {}, "jitter": {}}
    for s, (lat, sec) in latents_at(model, x, steps).items():
        rec = _grid32(model, lat)
        res["psnr"][str(s)] = psnr_per_image(rec, x).tolist()
        res["ssim"][str(s)] = ssim_per_image(rec, x).tolist()
        res["seconds"][str(s)] = sec / len(x)
        down = area(render_latents(model, lat, OFF_GRID_SIZE), 32)
        res["off_grid"][str(s)] = psnr_per_image(down, x).tolist()
        if s in (0, default_steps):
            row = {}
            for sigma in JITTER:
                g = torch.Generator().manual_seed(0)
                j = _grid32(model, lat, sigma, g)
                row[str(sigma)] = {"psnr": psnr_per_image(j, x).tolist(), "ssim": ssim_per_image(j, x).tolist()}
            res["jitter"][str(s)] = row
    return res


def photos_scores(model, steps):
    """SR ×k vs bicubic on the test photos per step count → {s: {k: {"model": [..], "bicubic": [..]}}}."""
    hi = load_photos(TEST_PHOTOS, 32 * max(SR_FACTORS))
    x = area(hi, 32)
    out = {}
    for s, (lat, _) in latents_at(model, x, steps).items():
        out[str(s)] = {"psnr32": psnr_per_image(_grid32(model, lat), x).tolist(),
                       **{str(k): {m: v.tolist() for m, v in d.items()} for k, d in sr_psnr(model, lat, hi).items()}}
    return out


def one_image_seconds(models, steps=200):
    """Wall seconds of fit_latents(steps) for one CIFAR-sized image per model (after one warm-up call)."""
    x = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    out = {}
    for label, model in models.items():
        model.fit_latents(x, steps=3)
        out[label] = model.fit_latents(x, steps=steps).seconds
    return out


def _merge(done, chunk):
    """Append one chunk's per-image lists to the running totals (same nested keys)."""
    for key, value in chunk.items():
        if isinstance(value, dict):
            _merge(done.setdefault(key, {}), value)
        elif isinstance(value, list):
            done.setdefault(key, []).extend(value)
        else:
            done.setdefault(key, []).append(value)


def run(models, test, out, steps, *, images=1000, long_images=100, long_from=200, batch=10, threads=None, log=print):
    """models {label: model}, test split → writes OUT/refine.{json,md,png}; resumes from OUT/refine_partial.json."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    partial_path = out / "refine_partial.json"
    idx = val_indices(len(test.images), images)
    short = [s for s in steps if s <= long_from]
    long = [s for s in steps if s > long_from]
    default_steps = REFINE_DEFAULTS.steps if REFINE_DEFAULTS.steps in steps else max(short)
    plan = dict(steps=steps, images=len(idx), long_images=min(long_images, len(idx)) if long else 0,
                long_steps=long, batch=batch, defaults=REFINE_DEFAULTS.__dict__)
    state = json.loads(partial_path.read_text()) if partial_path.is_file() else {}
    if state.get("plan") != plan:
        state = {"plan": plan, "chunks_done": 0, "models": {}}
    if "photos" not in state:
        state["photos"] = {label: photos_scores(m, steps) for label, m in models.items()}
    if state.get("timing") != TIMING:  # timed by an older library (or new): time again from here on
        state.update(timing=TIMING, timing_from_chunk=state["chunks_done"],
                     one_image_200_steps_s=one_image_seconds(models))
        atomic_write(partial_path, json.dumps(state))  # the resume point: never half-written
    n_long = plan["long_images"]
    chunks = [(part, True) for part in idx[:n_long].split(batch) if len(part)] + \
             [(part, False) for part in idx[n_long:].split(batch) if len(part)]  # long step counts: first n_long only
    for c in range(state["chunks_done"], len(chunks)):
        t = time.time()
        part, in_long = chunks[c]
        x = to_float(test.images[part])
        for label, model in models.items():
            res = score_chunk(model, x, short + (long if in_long else []), default_steps)
            _merge(state["models"].setdefault(label, {}), res)
        state["chunks_done"] = c + 1
        atomic_write(partial_path, json.dumps(state))  # the resume point: never half-written
        write_results(state, out, threads)
        log(f"refine eval: chunk {c + 1}/{len(chunks)} ({len(part)} images, long steps: {in_long}) "
            f"in {time.time() - t:.0f} s")
    return write_results(state, out, threads)


def run_cli(args, load_weights, label):
    """The `--refine-*` flags of train.eval.evaluate → run(); prints the Markdown table."""
    from ..data import load_split
    steps = parse_steps(args.refine_steps)
    models = {label(w): load_weights(w, args.device) for w in args.weights}
    test = load_split(args.data, "test", data_root=args.data_root, cache_dir=args.cache_dir or None)
    summary = run(models, test, args.out, steps, images=args.refine_images, long_images=args.refine_long_images,
                  threads=args.threads or None, log=lambda msg: print(msg, flush=True))
    print(markdown(summary))


def _timed(seconds, from_chunk):
    """Per-chunk seconds → (mean, chunks used): the chunks timed by the current library, else all."""
    used = seconds[from_chunk:] or seconds
    return sum(used) / len(used), len(used)


def _est(values):
    return bootstrap_mean(values).as_dict() if values else None


def summarise(state, threads=None):
    """The per-image lists of the partial state → refine.json's content (estimates only)."""
    plan = state["plan"]
    out = {"cpu": cpu_description(), "threads": threads, "defaults": plan["defaults"], "plan": plan,
           "images_done": 0, "one_image_200_steps_s": state.get("one_image_200_steps_s"), "models": {}}
    for label, r in state["models"].items():
        m = {"steps": {}, "jitter": {}, "photos": {}}
        for s, values in r["psnr"].items():
            seconds, timed_chunks = _timed(r["seconds"][s], state.get("timing_from_chunk", 0))
            m["steps"][s] = {"psnr": _est(values), "ssim": _est(r["ssim"][s]), "off_grid_psnr": _est(r["off_grid"][s]),
                             "seconds_per_image": seconds, "timed_chunks": timed_chunks,
                             "timed_with_current_library": len(r["seconds"][s]) > state.get("timing_from_chunk", 0)}
        for s, row in r["jitter"].items():
            m["jitter"][s] = {sigma: {"psnr": _est(v["psnr"]), "ssim": _est(v["ssim"])} for sigma, v in row.items()}
        out["images_done"] = max(out["images_done"], len(r["psnr"].get("0", [])))
        out["models"][label] = m
    for label, by_step in state.get("photos", {}).items():
        out["models"].setdefault(label, {"steps": {}, "jitter": {}, "photos": {}})["photos"] = {
            s: {"psnr32": _est(d["psnr32"]),
                **{k: {"model": _est(d[k]["model"]), "bicubic": _est(d[k]["bicubic"])} for k in map(str, SR_FACTORS)}}
            for s, d in by_step.items()}
    return out


def _cell(e, nd=2):
    return "–" if e is None else f"{e['mean']:.{nd}f} [{e['low']:.{nd}f}, {e['high']:.{nd}f}]"


def markdown(summary):
    d = summary["defaults"]
    plan = summary["plan"]
    lines = [f"# Test-time refinement: evaluation\n",
             f"Refinement: `fit_latents` with the defaults ({d['optimizer']}, {d['schedule']} lr {d['lr']}, "
             f"σ {d['sigma']}), decoder frozen; one run of `steps=s` per step count. CIFAR-10 test split: "
             f"{summary['images_done']:,} of the {plan['images']:,} planned images (seeded subset); "
             f"{', '.join(map(str, plan['long_steps'])) or '–'} steps on the first {plan['long_images']:,} of them. "
             f"Mean [95 % bootstrap interval] (n = images). CPU: {summary['cpu']}, {summary['threads']} torch "
             f"thread(s); seconds per image are in batches of {plan['batch']}, timed by {TIMING}"
             + (" except where marked *" if any(not r.get("timed_with_current_library", True)
                                              for m in summary["models"].values() for r in m["steps"].values()) else "")
             + ".\n"]
    one = summary.get("one_image_200_steps_s") or {}
    if one:
        lines.append("200 steps of one image: " + ", ".join(f"{k} {v:.2f} s" for k, v in one.items())
                     + f" (sum {sum(one.values()):.2f} s).\n")
    lines += ["| weights | steps | n | PSNR (dB) | SSIM | 128² render ↓32 vs input (dB) | s / image |",
              "|---|---|---|---|---|---|---|"]
    for label, m in summary["models"].items():
        for s, r in sorted(m["steps"].items(), key=lambda kv: int(kv[0])):
            lines.append(f"| {label} | {s} | {r['psnr']['n']:,} | {_cell(r['psnr'])} | {_cell(r['ssim'], 4)} | "
                         f"{_cell(r['off_grid_psnr'])} | {r['seconds_per_image']:.2f}"
                         f"{'' if r.get('timed_with_current_library', True) else ' *'} |")
    lines += ["\n**Jitter** (queries + N(0, σ²), PSNR dB against the pixel):\n",
              "| weights | steps | " + " | ".join(f"σ = {s}" for s in JITTER) + " |", "|---" * (2 + len(JITTER)) + "|"]
    for label, m in summary["models"].items():
        for s, row in sorted(m["jitter"].items(), key=lambda kv: int(kv[0])):
            lines.append(f"| {label} | {s} | " + " | ".join(_cell(row[str(sig)]["psnr"]) for sig in JITTER) + " |")
    lines += [f"\n**Super-resolution on photos** ({', '.join(TEST_PHOTOS)}; test set, not used to choose anything): "
              "PSNR (dB) model / bicubic against the photo at 32·k\n",
              "| weights | steps | 32×32 fit | " + " | ".join(f"×{k}" for k in SR_FACTORS) + " |",
              "|---" * (3 + len(SR_FACTORS)) + "|"]
    for label, m in summary["models"].items():
        for s, r in sorted(m["photos"].items(), key=lambda kv: int(kv[0])):
            lines.append(f"| {label} | {s} | {r['psnr32']['mean']:.2f} | " + " | ".join(
                f"{r[str(k)]['model']['mean']:.2f} / {r[str(k)]['bicubic']['mean']:.2f}" for k in SR_FACTORS) + " |")
    return "\n".join(lines) + "\n"


def figure(summary, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for label, m in summary["models"].items():
        rows = sorted(((int(s), r["psnr"]) for s, r in m["steps"].items()), key=lambda t: t[0])
        xs = [max(s, 1) for s, _ in rows]
        ax.plot(xs, [e["mean"] for _, e in rows], "o-", label=label)
        ax.fill_between(xs, [e["low"] for _, e in rows], [e["high"] for _, e in rows], alpha=0.25)
    save_log_x(fig, ax, path, "refinement steps (0 plotted at 1)", "test PSNR at 32×32 (dB)", dpi=100)


def write_results(state, out, threads=None):
    summary = summarise(state, threads)
    if not summary["models"]:
        return summary
    atomic_write(out / "refine.json", json.dumps(summary, indent=1) + "\n")
    atomic_write(out / "refine.md", markdown(summary))
    if any(m["steps"] for m in summary["models"].values()):
        figure(summary, out / "refine.png")
    return summary
