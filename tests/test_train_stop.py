"""Ctrl-C / SIGTERM stops a run cleanly: the step in flight finishes, a checkpoint is written at exactly
that step (even with periodic checkpoints off), the exit code says which signal, and the same command
resumes to the end an uninterrupted run reaches. Also: --bf16 trains on CPU, and the hardware line names
the CPU model and vector width."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from tests.test_train_helpers import ROOT, make_image_folder, run_module, train_args
from train import hardware
from train.metrics_log import read_metrics


def _steps(run):
    return [r for r in read_metrics(run) if r["kind"] == "step"]  # polled mid-run: a torn last line is skipped


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_after_a_checkpoint_and_resumes(tmp_path, signum):
    data = make_image_folder(tmp_path / "data")
    args = ["--max-steps", "8", "--ckpt-minutes", "600", "--no-export"]  # no periodic checkpoint in this run
    ref, cut = tmp_path / "ref", tmp_path / "cut"
    r = run_module("train", train_args("simplified", data, ref, tmp_path / "cache", *args))
    assert r.returncode == 0, r.stderr

    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", LAINR_TRAIN_STEP_SLEEP="0.3")
    proc = subprocess.Popen([sys.executable, "-m", "train",
                             *train_args("simplified", data, cut, tmp_path / "cache", *args)],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 600  # generous: a loaded CI machine can be slow to start torch
    while time.time() < deadline and len(_steps(cut)) < 3 and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None and len(_steps(cut)) >= 3, "the run must be mid-training when signalled"
    os.kill(proc.pid, signum)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signum, err
    done = len(_steps(cut))
    assert 3 <= done < 8, "the signal must land mid-training"
    ckpt = torch.load(cut / "checkpoint.pt", weights_only=False)
    assert ckpt["step"] == done and not ckpt["finished"]  # saved at the last completed step: nothing lost
    assert f"stopped on request at step {done} of 8" in err and "resume" in err

    r = run_module("train", train_args("simplified", data, cut, tmp_path / "cache", *args))
    assert r.returncode == 0, r.stderr
    assert f"resuming {cut} at step {done}" in r.stderr
    a, b = _steps(ref), _steps(cut)
    assert [s["step"] for s in b] == list(range(1, 9))
    assert [s["lr"] for s in a] == [s["lr"] for s in b]
    wa = torch.load(ref / "checkpoint.pt", weights_only=False)["model"]
    wb = torch.load(cut / "checkpoint.pt", weights_only=False)["model"]
    for k in wa:
        assert torch.allclose(wa[k], wb[k], atol=1e-6), k


def test_bf16_trains_on_cpu(tmp_path):
    """CPU bf16 autocast: the run completes, its loss falls, and run.json records bf16."""
    data = make_image_folder(tmp_path / "data")
    out = tmp_path / "run"
    r = run_module("train", train_args("corrected", data, out, tmp_path / "cache", "--max-steps", "12", "--lr",
                                       "3e-3", "--no-export", "--bf16", "--device", "cpu"))
    assert r.returncode == 0, r.stderr
    steps = _steps(out)
    assert len(steps) == 12 and all(map(lambda s: s["loss"] == s["loss"], steps))
    assert sum(s["loss"] for s in steps[-3:]) < sum(s["loss"] for s in steps[:3])
    assert json.loads((out / "run.json").read_text())["config"]["bf16"] is True


def test_hardware_line_names_cpu_and_vector_width():
    line = hardware.describe("cpu")
    assert line.startswith("CPU only:") and hardware.vector_width() in line
    flags = open("/proc/cpuinfo").read() if os.path.exists("/proc/cpuinfo") else ""
    if " avx512f" in flags:
        assert hardware.vector_width().startswith("AVX-512")
    assert hardware.cpu_has_bf16() == (" avx512_bf16" in flags or " amx_bf16" in flags)
