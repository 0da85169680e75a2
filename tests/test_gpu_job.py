"""The GPU call's dry run on CPU (train/gpu/gpu_run.sh with DEVICE=cpu TINY=1), its output against the
device tool's limits, train.publish.collect, and the bad inputs refused before any training."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_train_helpers import ROOT, run_module
from tests.test_train_pack import jpeg_folder
from train.gpu.pack import pack

MAX_FILES, MAX_FILE_BYTES, MAX_DEPTH = 8, 16 * 2 ** 20, 2  # what a device call can bring back
NAME_OK = re.compile(r"^[A-Za-z0-9._-]+$")


def gpu_run(args, env=None, timeout=900, cwd=ROOT):
    """The script as documented: `bash train/gpu/gpu_run.sh …` from `cwd`, without PYTHONPATH (it sets its own)."""
    full = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    full.update(OMP_NUM_THREADS="1", **(env or {}))
    script = "train/gpu/gpu_run.sh" if cwd == ROOT else str(ROOT / "train" / "gpu" / "gpu_run.sh")
    return subprocess.run(["bash", script, *args], cwd=cwd, env=full, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("gpu_job")
    data = pack(jpeg_folder(tmp / "folder", n_train=8, n_test=3), tmp / "pack.npz")
    out = tmp / "out"
    r = gpu_run(["both", str(data), "6s", str(out)],
                env={"DEVICE": "cpu", "TINY": "1",
                     "JOB_ARGS": "--batch-size 4 --bench-steps 2 --val-limit 6 --export-eval-limit 6 --eval-limit 6"})
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return tmp, out, r


def fits_the_device_limits(out):
    """→ the names of the files in out, after checking them against what a device call can bring back."""
    files = [p for p in out.rglob("*") if p.is_file()]
    assert 0 < len(files) <= MAX_FILES
    for f in files:
        assert f.stat().st_size <= MAX_FILE_BYTES, f
        assert len(f.relative_to(out).parts) - 1 <= MAX_DEPTH, f
        assert all(NAME_OK.match(part) for part in f.relative_to(out).parts), f
    return {f.name for f in files}


def test_dry_run_output_fits_the_device_limits(dry_run):
    _, out, _ = dry_run
    names = fits_the_device_limits(out)
    assert {"report.json", "log.txt", "simplified.tar", "corrected.tar", "eval.tar"} <= names


def test_dry_run_report_has_every_stage(dry_run):
    _, out, _ = dry_run
    report = json.loads((out / "report.json").read_text())
    assert report["finished"] and report["device"] == "cpu"
    for stage in ("data", "scan", "benchmark", "train_simplified", "train_corrected", "export_simplified",
                  "export_corrected", "evaluate"):
        assert stage in report["stages"], stage
    for model in ("simplified", "corrected"):
        bench = report["benchmark"][model]
        assert bench["img_per_s"] > 0 and 0 < bench["scan_share"] <= 1
        train = report["stages"][f"train_{model}"]
        assert train["rc"] == 0 and train["planned_steps"] >= 1 and train["batch_size"] == 4
        assert train["requested_steps"] >= train["planned_steps"]  # the trainer caps a plan at the epochs
        assert report["stages"][f"export_{model}"]["step"] == train["planned_steps"]  # ran to the plan
        assert report["stages"][f"export_{model}"]["with_full_metrics"]  # card figures from train.eval.evaluate


def test_collect_gives_strictly_loading_folders_with_cards(dry_run, tmp_path):
    _, out, _ = dry_run
    r = run_module("train.publish.collect", [str(out), str(tmp_path / "weights")])
    assert r.returncode == 0, r.stderr
    from lainr import CorrectedGINR, SimplifiedGINR
    for name, cls in (("simplified", SimplifiedGINR), ("corrected", CorrectedGINR)):
        folder = tmp_path / "weights" / name
        cls.from_pretrained(str(folder))  # strict
        card = (folder / "README.md").read_text()
        assert "How this folder was made (one GPU call" in card and "planned optimiser steps" in card
        assert "Recipe `gpu`" in card and (folder / "metrics.jsonl").is_file()
    assert (tmp_path / "weights" / "eval" / "metrics.json").is_file()
    # again: refused without --replace, nothing touched; with --replace the old folder is backed up
    before = (tmp_path / "weights" / "corrected" / "model.safetensors").read_bytes()
    r = run_module("train.publish.collect", [str(out), str(tmp_path / "weights")])
    assert r.returncode == 2 and "--replace" in r.stderr
    r = run_module("train.publish.collect", [str(out), str(tmp_path / "weights"), "--replace"])
    assert r.returncode == 0 and "previous folders moved to" in r.stderr
    assert (tmp_path / "weights" / "corrected" / "model.safetensors").read_bytes() == before


def test_collect_refuses_a_corrupt_or_incomplete_call(dry_run, tmp_path):
    _, out, _ = dry_run
    bad = tmp_path / "bad"
    bad.mkdir()
    for f in out.iterdir():
        (bad / f.name).write_bytes(f.read_bytes())
    data = bytearray((bad / "corrected.tar").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (bad / "corrected.tar").write_bytes(bytes(data))
    r = run_module("train.publish.collect", [str(bad), str(tmp_path / "w")])
    assert r.returncode == 2 and "sha256" in r.stderr and not (tmp_path / "w" / "simplified").exists()
    (bad / "corrected.tar").unlink()
    r = run_module("train.publish.collect", [str(bad), str(tmp_path / "w")])
    assert r.returncode == 2 and "missing" in r.stderr


def test_shipping_splits_big_files_into_parts(tmp_path, monkeypatch):
    import train.gpu.gpu_job as job
    monkeypatch.setattr(job, "PART_BYTES", 1000)
    j = job.Job.__new__(job.Job)
    j.out, j.report, j.t0 = tmp_path / "out", {"files": {}}, 0.0
    j.out.mkdir()
    src = tmp_path / "src"
    src.mkdir()
    (src / "blob.bin").write_bytes(os.urandom(5000))
    j.ship("corrected", src)
    parts = j.report["files"]["corrected"]["parts"]
    assert len(parts) >= 6 and parts[0] == "corrected.tar.00"
    assert all((j.out / p).stat().st_size <= 1000 for p in parts)
    from train.publish.collect import _archive, _unpack
    _unpack(_archive(j.out, "corrected", j.report["files"]["corrected"]), tmp_path / "back")
    assert (tmp_path / "back" / "blob.bin").read_bytes() == (src / "blob.bin").read_bytes()


@pytest.mark.parametrize("case", ["unknown_model", "non_empty_out", "cuda_without_gpu", "bad_budget",
                                  "unknown_recipe", "init_from_without_weights"])
def test_bad_input_is_refused_before_any_training(tmp_path, case):
    data = pack(jpeg_folder(tmp_path / "folder", n_train=2, n_test=1), tmp_path / "pack.npz")
    out = tmp_path / "out"
    model, budget, env = "both", "5s", {"DEVICE": "cpu", "TINY": "1"}
    if case == "unknown_model":
        model, expect = "bigger", "unknown MODEL"
    elif case == "non_empty_out":
        out.mkdir()
        (out / "keep.txt").write_text("mine")
        expect = "not empty"
    elif case == "cuda_without_gpu":
        env, expect = {"DEVICE": "cuda", "CUDA_VISIBLE_DEVICES": ""}, "no CUDA GPU"
    elif case == "init_from_without_weights":
        env, expect = dict(env, JOB_ARGS=f"--init-from {tmp_path}"), "no simplified/config.json there"
    elif case == "unknown_recipe":
        env, expect = dict(env, JOB_ARGS="--recipe fastest"), "unknown recipe 'fastest'"
    else:
        budget, expect = "soon", "bad duration"
    r = gpu_run([model, str(data), budget, str(out)], env=env, timeout=300)
    assert r.returncode == 2 and expect in r.stderr, r.stderr
    if case == "non_empty_out":
        assert [p.name for p in out.iterdir()] == ["keep.txt"]
    else:
        assert not out.exists()
    assert not (tmp_path / "out_work").exists()


def test_gpu_run_parses_and_shows_its_usage():
    assert subprocess.run(["bash", "-n", str(ROOT / "train" / "gpu" / "gpu_run.sh")]).returncode == 0
    r = gpu_run(["both"])
    assert r.returncode == 2 and "usage" in r.stderr and "simplified|corrected|both" in r.stderr


def test_gpu_run_works_from_another_folder_with_relative_paths(tmp_path):
    """Relative DATA and OUT_DIR are the caller's (the script no longer changes folder)."""
    pack(jpeg_folder(tmp_path / "folder", n_train=2, n_test=1), tmp_path / "pack.npz")
    r = gpu_run(["bigger", "pack.npz", "5s", "out"], env={"DEVICE": "cpu", "TINY": "1"}, cwd=tmp_path, timeout=300)
    assert r.returncode == 2 and "unknown MODEL" in r.stderr, r.stderr
    r = gpu_run(["both", "pack.npz", "soon", "out"], env={"DEVICE": "cpu", "TINY": "1"}, cwd=tmp_path, timeout=300)
    assert r.returncode == 2 and "bad duration" in r.stderr, r.stderr  # the data was found relative to tmp_path


