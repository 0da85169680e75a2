"""Trainer: schedules, bad input, NaN stop, export round trip (tiny models, tiny ImageFolder data)."""
import json
import math

import pytest
import torch

from tests.test_train_helpers import ROOT, make_image_folder, run_module, train_args
from train.tiny import TINY
from train.checkpoint import RunDirError
from train.config import TrainConfig, parse_duration
from train.data import DataError
from train.schedule import compressed_lr, lr_for_step, new_plan, protocol_lr


# ---- schedules ---------------------------------------------------------------------------------
def test_protocol_schedules_match_spec():
    # simplified: CosineAnnealingLR(T_max=50) stepped per epoch, 20 epochs
    opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=50)
    for e in range(20):
        assert protocol_lr("simplified", 1e-4, e, 20) == pytest.approx(opt.param_groups[0]["lr"], rel=1e-9)
        opt.step()
        sched.step()
    assert protocol_lr("simplified", 1e-4, 19, 20) / 1e-4 == pytest.approx(0.5 * (1 + math.cos(math.pi * 19 / 50)))
    # corrected: warm-up (e+1)/5 then cosine to 1e-8 over 35 epochs
    for e in range(5):
        assert protocol_lr("corrected", 5e-4, e, 40) == pytest.approx(5e-4 * (e + 1) / 5)
    for e in range(5, 40):
        want = 1e-8 + 0.5 * (5e-4 - 1e-8) * (1 + math.cos(math.pi * (e - 5) / 35))
        assert protocol_lr("corrected", 5e-4, e, 40) == pytest.approx(want)


def test_compressed_schedule_keeps_the_shape():
    steps = 800
    cfg = TrainConfig(model="corrected", max_steps=steps).resolved()
    lrs = [lr_for_step(cfg, s, 0) for s in range(steps)]
    peak = max(range(steps), key=lambda s: lrs[s])
    assert peak == steps // 8 - 1  # warm-up is the first 5/40 of the run
    assert lrs[0] == pytest.approx(5e-4 / 100)  # linear warm-up from lr / (steps / 8)
    assert all(a <= b for a, b in zip(lrs[:peak], lrs[1:peak + 1]))
    assert all(a >= b for a, b in zip(lrs[peak:], lrs[peak + 1:]))
    assert lrs[-1] == pytest.approx(1e-8)  # the cosine ends at the last step
    cfg = TrainConfig(model="simplified", max_steps=steps).resolved()
    lrs = [lr_for_step(cfg, s, 0) for s in range(steps)]
    assert lrs[0] == pytest.approx(1e-4, rel=1e-4)
    assert lrs[-1] / 1e-4 == pytest.approx(0.5 * (1 + math.cos(math.pi / 2.5)))  # T_max = 50/20 of the run
    # time budgets: the rate is a function of the step and the planned total (never of wall time)
    cfg = TrainConfig(model="corrected", time_budget=100.0).resolved()
    plan = new_plan(steps, "time_budget")
    assert [lr_for_step(cfg, s, 0, plan) for s in range(steps)] == [
        lr_for_step(TrainConfig(model="corrected", max_steps=steps).resolved(), s, 0) for s in range(steps)]
    with pytest.raises(ValueError, match="plan"):
        lr_for_step(cfg, 0, 0)  # a time budget without its measured plan has no schedule
    assert compressed_lr("corrected", 5e-4, 0.5) < 5e-4


def test_protocol_defaults_and_durations():
    s, c = TrainConfig(model="simplified").resolved(), TrainConfig(model="corrected").resolved()
    assert (s.lr, s.epochs, s.batch_size, s.pixels, s.train_sigma) == (1e-4, 20, 32, 512, 0.0)
    assert (c.lr, c.epochs, c.batch_size, c.pixels, c.train_sigma) == (5e-4, 40, 16, 1024, 0.01)
    assert s.weight_decay == c.weight_decay == 1e-5 and s.grad_clip == c.grad_clip == 1.0
    assert not s.budgeted and TrainConfig(model="simplified", time_budget=60).resolved().budgeted
    assert parse_duration("2h") == 7200 and parse_duration("90m") == 5400 and parse_duration("1h30m") == 5400
    with pytest.raises(ValueError):
        parse_duration("2 hours")


