"""metrics.jsonl: one JSON record per line; kinds "step", "epoch", "val", "end"."""
import json
from pathlib import Path

from .checkpoint import METRICS


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
    path = Path(run_dir) / METRICS
    records = []
    if path.is_file():
        for line in path.read_text().splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                pass
    return records
