"""A run killed with SIGKILL mid-training resumes from its last checkpoint and ends where an
uninterrupted run ends (same schedule, same data order, same weights)."""
import os
import signal
import subprocess
import sys
import time

import torch

from tests.test_train_helpers import ROOT, make_image_folder, run_module, train_args
from train.metrics_log import read_metrics


def _steps(run):
    return [r for r in read_metrics(run) if r["kind"] == "step"]  # polled mid-run: a torn last line is skipped


def test_sigkill_then_resume_matches_uninterrupted(tmp_path):
    data = make_image_folder(tmp_path / "data")
    args = ["--max-steps", "10", "--ckpt-minutes", "0", "--no-export"]  # checkpoint after every step
    ref, cut = tmp_path / "ref", tmp_path / "cut"
    r = run_module("train", train_args("corrected", data, ref, tmp_path / "cache", *args))
    assert r.returncode == 0, r.stderr

    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", LAINR_TRAIN_STEP_SLEEP="0.3")
    proc = subprocess.Popen([sys.executable, "-m", "train", *train_args("corrected", data, cut, tmp_path / "cache",
                                                                        *args)],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline:
        if (cut / "metrics.jsonl").is_file() and len(_steps(cut)) >= 5:
            break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_at = len(_steps(cut))
    assert 5 <= killed_at < 10, "the kill must land mid-training"
    saved = torch.load(cut / "checkpoint.pt", weights_only=False)["step"]
    assert saved >= killed_at - 1  # at most the step in flight is lost

    r = run_module("train", train_args("corrected", data, cut, tmp_path / "cache", *args))
    assert r.returncode == 0, r.stderr
    assert "resuming" in r.stderr
    a, b = _steps(ref), _steps(cut)
    assert [s["step"] for s in b] == list(range(1, 11))  # no duplicated / missing records
    assert [s["lr"] for s in a] == [s["lr"] for s in b]  # the same schedule
    for x, y in zip(a, b):
        assert abs(x["loss"] - y["loss"]) <= 1e-6 * max(1.0, x["loss"])
    wa = torch.load(ref / "checkpoint.pt", weights_only=False)["model"]
    wb = torch.load(cut / "checkpoint.pt", weights_only=False)["model"]
    for k in wa:
        assert torch.allclose(wa[k], wb[k], atol=1e-6), k
    # re-running a finished run does nothing and says so
    r = run_module("train", train_args("corrected", data, cut, tmp_path / "cache", *args))
    assert r.returncode == 0 and "already finished" in r.stderr
