"""Score a model pair trained on photos at an N×N input → EVAL/figures.json (what the page shows), EVAL/photo_pair.md
and EVAL/per_image.npz.

    python -m train.eval.photo_pair --pair weights/photos64 --data data/photos --out weights/photos64/eval \\
        [--sr-dir ../shared/data/sr-benchmarks] [--factors 2,3,4,8] [--steps 200] [--area 1] [--limit N] [--threads 2]

PAIR holds `simplified/` and/or `corrected/` (Hub format, the same image_size). Sets: the collection's **test**
split (`DATA/test/`, never read in training; `--split val` scores `DATA/val/` instead, for choices) and, with
--sr-dir, Set5, Set14 and BSD68 (evaluation only). Each
photo gives one N×N input and references at N·k (train/eval/photo_sets.py); per photo and factor the PSNR of
- bicubic up-sampling of the input (align_corners False, clamped),
- each model's render at N·k from one encoder pass, and after --steps of test-time refinement of the latents
  (lainr.fit_latents with its defaults and area=K) — "<model> refined";
and on the collection's split the reconstruction of the N×N input itself beside the thumbnail baselines (the input
area-reduced to N/8, N/4, N/2 and brought back by bicubic). Every figure: the mean with its 95 % bootstrap
interval over photos; comparisons: paired differences on the same photos. Nothing is chosen on these photos.
"""
import argparse
from dataclasses import asdict
import datetime
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from lainr import CorrectedGINR, SimplifiedGINR, fit_latents, psnr_per_image
from lainr.cpu_threads import set_cpu_threads

from ..atomic import atomic_write, atomic_write_json
from ..hardware import cpu_model
from ..portable import portable_command
from .photo_sets import area, load_photo_set
from .refine_photos import render_latents
from .stats import bootstrap_mean, paired_difference

MODELS = {"simplified": SimplifiedGINR, "corrected": CorrectedGINR}
SR_SETS = ("Set5", "Set14", "BSD68")
DIFFS = (("corrected", "bicubic"), ("corrected refined", "bicubic"), ("corrected", "simplified"),
         ("corrected refined", "simplified refined"), ("corrected refined", "corrected"))
THUMB_DIVISORS = (8, 4, 2)
COLLECTION_MANIFEST = Path(__file__).resolve().parents[1] / "photos" / "manifest.json"


def load_pair(pair):
    """PAIR/{simplified,corrected} → {name: model (eval, float32)}; at least one; the same image_size."""
    pair = Path(pair)
    models = {n: cls.from_pretrained(pair / n).eval() for n, cls in MODELS.items() if (pair / n / "config.json").is_file()}
    if not models:
        raise FileNotFoundError(f"{pair}: neither simplified/ nor corrected/ holds a config.json")
    sizes = {m.config.image_size for m in models.values()}
    if len(sizes) != 1:
        raise ValueError(f"{pair}: the models take different input sizes {sorted(sizes)}")
    return models, sizes.pop()


def latents_of(model, inputs, steps, area_k, batch, log):
    """inputs (P, 3, N, N) → (one-pass latents, refined latents or None), in batches."""
    one, refined = [], []
    for start in range(0, len(inputs), batch):
        x = inputs[start:start + batch]
        with torch.no_grad():
            z = model.encode(x)
        one.append(z)
        if steps:
            refined.append(fit_latents(model, x, steps=steps, area=area_k, latents=z).latents)
        log(f"{start + len(x)}/{len(inputs)}")
    return torch.cat(one), (torch.cat(refined) if steps else None)


def bicubic(x, side):
    return F.interpolate(x, size=(side, side), mode="bicubic", align_corners=False).clamp(0, 1)