def test_queries_follow_the_protocols():
    from train.batches import queries, step_generator
    x = torch.rand(3, 3, 32, 32)
    coords, targets = queries(x, 512, 0.0, step_generator(0, 0, 0, "cpu"))
    assert coords.shape == (3, 512, 2) and targets.shape == (3, 512, 3)
    # each target is the pixel at its (unjittered) centre
    iy, ix = (coords[..., 0] * 32 - 0.5).round().long(), (coords[..., 1] * 32 - 0.5).round().long()
    assert torch.equal(targets, x.permute(0, 2, 3, 1)[torch.arange(3)[:, None], iy, ix])
    coords, targets = queries(x, 1024, 0.01, step_generator(0, 1, 0, "cpu"))
    assert coords.shape == (3, 1024, 2) and not torch.equal(coords[0], coords[1])  # jitter per sample
    assert torch.equal(targets, x.flatten(2).transpose(1, 2))


# ---- bad input ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    return make_image_folder(tmp_path_factory.mktemp("data") / "tiny")


def _run_inproc(tmp_path, model, data, out, *extra):
    from train.cli import main
    return main(train_args(model, data, out, tmp_path / "cache", *extra))


def test_bad_data_is_reported_before_training(tmp_path, capsys):
    no_test = make_image_folder(tmp_path / "no_test")
    import shutil
    shutil.rmtree(no_test / "test")
    assert _run_inproc(tmp_path, "simplified", no_test, tmp_path / "o1", "--max-steps", "1") == 2
    assert "test/" in capsys.readouterr().err
    assert not (tmp_path / "o1").exists()

    empty = make_image_folder(tmp_path / "empty")
    (empty / "train" / "bird").mkdir()
    assert _run_inproc(tmp_path, "simplified", empty, tmp_path / "o2", "--max-steps", "1") == 2
    assert "bird" in capsys.readouterr().err

    broken = make_image_folder(tmp_path / "broken")
    (broken / "train" / "cat" / "9999.png").write_bytes(b"not a png")
    assert _run_inproc(tmp_path, "simplified", broken, tmp_path / "o3", "--max-steps", "1") == 2
    assert "9999.png" in capsys.readouterr().err
    assert not (tmp_path / "o3" / "checkpoint.pt").exists()

    assert _run_inproc(tmp_path, "simplified", tmp_path / "nowhere", tmp_path / "o4", "--max-steps", "1") == 2
    assert "does not exist" in capsys.readouterr().err


def test_out_dir_holding_another_run_is_refused(tmp_path, tiny_data, capsys):
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    assert _run_inproc(tmp_path, "simplified", tiny_data, foreign, "--max-steps", "1") == 2
    assert "not empty" in capsys.readouterr().err and (foreign / "notes.txt").read_text() == "keep me"

    out = tmp_path / "run"
    assert _run_inproc(tmp_path, "simplified", tiny_data, out, "--max-steps", "2", "--no-export") == 0
    before = (out / "checkpoint.pt").read_bytes()
    assert _run_inproc(tmp_path, "simplified", tiny_data, out, "--max-steps", "2", "--lr", "3e-4") == 2
    err = capsys.readouterr().err
    assert "different run" in err and "lr" in err
    assert _run_inproc(tmp_path, "corrected", tiny_data, out, "--max-steps", "2") == 2
    assert (out / "checkpoint.pt").read_bytes() == before
    with pytest.raises(RunDirError):
        from train.checkpoint import inspect_run_dir
        inspect_run_dir(tmp_path / "fresh", TrainConfig(model="simplified").resolved(), resume=True)


def test_nan_stops_and_keeps_the_last_good_checkpoint(tmp_path, tiny_data):
    out = tmp_path / "nan"
    # 12 training images, batch 4 → 3 steps per epoch; the epoch-end checkpoint is at step 3
    r = run_module("train", train_args("simplified", tiny_data, out, tmp_path / "cache", "--max-steps", "6",
                                       "--ckpt-minutes", "100"), env={"LAINR_TRAIN_NAN_AT_STEP": "4"})
    assert r.returncode == 3, r.stderr
    assert "diverged" in r.stderr and "step 4" in r.stderr and "last good checkpoint" in r.stderr
    ckpt = torch.load(out / "checkpoint.pt", weights_only=False)
    assert ckpt["step"] == 3 and all(torch.isfinite(v).all() for v in ckpt["model"].values())
    assert not (out / "hf").exists()


