"""The page's explanations: the banner, "How to read this page", the notes' claims, the model cards."""
import json
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
CLAIMS = REPO_ROOT / "weights" / "eval" / "claims.json"
VERDICTS = {"holds": "**holds**", "partly": "**partly**", "does not hold": "**does not hold**",
            "not measured": "**not measured**"}  # words, not emoji: a box where no emoji font is installed
PLAIN = {"(no GPU lent)": "(it needs a GPU run that has not been done)",  # the eval's wording → the page's
         "the cheaper pixels512": "the cheaper 512-pixel training"}  # a run's name → words

HOW_TO_READ = """
**What the models are.** Both are *generalizable implicit neural representations*: an encoder turns
the {n}×{n} image into latent tokens in one pass, and a decoder returns the colour at **any**
continuous coordinate (y, x) in [0, 1]². Rendering the decoder on an N×N grid of pixel centres gives
an N×N image: at {n} a reconstruction, above {n} a super-resolution the models were never trained for.
This pair ({pair}) was trained on {trained_on}; the pair choice at the top switches every tab to another.
**LP tokens** are the latent tokens the encoder makes from the image (the "latent" code of the
image); the decoder reads every pixel's colour from them by cross-attention.
**simplified**: Mamba encoder, {lp_simplified} LP tokens, one attention head, no positional information.
**corrected**: bidirectional Mamba with positions, {lp_corrected} LP tokens, a LAINR decoder with 2 heads and a
*spatial bias* that pulls each query towards the tokens near its own position.

**Why the simplified panel is noise above {n}×{n}.** It was trained on the {pixels:,} pixel centres of
{n}×{n} images only. Its decoder reads the coordinate through random Fourier features of scale σ = 10,
which oscillate far faster than the pixel spacing: between two trained pixel centres they take values
the training never constrained (aliasing), so every query off the {n}×{n} grid decodes to noise. This
is what the notes call "overfits to exact grid positions". At {n}×{n}, on the grid it was trained on,
it reconstructs. The jitter sweep (below the scores) shows the same from the other side: moving the
queries by a fraction of a pixel destroys it, while the corrected model degrades gently.

**The corrected model is not a super-resolution method.** It gives a continuous, smooth field, but
for real up-sampling of a photo it scores *below bicubic* on the CIFAR-10 pair (the "vs photo" scores on
a photo example; the pair's measured figures under the scores, beside bicubic's). Its value is one model
for every resolution and window, not sharper pixels.

**How scores are read.** Each render names its pair and its reference: at {n} the input; for a photo the
photo itself area-resized to the output size (real super-resolution); for a {n}×{n} source rendered larger
there is no ground truth, so the render is area-downsampled back to {n} and compared with the input — a
consistency check only (↓{n}).

**Refine** (Reconstruct tab) fits each model's latents to this image by gradient steps, decoder
frozen: it closes part of the gap between one encoder pass and the best code the decoder can use.
It is fitted at the {n}×{n} pixel centres only, so what it does between them is not fitted: for
real up-sampling read the "vs photo" scores of a photo example after refining. Long runs oscillate,
so each model keeps its best step (named on the page). Its curve is scored at the {n}×{n} pixel
centres against the input, while the captions score the render at the output resolution (↓{n}, vs
photo): the two numbers differ because they measure different things.

**Where the figures come from.** The banner's training facts and test PSNR are read from each weights
folder's `training_info.json`; the model cards (below) and the pair's eval folder beside its weights
(`weights/eval/` for CIFAR-10, `weights/<pair>/eval/figures.json` for another) hold the measured figures
the page quotes; a figure no file holds is "not measured yet". CIFAR-10 test figures are on the test split
as shipped here: a lossy JPEG copy (quality ≈ 75), not the lossless original.
"""


def how_to_read(service, trained_on=""):
    """HOW_TO_READ for one pair (its input size, its token counts; demo.service.Service)."""
    n = service.size
    return HOW_TO_READ.format(n=n, pixels=n * n, pair=service.pair, trained_on=trained_on or "its own collection",
                              lp_simplified=service.engine.num_lp("simplified"),
                              lp_corrected=service.engine.num_lp("corrected"))


def banner_markdown(models, pair=""):
    """The loaded models of a pair (its label, when given), a line each, and any fall-back said."""
    head = "**Loaded models**" + (f" ({pair} pair)" if pair else "")
    lines = [head] + [f"- {lm.summary()} · [model card](#card-{lm.name})" for lm in models.values()]
    problems = [m for lm in models.values() for m in lm.messages]
    if problems:
        lines += ["", "⚠️ **Weights notice**"] + [f"- {m}" for m in problems]
    return "\n".join(lines)


def read_claims(path=CLAIMS):
    """weights/eval/claims.json → list of claim dicts; [] when the file is absent or unreadable."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    claims = data.get("claims") if isinstance(data, dict) else None
    return [c for c in claims or [] if isinstance(c, dict) and c.get("claim")]


def _cell(text):
    text = " ".join(str(text or "").split())
    for jargon, plain in PLAIN.items():
        text = text.replace(jargon, plain)
    return text.replace("|", "\\|")


def claims_markdown(path=CLAIMS):
    """The claims as a Markdown table; "" when there are none (the section is then left out)."""
    claims = read_claims(path)
    if not claims:
        return ""
    lines = ["| the notes claim | we measured | verdict |", "|---|---|---|"]
    for c in claims:
        verdict = VERDICTS.get(str(c.get("verdict", "")).strip(), _cell(c.get("verdict")))
        if c.get("scale"):  # the verdict rests on training ablations at that scale
            verdict += f" at {_cell(c['scale'])} scale"
        lines.append(f"| {_cell(c['claim'])} | {_cell(c.get('measurement'))} | {verdict} |")
    try:
        generated = json.loads(Path(path).read_text(encoding="utf-8")).get("generated")
    except (OSError, ValueError, AttributeError):
        generated = None
    if generated:
        lines += ["", f"<small>From `weights/eval/claims.json` ({_cell(generated)}).</small>"]
    return "\n".join(lines)
