"""How much the *trained* corrected model relies on each part of its decoder, measured at test time.

    python -m train.study.inference_ablations [--weights weights/corrected] [--data PATH] [--n 1000]
                                              [--out weights/eval] [--threads 1]

Nothing is retrained: every ablation changes one thing in the decoding of the same latents, and is
reported as the paired difference in per-image PSNR (ablated − intact) with its 95 % bootstrap
interval, on the first --n images of the trainer's fixed seeded order of the test split.

The ablations (each precisely):
  alpha=A        the spatial bias's strength α set to A at test time (trained with α = 10; 0 removes it)
  drop-band-K    band K's contribution removed: its modulated features m_K are set to zero where they
                 enter the residual chain (hv_0 = m_0; hv_{k+1} = ReLU(hv_lin_k(m_{k+1} + hv_k))) and its
                 output head out_lin_K(hv_K) is left out of the RGB sum. Band 0 (σ = 128, the finest)
                 starts the chain; band 1 (σ = 32) ends it.
  mod-jitter     queries decoupled: only the cross-attention (modulation) queries jittered by N(0, 0.02²);
                 the band queries stay at the pixel centres
  band-jitter    queries decoupled the other way: only the band queries jittered (σ = 0.02)
  mod-centre     every pixel's modulation computed at the image centre (0.5, 0.5): one modulation per
                 image, the attention's locality removed; the band queries stay at the pixel centres
There is no second decoder here: α and the dropped bands are edits of a deep copy of the trained model
(`ablated_model`), decoded by its own forward; the decoupled queries are `model.decode`'s `mod_coords`.
A band is dropped by zeroing bandwidth_lins[K] and modulation_lins[K] (so m_K = ReLU(0 + 0) = 0) and
out_lins[K] (its head adds 0) — exactly the definition above, for any band.
Writes OUT/inference_ablations.json and OUT/inference_ablations.md.
"""
import argparse
import copy
import dataclasses
import sys
from pathlib import Path

import numpy as np
import torch
from einops import rearrange

from lainr import psnr_per_image
from lainr.coords import jitter
from lainr.cpu_threads import set_cpu_threads

from ..atomic import atomic_write, atomic_write_json
from ..data import DataError, load_split, to_float
from ..eval.eval_split import describe_data, entry_key
from ..eval.evaluate import load_weights, weights_sha256
from ..eval.stats import bootstrap_mean, paired_difference
from ..eval.validate import val_indices

N_IMAGES = 1000
DECOUPLED_SIGMA = 0.02
ALPHAS = (0.0, 5.0, 20.0, 100.0)  # the trained α = 10 is the intact model


def ablations(bands=2):
    """{name: ablation arguments}, in report order."""
    out = {f"alpha={a:g}": {"alpha": a} for a in ALPHAS}
    out.update({f"drop-band-{k}": {"drop_band": k} for k in range(bands)})
    out.update({"mod-jitter": {"mod": "jitter"}, "band-jitter": {"band": "jitter"}, "mod-centre": {"mod": "centre"}})
    return out


def drop_band(decoder, band):
    """Remove `band` from a LAINR decoder in place: bandwidth_lins and modulation_lins zeroed, so its
    modulated features m = ReLU(0 + 0) = 0 where they enter the residual chain; out_lins zeroed, so
    its head adds nothing to the RGB sum."""
    with torch.no_grad():
        for lin in (decoder.bandwidth_lins[band], decoder.modulation_lins[band], decoder.out_lins[band]):
            lin.weight.zero_()
            lin.bias.zero_()


def ablated_model(model, ablation):
    """The model to decode with: a deep copy with α or a band changed, or `model` itself when the
    ablation only moves queries. `model` is never modified."""
    if "alpha" not in ablation and "drop_band" not in ablation:
        return model
    ablated = copy.deepcopy(model)
    if "alpha" in ablation:  # the readable decoder reads its bias_alpha at every call (0 → no bias)
        ablated.decoder.bias_alpha = ablation["alpha"]
        ablated.config = dataclasses.replace(ablated.config, bias_alpha=ablation["alpha"])
    if "drop_band" in ablation:
        drop_band(ablated.decoder, ablation["drop_band"])
    return ablated


def query_coords(grid, ablation, generator):
    """The pixel-centre grid (B, Q, 2) → (coords, mod_coords): band and modulation queries (B, Q, 2) each."""
    coords, mod_coords = grid, grid
    if ablation.get("mod") == "jitter":
        mod_coords = jitter(grid, DECOUPLED_SIGMA, generator)
    elif ablation.get("mod") == "centre":
        mod_coords = torch.full_like(grid, 0.5)
    if ablation.get("band") == "jitter":
        coords = jitter(grid, DECOUPLED_SIGMA, generator)
    return coords, mod_coords


