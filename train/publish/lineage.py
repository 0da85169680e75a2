"""Where a run's starting weights came from: the training history of an --init-from chain.

A run started with --init-from FOLDER records, at its start, the stages that produced FOLDER (read from
FOLDER/training_info.json, which `train.publish.export` writes): FOLDER's own lineage, then FOLDER's run. It is
kept in the checkpoint, so it survives FOLDER being overwritten later (as when a continued run
re-exports into the same weights/ folder), and the model card lists every stage and the totals.

Each stage names its weights by the sha256 of their model.safetensors ("sha256"); the folder path ("from") is
only a hint, since a folder may be overwritten later — and the card says so where it was (the same path
again in a later stage, or the folder the card is written into). Stages recorded before the sha256 was
(the bundled weights' first stages) have none, and the card says that too.
"""
import json
from pathlib import Path

from ..eval.evaluate import weights_sha256


def stage_summary(info, source, sha256=None):
    """One stage of a lineage from a training_info.json dict and the sha256 of the weights it ended with."""
    cfg = info.get("config", {})
    test = info.get("test") or {}
    return {"from": str(source), "sha256": sha256, "schedule": info.get("schedule"), "recipe": info.get("recipe"),
            "step": info.get("step"), "batch_size": cfg.get("batch_size"), "epochs": info.get("epochs"),
            "elapsed": info.get("elapsed"), "hardware": info.get("hardware"),
            "test_psnr": test.get("psnr"), "test_ssim": test.get("ssim"), "test_n": test.get("n")}


def lineage_of(folder):
    """→ [stage, ...], oldest first, for a run that starts from the weights in `folder`; [] for None."""
    if not folder:
        return []
    path = Path(folder) / "training_info.json"
    sha256 = weights_sha256(folder)
    if not path.is_file():
        return [{"from": str(folder), "sha256": sha256, "schedule": None,
                 "note": "no training_info.json: history unknown"}]
    info = json.loads(path.read_text())
    return list(info.get("lineage") or []) + [stage_summary(info, folder, sha256)]


def totals(lineage, epochs, elapsed):
    """Epochs and training seconds over all stages plus this run's (stages without figures count 0)."""
    return (sum(s.get("epochs") or 0 for s in lineage) + epochs,
            sum(s.get("elapsed") or 0 for s in lineage) + elapsed)


def _same_folder(a, b):
    return Path(a).resolve() == Path(b).resolve()


def stage_weights(stage, later_folders):
    """How the card names a stage's weights: the folder (a hint) and the sha256 of its model.safetensors, and
    whether that folder has been overwritten since (it recurs in `later_folders`)."""
    sha = stage.get("sha256")
    ident = f"sha256 `{sha[:16]}`" if sha else "sha256 not recorded"
    overwritten = any(_same_folder(stage["from"], f) for f in later_folders)
    return f"`{stage['from']}` ({ident}{'; the folder was overwritten since' if overwritten else ''})"


def lineage_markdown(lineage, epochs, elapsed, step, batch, here=None):
    """The card's "Training history" list (empty string without lineage); `here`: the folder the card is
    written into (a stage exported there has been overwritten by this run's weights)."""
    if not lineage:
        return ""
    lines = ["- Training history (this run continues the weights of the stages before it; each stage's "
             "weights by the sha256 of their model.safetensors, the folder being only where they were):"]
    for i, s in enumerate(lineage, 1):
        later = [t["from"] for t in lineage[i:]] + ([here] if here else [])
        if s.get("schedule") is None:
            lines.append(f"  {i}. {stage_weights(s, later)}: {s.get('note', 'history unknown')}")
            continue
        psnr = f"; {s['test_psnr']:.2f} dB test PSNR on {s.get('test_n')} images" if s.get("test_psnr") else ""
        lines.append(f"  {i}. {stage_weights(s, later)}: {s.get('step')} steps of batch {s.get('batch_size')} "
                     f"({(s.get('epochs') or 0):.2f} epochs, {(s.get('elapsed') or 0) / 3600:.2f} h) on "
                     f"{s.get('hardware')}; {s.get('recipe') or s.get('schedule')}{psnr}")
    lines.append(f"  {len(lineage) + 1}. this run: {step} steps of batch {batch} ({epochs:.2f} epochs, "
                 f"{elapsed / 3600:.2f} h)")
    all_epochs, all_s = totals(lineage, epochs, elapsed)
    lines.append(f"- In all: {all_epochs:.2f} epochs, {all_s / 3600:.2f} h of training.")
    return "\n".join(lines) + "\n"
