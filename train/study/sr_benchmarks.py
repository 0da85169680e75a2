"""Super-resolution on photos with real high-resolution content (Set5, Set14, BSD68): the notes' claim 7.

    python -m train.study.sr_benchmarks [--sr-dir ../shared/data/sr-benchmarks] [--sets Set5,Set14,BSD68]
                                        [--steps 200] [--out weights/eval] [--threads 1]

Each photo: centre square, resized to 256 (area when its side divides evenly, else antialiased
bilinear: train/eval/refine_photos.py); the input is its 32×32 area average; the reference at 128² (×4)
and 256² (×8) is the square at that size. Both bundled models render the input's latents, one pass
and after --steps of refinement (lainr.fit_latents, its defaults); bicubic of the input beside them.

Per photo and size: PSNR against the reference, and two numbers for "sharp" and "texture":
- hf_ratio: the render's energy above the input's Nyquist frequency (16 cycles per image side: detail
  the 32×32 input cannot hold) over the reference's. 1 = as much fine detail as the photo; bicubic ≪ 1
  (blur); noise > 1.
- hf_corr: the correlation of the render's and the reference's high-frequency parts (that band only):
  0 = detail unrelated to the photo's, 1 = the photo's own. Invented texture that matches scores > 0.
Evaluation only: nothing here is chosen on these photos. Writes OUT/sr_benchmarks.{json,md}.
"""
import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from lainr import fit_latents, psnr_per_image
from lainr.cpu_threads import set_cpu_threads

from ..eval.refine_photos import area, render_latents
from ..eval.stats import bootstrap_mean, paired_difference
from .study_folder import write_report

SETS = ("Set5", "Set14", "BSD68")
SIZES = (128, 256)
NYQUIST = 16  # cycles per image side of a 32×32 input
METHODS = ("bicubic", "simplified", "corrected", "simplified refined", "corrected refined")