@torch.no_grad()
def measure(model, images_u8, idx, conditions, *, batch=50, seed=0, progress=None):
    """→ {"intact": psnr (n,), name: psnr (n,) ...} per image, clamped predictions, one encoding per batch
    (by the intact model), each condition decoded by its own `ablated_model`."""
    out = {name: [] for name in ["intact", *conditions]}
    dev = next(model.parameters()).device
    models = {name: ablated_model(model, abl) for name, abl in [("intact", {}), *conditions.items()]}
    for b, part in enumerate(idx.split(batch)):
        x = to_float(images_u8[part], dev)
        latents = model.encode(x).float()
        grid = model.query_grid(len(part), 32)
        gen = torch.Generator(device=dev).manual_seed(seed * 100_003 + b)
        for name, abl in [("intact", {}), *conditions.items()]:
            coords, mod_coords = query_coords(grid, abl, gen)
            rgb = models[name].decode(latents, coords, mod_coords)  # (B, Q, 3)
            rec = rearrange(rgb, "b (h w) c -> b c h w", h=32, w=32).clamp(0, 1)
            out[name].append(psnr_per_image(rec, x).cpu())
        if progress is not None:
            progress(min((b + 1) * batch, len(idx)))
    return {k: torch.cat(v).numpy() for k, v in out.items()}


def table(res):
    lines = [f"Inference-time ablations of the trained corrected model (`{res['weights']}`), {res['data']}, "
             f"n = {res['n']:,} images (the first of the trainer's fixed seeded order); PSNR of the 32×32 "
             f"reconstruction; Δ = ablated − intact per image, [95 % bootstrap interval]. Intact: "
             f"{res['intact']['mean']:.2f} [{res['intact']['low']:.2f}, {res['intact']['high']:.2f}] dB.", "",
             "| ablation | what changes | PSNR (dB) | Δ PSNR (dB) |", "|---|---|---|---|"]
    for name, r in res["ablations"].items():
        a, d = r["psnr"], r["delta"]
        lines.append(f"| {name} | {r['what']} | {a['mean']:.2f} | {d['mean']:+.2f} [{d['low']:+.2f}, {d['high']:+.2f}] |")
    return "\n".join(lines) + "\n"


WHAT = {"alpha": "spatial bias α = {alpha:g} at test time (trained at 10)",
        "drop_band": "band {drop_band} (σ = {sigma:g}) removed from the residual chain and the output sum",
        "mod-jitter": f"modulation queries jittered (σ = {DECOUPLED_SIGMA}), band queries exact",
        "band-jitter": f"band queries jittered (σ = {DECOUPLED_SIGMA}), modulation queries exact",
        "mod-centre": "modulation computed at the image centre for every pixel"}


def describe(ablation, sigma_bands):
    if "alpha" in ablation:
        return WHAT["alpha"].format(**ablation)
    if "drop_band" in ablation:
        return WHAT["drop_band"].format(sigma=sigma_bands[ablation["drop_band"]], **ablation)
    return WHAT[("mod-" if "mod" in ablation else "band-") + (ablation.get("mod") or ablation.get("band"))]


def run(weights, data, out, n=N_IMAGES, data_root="data", data_cache=None, progress=None):
    model = load_weights(weights).float()
    if model.config.architecture != "corrected":
        raise ValueError(f"{weights} is a {model.config.architecture} model; these ablations are of the corrected decoder")
    test = load_split(data, "test", data_root=data_root, cache_dir=data_cache)
    idx = val_indices(len(test), n)
    conditions = ablations(len(model.config.sigma_bands))
    psnr = measure(model, test.images, idx, conditions, progress=progress)
    res = {"weights": entry_key(weights), "weights_sha256": weights_sha256(weights), "n": len(idx),
           "data": describe_data("test", test.source),
           "intact": bootstrap_mean(psnr["intact"]).as_dict(), "ablations": {}}
    for name, abl in conditions.items():
        res["ablations"][name] = {"what": describe(abl, model.config.sigma_bands), "args": abl,
                                  "psnr": bootstrap_mean(psnr[name]).as_dict(),
                                  "delta": paired_difference(psnr[name], psnr["intact"]).as_dict()}
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(out / "inference_ablations.md", table(res))
    atomic_write_json(out / "inference_ablations.json", res, sort_keys=False)
    return res


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m train.study.inference_ablations", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", default="weights/corrected")
    p.add_argument("--data", default="cifar10")
    p.add_argument("--data-root", default="data")
    p.add_argument("--cache-dir", default="", help="decoded-data cache (train.data)")
    p.add_argument("--n", type=int, default=N_IMAGES, help="test images (the first of the fixed seeded order)")
    p.add_argument("--out", default="weights/eval")
    p.add_argument("--threads", type=int, default=0)
    a = p.parse_args(argv)
    if a.threads:
        set_cpu_threads(a.threads)
    try:
        res = run(a.weights, a.data, a.out, a.n, a.data_root, a.cache_dir or None,
                  progress=lambda done: print(f"{done}/{a.n} images", file=sys.stderr, flush=True))
    except (DataError, ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(table(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
