"""train.study.ablate: unknown names, < 3 seeds and an over-budget CPU study are refused with nothing written;
a tiny CPU study trains, scores and resumes."""
import json

from tests.test_train_helpers import make_image_folder
from train.tiny import TINY


def _args(data, out, *extra):
    return ["--data", str(data), "--out", str(out), "--passes", "8", "--eval-images", "2", "--threads", "1",
            "--recipe", "cpu", "--test-images", "1", "--config-json-base", json.dumps(TINY["corrected"]), *extra]


def test_an_unknown_ablation_is_named_with_the_known_ones_and_nothing_is_written(tmp_path, capsys):
    from train.study.ablate import ABLATIONS, main
    out = tmp_path / "study"
    assert main(_args(tmp_path / "data", out, "--ablations", "alpha0,no-such-thing")) == 2
    err = capsys.readouterr().err
    assert "no-such-thing" in err and all(name in err for name in ABLATIONS)
    assert not out.exists()


def test_dry_run_states_the_budget_and_writes_nothing(tmp_path, capsys):
    from train.study.ablate import main
    out = tmp_path / "study"
    assert main(["--out", str(out), "--dry-run"]) == 0
    text = capsys.readouterr().out
    assert "27 runs" in text and "H200" in text and "core-hours" in text
    assert not out.exists()


def test_a_tiny_cpu_study_trains_scores_and_resumes(tmp_path):
    from train.study.ablate import main
    data = make_image_folder(tmp_path / "data", n_train=10, n_test=1)
    out = tmp_path / "study"
    args = _args(data, out, "--ablations", "corrected,alpha0,one-band", "--seeds", "0", "--pilot",
                 "--cache-dir", str(tmp_path / "cache"))
    assert main(args) == 0
    summary = json.loads((out / "ablations.json").read_text())
    rows = summary["ablations"]
    assert set(rows) == {"corrected", "alpha0", "one-band"}
    assert rows["corrected"]["seeds_done"] == [0] and "delta" not in rows["corrected"]
    for name in ("alpha0", "one-band"):
        d = rows[name]["delta"]["psnr@0"]
        assert d["n"] == 2 and d["seeds"] == 1 and d["low"] <= d["mean"] <= d["high"]
    assert "test" in summary  # every planned run scored: the test table is written
    run = json.loads((out / "runs" / "one-band-s0" / "run.json").read_text())
    assert run["config"]["model_config"]["sigma_bands"] == [32.0]
    assert (out / "ablations.png").stat().st_size > 1000 and "| alpha0 |" in (out / "table.md").read_text()
    stamp = (out / "results" / "alpha0-s0.json").stat().st_mtime_ns
    assert main(args) == 0  # resumed: every run already scored, nothing retrained
    assert (out / "results" / "alpha0-s0.json").stat().st_mtime_ns == stamp


def test_fewer_than_three_seeds_is_refused_without_pilot_and_nothing_is_written(tmp_path, capsys):
    from train.study.ablate import main
    out = tmp_path / "study"
    assert main(_args(tmp_path / "data", out, "--seeds", "0,1")) == 2
    err = capsys.readouterr().err
    assert "--seeds" in err and "at least 3" in err
    assert not out.exists()


def test_a_cpu_study_over_its_budget_names_both_numbers_and_writes_nothing(tmp_path, capsys):
    from train.study.ablate import main
    out = tmp_path / "study"
    assert main(["--data", str(tmp_path / "data"), "--out", str(out), "--scale", "reduced",
                 "--budget-core-hours", "0.5"]) == 2
    err = capsys.readouterr().err
    assert "core-hour" in err and "0.5" in err and "27 runs" in err
    assert not out.exists()
