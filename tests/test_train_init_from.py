"""--init-from: a new run starts from a weights folder (fresh optimiser); what does not fit is refused
before anything is written."""
import json

import pytest
import torch

from lainr import CorrectedConfig, CorrectedGINR
from tests.test_train_helpers import make_image_folder, run_module, train_args
from train.tiny import TINY
from train.checkpoint import load_checkpoint
from train.eval.evaluate import weights_sha256


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("init_from")
    data = make_image_folder(tmp / "data", n_train=4, n_test=2)
    torch.manual_seed(123)  # not the run's seed: the start is visibly not the run's own initialisation
    start = CorrectedGINR(CorrectedConfig(**TINY["corrected"]))
    start.save_pretrained(tmp / "start")
    return tmp, data, start


def test_a_new_run_starts_from_the_folder(setup):
    tmp, data, start = setup
    out = tmp / "run"
    r = run_module("train", train_args("corrected", data, out, tmp / "cache", "--max-steps", "1", "--lr", "1e-12",
                                       "--init-from", str(tmp / "start"), "--no-export"))
    assert r.returncode == 0, r.stderr
    trained = load_checkpoint(out / "checkpoint.pt")["model"]
    for name, value in start.state_dict().items():  # one step at lr 1e-12 leaves the start as it was
        assert torch.allclose(trained[name], value, atol=1e-6), name
    assert json.loads((out / "run.json").read_text())["config"]["init_from"] == str(tmp / "start")
    fresh = tmp / "fresh"
    r = run_module("train", train_args("corrected", data, fresh, tmp / "cache", "--max-steps", "1", "--lr", "1e-12",
                                       "--no-export"))
    assert r.returncode == 0, r.stderr
    other = load_checkpoint(fresh / "checkpoint.pt")["model"]
    assert not torch.allclose(other["decoder.query_lin.weight"], trained["decoder.query_lin.weight"])


def test_the_card_names_the_start(setup, tmp_path):
    tmp, data, _ = setup
    out = tmp / "run"
    r = run_module("train.publish.export", [str(out), str(tmp_path / "hf"), "--eval-limit", "2", "--dtype", "float32"])
    assert r.returncode == 0, r.stderr
    assert f"Initialised from the weights in `{tmp / 'start'}`" in (tmp_path / "hf" / "README.md").read_text()


@pytest.mark.parametrize("case", ["not_a_folder", "other_config", "other_model"])
def test_what_does_not_fit_is_refused_before_anything_is_written(setup, tmp_path, case):
    tmp, data, _ = setup
    model, folder = "corrected", tmp_path / "w"
    if case == "not_a_folder":
        folder.mkdir()
        expect = "not a weights folder"
    elif case == "other_config":
        CorrectedGINR(CorrectedConfig(**dict(TINY["corrected"], hidden=16))).save_pretrained(folder)
        expect = "hidden: 16 in the folder, 32 in this run"
    else:
        model, folder, expect = "simplified", tmp / "start", "not a simplified model"
    out = tmp_path / "run"
    r = run_module("train", train_args(model, data, out, tmp / "cache", "--max-steps", "1", "--init-from", str(folder)))
    assert r.returncode == 2 and expect in r.stderr, r.stderr
    assert not out.exists()


def test_the_card_lists_the_training_history_of_a_chain(setup, tmp_path):
    """Run A (from scratch) → export → run B from A's folder → export → run C from B's folder: C's card
    lists A and B with their steps, then itself and the totals, even after A's folder is gone."""
    tmp, data, _ = setup
    folders = []
    for i, steps in enumerate((3, 2, 1)):
        run, hf = tmp_path / f"run{i}", tmp_path / f"hf{i}"
        extra = ["--init-from", str(folders[-1])] if folders else []
        r = run_module("train", train_args("corrected", data, run, tmp / "cache", "--max-steps", str(steps),
                                           "--no-export", *extra))
        assert r.returncode == 0, r.stderr
        r = run_module("train.publish.export", [str(run), str(hf), "--eval-limit", "2", "--dtype", "float32"])
        assert r.returncode == 0, r.stderr
        folders.append(hf)
        if i == 1:
            (folders[0] / "training_info.json").unlink()  # the history was read when run 1 started
    info = json.loads((folders[2] / "training_info.json").read_text())
    assert [s["from"] for s in info["lineage"]] == [str(folders[0]), str(folders[1])]
    shas = [weights_sha256(f) for f in folders]
    assert [s["sha256"] for s in info["lineage"]] == shas[:2] and info["weights_sha256"] == shas[2]
    assert [s["step"] for s in info["lineage"]] == [3, 2] and info["step"] == 1
    card = (folders[2] / "README.md").read_text()
    assert "Training history" in card and f"1. `{folders[0]}` (sha256 `{shas[0][:16]}`): 3 steps of batch 4" in card
    assert f"2. `{folders[1]}` (sha256 `{shas[1][:16]}`): 2 steps of batch 4" in card
    assert "3. this run: 1 steps of batch 4" in card and f"sha256 `{shas[2]}`" in card
    total_epochs = sum(s["epochs"] for s in info["lineage"]) + info["epochs"]
    assert f"In all: {total_epochs:.2f} epochs" in card
