"""Model cards for a pair trained on photos (`--image-size N`): README.md beside each model's weights.

    python -m train.publish.photo_card PAIR [--figures PAIR/eval/figures.json]

PAIR/{simplified,corrected} are exported photo runs (config.json, model.safetensors, training_info.json from
train/photo_run.export_photo_run); the figures come from `python -m train.eval.photo_pair` (absent: the card says
"not measured yet"). The card states the data and its licence, the reduced width (parameters), the training in
crops, epochs and hours on which CPU, and the measured figures beside bicubic's, so that a CPU-trained reduced
model is not mistaken for a finished one.
"""
import argparse
import json
import sys
from pathlib import Path

from lainr.atomic import atomic_write

MODELS = ("simplified", "corrected")


def _fmt(e):
    return f"{e['mean']:.2f} [{e['low']:.2f}, {e['high']:.2f}]"


def _count(n):
    """A count from the run's data manifest, '?' where it is missing."""
    return f"{n:,}" if isinstance(n, int) else "?"


def _diff(e):
    return f"{e['mean']:+.2f} [{e['low']:+.2f}, {e['high']:+.2f}]"


def figures_lines(fig, name):
    """The card's results: ×4 on the collection's test split and the SR sets, one pass and refined, vs bicubic."""
    if not fig:
        return ["Figures: not measured yet (`python -m train.eval.photo_pair`)."]
    lines = [f"PSNR (dB), mean [95 % interval] over photos, from `{fig['command']}` ({fig['generated']}, "
             f"{fig['cpu']}); refinement {fig['refine']['steps']} steps (area K = {fig['refine']['area']}).", "",
             "| set | ×k | n | bicubic | one pass | refined | one pass − bicubic | refined − bicubic |",
             "|---|---|---|---|---|---|---|---|"]
    for fk in sorted(fig["sr"], key=lambda k: int(k[1:])):
        for set_name, s in fig["sr"][fk].items():
            rows, diffs = s.get("rows", {}), s.get("diffs", {})
            if name not in rows:
                continue
            refined = rows.get(f"{name} refined")
            d1 = diffs.get(f"{name} − bicubic")
            d2 = diffs.get(f"{name} refined − bicubic")
            lines.append(f"| {set_name} | {fk[1:]} | {s['n']} | {_fmt(rows['bicubic'])} | {_fmt(rows[name])} | "
                         f"{_fmt(refined) if refined else '–'} | {_diff(d1) if d1 else '–'} | {_diff(d2) if d2 else '–'} |")
    inp = fig.get("test", {})
    if name in inp.get("rows", {}):
        thumbs = {k: v for k, v in inp["rows"].items() if k.startswith("thumbnail")}
        n = fig["input_size"]
        lines += ["", f"Its own {n}×{n} input, reconstructed ({fig.get('split', 'test')} split, n = {inp['n']}): one pass "
                  f"{_fmt(inp['rows'][name])} dB" + (f", refined {_fmt(inp['rows'][name + ' refined'])} dB"
                                                    if name + " refined" in inp["rows"] else "")
                  + "; thumbnails brought back by bicubic: " + ", ".join(f"{k[10:]} {v['mean']:.2f}" for k, v in thumbs.items())
                  + " dB."]
    return lines


def card(name, info, fig, model):
    cfg = info["config"]
    mc = model.config
    params = sum(p.numel() for p in model.parameters())
    data = info.get("data", {})
    n = cfg["image_size"]
    batch = cfg["batch_size"]
    crops = info["step"] * batch
    hours = info["elapsed"] / 3600
    licence = (fig or {}).get("data", {}).get("licence", "see the collection's manifest")
    source = (fig or {}).get("data", {}).get("source", data.get("source", ""))
    lo, hi = cfg.get("scale_range", [1, 1])
    front = ["---", "library_name: lainr", "license: mit", "tags:", "- implicit-neural-representation", "- mamba",
             "- generalizable-inr", "- super-resolution", "- arbitrary-scale-super-resolution", "metrics:", "- psnr", "---"]
    body = [
        f"# Mamba-GINR {name}, photos at {n}×{n} input — reduced width, trained on a CPU", "",
        f"The {name} Mamba-GINR of this repository (`lainr`), **reduced** to {params:,} parameters "
        f"(dim {mc.dim}, depth {mc.depth}, patch {mc.patch_size}, {mc.num_lp} LP tokens: a latent of "
        f"{mc.num_lp * mc.dim:,} floats for an input of "
        f"{3 * n * n:,} values). An encoder pass turns a {n}×{n} RGB image into latent tokens; the decoder renders "
        f"RGB at any continuous coordinate, so the image can be rendered at any size.", "",
        "**Not a finished super-resolution model**: it was trained for a few core-hours on a CPU; its figures below "
        "stand beside bicubic's so that nobody takes it for one.", "",
        "## Data", "",
        f"{_count(data.get('n_train'))} photos for training ({_count(data.get('n_validation'))} more held out for "
        f"validation) of the collection `{source}` — licence **{licence}**. Each step takes random "
        f"square crops of side s·{n} (s uniform in [{lo}, {hi}]), the input their area-reduction to {n}×{n}, and "
        f"reads the loss at {cfg.get('pixels')} of the crop's own pixel centres: the model learns to up-sample.", "",
        "## Training", "",
        f"{info['step']:,} steps × batch {batch} = {crops:,} crops ({info['epochs']:.1f} epochs), "
        f"{hours:.1f} h on {info.get('hardware', '?')}; {info.get('recipe', '')}; {info.get('schedule', '')}. "
        f"Validation at the end: {info.get('val_psnr') or float('nan'):.2f} dB ({info.get('val_n')} held-out photos, "
        f"the {n}×{n} centre crop reconstructed).", "",
        "## Figures", "", *figures_lines(fig, name), "",
        "## Use", "", "```python",
        f"from lainr import {'CorrectedGINR' if name == 'corrected' else 'SimplifiedGINR'} as Model",
        "model = Model.from_pretrained(\"weights/photos64/" + name + "\")  # or a Hub id",
        f"rgb = model.render(images, 256)  # images (B, 3, {n}, {n}) in [0, 1] → (B, 3, 256, 256): any output size",
        "```", ""]
    return "\n".join(front + body)


def write_cards(pair, figures=None):
    from lainr import CorrectedGINR, SimplifiedGINR
    classes = {"simplified": SimplifiedGINR, "corrected": CorrectedGINR}
    pair = Path(pair)
    fig_path = Path(figures) if figures else pair / "eval" / "figures.json"
    fig = json.loads(fig_path.read_text()) if fig_path.is_file() else None
    written = []
    for name in MODELS:
        folder = pair / name
        if not (folder / "training_info.json").is_file():
            continue
        info = json.loads((folder / "training_info.json").read_text())
        atomic_write(folder / "README.md", card(name, info, fig, classes[name].from_pretrained(folder)))
        written.append(folder / "README.md")
    if not written:
        raise FileNotFoundError(f"{pair}: no simplified/ or corrected/ with a training_info.json")
    return written


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("pair")
    p.add_argument("--figures", default="")
    a = p.parse_args(argv)
    try:
        for path in write_cards(a.pair, a.figures or None):
            print(path)
    except FileNotFoundError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
