"""train.study.separation on tiny models and tiny data: indices, classifiers, figure and reports."""
import json

import numpy as np
import torch

from lainr import CorrectedConfig, CorrectedGINR, SimplifiedConfig, SimplifiedGINR
from tests.test_train_helpers import make_image_folder, tiny_weights
from train.tiny import TINY


def test_probe_training_images_are_class_balanced_and_never_validation_images():
    from train.splits import validation_indices
    from train.study.separation import probe_train_indices
    labels = torch.arange(3).repeat_interleave(40)
    idx = probe_train_indices(labels, 30)
    assert len(idx) == 30 and torch.bincount(labels[idx]).tolist() == [10, 10, 10]
    assert not set(idx.tolist()) & set(validation_indices(labels).tolist())


def test_classifiers_separate_separable_features():
    from train.study.separation import PROBE_CS, classify
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 50)
    x = rng.normal(0, 1, (100, 8)) + 4 * y[:, None]
    correct, c = classify(x, y, x, y)
    assert correct["knn"].mean() > 0.95 and correct["probe"].mean() > 0.95
    assert c in PROBE_CS


def test_probe_strength_is_chosen_on_training_folds_only():
    """Cross-validation on the training features picks the strength that generalises: a weak penalty
    where the classes separate, a strong one (predict the majority class) where the features are noise."""
    from train.study.separation import choose_probe_c
    rng = np.random.default_rng(1)
    y = np.repeat([0, 1], 40)
    separable = rng.normal(0, 1, (80, 5)) + 3 * y[:, None]
    assert choose_probe_c(separable, y, cs=(1e-6, 1.0)) == 1.0
    y_skewed = np.repeat([0, 1], [60, 30])
    noise = rng.normal(0, 1, (90, 200))
    assert choose_probe_c(noise, y_skewed, cs=(1e-6, 1.0)) == 1e-6
    assert choose_probe_c(separable[:3], np.array([0, 0, 1])) == 1.0


def test_probe_grid_widens_while_the_best_is_at_its_end(monkeypatch):
    import sklearn.model_selection
    from train.study.separation import choose_probe_c
    tried = []

    def fake_scores(estimator, x, y, cv):  # accuracy peaking at C = 100, above the grid
        tried.append(estimator.C)
        return np.array([-abs(np.log10(estimator.C) - 2)])

    monkeypatch.setattr(sklearn.model_selection, "cross_val_score", fake_scores)
    y = np.repeat([0, 1], 10)
    assert choose_probe_c(np.zeros((20, 2)), y, cs=(1e-3, 1e-2, 1e-1, 1.0, 10.0)) == 100.0
    assert tried[-2:] == [100.0, 1000.0]  # widened twice: 100 the best, 1000 worse, stop  # one image of a class: no folds → 1


def test_cli_writes_accuracies_with_intervals_and_the_figure(tmp_path):
    from train.study.separation import main
    data = make_image_folder(tmp_path / "data", n_train=20, n_test=6)
    ws, wc = tiny_weights(tmp_path, ("s", "c"))
    out = tmp_path / "eval"
    args = ["--weights", str(ws), "--weights", str(wc), "--data", str(data), "--cache-dir", str(tmp_path / "c1"),
            "--measure-cache", str(tmp_path / "m"), "--out", str(out), "--n-train", "20", "--n-embed", "10"]
    assert main(args) == 0
    res = json.loads((out / "separation.json").read_text())
    assert res["n_train"] == 20 and res["n_test"] == 12 and set(res["models"]) == {str(ws), str(wc)}
    for r in res["models"].values():
        assert 0 <= r["knn"]["low"] <= r["knn"]["mean"] <= r["knn"]["high"] <= 1 and r["probe"]["n"] == 12
    assert list(res["differences"]) == [f"{wc} − {ws}"] and "pixels" in res["baselines"]
    assert (out / "separation.png").stat().st_size > 1000 and "| raw pixels" in (out / "separation.md").read_text()
    assert main(args + ["--cached-only"]) == 0  # from the cache alone: the same figures
    assert json.loads((out / "separation.json").read_text())["models"] == res["models"]
    assert main(args + ["--cached-only", "--measure-cache", str(tmp_path / "empty")]) == 2


def test_fill_cache_then_the_reports_read_it_without_encoding(tmp_path):
    from train.eval.evaluate import main as evaluate_main
    from train.study.fill_cache import main as fill_main
    from train.study.separation import main as separation_main
    data = make_image_folder(tmp_path / "data", n_train=20, n_test=3)
    ws, wc = tiny_weights(tmp_path, ("s", "c"))
    common = ["--data", str(data), "--cache-dir", str(tmp_path / "c1"), "--measure-cache", str(tmp_path / "m")]
    weights = ["--weights", str(ws), "--weights", str(wc)]
    assert fill_main(weights + common + ["--n-train", "20"]) == 0
    assert separation_main(weights + common + ["--n-train", "20", "--n-embed", "5", "--out", str(tmp_path / "o"),
                                               "--cached-only"]) == 0
    assert evaluate_main(weights + common + ["--out", str(tmp_path / "o"), "--cached-only", "--embed-n", "4"]) == 0
    metrics = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert all(m["n_test"] == 6 and "test_psnr_ci" in m for m in metrics.values())
