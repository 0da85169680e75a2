"""Lineage by sha256: each --init-from stage names its weights by the sha256 of their model.safetensors, and
the card says which folders were overwritten since (the bundled cards' `weights/corrected` twice)."""
import json

import pytest

from train.eval.evaluate import weights_sha256
from train.publish.lineage import lineage_markdown, lineage_of

STAGE = {"schedule": "s", "step": 10, "batch_size": 4, "epochs": 0.5, "elapsed": 36.0, "hardware": "CPU"}


def test_a_stage_is_recorded_with_the_sha256_of_its_weights(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"weights A")
    (tmp_path / "training_info.json").write_text(json.dumps({"step": 10, "lineage": []}))
    [stage] = lineage_of(tmp_path)
    assert stage["from"] == str(tmp_path) and stage["sha256"] == weights_sha256(tmp_path) and stage["sha256"]


def test_without_training_info_the_sha256_is_still_recorded(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"weights B")
    [stage] = lineage_of(tmp_path)
    assert stage["sha256"] == weights_sha256(tmp_path) and stage["schedule"] is None


@pytest.mark.parametrize("here", [None, "elsewhere"])
def test_the_card_names_each_stage_by_sha256_and_says_which_folder_was_overwritten(here):
    lineage = [dict(STAGE, **{"from": "weights/corrected"}),  # recorded before sha256 was
               dict(STAGE, **{"from": "weights/corrected", "sha256": "ab" * 32}),
               dict(STAGE, **{"from": "runs/x/hf", "sha256": "cd" * 32})]
    lines = lineage_markdown(lineage, 1.0, 3600.0, 20, 4, here=here).splitlines()
    assert "1. `weights/corrected` (sha256 not recorded; the folder was overwritten since)" in lines[1]
    assert f"2. `weights/corrected` (sha256 `{'ab' * 8}`):" in lines[2]
    assert f"3. `runs/x/hf` (sha256 `{'cd' * 8}`):" in lines[3]


def test_a_stage_exported_into_this_cards_folder_was_overwritten(tmp_path):
    lineage = [dict(STAGE, **{"from": str(tmp_path), "sha256": "ab" * 32})]
    text = lineage_markdown(lineage, 1.0, 3600.0, 20, 4, here=tmp_path)
    assert f"(sha256 `{'ab' * 8}`; the folder was overwritten since)" in text
