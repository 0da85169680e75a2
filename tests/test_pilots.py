"""train.study.pilots: a run folder's curve, binned loss and speed become committed evidence; a non-run is refused."""
import json


def _run(folder, losses, vals, batch=16):
    folder.mkdir(parents=True)
    (folder / "run.json").write_text(json.dumps({
        "config": {"model": "corrected", "lr": 1e-3, "batch_size": batch, "bf16": True, "data": "/abs/data/cifar10"},
        "total_steps": 100, "history": [{"hardware": "CPU only: 2 cores (X)"}]}))
    lines = [{"kind": "step", "step": i + 1, "loss": v, "elapsed": 0.5 * (i + 1)} for i, v in enumerate(losses)]
    lines += [{"kind": "val", "step": s, "val_psnr": p, "n": 5} for s, p in vals]
    (folder / "metrics.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    return folder


def test_pilots_record_curve_loss_bins_and_speed(tmp_path, capsys):
    from train.study.pilots import main
    a = _run(tmp_path / "a", [0.4, 0.2, 0.1, 0.05], [(2, 12.0), (4, 14.5)])
    b = _run(tmp_path / "b", [0.4, 0.3], [(2, 11.0)])
    assert main([str(a), str(b), "--out", str(tmp_path / "out"), "--bin", "2"]) == 0
    runs = json.loads((tmp_path / "out" / "pilots.json").read_text())["runs"]
    assert [b["passes"] for b in runs[0]["train_loss"]] == [32, 64]
    assert [round(b["loss"], 6) for b in runs[0]["train_loss"]] == [0.3, 0.075]
    assert runs[0]["validation"][-1] == {"passes": 64, "psnr": 14.5, "n": 5} and runs[0]["img_s"] == 32.0
    assert runs[1]["steps_done"] == 2 and runs[0]["hardware"] == ["CPU only: 2 cores (X)"]
    assert (tmp_path / "out" / "pilots.png").stat().st_size > 1000
    assert main([str(tmp_path / "nothing"), "--out", str(tmp_path / "o2")]) == 2
    assert "no metrics.jsonl" in capsys.readouterr().err and not (tmp_path / "o2").exists()
