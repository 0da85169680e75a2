"""train.study.sweep (issue 9 part 3): the recipe study on tiny models and tiny data — end to end, resume by
skipping scored configurations, --confirm, --dry-run, and bad input refused before anything is written."""
import json

import pytest

from tests.test_train_helpers import make_image_folder, run_module
from train.tiny import TINY
from train.study.sweep import default_grid, steps_for

PAIR = "b8-lr1e-4-w0,b8-lr4e-4-w0"


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    return make_image_folder(tmp_path_factory.mktemp("data") / "tiny")  # 12 train, 6 test images


def sweep_args(data, out, cache, *extra, passes=16):
    return ["--model", "simplified", "--data", str(data), "--out", str(out), "--cache-dir", str(cache),
            "--passes", str(passes), "--eval-images", "4", "--parallel", "2", "--threads", "1",
            "--config-json-base", json.dumps(TINY["simplified"]), *extra]


def _main(args, capsys):
    """train.study.sweep in this process (for calls that train nothing): → (rc, stdout, stderr)."""
    from types import SimpleNamespace

    from train.study.sweep import main
    rc = main(args)
    cap = capsys.readouterr()
    return SimpleNamespace(returncode=rc, stdout=cap.out, stderr=cap.err)


def _snapshot(out):
    return {p.relative_to(out): (p.stat().st_mtime_ns, p.read_bytes()) for p in sorted(out.rglob("*"))
            if p.is_file()} if out.exists() else None


