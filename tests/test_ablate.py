"""train.study.ablate: bad input is refused with nothing written (unknown names, < 5 seeds, an over-budget CPU
study, a folder of another study, data without a manifest); a tiny CPU study trains, scores, curves, resumes,
scores the test split only when every run is in, and its report rebuilds byte for byte from a copy."""
import json
import shutil

import numpy as np
import pytest

from tests.test_train_helpers import make_image_folder
from train.tiny import TINY


def _data(root, **kw):
    data = make_image_folder(root, **kw)
    (data / "manifest.json").write_text(json.dumps({"name": "tiny test images", "lossless": True}))
    return data


def _args(data, out, *extra):
    return ["--data", str(data), "--out", str(out), "--passes", "8", "--eval-images", "2", "--threads", "1",
            "--recipe", "cpu", "--test-images", "1", "--config-json-base", json.dumps(TINY["corrected"]), *extra]


def test_an_unknown_ablation_is_named_with_the_known_ones_and_nothing_is_written(tmp_path, capsys):
    from train.study.ablate import ABLATIONS, main
    out = tmp_path / "study"
    assert main(_args(_data(tmp_path / "data"), out, "--ablations", "corrected,alpha0,no-such-thing")) == 2
    err = capsys.readouterr().err
    assert "no-such-thing" in err and all(name in err for name in ABLATIONS)
    assert not out.exists()


def test_dry_run_states_the_budget_at_the_measured_speed_and_writes_nothing(tmp_path, capsys):
    from train.study.ablate import main
    out = tmp_path / "study"
    assert main(["--out", str(out), "--scale", "reduced", "--dry-run"]) == 0
    text = capsys.readouterr().out
    assert "25 runs" in text and "H200" in text and "core-hours" in text and "Xeon" in text
    assert not out.exists()


def test_fewer_than_five_seeds_is_refused_without_pilot_and_nothing_is_written(tmp_path, capsys):
    from train.study.ablate import main
    out = tmp_path / "study"
    assert main(_args(_data(tmp_path / "data"), out, "--seeds", "0,1,2")) == 2
    err = capsys.readouterr().err
    assert "--seeds" in err and "at least 5" in err
    assert not out.exists()


def test_a_cpu_study_over_its_budget_names_both_numbers_and_writes_nothing(tmp_path, capsys):
    from train.study.ablate import main
    out = tmp_path / "study"
    assert main(["--data", str(_data(tmp_path / "data")), "--out", str(out), "--scale", "reduced",
                 "--budget-core-hours", "0.5"]) == 2
    err = capsys.readouterr().err
    assert "core-hour" in err and "0.5" in err and "25 runs" in err and "img/s per core" in err
    assert not out.exists()


def test_data_without_a_manifest_is_refused_and_nothing_is_written(tmp_path, capsys):
    from train.study.ablate import main
    data = make_image_folder(tmp_path / "data")
    out = tmp_path / "study"
    assert main(_args(data, out, "--seeds", "0", "--pilot")) == 2
    assert "manifest.json" in capsys.readouterr().err
    assert not out.exists()


def test_a_folder_of_another_study_is_refused_and_left_alone(tmp_path, capsys):
    from train.study.ablate import main
    out = tmp_path / "study"
    out.mkdir()
    other = {"scale": "full", "passes": 30000}
    (out / "ablate_identity.json").write_text(json.dumps(other))
    assert main(_args(_data(tmp_path / "data"), out, "--seeds", "0", "--pilot")) == 2
    err = capsys.readouterr().err
    assert "another ablation study" in err and "passes" in err
    assert json.loads((out / "ablate_identity.json").read_text()) == other and len(list(out.iterdir())) == 1


def test_the_identity_names_the_data_by_its_manifest_hash_never_a_path(tmp_path):
    import argparse

    from train.study.ablate_plan import plan
    data = _data(tmp_path / "data")
    a = argparse.Namespace(data=str(data), ablations="", seeds="0", pilot=True, scale="reduced", passes=100,
                           eval_images=2, test_images=1, recipe="cpu", config_json_base=json.dumps(TINY["corrected"]),
                           bf16=True)
    identity, jobs = plan(a)
    text = json.dumps(identity)
    assert str(tmp_path) not in text and identity["data"]["name"] == "tiny test images"
    assert len(identity["data"]["manifest_sha256"]) == 64 and [j["name"] for j in jobs] == [
        "corrected", "alpha0", "pixels512", "one-band", "no-jitter"]


