"""Evaluate one or more weight sets (SPEC §6) → figures + metrics.json + per_image.npz + a side-by-side table.

    python -m train.eval.evaluate --weights DIR_OR_REPO [--weights ...] --data cifar10|PATH --out DIR
                             [--split test|val] [--limit N] [--measure-cache DIR]

--split test scores the test split; --split val the validation split (the held-out training images
of train/splits.py). metrics.json maps each --weights (a folder inside the repository by its path
relative to the repository, so `train.publish.recard` finds it) to
  {"split", "data", "<split>_psnr", "<split>_ssim", "n_<split>", "<split>_psnr_ci", "<split>_ssim_ci"
   ({mean, low, high, n}: 95 % bootstrap interval over images, train/eval/stats.py),
   "jitter_psnr": {σ: dB}, "jitter_ssim": {σ: ·}, "jitter_psnr_ci", "jitter_ssim_ci",
   "sr_psnr": {size: {"model": dB, "bicubic": dB}}, "sr_photos", "decoupled_psnr" (simplified only),
   "per_image": {"file": "per_image.npz", "prefix": …}}
per_image.npz beside it keeps every image's PSNR/SSIM at each σ (`<prefix>.psnr`, `<prefix>.ssim`:
(σ, n); `<prefix>.indices`; `<prefix>.sigmas`), so two models or configurations compare as a paired
difference on the same images. --measure-cache keeps per-chunk figures and the mean-pooled latents
(train/eval/per_image.py) so an interrupted run resumes and train.study.separation reuses the latents.
Figures: reconstructions.png, sr.png, jitter.png, embedding.png, decoupled.png (simplified models).
SR PSNR is true super-resolution on three photos (scikit-image's astronaut, chelsea, coffee), each
centre-cropped square, area-downsampled to 32, rendered at 64/128/256 and compared with the photo
area-resized to that size; bicubic up-sampling of the same 32×32 input beside it.
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from lainr import psnr_per_image
from lainr.cpu_threads import set_cpu_threads

from ..atomic import atomic_write
from ..data import DataError, to_float
from .eval_split import SPLITS, describe_data, entry_key, load_eval_split, per_image_arrays, slug, summarise
from .per_image import measure
from ..splits import SplitError
from .validate import val_indices

SIGMAS = (0.0, 0.005, 0.01, 0.02, 0.05)
SR_SIZES = (64, 128, 256)
PHOTOS = ("astronaut", "chelsea", "coffee")
EMBED_N = 500


def load_weights(source, device="cpu"):
    """A local folder or a Hub repo id holding config.json + model.safetensors → model (eval, cpu)."""
    from lainr import model_class
    path = Path(source)
    if path.is_dir():
        config = json.loads((path / "config.json").read_text())
    else:
        from huggingface_hub import hf_hub_download
        config = json.loads(Path(hf_hub_download(source, "config.json")).read_text())
    arch = config.get("architecture") or config.get("config", {}).get("architecture")
    return model_class(arch).from_pretrained(str(source)).to(device).eval()


def weights_sha256(source):
    """sha256 of a local weights folder's model.safetensors (None for a Hub id): ties metrics to a file."""
    import hashlib
    f = Path(source) / "model.safetensors"
    return hashlib.sha256(f.read_bytes()).hexdigest() if f.is_file() else None