def load_set(folder, size=256):
    """A folder of PNGs → (names, (P, 3, size, size) float in [0, 1])."""
    from PIL import Image
    files = sorted(Path(folder).glob("*.png"))
    if not files:
        raise FileNotFoundError(f"no PNG photos in {folder} (see ../shared/data/sr-benchmarks/README.md)")
    out = []
    for f in files:
        img = torch.from_numpy(np.asarray(Image.open(f).convert("RGB")).copy()).permute(2, 0, 1).float() / 255
        h, w = img.shape[1:]
        s = min(h, w)
        img = img[None, :, (h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]
        img = F.interpolate(img, size=(size, size), mode="area") if s % size == 0 else \
            F.interpolate(img, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        out.append(img[0])
    return [f.stem for f in files], torch.stack(out).clamp(0, 1)


def high_pass(x, cutoff=NYQUIST):
    """(P, 3, S, S) → the part above `cutoff` cycles per side (radial, in the 2-D spectrum), grey level."""
    grey = x.mean(1)  # (P, S, S)
    spec = torch.fft.fft2(grey - grey.mean((-2, -1), keepdim=True))
    f = torch.fft.fftfreq(x.shape[-1]) * x.shape[-1]
    radius = (f[:, None] ** 2 + f[None, :] ** 2).sqrt()
    return torch.fft.ifft2(spec * (radius > cutoff)).real  # (P, S, S)


def detail_scores(render, ref):
    """→ hf_ratio (P,), hf_corr (P,) of renders against references (P, 3, S, S)."""
    hr, hf = high_pass(render).flatten(1), high_pass(ref).flatten(1)
    ratio = hr.pow(2).sum(1) / hf.pow(2).sum(1).clamp_min(1e-12)
    corr = (hr * hf).sum(1) / (hr.norm(dim=1) * hf.norm(dim=1)).clamp_min(1e-12)
    return ratio, corr


def renders(models, lo, steps, size):
    """{method: (P, 3, size, size)} for one set at one size (latents computed once per model)."""
    out = {"bicubic": F.interpolate(lo, size=(size, size), mode="bicubic", align_corners=False).clamp(0, 1)}
    for name, (model, z0, z1) in models.items():
        with torch.no_grad():
            out[name] = render_latents(model, z0, size)
            out[f"{name} refined"] = render_latents(model, z1, size)
    return out


def measure_set(weights, folder, steps):
    names, hi = load_set(folder)
    lo = area(hi, 32)
    models = {}
    for name, model in weights.items():
        with torch.no_grad():
            z0 = model.encode(lo)
        z1 = fit_latents(model, lo, steps=steps).latents.detach()
        models[name] = (model, z0, z1)
    per = {}
    for size in SIZES:
        ref = area(hi, size)
        for method, img in renders(models, lo, steps, size).items():
            ratio, corr = detail_scores(img, ref)
            per[f"{method}@{size}"] = {"psnr": psnr_per_image(img, ref).numpy(), "hf_ratio": ratio.numpy(),
                                       "hf_corr": corr.numpy()}
    return names, per


def summarise(per):
    """Means with intervals over photos; paired corrected − simplified and corrected − bicubic."""
    out = {}
    for size in SIZES:
        for method in METHODS:
            out[f"{method}@{size}"] = {k: bootstrap_mean(v).as_dict() for k, v in per[f"{method}@{size}"].items()}
        for a, b in (("corrected", "simplified"), ("corrected refined", "simplified refined"),
                     ("corrected", "bicubic"), ("corrected refined", "bicubic")):
            out[f"{a} − {b}@{size}"] = {k: paired_difference(per[f"{a}@{size}"][k], per[f"{b}@{size}"][k]).as_dict()
                                        for k in ("psnr", "hf_ratio", "hf_corr")}
    return out


def table_md(result):
    lines = [f"Super-resolution of real photos from their 32×32 area average (bundled weights, refinement "
             f"{result['steps']} steps). Mean over photos [95 % bootstrap interval over photos]. hf_ratio: "
             "energy above the input's Nyquist frequency, render / photo (1 = as detailed as the photo); hf_corr: "
             "correlation of that band with the photo's (0 = unrelated detail). Evaluation only.", ""]
    for s in result["sets"]:
        summ = result["summary"][s]
        lines += [f"### {s} (n = {result['n'][s]})", "",
                  "| method | PSNR 128² | hf_ratio 128² | hf_corr 128² | PSNR 256² | hf_ratio 256² | hf_corr 256² |",
                  "|---|---|---|---|---|---|---|"]
        for m in METHODS + ("corrected − simplified", "corrected refined − simplified refined",
                            "corrected − bicubic", "corrected refined − bicubic"):
            sign = "−" in m
            cells = []
            for size in SIZES:
                e = summ[f"{m}@{size}"]
                for k, nd in (("psnr", 2), ("hf_ratio", 2), ("hf_corr", 3)):
                    f = f"{{:{'+' if sign else ''}.{nd}f}}"
                    cells.append(f"{f.format(e[k]['mean'])} [{f.format(e[k]['low'])}, {f.format(e[k]['high'])}]")
            lines.append(f"| {m} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m train.study.sr_benchmarks", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sr-dir", default="../shared/data/sr-benchmarks")
    p.add_argument("--sets", default=",".join(SETS))
    p.add_argument("--weights-dir", default="weights")
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--out", default="weights/eval")
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args(argv)
    from ..eval.evaluate import load_weights
    set_cpu_threads(a.threads)
    sets = [s.strip() for s in a.sets.split(",") if s.strip()]
    missing = [s for s in sets if not (Path(a.sr_dir) / s).is_dir()]
    if missing:
        print(f"error: no folder {', '.join(missing)} in {a.sr_dir}", file=sys.stderr)
        return 2
    weights = {m: load_weights(Path(a.weights_dir) / m) for m in ("simplified", "corrected")}
    result = {"steps": a.steps, "sets": sets, "n": {}, "photos": {}, "summary": {}, "per_photo": {},
              "command": "python -m train.study.sr_benchmarks " + " ".join(argv or sys.argv[1:]),
              "generated": time.strftime("%Y-%m-%d")}
    for s in sets:
        t0 = time.time()
        names, per = measure_set(weights, Path(a.sr_dir) / s, a.steps)
        result["n"][s], result["photos"][s] = len(names), names
        result["summary"][s] = summarise(per)
        result["per_photo"][s] = {k: {m: v.round(4).tolist() for m, v in d.items()} for k, d in per.items()}
        print(f"{s}: {len(names)} photos in {time.time() - t0:.0f} s", file=sys.stderr)
    write_report(a.out, "sr_benchmarks", result, table_md(result))
    print(table_md(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