def score_set(photo_set, models, latents, factors):
    """→ {"x{k}": {method: (n,) PSNR}, "input": {method: (P,)}} for the photos of each factor."""
    n_side = photo_set.size
    per = {}
    for k in factors:
        idx = photo_set.factor_members(k)
        if not idx:
            continue
        side = n_side * k
        refs = torch.stack([photo_set.reference(i, k) for i in idx])
        rows = {"bicubic": psnr_per_image(bicubic(photo_set.inputs[idx], side), refs)}
        for name, (one, refined) in latents.items():
            rows[name] = psnr_per_image(render_latents(models[name], one[idx], side), refs)
            if refined is not None:
                rows[f"{name} refined"] = psnr_per_image(render_latents(models[name], refined[idx], side), refs)
        per[f"x{k}"] = {m: v.numpy().astype(np.float64) for m, v in rows.items()}
    x = photo_set.inputs
    rows = {f"thumbnail {n_side // d}×{n_side // d}": psnr_per_image(bicubic(area(x, n_side // d), n_side), x)
            for d in THUMB_DIVISORS}
    for name, (one, refined) in latents.items():
        rows[name] = psnr_per_image(render_latents(models[name], one, n_side), x)
        if refined is not None:
            rows[f"{name} refined"] = psnr_per_image(render_latents(models[name], refined, n_side), x)
    per["input"] = {m: v.numpy().astype(np.float64) for m, v in rows.items()}
    return per


def summarise(rows):
    """{method: (n,)} → {"n", "rows": {method: {mean, low, high, n}}, "diffs": {"a − b": …}} (n ≥ 2 for intervals)."""
    n = len(next(iter(rows.values())))
    out = {"n": n, "rows": {}, "diffs": {}}
    if n < 2:
        return out
    out["rows"] = {m: bootstrap_mean(v).as_dict() for m, v in rows.items()}
    for a, b in DIFFS:
        if a in rows and b in rows:
            out["diffs"][f"{a} − {b}"] = paired_difference(rows[a], rows[b]).as_dict()
    return out


def data_facts(manifest=COLLECTION_MANIFEST):
    m = json.loads(Path(manifest).read_text())
    src = m["source"]
    return {"name": m.get("name", ""), "licence": m["licence"]["spdx"],
            "source": f"github {src['repository']} @{src['commit'][:8]}", "counts": m.get("counts", {})}


def table(fig):
    """figures.json → Markdown."""
    lines = [f"# Photo pair `{fig['pair']}` at {fig['input_size']}×{fig['input_size']}: evaluation", "",
             f"`{fig['command']}` — {fig['generated']}, {fig['cpu']}. Refinement: {fig['refine']['steps']} steps, "
             f"area K = {fig['refine']['area']}. Mean PSNR (dB) with its 95 % bootstrap interval over photos; "
             f"differences paired on the same photos.", ""]
    inp = fig["test"]
    if inp and inp["rows"]:
        lines += [f"## Reconstructing the {fig['input_size']}×{fig['input_size']} input ({fig['split']} split, "
                  f"n = {inp['n']})", "",
                  "| method | PSNR |", "|---|---|"]
        lines += [f"| {m} | {e['mean']:.2f} [{e['low']:.2f}, {e['high']:.2f}] |" for m, e in inp["rows"].items()]
        lines.append("")
    for fk, sets in fig["sr"].items():
        lines += [f"## Up-sampling {fk.replace('x', '×')}", ""]
        for set_name, s in sets.items():
            if not s["rows"]:
                lines += [f"- {set_name}: n = {s['n']} (too few photos large enough)", ""]
                continue
            lines += [f"**{set_name}** (n = {s['n']})", "", "| method | PSNR |", "|---|---|"]
            lines += [f"| {m} | {e['mean']:.2f} [{e['low']:.2f}, {e['high']:.2f}] |" for m, e in s["rows"].items()]
            lines += [f"| {d} | {e['mean']:+.2f} [{e['low']:+.2f}, {e['high']:+.2f}] |" for d, e in s["diffs"].items()]
            lines.append("")
    return "\n".join(lines) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pair", required=True, help="folder with simplified/ and/or corrected/ (Hub format)")
    p.add_argument("--data", required=True, help="the prepared collection (its test/ is scored)")
    p.add_argument("--out", required=True)
    p.add_argument("--split", choices=["test", "val"], default="test",
                   help="the collection's split to score (val: for choices, e.g. between pilots; test: the report)")
    p.add_argument("--sr-dir", default="", help="folder with Set5/, Set14/, BSD68/ (evaluation only)")
    p.add_argument("--factors", default="2,3,4,8")
    p.add_argument("--steps", type=int, default=200, help="refinement steps (0: one pass only)")
    p.add_argument("--area", type=int, default=1, help="fit_latents(area=K): each input pixel as a K×K mean")
    p.add_argument("--limit", type=int, default=0, help="first N photos of each set (a dry run)")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--manifest", default=str(COLLECTION_MANIFEST), help="the collection's manifest (licence, source)")
    a = p.parse_args(argv)
    if a.threads:
        set_cpu_threads(a.threads)
    torch.manual_seed(0)
    try:
        factors = sorted({int(f) for f in a.factors.split(",")})
        if not factors or min(factors) < 2:
            raise ValueError("factors must be integers ≥ 2")
        models, size = load_pair(a.pair)
        sets = [load_photo_set(Path(a.data) / a.split, size, factors, f"{a.split} split", a.limit)]
        if a.sr_dir:
            sets += [load_photo_set(Path(a.sr_dir) / s, size, factors, s, a.limit) for s in SR_SETS]
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    per_set, arrays = {}, {}
    for s in sets:
        latents = {}
        for name, model in models.items():
            latents[name] = latents_of(model, s.inputs, a.steps, a.area, a.batch,
                                       lambda msg, s=s, name=name: print(f"{s.name} {name}: {msg}", file=sys.stderr))
        per_set[s.name] = score_set(s, models, latents, factors)
        for block, rows in per_set[s.name].items():
            for m, v in rows.items():
                arrays[f"{s.name}/{block}/{m}"] = v
    sr = {f"x{k}": {s.name: summarise(per_set[s.name][f"x{k}"]) for s in sets if f"x{k}" in per_set[s.name]}
          for k in factors}
    fig = {
        "pair": Path(a.pair).name, "input_size": size,
        "command": portable_command("train.eval.photo_pair", argv if argv is not None else sys.argv[1:]),
        "generated": datetime.date.today().isoformat(), "cpu": f"{cpu_model()} ({platform.machine()})",
        "seconds": round(time.perf_counter() - t0, 1),
        "data": data_facts(a.manifest),
        "models": {n: {"params": sum(q.numel() for q in m.parameters()), "config": asdict(m.config)}
                   for n, m in models.items()},
        "refine": {"steps": a.steps, "area": a.area},
        "split": a.split,  # the collection's split that "test" holds
        # the split at the N×N input (reconstruction; factor 1), as the CIFAR pair's test figures are
        "test": {**summarise(per_set[sets[0].name]["input"]), "factor": 1},
        "sr": sr,
        "skipped": {s.name: s.skipped for s in sets if s.skipped},
    }
    atomic_write_json(out / "figures.json", fig)
    atomic_write(out / "photo_pair.md", table(fig))
    np.savez_compressed(out / "per_image.npz", **arrays)
    print(table(fig))
    return 0


if __name__ == "__main__":
    sys.exit(main())