def photos(size=256):
    """The high-resolution test photos, centre-cropped square and area-resized → (3 photos, 3, size, size).

    None when scikit-image (which ships the photos) is not installed."""
    try:
        from skimage import data as skdata
    except ImportError:
        return None
    out = []
    for name in PHOTOS:
        img = torch.from_numpy(getattr(skdata, name)().copy()).permute(2, 0, 1).float() / 255  # (3, H, W)
        h, w = img.shape[1:]
        s = min(h, w)
        img = img[:, (h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]
        out.append(F.interpolate(img[None], size=(size, size), mode="area")[0] if s % size == 0 else
                   F.interpolate(img[None], size=(size, size), mode="bilinear", antialias=True,
                                 align_corners=False)[0])
    return torch.stack(out).clamp(0, 1)


def area(x, size):
    return F.interpolate(x, size=(size, size), mode="area")


@torch.no_grad()
def sr_experiment(model, hi):
    """hi (P, 3, 256, 256) → {size: {"model", "bicubic"}} PSNR, and the images for the figure."""
    hi = hi.to(next(model.parameters()).device)
    lo = area(hi, 32)  # (P, 3, 32, 32)
    res, imgs = {}, {"input": lo}
    for s in SR_SIZES:
        ref = area(hi, s)
        pred = model.render(lo, s)
        bic = F.interpolate(lo, size=(s, s), mode="bicubic", align_corners=False).clamp(0, 1)
        res[str(s)] = {"model": psnr_per_image(pred, ref).mean().item(),
                       "bicubic": psnr_per_image(bic, ref).mean().item()}
        imgs[s] = (pred.cpu(), bic.cpu(), ref.cpu())
    imgs["input"] = lo.cpu()
    return res, imgs


@torch.no_grad()
def embedding(model, images_u8, labels, n=EMBED_N, measured=None):
    """Mean-pooled LP latents of n images (fixed seeded subset) → 2-D PCA coordinates, labels.

    measured: a PerImage whose pooled latents are used (the subset drawn from its images);
    without it, n test images are encoded here."""
    if measured is not None:
        pos = val_indices(len(measured.indices), n, seed=1).numpy()
        idx = torch.from_numpy(measured.indices[pos])
        feats = torch.from_numpy(measured.pooled[pos]).float()  # (n, d)
    else:
        idx = val_indices(len(labels), n, seed=1)
        dev = next(model.parameters()).device
        feats = torch.cat([model.encode(to_float(images_u8[part], dev)).float().mean(1).cpu()
                           for part in idx.split(100)])  # (n, d)
    feats = feats - feats.mean(0)
    _, _, v = torch.linalg.svd(feats, full_matrices=False)
    return (feats @ v[:2].T).numpy(), labels[idx].numpy()


@torch.no_grad()
def decoupled_experiment(model, images_u8, idx, sigmas=(0.0, 0.01, 0.05)):
    """Simplified model: jitter modulation and hyponet coordinates independently → {σ_mod: {σ_hypo: dB}}."""
    dev = next(model.parameters()).device
    g = torch.Generator(device=dev).manual_seed(0)
    out = {}
    for sm in sigmas:
        out[str(sm)] = {}
        for sh in sigmas:
            tot = 0.0
            for part in idx.split(100):
                x = to_float(images_u8[part], dev)
                lat = model.encode(x)
                grid = model.query_grid(len(part), 32)
                from lainr import jitter
                rgb = model.decode(lat, jitter(grid, sh, g), jitter(grid, sm, g)).clamp(0, 1)
                rec = rgb.transpose(1, 2).reshape(len(part), 3, 32, 32)
                tot += psnr_per_image(rec, x).sum().item()
            out[str(sm)][str(sh)] = tot / len(idx)
    return out


def evaluate_weights(model, data, idx, split="test", desc="test", weights_sha=None, measure_cache=None,
                     cached_only=False):
    """PSNR/SSIM and the jitter table per image (each image encoded once for all σ; tqdm bar on
    stderr) → (the entry's headline keys with 95 % intervals, the PerImage)."""
    from tqdm import tqdm

    dev = next(model.parameters()).device
    with tqdm(total=len(idx), desc=desc, unit="img", file=sys.stderr) as bar:
        per = measure(model, data.images, idx, SIGMAS, split=split, weights_sha=weights_sha,
                      cache_dir=measure_cache, device=dev, progress=lambda done: bar.update(done - bar.n),
                      cached_only=cached_only)
    return summarise(per, split), per


def _label(source):
    return Path(source).name if Path(source).is_dir() else source


def figures(out, results, extras, test):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    names = list(results)
    # jitter
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for name in names:
        j = results[name]["jitter_psnr"]
        ax.plot([float(s) for s in j], list(j.values()), "o-", label=_label(name))
    ax.set_xlabel("query jitter σ")
    ax.set_ylabel("PSNR (dB)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "jitter.png", dpi=100)
    plt.close(fig)
    # super-resolution: rows = photo × (model per weights, bicubic, reference), columns = sizes
    if extras[names[0]]["sr_images"] is None:
        first = None
    else:
        first = extras[names[0]]["sr_images"]
    if first is not None:
        _sr_figure(out, names, extras, first, plt)
    _other_figures(out, names, results, extras, test, plt)


def _sr_figure(out, names, extras, first, plt):
    n_photos = first["input"].shape[0]
    rows = n_photos * (len(names) + 2)
    fig, ax = plt.subplots(rows, len(SR_SIZES) + 1, figsize=(2.2 * (len(SR_SIZES) + 1), 2.2 * rows))
    for p in range(n_photos):
        base = p * (len(names) + 2)
        row_labels = [f"{PHOTOS[p]}: {_label(n)}" for n in names] + [f"{PHOTOS[p]}: bicubic", f"{PHOTOS[p]} (area)"]
        for r, lab in enumerate(row_labels):
            a = ax[base + r, 0]
            a.imshow(first["input"][p].permute(1, 2, 0).numpy()) if r == 0 else a.axis("off")
            a.set_ylabel(lab, fontsize=7)
            a.set_title("32×32 input" if r == 0 and p == 0 else "", fontsize=8)
            for c, s in enumerate(SR_SIZES):
                if r < len(names):
                    img = extras[names[r]]["sr_images"][s][0][p]
                else:
                    img = first[s][1 + r - len(names)][p]
                ax[base + r, c + 1].imshow(img.permute(1, 2, 0).clamp(0, 1).numpy())
                ax[base + r, c + 1].set_title(f"{lab} {s}" if p == 0 or r == 0 else "", fontsize=7)
        for a in ax[base:base + len(names) + 2].flat:
            a.set_xticks([])
            a.set_yticks([])
    fig.tight_layout()
    fig.savefig(out / "sr.png", dpi=80)
    plt.close(fig)


def _other_figures(out, names, results, extras, test, plt):
    # embedding
    fig, axs = plt.subplots(1, len(names), figsize=(5 * len(names), 4.5), squeeze=False)
    for a, name in zip(axs[0], names):
        xy, lab = extras[name]["embedding"]
        sc = a.scatter(xy[:, 0], xy[:, 1], c=lab, cmap="tab10", s=8, vmin=-0.5, vmax=len(test.classes) - 0.5)
        a.set_title(f"{_label(name)}: PCA of mean-pooled LP latents ({len(lab)} {results[name].get('split', 'test')} images)", fontsize=8)
    cb = fig.colorbar(sc, ax=axs[0].tolist(), ticks=range(len(test.classes)))
    cb.ax.set_yticklabels(test.classes, fontsize=7)
    fig.savefig(out / "embedding.png", dpi=90)
    plt.close(fig)
    # reconstructions
    k = min(8, len(test))
    fig, ax = plt.subplots(len(names) + 1, k, figsize=(1.5 * k, 1.6 * (len(names) + 1)), squeeze=False)
    x = to_float(test.images[val_indices(len(test), k, seed=2)])  # (k, 3, 32, 32)
    recs = [extras[n]["model"].render(x.to(next(extras[n]["model"].parameters()).device), 32).float().cpu()
            for n in names]
    for c in range(k):
        ax[0, c].imshow(x[c].permute(1, 2, 0).numpy())
        for r, rec in enumerate(recs):
            ax[r + 1, c].imshow(rec[c].permute(1, 2, 0).numpy())
    for r, lab in enumerate(["test image"] + [_label(n) for n in names]):
        ax[r, 0].set_ylabel(lab, fontsize=7)
    for a in ax.flat:
        a.set_xticks([])
        a.set_yticks([])
    fig.tight_layout()
    fig.savefig(out / "reconstructions.png", dpi=90)
    plt.close(fig)
    # decoupled queries (simplified models)
    for name in names:
        d = results[name].get("decoupled_psnr")
        if not d:
            continue
        sig = list(d)
        fig, a = plt.subplots(figsize=(4, 3.5))
        grid = [[d[sm][sh] for sh in sig] for sm in sig]
        im = a.imshow(grid, cmap="viridis")
        for i in range(len(sig)):
            for j in range(len(sig)):
                a.text(j, i, f"{grid[i][j]:.1f}", ha="center", va="center", color="w", fontsize=8)
        a.set_xticks(range(len(sig)), sig)
        a.set_yticks(range(len(sig)), sig)
        a.set_xlabel("hyponet σ")
        a.set_ylabel("modulation σ")
        a.set_title(f"decoupled queries, PSNR (dB): {_label(name)}", fontsize=8)
        fig.colorbar(im)
        fig.tight_layout()
        fig.savefig(out / ("decoupled.png" if len(names) == 1 else f"decoupled_{_label(name)}.png"), dpi=100)
        plt.close(fig)


def _ci(entry, key, nd=2):
    ci = entry.get(f"{key}_ci")
    return f"{entry[key]:.{nd}f}" if not ci else f"{ci['mean']:.{nd}f} [{ci['low']:.{nd}f}, {ci['high']:.{nd}f}]"


def table(results):
    first = next(iter(results.values()))
    split = first.get("split", "test")
    lines = [f"{first.get('data', '')}, n = {first.get(f'n_{split}', 0):,} images per model; "
             f"[95 % bootstrap interval over images]. SR: {len(PHOTOS)} photos ({', '.join(PHOTOS)}).", "",
             f"| weights | {split} PSNR | {split} SSIM | " + " | ".join(f"σ={s}" for s in SIGMAS) + " | "
             + " | ".join(f"SR {s} model / bicubic" for s in SR_SIZES) + " |",
             "|---" * (3 + len(SIGMAS) + len(SR_SIZES)) + "|"]
    for name, r in results.items():
        lines.append(f"| {_label(name)} | {_ci(r, f'{split}_psnr')} | {_ci(r, f'{split}_ssim', 4)} | "
                     + " | ".join(f"{r['jitter_psnr'][str(s)]:.2f}" for s in SIGMAS) + " | "
                     + " | ".join(f"{r['sr_psnr'][str(s)]['model']:.2f} / {r['sr_psnr'][str(s)]['bicubic']:.2f}"
                                  if str(s) in r["sr_psnr"] else "n/a" for s in SR_SIZES) + " |")
    return "\n".join(lines) + "\n"


def run(weights, data, out, limit=0, data_root="data", cache_dir=None, embed_n=EMBED_N, device="cpu",
        split="test", measure_cache=None, cached_only=False):
    out = Path(out)
    scored, idx = load_eval_split(split, data, limit=limit, data_root=data_root, cache_dir=cache_dir)
    hi = photos()
    results, extras, arrays = {}, {}, {}
    for source in weights:
        model = load_weights(source, device)
        key, sha = entry_key(source), weights_sha256(source)
        res, per = evaluate_weights(model, scored, idx, split, desc=_label(source), weights_sha=sha,
                                    measure_cache=measure_cache, cached_only=cached_only)
        res["data"] = describe_data(split, scored.source)
        res["weights_sha256"] = sha
        res["sr_psnr"], sr_imgs = sr_experiment(model, hi) if hi is not None else ({}, None)
        res["sr_photos"] = list(PHOTOS) if hi is not None else []
        if model.config.architecture == "simplified":
            res["decoupled_psnr"] = decoupled_experiment(model, scored.images, idx[: min(len(idx), 500)])
        res["per_image"] = {"file": "per_image.npz", "prefix": slug(key)}
        arrays.update(per_image_arrays(slug(key), per))
        results[key] = res
        extras[key] = {"model": model, "sr_images": sr_imgs,
                       "embedding": embedding(model, scored.images, scored.labels, embed_n, per)}
    out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out / "per_image.npz", **arrays)
    atomic_write(out / "metrics.json", json.dumps(results, indent=2) + "\n")  # export/recard read it
    atomic_write(out / "metrics.md", table(results))
    figures(out, results, extras, scored)
    return results


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m train.eval.evaluate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", action="append", required=True, help="weights folder or Hub repo id (repeatable)")
    p.add_argument("--data", default="cifar10")
    p.add_argument("--data-root", default="data")
    p.add_argument("--cache-dir", default="")
    p.add_argument("--out", required=True)
    p.add_argument("--split", choices=SPLITS, default="test",
                   help="test: the test split; val: the validation split (held-out training images, train/splits.py)")
    p.add_argument("--limit", type=int, default=0, help="images for PSNR/SSIM/jitter (0 = the whole split)")
    p.add_argument("--measure-cache", default="", help="folder for per-chunk figures and pooled latents (resumable)")
    p.add_argument("--cached-only", action="store_true",
                   help="report only the images already measured in --measure-cache (a spread-out subset; n says how many)")
    p.add_argument("--embed-n", type=int, default=EMBED_N)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.add_argument("--refine-steps", default="", help="e.g. 0,10,50,200,1000: add the test-time refinement table "
                   "(train.eval.refine_eval → OUT/refine.{json,md,png})")
    p.add_argument("--refine-images", type=int, default=1000, help="test images for the refinement table")
    p.add_argument("--refine-long-images", type=int, default=100,
                   help="of those, how many also get the step counts above 200")
    p.add_argument("--refine-only", action="store_true", help="skip the one-pass evaluation (refinement table only)")
    a = p.parse_args(argv)
    if a.threads:
        set_cpu_threads(a.threads)
    try:
        if a.refine_steps:
            from .refine_eval import run_cli
            run_cli(a, load_weights, _label)
        if not a.refine_only:
            results = run(a.weights, a.data, a.out, a.limit, a.data_root, a.cache_dir or None, a.embed_n, a.device,
                          a.split, a.measure_cache or None, a.cached_only)
            print(table(results))
    except (DataError, SplitError, ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
