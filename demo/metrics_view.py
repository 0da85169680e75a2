"""PSNR / SSIM against the best reference available, and how the page words them.

Three cases, N being the pair's input size (the reference is always named beside the numbers):
- output N×N: every image against the N×N model input;
- an uploaded photo with at least `size` pixels per side, rendered at `size` > N: against the
  photo area-resized to size×size (true super-resolution scores);
- otherwise (an N×N source rendered larger): each image area-downsampled back to N×N, against
  the input — a consistency check, not super-resolution quality.
"""
import numpy as np

from lainr import psnr_per_image, ssim_per_image

from .images import area_resize, to_tensor

ROWS = ("nearest", "bicubic", "simplified", "corrected")
REFINED_ROWS = ("simplified_refined", "corrected_refined")
LABELS = {"nearest": "input (nearest)", "bicubic": "bicubic", "simplified": "simplified", "corrected": "corrected",
          "simplified_refined": "simplified, refined", "corrected_refined": "corrected, refined"}
WHAT = {"nearest": "the {n}×{n} input the models see, unsmoothed",
        "bicubic": "bicubic up-sampling of the input",
        "simplified": "simplified model, one encoder pass",
        "corrected": "corrected model, one encoder pass",
        "simplified_refined": "simplified model, refined latents",
        "corrected_refined": "corrected model, refined latents"}
HOW = {"input": "scored: PSNR vs the {n}×{n} input",
       "sr": "scored: PSNR vs the photo area-resized to {size} (real super-resolution)",
       "downsampled": "scored: PSNR after area-downsampling to {n}×{n}, vs the input (a consistency check)"}
PSNR_CAP = 100.0  # lainr caps identical images at 100 dB


def reference_for(prepared, size):
    """→ (mode, reference array, description)."""
    n = prepared.size
    if size == n:
        return "input", prepared.model_input, f"the {n}×{n} model input"
    ref = prepared.reference(size)
    if ref is not None:
        return "sr", ref, f"the uploaded photo resized (area) to {size}×{size} — true super-resolution scores"
    return ("downsampled", prepared.model_input,
            f"each image area-downsampled {size}→{n} and compared with the {n}×{n} input "
            f"(no higher-resolution ground truth exists for a {n}×{n} source)")


def score(pred, target):
    """(PSNR dB, SSIM) of two (H, W, 3) arrays in [0, 1]."""
    p, t = to_tensor(np.clip(pred, 0, 1)), to_tensor(target)
    return float(psnr_per_image(p, t)[0]), float(ssim_per_image(p, t)[0])


def compute(prepared, size, images, pair=None):
    """images: {row: (size, size, 3) array}; pair: the pair's label (named in the title and the captions)
    → metrics dict (JSON-safe)."""
    mode, reference, description = reference_for(prepared, size)
    rows = {}
    for row in (*ROWS, *REFINED_ROWS):
        if row not in images:
            continue
        pred = images[row] if mode != "downsampled" else area_resize(images[row], prepared.size)
        p, s = score(pred, reference)
        rows[row] = entry(row, p, s, mode)
    out = {"resolution": size, "input_size": prepared.size, "mode": mode, "reference": description, "metrics": rows}
    if pair:
        out["pair"] = pair
    return out


def entry(row, psnr, ssim, mode):
    """One row of scores. Without a photo the reference *is* the input, so its nearest enlargement is
    the reference itself (scored only up to the resampling of a non-integer scale)."""
    is_reference = psnr >= PSNR_CAP - 1e-6 or (row == "nearest" and mode != "sr")
    return {"psnr": round(psnr, 3), "ssim": round(ssim, 4), "is_reference": bool(is_reference)}


def _fmt(entry):
    if entry.get("is_reference"):
        return "= reference", "1.000"
    return f"{entry['psnr']:.2f} dB", f"{entry['ssim']:.3f}"


def markdown(metrics, sigma=0.0):
    """A small table for the page."""
    title = metrics.get("title") or f"Scores at {metrics['resolution']}×{metrics['resolution']}"
    pair = f" ({metrics['pair']} pair)" if metrics.get("pair") else ""
    lines = [f"**{title}**{pair} against {metrics['reference']}."]
    if sigma > 0:
        lines.append(f"Renders use jittered queries (σ = {sigma:g}).")
    lines += ["", "| image | PSNR | SSIM |", "|---|---|---|"]
    for row, entry in metrics["metrics"].items():
        p, s = _fmt(entry)
        lines.append(f"| {LABELS[row]} | {p} | {s} |")
    return "\n".join(lines)


def caption(metrics, row):
    """Short label of one image, e.g. 'corrected: 27.31 dB (↓32)'."""
    entry = metrics["metrics"].get(row)
    if entry is None:
        return LABELS[row]
    if entry.get("is_reference"):
        return f"{LABELS[row]} (= reference)"
    n = metrics.get("input_size")
    tag = metrics.get("tag", {"input": "", "sr": " vs photo", "downsampled": f" ↓{n}"}[metrics["mode"]])
    return f"{LABELS[row]}: {entry['psnr']:.2f} dB{tag}"


def what(row, n):
    """What a row's image is, for an input of n×n."""
    return WHAT[row].format(n=n)


def how(metrics):
    """What a score is measured against, e.g. "PSNR vs the 64×64 input"."""
    if metrics.get("how"):
        return metrics["how"]
    return HOW[metrics["mode"]].format(n=metrics.get("input_size"), size=metrics["resolution"])


def caption_line(metrics, row, what_text=None, extra=""):
    """The Markdown under one render: its score, what it is (and which pair made it), how it is scored;
    `extra`: a further line (e.g. the pair's measured figures beside bicubic)."""
    pair = f" ({metrics['pair']} pair)" if metrics.get("pair") else ""
    text = f"**{caption(metrics, row)}**  \n<small>{what_text or what(row, metrics.get('input_size'))}{pair}; " \
           f"{how(metrics)}.</small>"
    return text + (f"  \n<small>{extra}</small>" if extra else "")
