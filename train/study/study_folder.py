"""The --out folder of a resumable study (sweep, ablations): new, or one holding the same study."""
import json
from pathlib import Path


def check_study_folder(out, identity, identity_file, what, error):
    """→ True when `out` already holds this study (resume), False when it is new or empty.

    A file, a folder holding another study (its `identity_file` differs: the differences are named)
    or a non-empty folder without one raises `error` (an exception class), before anything is written.
    `what` names the study in the messages ("sweep", "ablation study").
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise error(f"--out {out} is a file")
    path = out / identity_file
    if path.is_file():
        saved = json.loads(path.read_text())
        diffs = [f"{k}: this {what} {identity.get(k)!r} vs folder {saved.get(k)!r}"
                 for k in sorted(set(saved) | set(identity)) if saved.get(k) != identity.get(k)]
        if diffs:
            raise error(f"--out {out} holds another {what}; refusing to write into it. Differences:\n  "
                        + "\n  ".join(diffs) + "\nChoose another --out folder.")
        return True
    if out.is_dir() and any(out.iterdir()):
        raise error(f"--out {out} is not empty and holds no {what} ({identity_file}); choose an empty or new folder")
    return False


def write_report(out, stem, result, text):
    """A study's result → OUT/<stem>.json (atomically) and OUT/<stem>.md (`text`), the folder made if new."""
    from ..atomic import atomic_write, atomic_write_json
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / f"{stem}.json", result)
    atomic_write(out / f"{stem}.md", text)
