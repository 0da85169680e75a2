"""One `python -m train` run of a study (sweep, ablations), as a subprocess with its own log."""
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[2])  # `python -m train` of this very checkout, from any cwd
DIVERGED = 3  # the trainer's exit status when the loss went non-finite


def run_trainer(cmd, log_path, threads):
    """Run the trainer command `cmd` (a list), appending its output to `log_path` → (exit status, seconds)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (ROOT, os.environ.get("PYTHONPATH", "")) if p))
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    Path(log_path).parent.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    with open(log_path, "a") as log:
        log.write(f"\n# {time.strftime('%Y-%m-%dT%H:%M:%S')} {' '.join(cmd)}\n")
        log.flush()
        rc = subprocess.call(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    return rc, time.time() - t0


def report_failure(name, rc, log_path, how_to_resume):
    print(f"{name}: the trainer failed (exit {rc}); see {log_path}; {how_to_resume}", file=sys.stderr)
