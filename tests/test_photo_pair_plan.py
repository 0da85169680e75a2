"""train.photos.pair: the photo pair's plan becomes trainer commands, and finished runs become weights/<pair>/."""
import gzip
import json

import pytest

from train.cli import parser as build_parser
from train.photos import pair


def test_the_plan_gives_valid_trainer_commands_with_latents_at_least_the_input():
    from lainr import CorrectedGINR, SimplifiedGINR
    plan = pair.load_plan()
    n = plan["image_size"]
    for model, cls in (("corrected", CorrectedGINR), ("simplified", SimplifiedGINR)):
        argv = pair.trainer_command(plan, model, "runs/x")[3:]  # after `python -m train`
        a = build_parser().parse_args(argv)
        assert a.model == model and a.image_size == n and a.out == f"runs/x/{model}"
        cfg = cls(dict(json.loads(a.config_json), image_size=n)).config
        assert cfg.num_lp * cfg.dim >= 3 * n * n  # the latent holds at least the input's values (issue 37)
    with pytest.raises(ValueError, match="unknown model 'big'"):
        pair.trainer_command(plan, "big", "runs/x")


def test_publish_copies_finished_runs_and_gzips_their_log(tmp_path, capsys):
    plan = {"pair": "photos64", "runs": {"corrected": {}, "simplified": {}}}
    run = tmp_path / "runs" / "corrected"
    (run / "hf").mkdir(parents=True)
    for name in pair.EXPORT_FILES:
        (run / "hf" / name).write_text(name)
    (run / "run.json").write_text("{}")
    (run / "metrics.jsonl").write_text('{"kind": "step", "step": 1}\n')
    written = pair.publish(plan, tmp_path / "runs", tmp_path / "weights")
    dest = tmp_path / "weights" / "photos64" / "corrected"
    assert written == [dest] and (dest / "model.safetensors").read_text() == "model.safetensors"
    assert gzip.open(dest / "metrics.jsonl.gz", "rt").read() == '{"kind": "step", "step": 1}\n'
    assert "simplified: not finished" in capsys.readouterr().err
    with pytest.raises(FileNotFoundError):
        pair.publish(plan, tmp_path / "nothing", tmp_path / "weights")