# ---- export ------------------------------------------------------------------------------------
def test_export_round_trip_and_card(tmp_path, tiny_data):
    from lainr import CorrectedGINR
    from train.publish.export import main as export_main
    out = tmp_path / "run"
    assert _run_inproc(tmp_path, "corrected", tiny_data, out, "--max-steps", "4") == 0
    card = (out / "hf" / "README.md").read_text()
    assert card.startswith("---\nlibrary_name: lainr") and "datasets:\n- cifar10" in card
    assert "protocol schedule compressed to 4 steps" in card and "license: mit" in card
    metrics = json.loads((out / "hf" / "training_info.json").read_text())
    model = CorrectedGINR.from_pretrained(str(out / "hf"))
    ckpt = torch.load(out / "checkpoint.pt", weights_only=False)
    for k, v in model.state_dict().items():  # float16 or float32 storage, within fp16 rounding
        assert torch.allclose(v, ckpt["model"][k], rtol=1e-3, atol=1e-4), k
    assert metrics["dtype"] in ("float16", "float32") and metrics["test"]["n"] == 6
    assert export_main([str(out), str(tmp_path / "again"), "--dtype", "float32", "--eval-limit", "0"]) == 0
    again = CorrectedGINR.from_pretrained(str(tmp_path / "again"))
    for k, v in again.state_dict().items():
        assert torch.equal(v, ckpt["model"][k]), k
    assert export_main([str(tmp_path / "nothing"), str(tmp_path / "x")]) == 2
    assert (out / "curves.png").is_file()


def test_export_takes_card_figures_from_evaluate_metrics(tmp_path, tiny_data):
    from train.eval.evaluate import main as evaluate_main
    from train.publish.export import main as export_main
    out, hf = tmp_path / "run", tmp_path / "hf"
    assert _run_inproc(tmp_path, "simplified", tiny_data, out, "--max-steps", "2") == 0
    assert export_main([str(out), str(hf), "--dtype", "float32", "--eval-limit", "2"]) == 0
    ev = tmp_path / "eval"
    assert evaluate_main(["--weights", str(hf), "--data", str(tiny_data), "--out", str(ev), "--cache-dir",
                          str(tmp_path / "cache"), "--limit", "0", "--embed-n", "4"]) == 0
    entry = json.loads((ev / "metrics.json").read_text())[str(hf)]
    assert export_main([str(out), str(hf), "--dtype", "float32", "--metrics", str(ev / "metrics.json")]) == 0
    info = json.loads((hf / "training_info.json").read_text())
    assert info["test"]["psnr"] == entry["test_psnr"] and info["test"]["n"] == entry["n_test"] == 6
    assert info["jitter"]["0.05"]["psnr"] == entry["jitter_psnr"]["0.05"]
    assert f"value: {entry['test_psnr']:.3f}" in (hf / "README.md").read_text()

    # figures measured on another file, or on another folder, are refused and nothing is rewritten
    before = {f.name: f.read_bytes() for f in hf.iterdir()}
    tampered = dict(entry, weights_sha256="0" * 64)
    (ev / "bad.json").write_text(json.dumps({str(hf): tampered}))
    assert export_main([str(out), str(hf), "--dtype", "float16", "--metrics", str(ev / "bad.json")]) == 2
    (ev / "other.json").write_text(json.dumps({str(tmp_path / "elsewhere"): entry}))
    assert export_main([str(out), str(hf), "--metrics", str(ev / "other.json")]) == 2
    assert {f.name: f.read_bytes() for f in hf.iterdir()} == before