@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory):
    """A 2-seed pilot of three rows on tiny data, run to the end (it scores the test split)."""
    from train.study.ablate import main
    root = tmp_path_factory.mktemp("ablate")
    data = _data(root / "data", n_train=10, n_test=1)
    out = root / "study"
    args = _args(data, out, "--ablations", "corrected,alpha0,one-band", "--seeds", "0,1", "--pilot",
                 "--cache-dir", str(root / "cache"), "--fp32")
    assert main(args) == 0
    return root, out, args


def test_a_tiny_cpu_study_trains_scores_and_curves(tiny_study):
    root, out, _ = tiny_study
    summary = json.loads((out / "ablations.json").read_text())
    rows = summary["ablations"]
    assert set(rows) == {"corrected", "alpha0", "one-band"}
    assert rows["corrected"]["seeds_done"] == [0, 1] and "delta" not in rows["corrected"]
    for name in ("alpha0", "one-band"):
        d = rows[name]["delta"]["psnr@0"]
        assert d["n"] == 2 and d["k"] == 2 and d["low"] <= d["mean"] <= d["high"]
        assert rows[name]["trend"]["psnr@0"]["trend"] in ("grows", "shrinks", "holds")
        assert rows[name]["curve_delta"]["psnr@0"] and rows[name]["curve_delta"]["offgrid_loss@0.02"]
    curve = json.loads((out / "results" / "alpha0-s1.curve.json").read_text())
    assert [p["passes"] for p in curve["points"]] == sorted({p["passes"] for p in curve["points"]})
    assert curve["points"][-1]["step"] == 2 and all(p["psnr_jitter"] is not None for p in curve["points"])
    result = json.loads((out / "results" / "one-band-s0.json").read_text())
    assert result["launches"] == 1 and result["img_s"] > 0 and result["wall_s"] > 0 and result["bf16"] == [False]
    assert set(summary["baselines"]) == {"mean colour", "4×4 thumbnail", "8×8 thumbnail", "16×16 thumbnail"}
    assert summary["baselines"]["8×8 thumbnail"]["floats"] == 192
    assert "test" in summary and (out / "results" / "test" / "baselines.npz").is_file()
    run = json.loads((out / "runs" / "one-band-s0" / "run.json").read_text())
    assert run["config"]["model_config"]["sigma_bands"] == [32.0]
    table = (out / "table.md").read_text()
    assert "| alpha0 |" in table and "8×8 thumbnail" in table and "Test split" in table
    assert (out / "ablations.png").stat().st_size > 1000


def test_the_weights_a_run_leaves_score_as_it_did(tiny_study):
    from train.study.ablate_score import load_weights
    root, out, _ = tiny_study
    model = load_weights(out / "weights" / "alpha0-s0.safetensors")
    assert model.config.bias_alpha == 0.0 and not model.training
    with np.load(out / "results" / "alpha0-s0.npz") as z:
        assert z["val"].shape == (3, 2) and "test" not in z.files


def test_a_resumed_study_retrains_nothing(tiny_study):
    from train.study.ablate import main
    root, out, args = tiny_study
    stamp = (out / "results" / "alpha0-s0.json").stat().st_mtime_ns
    assert main(args) == 0
    assert (out / "results" / "alpha0-s0.json").stat().st_mtime_ns == stamp


def test_the_report_rebuilds_table_md_byte_for_byte_from_a_copy_elsewhere(tiny_study, tmp_path):
    from train.study.ablate import main
    root, out, args = tiny_study
    copy = tmp_path / "elsewhere" / "copy"
    shutil.copytree(out, copy, ignore=shutil.ignore_patterns("runs"))
    before = (copy / "table.md").read_bytes()
    (copy / "table.md").unlink()
    (copy / "ablations.json").unlink()
    report = [x if x != str(out) else str(copy) for x in args] + ["--report"]
    report[report.index("--data") + 1] = str(tmp_path / "no-data-here")  # a report reads results, never the data
    assert main(report) == 0
    assert (copy / "table.md").read_bytes() == before
    assert (copy / "ablations.json").read_text() == (out / "ablations.json").read_text()


def test_no_test_score_is_written_before_every_run_is_in(tmp_path):
    from train.study.ablate import main
    data = _data(tmp_path / "data", n_train=10, n_test=1)
    out = tmp_path / "study"
    args = _args(data, out, "--ablations", "corrected,alpha0", "--seeds", "0", "--pilot", "--shard", "0/2",
                 "--cache-dir", str(tmp_path / "cache"), "--fp32")
    assert main(args) == 0  # this shard ran corrected-s0 only; alpha0-s0 is the other shard's
    assert (out / "results" / "corrected-s0.npz").is_file() and not (out / "results" / "test").exists()
    assert "Test split" not in (out / "table.md").read_text() and "test" not in json.loads(
        (out / "ablations.json").read_text())
