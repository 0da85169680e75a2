"""Refinement that matches how a photo's input was made: fit pixel *areas* (fit_latents(area=K)), for SR.

    python -m train.study.area_refine [--sr-dir ../shared/data/sr-benchmarks]
                                      [--settings 1:0,2:0,2:0.01,2:0.03,4:0]
                                      [--steps 50,100,200,300] [--val-photos 12] [--out train/results]

A photo's 32×32 input is an area average, yet the default refinement fits the field's value at each
pixel centre. This study fits the mean of K×K sub-pixel samples instead, with the bundled corrected
model, optionally with a smoothness term (fit_latents(smooth=λ): neighbouring sub-pixel samples' squared
differences), and scores SR ×4 (128²) against the photo (train/study/sr_benchmarks.py's protocol, bicubic
beside). --settings lists K:λ pairs. K, λ and the step count are chosen on VALIDATION photos (every n-th
of BSD68, never reported as results); the chosen setting is then run once on the REPORT photos (Set5 and
Set14) beside K = 1, λ = 0 (today's default).
Writes OUT/area_refine.{json,md}.
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from lainr import fit_latents, psnr_per_image
from lainr.cpu_threads import set_cpu_threads
from lainr.refine import check_area

from ..eval.refine_photos import area, render_latents
from ..eval.stats import bootstrap_mean, paired_difference, signed
from ..portable import portable_command
from ..hardware import cpu_model
from .sr_benchmarks import load_set
from .study_folder import write_report

SIZE = 128  # SR ×4


def sr_curve(model, hi, k, smooth, steps):
    """→ {step: PSNR (P,) of the SR ×4 render vs the photo} at each of `steps`, and the seconds taken."""
    lo, ref = area(hi, 32), area(hi, SIZE)
    t0 = time.time()
    res = fit_latents(model, lo, steps=max(steps), area=k, smooth=smooth, snapshots=tuple(steps))
    with torch.no_grad():
        out = {s: psnr_per_image(render_latents(model, res.snapshots[s], SIZE), ref).numpy() for s in steps}
    return out, time.time() - t0


def bicubic(hi):
    lo, ref = area(hi, 32), area(hi, SIZE)
    return psnr_per_image(F.interpolate(lo, size=(SIZE, SIZE), mode="bicubic", align_corners=False).clamp(0, 1),
                          ref).numpy()


def validation_photos(sr_dir, every):
    names, hi = load_set(Path(sr_dir) / "BSD68")
    pick = list(range(0, len(names), every))
    return [names[i] for i in pick], hi[pick]


def report_photos(sr_dir):
    parts = [load_set(Path(sr_dir) / s) for s in ("Set5", "Set14")]
    return [f"{s}/{n}" for s, (names, _) in zip(("Set5", "Set14"), parts) for n in names], \
        torch.cat([hi for _, hi in parts])


def parse_settings(text):
    """"1:0,2:0.03" → [(1, 0.0), (2, 0.03)]: K sub-pixel samples per side and smoothness weight λ."""
    try:
        pairs = [(int(k), float(lam)) for k, lam in (item.split(":") for item in text.split(","))]
    except ValueError:
        raise SystemExit(f"--settings {text!r}: expected K:λ pairs such as 1:0,2:0.03") from None
    for k, lam in pairs:  # fit_latents' own checks, before any photo is refined
        try:
            check_area(k, 0.0, lam)
        except ValueError as err:
            raise SystemExit(f"--settings {text!r}: {err}") from None
    return pairs


def study(model, hi, settings, steps):
    bic = bicubic(hi)
    rows = {}
    for k, lam in settings:
        curve, sec = sr_curve(model, hi, k, lam, steps)
        for s, v in curve.items():
            rows[f"K{k}-s{lam:g}@{s}"] = {"area": k, "smooth": lam, "steps": s, "psnr": bootstrap_mean(v).as_dict(),
                                          "minus_bicubic": paired_difference(v, bic).as_dict(),
                                          "values": v.round(3).tolist()}
        rows[f"K{k}-s{lam:g}@{max(steps)}"]["seconds"] = sec
        print(f"K = {k}, λ = {lam:g}: {sec:.0f} s, SR ×4 at {max(steps)} steps {curve[max(steps)].mean():.2f} dB "
              f"(bicubic {bic.mean():.2f})", file=sys.stderr, flush=True)
    return {"bicubic": bootstrap_mean(bic).as_dict(), "rows": rows}


def markdown(r):
    def f(e, sign=False):
        g = signed if sign else (lambda x: f"{x:.2f}")  # noqa: E731
        return f"{g(e['mean'])} [{g(e['low'])}, {g(e['high'])}]"

    lines = ["SR ×4 (128²) of photos from their 32×32 area average after refinement of the bundled corrected "
             "model's latents; fit_latents(area=K, smooth=λ): each input pixel fitted as the mean of K×K sub-pixel "
             "samples (K = 1: the pixel centre, today's default), plus λ × the squared differences of neighbouring "
             "sub-pixel samples. Mean PSNR vs the photo [95 % interval over photos]; seconds on one CPU "
             f"({r['cpu']}, {r['threads']} threads).", ""]
    for part, title in (("validation", f"Validation: {r['validation']['n']} BSD68 photos (choices made here)"),
                        ("report", f"Report: Set5 + Set14, {r['report']['n']} photos (the chosen setting, once)")):
        block = r[part]
        lines += [f"### {title}", "", f"bicubic {f(block['bicubic'])} dB", "",
                  "| K | λ | steps | PSNR (dB) | − bicubic (paired, dB) | seconds (all photos) |", "|---|---|---|---|---|---|"]
        lines += [f"| {row['area']} | {row['smooth']:g} | {row['steps']} | {f(row['psnr'])} | "
                  f"{f(row['minus_bicubic'], sign=True)} | "
                  + (f"{row['seconds']:.0f} |" if "seconds" in row else " |") for row in block["rows"].values()]
        lines.append("")
    c = r["chosen"]
    lines.append(f"Chosen on validation: K = {c['area']}, λ = {c['smooth']:g}, {c['steps']} steps (the highest mean PSNR).")
    return "\n".join(lines) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m train.study.area_refine", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sr-dir", default="../shared/data/sr-benchmarks")
    p.add_argument("--weights", default="weights/corrected")
    p.add_argument("--settings", default="1:0,2:0,2:0.01,2:0.03,4:0",
                   help="K:λ pairs: K×K sub-pixel samples per pixel, smoothness weight λ (λ > 0 needs K > 1)")
    p.add_argument("--steps", default="50,100,200,300")
    p.add_argument("--val-photos", type=int, default=12, help="validation photos: every n-th of BSD68's 68 to this many")
    p.add_argument("--out", default="train/results")
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args(argv)
    from ..eval.evaluate import load_weights
    set_cpu_threads(a.threads)
    settings = parse_settings(a.settings)
    steps = [int(x) for x in a.steps.split(",")]
    model = load_weights(a.weights)
    names, hi = validation_photos(a.sr_dir, max(1, 68 // a.val_photos))
    val = {"n": len(names), "photos": names, **study(model, hi, settings, steps)}
    best = max(val["rows"].values(), key=lambda r: r["psnr"]["mean"])
    chosen = {"area": best["area"], "smooth": best["smooth"], "steps": best["steps"]}
    rep_names, rep_hi = report_photos(a.sr_dir)
    rep_settings = sorted({(1, 0.0), (chosen["area"], chosen["smooth"])})
    rep = {"n": len(rep_names), "photos": rep_names, **study(model, rep_hi, rep_settings, [chosen["steps"]])}
    result = {"validation": val, "report": rep, "chosen": chosen, "generated": time.strftime("%Y-%m-%d"),
              "cpu": cpu_model(), "threads": a.threads,
              "command": portable_command("train.study.area_refine", argv or sys.argv[1:])}
    write_report(a.out, "area_refine", result, markdown(result))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
