"""train.study.project: the log-linear fit of test PSNR against image passes and the budget it projects."""
import json
import math

import pytest

from train.study.project import ProjectError, fit_log, main, passes_for, points_from


def _run_dir(path, batch, vals):
    path.mkdir(parents=True)
    (path / "run.json").write_text(json.dumps({"config": {"batch_size": batch}, "history": []}))
    lines = [json.dumps({"kind": "step", "step": 1, "loss": 0.1})]
    lines += [json.dumps({"kind": "val", "step": s, "val_psnr": p, "n": 500}) for s, p in vals]
    (path / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    return path


def test_fit_recovers_a_log_linear_curve_and_inverts_it():
    pts = [(x, 5.0 + 1.5 * math.log(x), "p") for x in (1e3, 4e3, 1.6e4, 6.4e4)]
    fit = fit_log(pts)
    assert fit["a"] == pytest.approx(5.0) and fit["b"] == pytest.approx(1.5) and fit["r2"] == pytest.approx(1.0)
    assert fit["per_doubling"] == pytest.approx(1.5 * math.log(2))
    assert passes_for(fit, 5.0 + 1.5 * math.log(1e6)) == pytest.approx(1e6, rel=1e-9)
    assert passes_for(dict(a=20.0, b=-0.1), 25.0) is None  # a falling line never reaches a higher target


def test_points_from_run_dirs_and_sweep_results(tmp_path):
    run = _run_dir(tmp_path / "run", 4, [(100, 12.0), (200, 13.0), (200, 13.5)])
    assert points_from(run) == [(400.0, 12.0, "run@100"), (800.0, 13.5, "run@200")]  # last record of a step wins
    assert points_from(run, end_only=True) == [(800.0, 13.5, "run@200")]
    res = tmp_path / "b4.json"
    res.write_text(json.dumps({"status": "done", "image_passes": 2000, "test_psnr": 15.3, "name": "b4"}))
    assert points_from(res) == [(2000.0, 15.3, "b4")]
    res.write_text(json.dumps({"status": "running", "image_passes": 2000, "test_psnr": None}))
    with pytest.raises(ProjectError, match="not a finished sweep result"):
        points_from(res)
    with pytest.raises(ProjectError, match="neither a sweep result"):
        points_from(tmp_path)
    with pytest.raises(ProjectError, match="≥ 2 different"):
        fit_log([(1e3, 10.0, "a"), (1e3, 11.0, "b")])


def test_cli_projects_a_target_and_writes_plot_and_json(tmp_path, capsys):
    run = _run_dir(tmp_path / "run", 10, [(100, 10.0), (400, 12.0), (1600, 14.0)])  # +1 dB per doubling
    out_json, out_png = tmp_path / "p.json", tmp_path / "p.png"
    assert main([str(run), "--target", "16", "--img-s", "2", "--plot", str(out_png), "--json", str(out_json)]) == 0
    text = capsys.readouterr().out
    assert "+1.00 dB per doubling" in text and "4.0× the most measured" in text
    got = json.loads(out_json.read_text())["targets"][0]
    assert got["passes"] == pytest.approx(64_000, rel=1e-6)  # 16,000 passes at 14 dB, two more doublings
    assert got["hours"] == pytest.approx(64_000 / 2 / 3600, rel=1e-6)
    assert out_png.stat().st_size > 1000
    assert main([str(tmp_path / "missing"), "--target", "20"]) == 2
