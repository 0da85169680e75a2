"""The model card (README.md) written beside exported weights: YAML front matter + what was run."""
import json
import sys
from pathlib import Path

from .lineage import lineage_markdown
from ..atomic import atomic_write, atomic_write_json
from ..data import split_description
from ..eval.evaluate import weights_sha256
from ..schedule import rewarmup_text

UNFINISHED_NOTE = ("\n**Note:** exported from an unfinished run's latest checkpoint; its schedule had not reached "
                   "its end.\n")


def card_command(write, done):
    """The ending of a command that writes a card (export, recard): info = write(); on success print done(info,
    info["test"]) and return 0; a refusal (FileNotFoundError, ValueError) → "error: …" on stderr, exit 2."""
    try:
        info = write()
    except (FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(done(info, info["test"]))
    return 0


def _fmt(v, nd=2):
    return "n/a" if v is None else f"{v:.{nd}f}"


def segments_markdown(segments, step):
    """The card's list of training segments (one per start) with the settings that may change between
    them (bf16 autocast, CPU threads, hardware); empty for a run trained in one go."""
    if not segments or len(segments) < 2:
        return ""
    lines = ["- Training segments (the run was resumed; bf16 and threads may differ between them):"]
    for seg, nxt in zip(segments, segments[1:] + [None]):
        end = nxt["from_step"] if nxt else step
        if seg.get("recorded") is False:
            lines.append(f"  - steps {seg['from_step']}–{end}: settings not recorded (older trainer)")
            continue
        lines.append(f"  - steps {seg['from_step']}–{end}: bf16 {'on' if seg.get('bf16') else 'off'}, "
                     f"{seg.get('threads')} thread(s), {seg.get('world_size', 1)} process(es) on {seg.get('hardware')}")
    return "\n".join(lines) + "\n"


def _fmt_ci(row, key, nd=2):
    """'29.34 [29.27, 29.41]' when the row has the 95 % interval of `key`, else the bare figure."""
    ci = row.get(f"{key}_ci")
    return _fmt(row.get(key), nd) + (f" [{ci['low']:.{nd}f}, {ci['high']:.{nd}f}]" if ci else "")


def test_data(info):
    """The data the card's figures stand on, in words: the lossy-JPEG caveat where it applies."""
    test = info.get("test") or {}
    if test.get("data"):
        return test["data"]
    return split_description("CIFAR-10 test split", info.get("data_source", ""))


def _metrics_yaml(info, test):
    """The front matter's model-index (the test PSNR / SSIM), or "" without test figures."""
    if test.get("psnr") is None:
        return ""
    return (f"model-index:\n- name: mamba-ginr-{info['model']}\n  results:\n"
            f"  - task:\n      type: image-to-image\n      name: 32x32 reconstruction\n"
            f"    dataset:\n      type: cifar10\n      name: \"{test_data(info)}\"\n"
            f"    metrics:\n    - type: psnr\n      value: {test['psnr']:.3f}\n"
            f"    - type: ssim\n      value: {test['ssim']:.4f}\n")


def _jitter_md(jitter):
    if not jitter:
        return ""
    return ("\n## Jitter robustness (32×32 reconstruction, queries + N(0, σ²))\n\n| σ | PSNR (dB) | SSIM |\n"
            "|---|---|---|\n" + "".join(f"| {s} | {_fmt_ci(v, 'psnr')} | {_fmt_ci(v, 'ssim', 4)} |\n"
                                        for s, v in jitter.items()))


def _stages_md(info, cfg, here):
    """The recipe, --init-from, lineage, extensions and segments bullets of "What was run"."""
    ext_md = ""
    if info.get("extensions"):
        ext_md = ("- Schedule extensions (`--extend-to`; from that step on the rate follows the schedule over the "
                  "new total):\n" + "".join(f"  - at step {e['from_step']}: "
                                            f"{e.get('from_total') or 'wall-time schedule'} → {e['total_steps']} steps"
                                            f"{rewarmup_text(e)}"
                                            f"{' (' + e['at'] + ')' if e.get('at') else ''}\n"
                                            for e in info["extensions"]))
    ext_md += segments_markdown(info.get("segments"), info["step"])
    recipe_md = f"- Recipe: {info['recipe']}.\n" if info.get("recipe") else ""
    if cfg.get("init_from"):
        recipe_md += (f"- Initialised from the weights in `{cfg['init_from']}` (fresh optimiser state; the steps "
                      f"below are this run's only).\n")
    recipe_md += lineage_markdown(info.get("lineage"), info["epochs"], info.get("elapsed", 0), info["step"],
                                  cfg.get("batch_size"), here=here)
    return recipe_md + ext_md


def _held_out_md(cfg):
    """Which training images were held out for validation (train/splits.py), in words."""
    if cfg.get("val_from") == "train":
        return "the validation images of train/splits.py held out (never trained on)"
    return ("every training image, **the validation images of train/splits.py included** (nothing held out: "
            "validation figures of these weights are not held-out figures)")


def _what_was_run_md(info, cfg, here):
    sha_md = f" (model.safetensors sha256 `{info['weights_sha256']}`)" if info.get("weights_sha256") else ""
    return f"""- Schedule: **{info['schedule']}**.
{_stages_md(info, cfg, here)}- Steps: {info['step']} optimiser steps of batch {cfg.get('batch_size')} ({info['epochs']:.3f} epochs of {info.get('n_train', 50000):,} training images).
- Optimiser: AdamW, lr {cfg.get('lr')}, weight decay {cfg.get('weight_decay')}, grad-norm clip {cfg.get('grad_clip')};
  {cfg.get('pixels')} pixels per image per step, training jitter σ = {cfg.get('train_sigma')}.
- Hardware: {info['hardware']}.
- Wall time of training: {info.get('elapsed', 0) / 3600:.2f} h.
- Training data: {info['data_source']}; {_held_out_md(cfg)}.
- Weights: {info['params']:,} parameters stored as {info['dtype']}{sha_md}
  (measured cost against float32: {_fmt(info.get('dtype_delta_db'), 3)} dB PSNR on {info.get('dtype_check_n', 'n/a')} test images); the fixed random Fourier
  matrices (buffers) are float32.
"""


def _results_md(info, test):
    return f"""{test_data(info)}: 32×32 reconstruction from the pixel-centre grid, predictions clamped to [0, 1], PSNR and
SSIM per image then averaged{' (in brackets: 95 % bootstrap interval over images)' if test.get('psnr_ci') else ''}, on **{test.get('n', 'n/a')} test images**{' (a fixed seeded subset of ' + format(test.get('of'), ',') + ')' if test.get('of') and test.get('n') != test.get('of') else ' (the whole test split)'}:

| PSNR (dB) | SSIM |
|---|---|
| {_fmt_ci(test, 'psnr')} | {_fmt_ci(test, 'ssim', 4)} |
{_jitter_md(info.get("jitter"))}"""


def model_card(info, here=None):
    """info: dict with model, schedule, step, epochs, elapsed, hardware, data_source, config,
    test (dict psnr/ssim/n), dtype, dtype_delta_db, params, and optionally jitter / notes / weights_sha256.
    here: the folder the card is written into (names the lineage stages it overwrote)."""
    test, cfg = info.get("test") or {}, info.get("config", {})
    return f"""---
library_name: lainr
license: mit
tags:
- implicit-neural-representation
- mamba
- generalizable-inr
- super-resolution
- cifar10
datasets:
- cifar10
metrics:
- psnr
- ssim
{_metrics_yaml(info, test)}---

# Mamba-GINR ({info['model']}) on CIFAR-10

A generalizable implicit neural representation: a Mamba encoder turns a 32×32 image into latent
tokens in one pass; a decoder maps any (y, x) ∈ [0, 1]² plus the tokens to RGB (see the project's
SPEC: `{info['model']}` model).

```python
from lainr import {'SimplifiedGINR' if info['model'] == 'simplified' else 'CorrectedGINR'} as Model
model = Model.from_pretrained("path/or/repo-id")
big = model.render(images, 128)   # images (B, 3, 32, 32) in [0, 1] → (B, 3, 128, 128)
```

## What was run

{_what_was_run_md(info, cfg, here)}
## Measured results

{_results_md(info, test)}
{info.get('notes', '')}

## Training configuration

```json
{json.dumps(cfg, indent=2, sort_keys=True)}
```

## Data and licence

CIFAR-10 (A. Krizhevsky, "Learning Multiple Layers of Features from Tiny Images", 2009). Code and
weights: MIT.
"""


def write_card(out_dir, info, notes="", finished=True):
    """out_dir/README.md (the card, with notes and, for an unfinished run, a note saying so) and
    out_dir/training_info.json (info itself, with the notes kept as "card_notes" so that a later
    train.publish.recard keeps them, and the sha256 of out_dir/model.safetensors as "weights_sha256")."""
    out_dir = Path(out_dir)
    info = {k: v for k, v in info.items() if k != "notes"}
    if notes:
        info["card_notes"] = notes
    info["weights_sha256"] = weights_sha256(out_dir)
    card_notes = notes + ("" if finished else UNFINISHED_NOTE)
    atomic_write(out_dir / "README.md", model_card(dict(info, notes=card_notes), here=out_dir))
    atomic_write_json(out_dir / "training_info.json", info, sort_keys=False, default=str)


# ---- Test-time refinement section (from weights/eval/refine.json, written by train.eval.refine_eval) -------------
REFINE_HEADING = "## Test-time refinement"


def refine_section(summary, label):
    """The card's "Test-time refinement" section for the weights `label` (e.g. "corrected") from a
    refine.json summary (train.eval.refine_eval); "" when that summary has no figures for them."""
    m = summary.get("models", {}).get(label)
    if not m or not m.get("steps"):
        return ""
    d, plan = summary["defaults"], summary["plan"]
    rows = "".join(f"| {s} | {r['psnr']['n']:,} | {r['psnr']['mean']:.2f} [{r['psnr']['low']:.2f}, "
                   f"{r['psnr']['high']:.2f}] | {r['ssim']['mean']:.4f} | {r['off_grid_psnr']['mean']:.2f} | "
                   f"{r['seconds_per_image']:.2f}{'' if r.get('timed_with_current_library', True) else ' *'} |\n"
                   for s, r in sorted(m["steps"].items(), key=lambda kv: int(kv[0])))
    photos = m.get("photos") or {}
    sr = "".join(f"| {s} | " + " | ".join(f"{p[k]['model']['mean']:.2f} / {p[k]['bicubic']['mean']:.2f}"
                                          for k in ("2", "4", "8")) + " |\n"
                 for s, p in sorted(photos.items(), key=lambda kv: int(kv[0])))
    sr_md = ("\nSuper-resolution of 32×32 photos after refinement, PSNR (dB) model / bicubic against the photo:\n\n"
             "| steps | ×2 | ×4 | ×8 |\n|---|---|---|---|\n" + sr) if sr else ""
    return (f"{REFINE_HEADING}\n\n"
            f"`model.fit_latents(images, steps=…)` refines one image's latents by gradient steps, decoder frozen "
            f"(defaults: {d['optimizer']}, {d['schedule']} lr {d['lr']}, σ {d['sigma']}, {d['steps']} steps). "
            f"CIFAR-10 test images ({summary['images_done']:,} of the {plan['images']:,} planned when this was written; "
            f"n per row), PSNR at 32×32 with its 95 % bootstrap interval; the 128² render area-downsampled "
            f"back to 32 shows the field between pixel centres. CPU: {summary['cpu']}, {summary['threads']} "
            f"thread(s). Source: `weights/eval/refine.md`.\n\n"
            f"| steps | n | PSNR (dB) | SSIM | 128² ↓32 (dB) | s / image |\n|---|---|---|---|---|---|\n{rows}"
            + ("\n\\* timed before refinement flushed denormals (lainr.denormals), ≈ 2.4× slower than now.\n"
               if "*" in rows else "") + sr_md)


def with_refine_section(card_text, section):
    """card_text with its "Test-time refinement" section replaced by `section` (appended when absent);
    the rest of the card is left as it is."""
    start = card_text.find(REFINE_HEADING)
    if start < 0:
        return card_text.rstrip("\n") + "\n\n" + section if section else card_text
    nxt = card_text.find("\n## ", start + len(REFINE_HEADING))
    rest = card_text[nxt + 1:] if nxt >= 0 else ""
    return card_text[:start] + section + ("\n" + rest if rest else "")


def add_refine_sections(refine_json, cards):
    """Write the section into each card: cards = {label: path to README.md}."""
    summary = json.loads(Path(refine_json).read_text())
    for label, path in cards.items():
        path = Path(path)
        atomic_write(path, with_refine_section(path.read_text(), refine_section(summary, label)))
