"""Schedules by steps (issue 9): the planned total, --time-budget → steps, --extend-to, resume rules,
recipes, and every bad input refused before anything is written."""
import json
import math
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from tests.test_train_helpers import ROOT, make_image_folder, run_module, train_args
from train.config import TrainConfig
from train.metrics_log import read_metrics
from train.recipes import RECIPES
from train.schedule import compressed_lr, lr_for_step, protocol_lr


def _steps(run):
    return [r for r in read_metrics(run) if r["kind"] == "step"]  # polled mid-run: a torn last line is skipped


def _run(tmp_path, model, data, out, *extra):
    from train.cli import main
    return main(train_args(model, data, out, tmp_path / "cache", *extra))


def _snapshot(out):
    return {f.name: f.read_bytes() for f in out.iterdir() if f.is_file()} if out.exists() else None


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    return make_image_folder(tmp_path_factory.mktemp("data") / "tiny")  # 12 train images: 3 steps per epoch


# ---- pure functions ----------------------------------------------------------------------------
def test_recipes_resolve_with_overrides_and_protocol_default():
    c = TrainConfig(model="corrected").resolved()
    assert (c.recipe, c.lr, c.batch_size, c.warmup_frac) == ("protocol", 5e-4, 16, 5 / 40)
    s = TrainConfig(model="simplified").resolved()
    assert (s.lr, s.batch_size, s.warmup_frac) == (1e-4, 32, 0.0)
    c = TrainConfig(model="corrected", recipe="cpu").resolved()
    assert (c.lr, c.batch_size, c.warmup_frac) == (1e-3, 4, 1 / 8)
    s = TrainConfig(model="simplified", recipe="cpu").resolved()  # the sweep's winner (train/results)
    assert (s.lr, s.batch_size, s.warmup_frac) == (2e-4, 8, 1 / 8)
    g = TrainConfig(model="corrected", recipe="gpu").resolved()
    assert (g.lr, g.batch_size, g.warmup_frac) == (1.5e-3, 128, 1 / 8)
    g = TrainConfig(model="simplified", recipe="gpu").resolved()
    assert (g.lr, g.batch_size, g.warmup_frac) == (3e-4, 128, 0.0)
    o = TrainConfig(model="corrected", recipe="cpu", lr=2e-3, batch_size=8, warmup_frac=0.25).resolved()
    assert (o.lr, o.batch_size, o.warmup_frac) == (2e-3, 8, 0.25)  # explicit values win
    assert set(RECIPES) >= {"protocol", "cpu", "gpu"}
    for r in RECIPES.values():  # everything else stays the protocol's
        assert set(r) == {"simplified", "corrected"} and all(set(v) == {"lr", "batch_size", "warmup_frac"}
                                                            for v in r.values())
    c = TrainConfig(model="corrected", recipe="cpu").resolved()
    assert (c.pixels, c.train_sigma, c.weight_decay, c.grad_clip, c.epochs) == (1024, 0.01, 1e-5, 1.0, 40)
    with pytest.raises(ValueError, match="known recipes: protocol, cpu, gpu"):
        TrainConfig(model="corrected", recipe="fast").resolved()
    with pytest.raises(ValueError, match="warmup"):
        TrainConfig(model="corrected", warmup_frac=1.0).resolved()


def test_warmup_fraction_shapes_the_compressed_and_protocol_schedules():
    steps = 400
    for frac in (0.25, 0.1):
        cfg = TrainConfig(model="simplified", max_steps=steps, warmup_frac=frac).resolved()
        lrs = [lr_for_step(cfg, s, 0) for s in range(steps)]
        peak = max(range(steps), key=lambda s: lrs[s])
        assert peak == round(steps * frac) - 1 and lrs[peak] == pytest.approx(1e-4)
        assert lrs[-1] / 1e-4 == pytest.approx(0.5 * (1 + math.cos(math.pi / 2.5)))  # the protocol's end
    cfg = TrainConfig(model="corrected", max_steps=steps, warmup_frac=0.0).resolved()
    assert lr_for_step(cfg, 0, 0) == pytest.approx(5e-4, rel=1e-4) and lr_for_step(cfg, steps - 1, 0) == 1e-8
    # the defaults are the protocol's (and the old trainer's)
    assert compressed_lr("corrected", 5e-4, 0.3) == compressed_lr("corrected", 5e-4, 0.3, 1 / 8)
    assert compressed_lr("simplified", 1e-4, 0.3) == compressed_lr("simplified", 1e-4, 0.3, 0.0)
    assert [protocol_lr("corrected", 5e-4, e, 40, 0.25) for e in range(10)][9] == pytest.approx(5e-4)
    assert protocol_lr("simplified", 1e-4, 0, 20, 0.25) == pytest.approx(1e-4 / 5)