def test_default_grids_cover_the_issue_minimums():
    for model in ("simplified", "corrected"):
        grid = default_grid(model)
        recipes = {n: c for n, c in grid.items() if not c["ablation"]}
        assert len(recipes) >= 6
        lrs = sorted({c["lr"] for c in recipes.values()})
        batches = sorted({c["batch_size"] for c in recipes.values()})
        p = {"simplified": (1e-4, 32), "corrected": (5e-4, 16)}[model]
        assert lrs == pytest.approx([p[0], 2 * p[0], 4 * p[0]]) and batches == [p[1] // 4, p[1]]
        assert len({c["warmup_frac"] for c in recipes.values()}) >= 2
        assert all(c["model_config"] == {} for c in recipes.values())  # architecture stays the protocol's
    c = default_grid("corrected")
    assert c["b4-lr1e-3-w0.125-alpha0"]["model_config"] == {"bias_alpha": 0}
    assert {"b16-lr5e-4-w0.125", "b4-lr1e-3-w0", "b4-lr1e-3-w0.25"} <= set(c)
    assert "b8-lr2e-4-w0.125" in default_grid("simplified")
    assert steps_for(2000, 16) == 125 and steps_for(2000, 3) == 667


def test_bad_input_is_refused_before_anything_is_written(tmp_path, tiny_data, capsys):
    out = tmp_path / "sw"
    r = _main(sweep_args(tiny_data, out, tmp_path / "c", "--configs", "b8-lr1e-4-w0,nope"), capsys)
    assert r.returncode == 2 and "unknown configuration(s) nope" in r.stderr and "known: b32-lr1e-4-w0" in r.stderr
    assert not out.exists()
    # --dry-run: the plan, nothing trained or written
    r = _main(sweep_args(tiny_data, out, tmp_path / "c", "--configs", PAIR, "--dry-run",
                                             "--confirm", "1"), capsys)
    assert r.returncode == 0, r.stderr
    assert "b8-lr1e-4-w0" in r.stdout and "2 steps" in r.stdout and "CPU-core hours" in r.stdout
    assert "@2x" in r.stdout and not out.exists()
    # a folder holding something else
    out.mkdir()
    (out / "notes.txt").write_text("x")
    r = _main(sweep_args(tiny_data, out, tmp_path / "c", "--configs", PAIR), capsys)
    assert r.returncode == 2 and "holds no sweep" in r.stderr and sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def test_sweep_end_to_end_resume_confirm_and_another_sweep_refused(tmp_path, tiny_data, capsys):
    out, cache = tmp_path / "sw", tmp_path / "cache"
    r = run_module("train.study.sweep", sweep_args(tiny_data, out, cache, "--configs", PAIR))
    assert r.returncode == 0, r.stdout + r.stderr
    res = json.loads((out / "sweep.json").read_text())
    assert [c["name"] for c in res["configs"]] == PAIR.split(",")
    for c in res["configs"]:
        assert c["status"] == "done" and c["steps"] == 2 and c["image_passes"] == 16
        # scored on the held-out validation images (train/splits.py): 2 of the 12 training images
        assert c["n_val"] == 2 and 0 < c["val_psnr"] < 60 and 0 <= c["val_ssim"] <= 1
        assert c["img_s"] > 0 and c["wall_s"] > 0
        run = json.loads((out / "runs" / c["name"] / "run.json").read_text())
        assert run["total_steps"] == 2 and run["config"]["lr"] == c["lr"] and run["config"]["seed"] == 0
        assert run["config"]["model_config"] == TINY["simplified"] and run["config"]["batch_size"] == 8
    table = (out / "table.md").read_text()
    assert table.index(res["best"]) < table.index(next(n for n in PAIR.split(",") if n != res["best"]))
    assert (out / "psnr_vs_passes.png").stat().st_size > 1000
    assert f"best: {res['best']} (lr" in r.stdout and "RECIPES['cpu']['simplified']" in r.stdout

    # the score is what evaluate_split measures on the checkpoint, on the same first N test images
    from argparse import Namespace

    from train.study.sweep import score_checkpoint
    a = Namespace(threads=1, data_root="data", cache_dir=str(cache), eval_images=4)
    m = score_checkpoint(out / "runs" / PAIR.split(",")[0], res["identity"], a)
    assert m["n"] == 2 and m["psnr"] == pytest.approx(res["configs"][0]["val_psnr"], abs=1e-6)

    # re-running the same command trains nothing: every file of the runs is untouched
    runs_before = _snapshot(out / "runs")
    r = _main(sweep_args(tiny_data, out, cache, "--configs", PAIR), capsys)
    assert r.returncode == 0, r.stderr
    assert _snapshot(out / "runs") == runs_before
    assert json.loads((out / "sweep.json").read_text())["configs"] == res["configs"]

    # another sweep (other passes) in the same folder: refused, nothing written
    before = _snapshot(out)
    r = _main(sweep_args(tiny_data, out, cache, "--configs", PAIR, passes=24), capsys)
    assert r.returncode == 2 and "holds another sweep" in r.stderr and "passes: this sweep 24 vs folder 16" in r.stderr
    assert _snapshot(out) == before

    # --confirm 1: only the best one is re-run, at twice the passes
    r = run_module("train.study.sweep", sweep_args(tiny_data, out, cache, "--configs", PAIR, "--confirm", "1"))
    assert r.returncode == 0, r.stderr
    assert _snapshot(out / "runs").keys() >= runs_before.keys()
    assert {k: v for k, v in _snapshot(out / "runs").items() if k in runs_before} == runs_before
    res2 = json.loads((out / "sweep.json").read_text())
    (conf,) = res2["confirm"]
    assert conf["name"] == f"{res['best']}@2x" and conf["base"] == res["best"]
    assert conf["status"] == "done" and conf["steps"] == 4 and conf["image_passes"] == 32
    assert (out / "runs" / conf["name"] / "checkpoint.pt").is_file()
    assert "## Confirmation: the best 1 at 32 image passes" in (out / "table.md").read_text()
    assert res2["best"] == res["best"] and f"best: {res['best']} (lr" in r.stdout
    assert "one configuration: no ranking to compare" in (out / "table.md").read_text()

    # --report: the reports from what is scored so far (the whole grid without --configs); nothing trained
    runs_now = _snapshot(out / "runs")
    (out / "runs" / "b32-lr1e-4-w0").mkdir()
    (out / "runs" / "b32-lr1e-4-w0" / "checkpoint.pt").write_bytes(b"x")  # a run that was started
    r = _main(sweep_args(tiny_data, out, cache, "--report"), capsys)
    assert r.returncode == 0, r.stderr
    assert {k: v for k, v in _snapshot(out / "runs").items() if k in runs_now} == runs_now
    rep = json.loads((out / "sweep.json").read_text())
    status = {c["name"]: c["status"] for c in rep["configs"]}
    assert status == {n: "done" if n in PAIR.split(",") else "unfinished" if n == "b32-lr1e-4-w0" else "not started"
                      for n in default_grid("simplified")}
    assert [c["name"] for c in rep["confirm"]] == [f"{res['best']}@2x"] and rep["best"] == res["best"]
    assert "| – | `b32-lr1e-4-w0` |" in r.stdout and "unfinished" in r.stdout and "the best confirmed" in r.stdout
    r = _main(sweep_args(tiny_data, tmp_path / "empty", cache, "--report"), capsys)
    assert r.returncode == 2 and "holds no sweep" in r.stderr
    assert not (tmp_path / "empty").exists()
