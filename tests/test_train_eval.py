"""train.eval.evaluate (metrics.json keys, figures), train.study.plot and train.publish.publish --dry-run, on tiny models."""
import json

import pytest
import torch

from lainr import CorrectedConfig, CorrectedGINR, SimplifiedConfig, SimplifiedGINR, psnr_per_image
from tests.test_train_helpers import make_image_folder, tiny_weights
from train.tiny import TINY


def test_evaluate_writes_metrics_and_figures(tmp_path):
    from train.eval.evaluate import SIGMAS, SR_SIZES, main
    data = make_image_folder(tmp_path / "data", n_train=1, n_test=3)
    ws, wc = tiny_weights(tmp_path, ("simplified", "corrected"))
    out = tmp_path / "eval"
    assert main(["--weights", str(ws), "--weights", str(wc), "--data", str(data), "--out", str(out),
                 "--cache-dir", str(tmp_path / "cache"), "--limit", "4", "--embed-n", "6"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics) == {str(ws), str(wc)}
    for name, m in metrics.items():
        assert {"test_psnr", "test_ssim", "jitter_psnr", "sr_psnr"} <= set(m)
        assert m["n_test"] == 4
        assert list(m["jitter_psnr"]) == [str(s) for s in SIGMAS]
        assert m["jitter_psnr"][str(0.0)] == m["test_psnr"]
        assert set(m["sr_psnr"]) == {str(s) for s in SR_SIZES}
        assert all(set(v) == {"model", "bicubic"} for v in m["sr_psnr"].values())
    assert "decoupled_psnr" in metrics[str(ws)] and "decoupled_psnr" not in metrics[str(wc)]
    for fig in ("sr.png", "jitter.png", "embedding.png", "reconstructions.png", "decoupled_simplified.png"):
        assert (out / fig).stat().st_size > 1000, fig
    assert "| simplified |" in (out / "metrics.md").read_text()


def test_one_encoding_for_all_sigmas_matches_separate_runs():
    from train.eval.validate import evaluate_sigmas, evaluate_split
    torch.manual_seed(0)
    model = CorrectedGINR(CorrectedConfig(**TINY["corrected"]))
    images = torch.randint(0, 256, (5, 3, 32, 32), dtype=torch.uint8)
    idx = torch.arange(5)
    together = evaluate_sigmas(model, images, idx, (0.0, 0.02), batch=2, seed=3)
    x = images.float() / 255
    for s in (0.0, 0.02):
        assert evaluate_split(model, images, idx, batch=2, sigma=s, seed=3) == together[s]
        g = torch.Generator().manual_seed(3)  # the same figure from plain renders, batch by batch
        with torch.no_grad():
            rec = torch.cat([model.render(part, 32, sigma=s, generator=g) for part in x.split(2)])
        assert abs(psnr_per_image(rec, x).mean().item() - together[s]["psnr"]) < 1e-4, s
    assert together[0.02]["psnr"] != together[0.0]["psnr"]  # the jitter did reach the queries


def test_plot_from_metrics_log(tmp_path):
    from train.study.plot import plot_run
    recs = [{"kind": "step", "step": i, "epoch": 0, "loss": 1 / i, "psnr": i, "lr": 1e-4, "img_s": 1, "elapsed": i}
            for i in range(1, 20)]
    recs.append({"kind": "epoch", "step": 19, "epoch": 0, "train_loss": 0.1, "train_psnr": 10, "val_loss": 0.1,
                 "val_psnr": 11, "val_ssim": 0.5, "n": 4, "lr": 1e-4, "elapsed": 20})
    (tmp_path / "metrics.jsonl").write_text("\n".join(json.dumps(r) for r in recs) + "\n{broken")
    assert plot_run(tmp_path).stat().st_size > 1000


def test_plot_cli_writes_the_named_figure_and_refuses_a_folder_without_metrics(tmp_path, capsys):
    from train.study.plot import main
    recs = [{"kind": "step", "step": i, "epoch": 0, "loss": 1 / i, "psnr": i, "lr": 1e-4, "img_s": 1, "elapsed": i}
            for i in range(1, 10)]
    (tmp_path / "metrics.jsonl").write_text("\n".join(json.dumps(r) for r in recs) + "\n")
    assert main([str(tmp_path), str(tmp_path / "named.png")]) == 0
    assert (tmp_path / "named.png").stat().st_size > 1000 and not (tmp_path / "curves.png").exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SystemExit) as err:
        main([str(empty)])
    assert err.value.code == 2 and "holds no metrics.jsonl" in capsys.readouterr().err


def test_publish_dry_run_lists_files_and_needs_an_export(tmp_path, capsys):
    from train.publish.publish import main
    d = tmp_path / "w"
    SimplifiedGINR(SimplifiedConfig(**TINY["simplified"])).save_pretrained(d)
    (d / "README.md").write_text("---\nlibrary_name: lainr\n---\n")
    assert main([str(d), "--repo-id", "someone/mamba-ginr", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would upload 3 files" in out and "model.safetensors" in out and "config.json" in out
    (d / "README.md").unlink()
    assert main([str(d), "--repo-id", "someone/mamba-ginr", "--dry-run"]) == 2
    assert "README.md" in capsys.readouterr().err