def test_extension_segments_set_the_rate_from_their_step():
    from train.schedule import new_plan, schedule_description
    cfg = TrainConfig(model="corrected", max_steps=8).resolved()
    plan = new_plan(8, "max_steps") + [{"from_step": 8, "total_steps": 16}]
    lrs = [lr_for_step(cfg, s, 0, plan) for s in range(16)]
    assert lrs[:8] == [lr_for_step(cfg, s, 0) for s in range(8)] and lrs[7] == pytest.approx(1e-8)
    assert lrs[8:] == [compressed_lr("corrected", 5e-4, (s + 1) / 16) for s in range(8, 16)]  # over the new total
    assert lrs[-1] == pytest.approx(1e-8)
    text = schedule_description(cfg, 16, 4.0, plan)
    assert text == "protocol schedule compressed to 8 steps (2.00 epochs), extended at step 8 to 16 steps (4.00 epochs)"
    stopped = schedule_description(cfg, 12, 3.0, plan)  # a run stopped (or exported) before its end says so
    assert stopped == text + ", stopped at step 12 (3.00 epochs), before the schedule's end"


# ---- runs --------------------------------------------------------------------------------------
def test_time_budget_plans_steps_and_stops_there_not_at_the_wall_time(tmp_path, tiny_data, monkeypatch):
    import train.loop
    monkeypatch.setattr(train.loop, "_probe_seconds_per_step", lambda *a, **k: (0.1, 10))  # 40 img/s at batch 4
    monkeypatch.setenv("LAINR_TRAIN_STEP_SLEEP", "0.25")  # 10 steps take ≥ 2.5 s: far over the 1 s budget
    out = tmp_path / "tb"
    t0 = time.time()
    assert _run(tmp_path, "corrected", tiny_data, out, "--time-budget", "1s", "--no-export") == 0
    assert time.time() - t0 > 2.5
    run = json.loads((out / "run.json").read_text())
    assert run["total_steps"] == 10 and run["plan"][0]["source"] == "time_budget"
    assert run["plan"][0]["probe_img_s"] == pytest.approx(40) and run["history"][-1]["total_steps"] == 10
    steps = _steps(out)
    assert [s["step"] for s in steps] == list(range(1, 11))  # all planned steps, though the budget was spent
    cfg = TrainConfig(model="corrected", batch_size=4, max_steps=10).resolved()
    assert [s["lr"] for s in steps] == pytest.approx([lr_for_step(cfg, i, 0) for i in range(10)], rel=1e-12)
    assert steps[-1]["lr"] == pytest.approx(1e-8)  # the schedule ends at the planned total
    ckpt = torch.load(out / "checkpoint.pt", weights_only=False)
    assert ckpt["total_steps"] == 10 and ckpt["plan"] == run["plan"] and ckpt["finished"]
    # --max-steps and --time-budget together: the smaller total
    out2 = tmp_path / "both"
    assert _run(tmp_path, "corrected", tiny_data, out2, "--time-budget", "1s", "--max-steps", "4", "--no-export") == 0
    assert json.loads((out2 / "run.json").read_text())["total_steps"] == 4
    # a budget beyond the protocol's epochs is capped there (simplified: 20 epochs × 3 steps)
    monkeypatch.setenv("LAINR_TRAIN_STEP_SLEEP", "0")
    out3 = tmp_path / "cap"
    assert _run(tmp_path, "simplified", tiny_data, out3, "--max-steps", "1000", "--epochs", "1", "--no-export") == 0
    run3 = json.loads((out3 / "run.json").read_text())
    assert run3["total_steps"] == 3 and run3["plan"][0]["capped_at_epochs"] == 1 and len(_steps(out3)) == 3


