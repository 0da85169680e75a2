"""`--data cifar10`: torchvision's CIFAR10 files under --data-root. No network here, so the test
writes a tiny copy in torchvision's own format (cifar-10-batches-py pickles) and stands in only for
torchvision's md5 check of the official files; everything after that is the real code path."""
import pickle

import numpy as np
import pytest
import torch

from tests.test_train_helpers import train_args

CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def _write_cifar_pickles(root, per_batch=3, seed=0):
    """root/cifar-10-batches-py/{data_batch_1..5, test_batch, batches.meta}; rows are CHW-flat uint8."""
    rng = np.random.default_rng(seed)
    d = root / "cifar-10-batches-py"
    d.mkdir(parents=True)
    arrays = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, (per_batch, 3 * 32 * 32), dtype=np.uint8)
        labels = [int(x) for x in rng.integers(0, 10, per_batch)]
        with open(d / name, "wb") as f:
            pickle.dump({"data": data, "labels": labels}, f)
        arrays[name] = (data, labels)
    with open(d / "batches.meta", "wb") as f:
        pickle.dump({"label_names": CLASSES}, f)
    return arrays


@pytest.fixture
def verified(monkeypatch):
    """torchvision accepts the files as the official download (its md5 list names the real ones)."""
    import torchvision.datasets.cifar as cifar
    monkeypatch.setattr(cifar.CIFAR10, "_check_integrity", lambda self: True)
    monkeypatch.setattr(cifar, "check_integrity", lambda *args, **kwargs: True)  # batches.meta


def test_cifar10_splits_load_losslessly(tmp_path, verified):
    from train.data import load_split
    arrays = _write_cifar_pickles(tmp_path / "data")
    test = load_split("cifar10", "test", data_root=str(tmp_path / "data"))
    data, labels = arrays["test_batch"]
    assert test.images.shape == (3, 3, 32, 32) and test.images.dtype == torch.uint8
    assert torch.equal(test.images, torch.from_numpy(data.reshape(-1, 3, 32, 32)))  # CHW, bit-exact
    assert test.labels.tolist() == labels and test.classes == CLASSES
    train = load_split("cifar10", "train", data_root=str(tmp_path / "data"))
    assert len(train.images) == 15


def test_training_on_cifar10_runs(tmp_path, verified):
    from train.cli import main
    _write_cifar_pickles(tmp_path / "data", per_batch=2)
    out = tmp_path / "run"
    args = train_args("simplified", "cifar10", out, tmp_path / "cache", "--data-root", str(tmp_path / "data"),
                      "--max-steps", "2", "--no-export")
    assert main(args) == 0
    assert (out / "checkpoint.pt").is_file()


def test_failed_download_is_a_clear_error(tmp_path, monkeypatch, capsys):
    from torchvision.datasets import CIFAR10

    from train.cli import main

    def offline(self):
        raise OSError("<urlopen error [Errno -3] Temporary failure in name resolution>")

    monkeypatch.setattr(CIFAR10, "download", offline)
    out = tmp_path / "run"
    args = train_args("simplified", "cifar10", out, tmp_path / "cache", "--data-root", str(tmp_path / "data"),
                      "--max-steps", "1")
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "could not download/load CIFAR-10" in err and "name resolution" in err
    assert not (out / "checkpoint.pt").exists()