def test_recard_rewrites_the_card_of_an_export_whose_run_is_gone(tmp_path, tiny_data, capsys):
    import shutil
    from train.eval.evaluate import main as evaluate_main
    from train.publish.recard import main as recard_main
    out, hf = tmp_path / "run", tmp_path / "hf"
    assert _run_inproc(tmp_path, "corrected", tiny_data, out, "--max-steps", "2", "--no-export") == 0
    from train.publish.export import main as export_main
    assert export_main([str(out), str(hf), "--dtype", "float32", "--eval-limit", "2"]) == 0
    before = json.loads((hf / "training_info.json").read_text())
    assert before["test"]["n"] == 2 and before["step"] == 2
    ev = tmp_path / "eval"
    assert evaluate_main(["--weights", str(hf), "--data", str(tiny_data), "--out", str(ev), "--cache-dir",
                          str(tmp_path / "cache"), "--limit", "0", "--embed-n", "4"]) == 0
    entry = json.loads((ev / "metrics.json").read_text())[str(hf)]
    shutil.rmtree(out)  # the run folder is gone; the export and the measurement remain
    weights = (hf / "model.safetensors").read_bytes()

    # figures of another file, of another folder, or a folder that is no export: refused, nothing rewritten
    files = {f.name: f.read_bytes() for f in hf.iterdir()}
    (ev / "bad.json").write_text(json.dumps({str(hf): dict(entry, weights_sha256="0" * 64)}))
    (ev / "other.json").write_text(json.dumps({str(tmp_path / "elsewhere"): entry}))
    assert recard_main([str(hf), "--metrics", str(ev / "bad.json")]) == 2
    assert "different model.safetensors" in capsys.readouterr().err
    assert recard_main([str(hf), "--metrics", str(ev / "other.json")]) == 2
    assert recard_main([str(tmp_path), "--metrics", str(ev / "metrics.json")]) == 2
    assert "not a folder written by train.publish.export" in capsys.readouterr().err
    assert {f.name: f.read_bytes() for f in hf.iterdir()} == files

    assert recard_main([str(hf), "--metrics", str(ev / "metrics.json"), "--notes", "Measured again."]) == 0
    info = json.loads((hf / "training_info.json").read_text())
    assert {k: info["test"][k] for k in ("psnr", "ssim", "n", "of")} == \
        {"psnr": entry["test_psnr"], "ssim": entry["test_ssim"], "n": 6, "of": 6}
    assert info["test"]["psnr_ci"] == entry["test_psnr_ci"] and info["test"]["data"] == entry["data"]
    assert info["jitter"]["0.05"]["psnr"] == entry["jitter_psnr"]["0.05"]
    assert info["card_notes"] == "Measured again."
    assert {k: v for k, v in info.items() if k not in ("test", "jitter", "card_notes")} == \
        {k: v for k, v in before.items() if k not in ("test", "jitter", "card_notes")}
    card = (hf / "README.md").read_text()
    assert f"value: {entry['test_psnr']:.3f}" in card and "(the whole test split)" in card
    ci = entry["test_psnr_ci"]
    assert f"{ci['mean']:.2f} [{ci['low']:.2f}, {ci['high']:.2f}]" in card
    assert "Measured again." in card and "unfinished" not in card
    assert "validation images of train/splits.py held out" in card  # the tiny run held them out
    from train.publish.card import REFINE_HEADING
    (hf / "README.md").write_text(card + f"\n{REFINE_HEADING}\n\nmeasured apart: 46 dB\n")
    assert recard_main([str(hf), "--metrics", str(ev / "metrics.json")]) == 0  # no --notes: the notes are kept
    card = (hf / "README.md").read_text()
    assert "Measured again." in card
    assert card.count(REFINE_HEADING) == 1 and "measured apart: 46 dB" in card  # a refinement section is kept
    assert (hf / "model.safetensors").read_bytes() == weights


def test_cards_of_the_lossy_jpeg_copy_say_so_in_the_model_index():
    import yaml
    from train.publish.card import model_card
    LOSSY_TEST = "CIFAR-10 test split (lossy JPEG copy, q ≈ 75)"  # from the older source wording too
    info = {"model": "corrected", "schedule": "s", "step": 1, "epochs": 0.1, "hardware": "cpu", "params": 1,
            "dtype": "float32", "config": {}, "data_source": "ImageFolder at cifar10/ (lossy JPEG copy of CIFAR-10, quality ≈ 75)",
            "test": {"psnr": 29.3, "ssim": 0.93, "n": 10, "of": 10,
                     "psnr_ci": {"mean": 29.3, "low": 29.1, "high": 29.5, "n": 10}}}
    card = model_card(info)
    front = yaml.safe_load(card.split("---\n")[1])
    assert front["model-index"][0]["results"][0]["dataset"]["name"] == LOSSY_TEST
    assert f"{LOSSY_TEST}: 32×32 reconstruction" in card and "| 29.30 [29.10, 29.50] |" in card
    info["data_source"] = "ImageFolder at cifar10/ (CIFAR-10, lossy JPEG copy, q ≈ 90)"  # what describe_source writes
    assert "CIFAR-10 test split (lossy JPEG copy, q ≈ 90): 32×32" in model_card(info)
    info["data_source"] = "ImageFolder at d/ (no manifest.json: compression not recorded)"
    assert "CIFAR-10 test split: 32×32" in model_card(info)