def test_study_call_dry_run_on_cpu(tmp_path):
    """The studies' GPU call as documented (`bash train/gpu/gpu_run.sh study PACK 8m OUT`), as its CPU dry run
    (DEVICE=cpu TINY=1, two ablations): the DDP smoke (2 gloo processes), the speed probe and the ablations
    scored within the budget, and what comes back fits the device tool's limits."""
    import tarfile
    pack(jpeg_folder(tmp_path / "folder", n_train=8, n_test=3), tmp_path / "pack.npz")
    r = gpu_run(["study", "pack.npz", "8m", "out"], cwd=tmp_path, timeout=900,
                env={"DEVICE": "cpu", "TINY": "1", "JOB_ARGS": "--ablations corrected,alpha0 --eval-images 6 "
                                                              "--bench-steps 1"})
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    out = tmp_path / "out"
    assert fits_the_device_limits(out) == {"report.json", "log.txt", "ddp.tar", "ablations.tar"}
    report = json.loads((out / "report.json").read_text())
    assert report["finished"] and report["seconds"] < 8 * 60
    smoke = report["stages"]["ddp_smoke"]["gloo"]
    assert smoke["rc"] == 0 and smoke["world_size"] == 2
    assert set(report["probe"]) == {"4"}  # the recipe's batch
    abl = report["stages"]["ablations"]
    assert abl["rc"] == 0 and abl["runs_scored"] == abl["runs_planned"] == 2 and abl["passes_per_run"] >= 1
    with tarfile.open(out / "ablations.tar") as tar:
        names = set(tar.getnames())
    assert {"table.md", "ablations.json", "results/corrected-s0.json", "results/alpha0-s0.json"} <= names


def test_the_wall_clock_guard_stops_the_command_and_what_it_started(tmp_path):
    """A stage cut short by its guard (a study's trainers, torchrun's workers) leaves no process behind."""
    import time

    import train.gpu.gpu_job as job
    (tmp_path / "sleepy.py").write_text(
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'])\n"
        "open(sys.argv[1], 'w').write(str(child.pid))\n"
        "time.sleep(120)\n")
    j = job.Job.__new__(job.Job)
    j.out, j.t0, j.env = tmp_path, 0.0, dict(os.environ, PYTHONPATH=str(tmp_path))
    t = time.time()
    assert j.run(["sleepy", str(tmp_path / "pid")], timeout=8) == 124
    assert time.time() - t < 60
    grandchild = int((tmp_path / "pid").read_text())
    for _ in range(50):
        try:
            os.kill(grandchild, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"the command's own child {grandchild} is still running")
