"""metrics.jsonl: one JSON record per line; kinds "step", "epoch", "val", "end". Also the one JSONL reader.

A finished log kept beside published weights may be gzipped (`metrics.jsonl.gz`: a per-step log compresses ≈ 4×);
the readers take either.
"""
import gzip
import json
from pathlib import Path

from .atomic import atomic_write

METRICS = "metrics.jsonl"


class JsonlError(ValueError):
    """A JSONL file with a line that is not JSON before its last line (a torn last line is expected after a kill)."""


def jsonl_file(path):
    """PATH if it is a file, else PATH.gz if that is one, else None."""
    path = Path(path)
    for candidate in (path, path.with_name(path.name + ".gz")):
        if candidate.is_file():
            return candidate
    return None


def _text(path):
    if path.suffix == ".gz":
        with gzip.open(path, "rt", encoding="utf-8") as f:
            return f.read()
    return path.read_text(encoding="utf-8")


def read_jsonl(path):
    """→ the records of a JSONL file (or of its gzipped copy PATH.gz), in order ([] when there is neither). Blank
    lines are skipped; a last line that is not JSON (cut by a kill mid-write) is dropped; a bad line before it
    raises JsonlError."""
    path = jsonl_file(path)
    if path is None:
        return []
    lines = [(n, line) for n, line in enumerate(_text(path).splitlines(), 1) if line.strip()]
    records = []
    for i, (n, line) in enumerate(lines):
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as err:
            if i == len(lines) - 1:
                break  # the torn last line of a killed writer
            raise JsonlError(f"{path}, line {n}: not JSON ({err}); only the last line may be cut") from err
    return records


class MetricsLog:
    def __init__(self, out, enabled=True):
        self.path = Path(out) / METRICS
        self.enabled = enabled

    def write(self, kind, **fields):
        if not self.enabled:
            return
        with open(self.path, "a") as f:
            f.write(json.dumps({"kind": kind, **fields}) + "\n")
            f.flush()


def read_metrics(run_dir):
    """The records of RUN_DIR/metrics.jsonl ([] when there is none)."""
    return read_jsonl(Path(run_dir) / METRICS)


def truncate_metrics(out, step):
    """Drop metrics records written after the checkpoint's step (they will be redone on resume), and a torn
    last line."""
    path = Path(out) / METRICS
    if not path.is_file():
        return
    keep = [json.dumps(rec) for rec in read_jsonl(path) if rec.get("step", 0) <= step]
    atomic_write(path, "\n".join(keep) + "\n" if keep else "")
