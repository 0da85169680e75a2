"""What the page says about a model's training, read from its folder's `training_info.json`.

The file is written next to the weights by the training code (one JSON object: this stage's
`step`, `epochs`, `elapsed` seconds, `lineage` — the earlier stages, each with the same fields —
`test` {psnr, ssim, n}, `data_source`, `params`). Only these facts are read; the Markdown card is
shown as text, never parsed. A folder without the file has "no training record".
"""
import json
from pathlib import Path

INFO_FILE = "training_info.json"
CARD_FILE = "README.md"
TEST_SPLIT = "CIFAR-10 test split"
JPEG_CAVEAT = "lossy JPEG copy, q ≈ 75"


def read(directory):
    """→ facts dict (possibly empty: no record, or an unreadable one — then {"error": why})."""
    path = Path(directory) / INFO_FILE
    if not path.is_file():
        return {}
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        return {"error": f"{INFO_FILE} could not be read ({type(err).__name__})"}
    if not isinstance(raw, dict):
        return {"error": f"{INFO_FILE} is not a JSON object"}
    return facts(raw)


def _number(value):
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def facts(raw):
    """training_info.json's object → {steps, epochs, hours, stages, test_psnr, test_ssim, test_images, data}
    (totals over all stages; a field the record lacks is left out)."""
    stages = [s for s in (raw.get("lineage") or []) if isinstance(s, dict)] + [raw]
    out = {"stages": len(stages)}
    for key, field, scale in (("steps", "step", 1), ("epochs", "epochs", 1), ("hours", "elapsed", 1 / 3600)):
        values = [_number(s.get(field)) for s in stages]
        if all(v is not None for v in values):
            total = sum(values) * scale
            out[key] = int(total) if key == "steps" else round(total, 2)
    test = raw.get("test") if isinstance(raw.get("test"), dict) else {}
    for key, field in (("test_psnr", "psnr"), ("test_ssim", "ssim"), ("test_images", "n")):
        value = _number(test.get(field))
        if value is not None:
            out[key] = int(value) if key == "test_images" else round(value, 3 if key == "test_psnr" else 4)
    if isinstance(raw.get("data_source"), str):
        out["data"] = raw["data_source"]
    return out


def data_caveat(info):
    """Where the test figure comes from, e.g. "CIFAR-10 test split (lossy JPEG copy, q ≈ 75)"."""
    data = str(info.get("data", ""))
    return f"{TEST_SPLIT} ({JPEG_CAVEAT})" if "JPEG" in data.upper() else TEST_SPLIT


def describe(info):
    """The training facts as one phrase, e.g. "trained 12,000 steps in all (3.30 epochs, 9.30 h, 3 stages)
    · test PSNR 29.34 dB on the CIFAR-10 test split (lossy JPEG copy, q ≈ 75), 10,000 images"."""
    if not info or set(info) == {"error"}:
        return "no training record" + (f" ({info['error']})" if info.get("error") else "")
    parts = [f"{info['epochs']:.2f} epochs" if "epochs" in info else None,
             f"{info['hours']:.2f} h" if "hours" in info else None,
             f"{info['stages']} stage{'s' if info['stages'] != 1 else ''}"]
    steps = f"{info['steps']:,} steps" if "steps" in info else "training"
    bits = [f"trained {steps} in all (" + ", ".join(p for p in parts if p) + ")"]
    if "test_psnr" in info:
        n = f", {info['test_images']:,} images" if info.get("test_images") else ""
        bits.append(f"test PSNR {info['test_psnr']:.2f} dB on the {data_caveat(info)}{n}")
    return " · ".join(bits)


def card_text(directory):
    """The model card's Markdown without its YAML front matter ("" when there is none)."""
    path = Path(directory) / CARD_FILE
    if not path.is_file():
        return ""
    text = path.read_text(encoding="utf-8", errors="replace")
    if text.startswith("---"):
        parts = text.split("---", 2)
        text = parts[2] if len(parts) == 3 else text
    return text.strip()
