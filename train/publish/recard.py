"""Rewrite the model card of exported weights from a `train.eval.evaluate` measurement, without the run folder.

    python -m train.publish.recard WEIGHTS_DIR --metrics METRICS_JSON [--notes TEXT]

The card's notes are kept (training_info.json's card_notes) unless --notes replaces them.

For exported weights whose run folder is gone (e.g. with the machine it trained on) and whose card
should carry figures measured later, say on the whole test split. README.md and training_info.json
are rewritten from the folder's own training_info.json (what was run) and the metrics.json entry
for WEIGHTS_DIR (what was measured); model.safetensors is not touched, and the entry must have
measured that very file (checked by sha256) — otherwise nothing is written.
"""
import argparse
import json
import sys
from pathlib import Path

from .card import REFINE_HEADING, card_command, with_refine_section, write_card
from ..atomic import atomic_write
from ..eval.evaluate import weights_sha256
from .export import _from_metrics, _metrics_entry

INFO = "training_info.json"


def recard(weights_dir, metrics, notes=""):
    """→ the new info dict; README.md and training_info.json of weights_dir rewritten."""
    weights_dir = Path(weights_dir)
    for name in (INFO, "model.safetensors"):
        if not (weights_dir / name).is_file():
            raise FileNotFoundError(f"{weights_dir} has no {name}: not a folder written by train.publish.export")
    info = json.loads((weights_dir / INFO).read_text())
    entry = _metrics_entry(metrics, weights_dir)
    if entry.get("weights_sha256") != weights_sha256(weights_dir):
        raise ValueError(f"{metrics} measured a different model.safetensors than the one in {weights_dir} "
                         f"(re-run train.eval.evaluate on {weights_dir})")
    n_total = (info.get("test") or {}).get("of") or entry["n_test"]  # size of the whole test split
    info["test"], info["jitter"] = _from_metrics(entry, n_total)
    unfinished = info.get("total_steps") and info["step"] < info["total_steps"]
    old_card = (weights_dir / "README.md").read_text() if (weights_dir / "README.md").is_file() else ""
    write_card(weights_dir, info, notes or info.get("card_notes", ""), finished=not unfinished)
    refine = kept_refine_section(old_card)
    if refine:  # a section measured apart (train.eval.refine_eval): kept, not lost with the rewrite
        atomic_write(weights_dir / "README.md", with_refine_section((weights_dir / "README.md").read_text(), refine))
    return info


def kept_refine_section(card_text):
    """The "Test-time refinement" section of a card ("" when it has none), up to the next section."""
    start = card_text.find(REFINE_HEADING)
    if start < 0:
        return ""
    nxt = card_text.find("\n## ", start + len(REFINE_HEADING))
    return card_text[start:nxt + 1] if nxt >= 0 else card_text[start:]


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m train.publish.recard", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("weights_dir")
    p.add_argument("--metrics", required=True, help="train.eval.evaluate metrics.json with an entry for WEIGHTS_DIR")
    p.add_argument("--notes", default="", help="extra markdown for the model card (replaces the notes kept in "
                                               "training_info.json as card_notes; without it they are kept)")
    a = p.parse_args(argv)
    return card_command(lambda: recard(a.weights_dir, a.metrics, a.notes),
                        lambda info, t: f"re-carded {a.weights_dir}: PSNR {t['psnr']:.2f} dB, SSIM {t['ssim']:.4f} "
                                        f"on {t['n']} of {t['of']} test images")

if __name__ == "__main__":
    sys.exit(main())
