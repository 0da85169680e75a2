"""What a one-pass GINR must beat: thumbnails of each image, and its mean colour.

A k×k thumbnail is the image area-reduced to k×k (box average) and brought back to its size by bicubic
interpolation (align_corners=False, clamped to [0, 1]); it holds k·k·3 floats. The mean colour (3 floats)
is the 1×1 thumbnail. PSNR per image as everywhere else (SPEC §1).
"""
import numpy as np
import torch
import torch.nn.functional as F

from lainr import psnr_per_image

from ..data import to_float

SIDES = (4, 8, 16)  # the thumbnails reported beside every figure (besides the mean colour)


def baseline_names(sides=SIDES):
    return ["mean colour"] + [f"{k}×{k} thumbnail" for k in sides]


def floats(name):
    """Floats the baseline keeps per image: 3 for the mean colour, k·k·3 for a k×k thumbnail."""
    return 3 if name == "mean colour" else int(name.split("×")[0]) ** 2 * 3


def thumbnail(x, k):
    """x (B, 3, H, W) in [0, 1] → its k×k thumbnail back at H×W (B, 3, H, W), clamped to [0, 1]."""
    h, w = x.shape[-2:]
    small = F.interpolate(x, size=(k, k), mode="area")  # (B, 3, k, k)
    if k == 1:
        return small.expand_as(x)
    return F.interpolate(small, size=(h, w), mode="bicubic", align_corners=False).clamp(0, 1)


@torch.no_grad()
def baseline_psnr(images_u8, indices, sides=SIDES, batch=500):
    """images (N, 3, H, W) uint8, the indices scored → {name: per-image PSNR (n,) float32}, in baseline_names order."""
    out = {name: [] for name in baseline_names(sides)}
    for part in torch.as_tensor(indices).split(batch):
        x = to_float(images_u8[part], "cpu")  # (b, 3, H, W)
        for name, k in zip(out, (1, *sides)):
            out[name].append(psnr_per_image(thumbnail(x, k), x).numpy())
    return {name: np.concatenate(v).astype(np.float32) for name, v in out.items()}


def main(argv=None):
    """python -m train.eval.thumbnails --data PATH [--split test] [--out weights/eval]: the baselines on the whole
    split, with 95 % bootstrap intervals, and each bundled model's paired margin over them where
    OUT/per_image.npz holds its per-image PSNR → OUT/thumbnails.json and OUT/thumbnails.md."""
    import argparse
    import sys
    from pathlib import Path

    from ..data import DataError, load_split
    from ..portable import portable_path
    from ..study.study_folder import write_report
    from .stats import bootstrap_mean, paired_difference
    p = argparse.ArgumentParser(prog="python -m train.eval.thumbnails", description=main.__doc__)
    p.add_argument("--data", default="../shared/data/cifar10")
    p.add_argument("--split", default="test", choices=["test", "train"])
    p.add_argument("--out", default="weights/eval")
    a = p.parse_args(argv)
    try:
        images = load_split(a.data, a.split).images
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    idx = np.arange(len(images))
    values = baseline_psnr(images, idx)
    result = {"data": portable_path(a.data), "split": a.split, "n": len(idx), "baselines": {}}
    for name, v in values.items():
        result["baselines"][name] = {"floats": floats(name), "psnr": bootstrap_mean(v).as_dict()}
    npz = Path(a.out) / "per_image.npz"
    if npz.is_file():
        with np.load(npz) as z:
            for key in sorted(k[:-len(".psnr")] for k in z.files if k.endswith(".psnr")):
                if len(z[f"{key}.indices"]) == len(idx) and np.array_equal(z[f"{key}.indices"], idx):
                    model = z[f"{key}.psnr"][0]
                    result.setdefault("margins", {})[key.replace("__", "/")] = {
                        name: paired_difference(model, v).as_dict() for name, v in values.items()}
    lines = [f"Thumbnail baselines on the {a.split} split ({len(idx):,} images): area-reduced to k×k, bicubic back to "
             "32×32; mean PSNR [95 % bootstrap interval].", "", "| baseline | floats per image | PSNR (dB) |",
             "|---|---|---|"]
    for name, b in result["baselines"].items():
        e = b["psnr"]
        lines.append(f"| {name} | {b['floats']:,} | {e['mean']:.2f} [{e['low']:.2f}, {e['high']:.2f}] |")
    for model, m in result.get("margins", {}).items():
        lines.append("")
        lines.append(f"{model} one pass − baseline (paired, same images): " + "; ".join(
            f"{name} {e['mean']:+.2f} dB" for name, e in m.items()))
    write_report(a.out, "thumbnails", result, "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
