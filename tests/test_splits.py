"""The validation split: class-balanced, held out of training, the committed list = the rule."""
import json

import pytest
import torch

from train import splits


def test_committed_list_is_the_rule_and_balanced():
    committed = splits.read_list(splits.VALIDATION_LIST)
    assert committed == splits.rule_ranks([5000] * 10)
    labels = torch.arange(10).repeat_interleave(5000)
    val = splits.validation_indices(labels)
    assert len(val) == 5000 and len(set(val.tolist())) == 5000
    assert torch.bincount(labels[val]).tolist() == [500] * 10


def test_rule_on_a_small_split_and_the_complement():
    labels = torch.tensor([0, 1, 2] * 20)  # classes interleaved, 20 each
    val = splits.validation_indices(labels)
    assert torch.bincount(labels[val]).tolist() == [2, 2, 2]
    keep = splits.train_indices(len(labels), val)
    assert set(keep.tolist()).isdisjoint(val.tolist()) and len(keep) + len(val) == len(labels)
    assert torch.equal(splits.validation_indices(labels), val)  # deterministic


@pytest.mark.parametrize("spec, message", [
    ({"split": "test", "ranks": {"0": [1]}}, "test"),
    ({"split": "train", "ranks": {"0": [1, 1]}}, "repeats"),
    ({"split": "train", "ranks": {"0": [99]}}, "rank 99"),
    ({"split": "train", "ranks": {"7": [0]}}, "class 7"),
    ({"split": "train"}, "ranks"),
])
def test_bad_validation_lists_are_refused(tmp_path, spec, message):
    path = tmp_path / "val.json"
    path.write_text(json.dumps(spec))
    with pytest.raises(splits.SplitError, match=message):
        splits.validation_indices(torch.tensor([0, 1, 2] * 20), path)