def test_data_facts_come_from_the_manifest_not_the_readme(tmp_path):
    import json
    from train.data import DataError, describe_source
    root = make_image_folder(tmp_path / "d")
    (root / "README.md").write_text("A JPEG copy of CIFAR-10.")  # prose is not read
    assert describe_source(root) == "ImageFolder at d/ (no manifest.json: compression not recorded)"
    manifest = {"name": "tiny", "lossless": False, "format": {"container": "baseline JPEG", "jpeg_quality_estimate": 90}}
    (root / "manifest.json").write_text(json.dumps(manifest))
    assert describe_source(root) == "ImageFolder at d/ (CIFAR-10, lossy JPEG copy, q ≈ 90)"
    (root / "manifest.json").write_text(json.dumps({"name": "tiny PNG set", "lossless": True, "format": {}}))
    assert describe_source(root) == "ImageFolder at d/ (tiny PNG set)"
    (root / "manifest.json").write_text("{not json")
    with pytest.raises(DataError, match="unreadable manifest"):
        describe_source(root)


def test_a_manifest_shaped_like_the_project_data_s_is_read(tmp_path):
    """The fields of ../shared/data/cifar10/manifest.json, copied here (tests do not read ../shared)."""
    from train.data import data_caveat, describe_source
    data = tmp_path / "cifar10"
    data.mkdir()
    (data / "manifest.json").write_text(json.dumps({
        "name": "CIFAR-10 (lossy JPEG copy)", "lossless": False,
        "layout": "ImageFolder: {split}/{class}/NNNN.jpg, NNNN = index within class in the original batch order",
        "format": {"container": "baseline JPEG", "size": [32, 32], "mode": "RGB", "chroma_subsampling": "4:2:0",
                   "jpeg_quality_estimate": 75,
                   "how": "luma quantisation table starts [8, 6, 5, 8] = IJG standard table scaled for quality 75"}}))
    assert data_caveat(describe_source(data)) == "lossy JPEG copy, q ≈ 75"


def test_pack_of_a_jpeg_folder_loads_like_the_folder(tmp_path):
    from PIL import Image
    from train.data import load_split
    from train.gpu.pack import pack
    src = make_image_folder(tmp_path / "png", n_train=2, n_test=1)
    for p in list(src.rglob("*.png")):  # a JPEG copy, like the shared CIFAR-10 folder
        Image.open(p).convert("RGB").save(p.with_suffix(".jpg"), quality=75)
        p.unlink()
    packed = pack(src, tmp_path / "p.npz")
    for split in ("train", "test"):
        a = load_split(str(src), split, cache_dir=tmp_path / "cache")
        b = load_split(str(packed), split)
        assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels) and a.classes == b.classes


def test_metrics_keys_are_read_against_the_repository_root(tmp_path, monkeypatch):
    """train.eval.evaluate keys a folder inside the repository by its path relative to the root; export / recard find
    the entry from any working folder (a key outside the repository is absolute)."""
    from train.eval.eval_split import entry_key, entry_path
    from train.publish.export import _metrics_entry
    weights = ROOT / "weights" / "corrected"
    assert entry_key(weights) == "weights/corrected"
    (tmp_path / "m.json").write_text(json.dumps({"weights/corrected": {"x": 1}}))
    monkeypatch.chdir(tmp_path)  # another working folder: "weights/corrected" is not below it
    assert entry_path("weights/corrected") == weights.resolve()
    assert _metrics_entry(tmp_path / "m.json", weights) == {"x": 1}
    (tmp_path / "w").mkdir()
    assert entry_key("w") == str((tmp_path / "w").resolve())


# ---- learning curves ---------------------------------------------------------------------------
def test_curve_steps_are_log_spaced_and_end_at_the_total():
    from train.loop import curve_steps
    steps = sorted(curve_steps(6000, 10))
    assert len(steps) == 10 and steps[0] == round(6000 / 128) and steps[-1] == 6000
    ratios = [b / a for a, b in zip(steps, steps[1:])]
    assert max(ratios) / min(ratios) < 1.05  # evenly spaced on a log axis
    assert curve_steps(6000, 0) == frozenset() and sorted(curve_steps(5, 10)) == [1, 2, 3, 4, 5]
    with pytest.raises(ValueError, match="val-points"):
        TrainConfig(model="corrected", val_points=-1).resolved()


def test_val_points_write_a_learning_curve(tmp_path, tiny_data):
    out = tmp_path / "curve"
    assert _run_inproc(tmp_path, "corrected", tiny_data, out, "--max-steps", "8", "--val-points", "4",
                       "--val-jitter", "0.02", "--no-export") == 0
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    val_steps = [r["step"] for r in records if r["kind"] == "val"]
    assert all(r["val_psnr_jitter"] < r["val_psnr"] + 1 for r in records if r["kind"] == "val")
    from train.loop import curve_steps
    assert val_steps == sorted(curve_steps(8, 4))  # the last one is the end-of-run validation