def test_time_budget_run_killed_and_resumed_replays_the_same_rates(tmp_path, tiny_data):
    """A real probe (no monkeypatching): the planned total is recorded; a SIGKILLed and resumed run
    logs, at every step, the rate of an uninterrupted --max-steps run of that total."""
    args = ["--time-budget", "2s", "--ckpt-minutes", "0", "--no-export"]  # checkpoint after every step
    cut = tmp_path / "cut"
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", LAINR_TRAIN_STEP_SLEEP="0.3")
    proc = subprocess.Popen([sys.executable, "-m", "train", *train_args("simplified", tiny_data, cut,
                                                                        tmp_path / "cache", *args)],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline:
        if (cut / "metrics.jsonl").is_file() and len(_steps(cut)) >= 4:
            break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    run = json.loads((cut / "run.json").read_text())
    total, first = run["total_steps"], run["plan"][0]
    assert first["source"] == "time_budget" and 2 <= first["probe_steps"] <= 10
    assert total == min(60, int(2 / (4 / first["probe_img_s"])))  # budget / (seconds per step), ≤ 20 epochs
    assert 4 <= len(_steps(cut)) < total, "the kill must land mid-training"

    r = run_module("train", train_args("simplified", tiny_data, cut, tmp_path / "cache", *args))
    assert r.returncode == 0, r.stderr
    assert "resuming" in r.stderr and "planned" not in r.stderr  # no second probe: the plan is kept
    ref = tmp_path / "ref"
    r = run_module("train", train_args("simplified", tiny_data, ref, tmp_path / "cache", "--max-steps", str(total),
                                       "--no-export"))
    assert r.returncode == 0, r.stderr
    a, b = _steps(ref), _steps(cut)
    assert [s["step"] for s in b] == list(range(1, total + 1))
    assert [s["lr"] for s in a] == [s["lr"] for s in b]  # the same rate at every step
    for x, y in zip(a, b):
        assert abs(x["loss"] - y["loss"]) <= 1e-6 * max(1.0, x["loss"])


def test_extend_to_continues_over_the_new_total_and_the_card_lists_it(tmp_path, tiny_data, capsys):
    out = tmp_path / "ext"
    assert _run(tmp_path, "corrected", tiny_data, out, "--max-steps", "6", "--no-export") == 0
    assert _run(tmp_path, "corrected", tiny_data, out, "--max-steps", "6") == 0
    assert "already finished" in capsys.readouterr().err and not (out / "hf").exists()
    before = _snapshot(out)
    # the finished corrected run stands at 1e-8; the schedule over 10 steps is at ~0.6× peak at step 6
    assert _run(tmp_path, "corrected", tiny_data, out, "--max-steps", "6", "--extend-to", "10") == 2
    err = capsys.readouterr().err
    assert "would jump from 1e-08" in err and "--rewarmup-steps" in err and _snapshot(out) == before
    assert _run(tmp_path, "corrected", tiny_data, out, "--max-steps", "6", "--extend-to", "10",
                "--rewarmup-steps", "0") == 0  # the jump, as asked
    assert "extended at step 6 from 6 to 10" in capsys.readouterr().err
    lrs = [s["lr"] for s in _steps(out)]
    cfg = TrainConfig(model="corrected", batch_size=4, max_steps=6).resolved()
    assert lrs[:6] == pytest.approx([lr_for_step(cfg, s, 0) for s in range(6)], rel=1e-12)
    assert lrs[6:] == pytest.approx([compressed_lr("corrected", 5e-4, (s + 1) / 10) for s in range(6, 10)], rel=1e-12)
    run = json.loads((out / "run.json").read_text())
    assert run["total_steps"] == 10 and [(e["from_step"], e["from_total"], e["total_steps"])
                                         for e in run["extensions"]] == [(6, 6, 10)]
    assert run["history"][-1]["extension"]["total_steps"] == 10
    assert run["config"]["max_steps"] == 6  # the run keeps the budget flags it was started with
    card = (out / "hf" / "README.md").read_text()
    assert "protocol schedule compressed to 6 steps (2.00 epochs), extended at step 6 to 10 steps" in card
    assert "at step 6: 6 → 10 steps (lr 1e-08 → 0.000" in card and "at once, as asked" in card
    info = json.loads((out / "hf" / "training_info.json").read_text())
    assert info["total_steps"] == 10 and len(info["extensions"]) == 1
    # the same --extend-to again, or the plain command (with or without budget flags): nothing more to do
    for extra in (["--extend-to", "10"], ["--max-steps", "6"], []):
        assert _run(tmp_path, "corrected", tiny_data, out, "--no-export", *extra) == 0
        assert "already finished at step 10" in capsys.readouterr().err
    assert len(json.loads((out / "run.json").read_text())["extensions"]) == 1


def test_recipe_in_run_json_and_card(tmp_path, tiny_data):
    out = tmp_path / "rec"
    assert _run(tmp_path, "corrected", tiny_data, out, "--recipe", "cpu", "--max-steps", "2", "--lr", "2e-3") == 0
    run = json.loads((out / "run.json").read_text())
    assert run["config"]["recipe"] == "cpu" and run["config"]["lr"] == 2e-3 and run["config"]["warmup_frac"] == 0.125
    assert run["history"][-1]["recipe"] == "cpu"
    card = (out / "hf" / "README.md").read_text()
    assert "recipe **cpu**: peak lr 0.001, batch 4, warm-up 1/8 of the run" in card
    assert "overridden here: peak lr 0.002" in card
    assert "SPEC §5 protocol: peak lr 0.0005, batch 16, warm-up 1/8 of the run" in card
    # a different recipe is a different run
    from train.cli import main
    assert main(train_args("corrected", tiny_data, out, tmp_path / "cache", "--recipe", "gpu", "--max-steps", "2",
                           "--lr", "2e-3")) == 2


def test_bad_schedule_input_is_refused_before_anything_is_written(tmp_path, tiny_data, capsys):
    out = tmp_path / "run"
    assert _run(tmp_path, "simplified", tiny_data, out, "--max-steps", "6", "--no-export") == 0
    capsys.readouterr()
    before = _snapshot(out)
    cases = [
        (["--max-steps", "6", "--extend-to", "3"], "below the 6 steps"),
        (["--max-steps", "8"], "--extend-to"),  # a changed budget on resume
        (["--time-budget", "1h"], "was started with --max-steps 6"),
        (["--max-steps", "9", "--extend-to", "12"], "give it alone"),
        (["--extend-to", "0"], "positive"),
        (["--max-steps", "6", "--epochs", "3"], "epochs: 20 → 3 (to train longer"),  # epochs shape the schedule
        (["--max-steps", "6", "--lr", "3e-4"], "lr: 0.0001 → 0.0003 (a new run"),
        (["--rewarmup-steps", "2"], "belongs to an extension"),
        (["--extend-to", "12", "--rewarmup-steps", "13"], "--rewarmup-steps must be in 0..STEPS"),
        (["--max-steps", "6", "--recipe", "turbo"], "known recipes: protocol, cpu, gpu"),
        (["--max-steps", "6", "--warmup-frac", "1.5"], "warmup"),
    ]
    for extra, msg in cases:
        assert _run(tmp_path, "simplified", tiny_data, out, "--no-export", *extra) == 2, extra
        err = capsys.readouterr().err
        assert msg in err, (extra, err)
        assert _snapshot(out) == before, extra  # nothing written
    # on a new directory: nothing created
    for extra, msg in ((["--extend-to", "5"], "holds none"), (["--max-steps", "2", "--recipe", "x"], "known recipes")):
        fresh = tmp_path / "fresh"
        assert _run(tmp_path, "simplified", tiny_data, fresh, *extra) == 2
        assert msg in capsys.readouterr().err and not fresh.exists()
    # a protocol run: a budget flag on resume is refused too (the length changes only with --extend-to)
    proto = tmp_path / "proto"
    assert _run(tmp_path, "simplified", tiny_data, proto, "--epochs", "1", "--no-export") == 0
    capsys.readouterr()
    before = _snapshot(proto)
    assert _run(tmp_path, "simplified", tiny_data, proto, "--epochs", "1", "--max-steps", "5") == 2
    assert "--extend-to" in capsys.readouterr().err and _snapshot(proto) == before


def test_protocol_run_keeps_its_epochs_and_extends_explicitly(tmp_path, tiny_data, capsys):
    """epochs are in a protocol run's identity (its cosine spans them): another --epochs on resume is
    refused with the flag to use instead; --extend-to continues it, here with a re-warm-up."""
    out = tmp_path / "proto"
    assert _run(tmp_path, "corrected", tiny_data, out, "--epochs", "2", "--no-export") == 0  # 6 steps
    capsys.readouterr()
    before = _snapshot(out)
    assert _run(tmp_path, "corrected", tiny_data, out, "--epochs", "4", "--no-export") == 2
    err = capsys.readouterr().err
    assert "epochs: 2 → 4" in err and "--extend-to STEPS" in err and _snapshot(out) == before
    assert _run(tmp_path, "corrected", tiny_data, out, "--no-export") == 0  # no --epochs: the run's own
    assert "already finished at step 6" in capsys.readouterr().err
    assert _run(tmp_path, "corrected", tiny_data, out, "--extend-to", "12", "--rewarmup-steps", "3") == 0
    cfg = TrainConfig(model="corrected", batch_size=4, epochs=2).resolved()
    lrs = [s["lr"] for s in _steps(out)]
    assert lrs[:6] == pytest.approx([protocol_lr("corrected", 5e-4, s // 3, 2) for s in range(6)], rel=1e-12)
    new = [compressed_lr("corrected", 5e-4, (s + 1) / 12) for s in range(6, 12)]
    r0 = lrs[5]
    assert lrs[6:9] == pytest.approx([r0 + (new[i] - r0) * (i + 1) / 3 for i in range(3)], rel=1e-12)  # the ramp
    assert lrs[9:] == pytest.approx(new[3:], rel=1e-12) and lrs[-1] == pytest.approx(1e-8)
    run = json.loads((out / "run.json").read_text())
    assert run["total_steps"] == 12 and run["plan"][0]["source"] == "protocol" and run["config"]["epochs"] == 2
    card = (out / "hf" / "README.md").read_text()
    assert ("protocol, 2 epochs (6 steps), extended at step 6 to 12 steps (4.00 epochs) with a 3-step linear "
            f"re-warm-up from lr {r0:.3g} to the new schedule") in card
    assert lr_for_step(cfg, 7, 2, run["plan"]) == pytest.approx(lrs[7], rel=1e-12)


def test_each_resumed_segment_keeps_its_bf16_and_threads(tmp_path, tiny_data):
    out = tmp_path / "seg"
    assert _run(tmp_path, "simplified", tiny_data, out, "--max-steps", "2", "--no-export") == 0
    assert _run(tmp_path, "simplified", tiny_data, out, "--extend-to", "4", "--threads", "2", "--bf16") == 0
    ckpt = torch.load(out / "checkpoint.pt", weights_only=False)
    assert [(s["from_step"], s["bf16"], s["threads"]) for s in ckpt["segments"]] == [(0, False, 1), (2, True, 2)]
    run = json.loads((out / "run.json").read_text())
    assert [(h["bf16"], h["threads"]) for h in run["history"]] == [(False, 1), (True, 2)]
    card = (out / "hf" / "README.md").read_text()
    assert "steps 0–2: bf16 off, 1 thread(s)" in card and "steps 2–4: bf16 on, 2 thread(s)" in card


def test_old_wall_time_checkpoint_needs_an_explicit_extension(tmp_path, tiny_data, capsys):
    """A checkpoint of the old trainer (--time-budget, no step plan) cannot replay its rates: a plain
    resume is refused; --extend-to continues it on a step schedule and the card says so."""
    out = tmp_path / "old"
    assert _run(tmp_path, "corrected", tiny_data, out, "--max-steps", "3", "--no-export") == 0
    ckpt = torch.load(out / "checkpoint.pt", weights_only=False)
    for c in (ckpt["config"],):
        c.update(max_steps=0, time_budget=600.0)
        del c["recipe"], c["warmup_frac"]
    del ckpt["plan"], ckpt["total_steps"]
    ckpt["finished"] = False
    torch.save(ckpt, out / "checkpoint.pt")
    run = json.loads((out / "run.json").read_text())
    run["config"] = ckpt["config"]
    (out / "run.json").write_text(json.dumps(run))
    capsys.readouterr()
    assert _run(tmp_path, "corrected", tiny_data, out, "--time-budget", "600s", "--no-export") == 2
    assert "old trainer" in capsys.readouterr().err
    assert _run(tmp_path, "corrected", tiny_data, out, "--time-budget", "600s", "--extend-to", "5",
                "--rewarmup-steps", "0") == 0  # from the finished run's 1e-8: the jump is asked for
    lrs = [s["lr"] for s in _steps(out)]
    assert lrs[3:] == pytest.approx([compressed_lr("corrected", 5e-4, (s + 1) / 5) for s in (3, 4)], rel=1e-12)
    card = (out / "hf" / "README.md").read_text()
    assert "compressed by wall time (old trainer), extended at step 3 to 5 steps" in card
