"""train.eval.refine_eval (the refinement table of train.eval.evaluate) and the card's refinement section, on tiny models."""
import json
from types import SimpleNamespace

import pytest
import torch

from lainr import CorrectedGINR, SimplifiedGINR
from train.tiny import tiny_corrected, tiny_simplified
from train.eval import refine_eval
from train.publish.card import refine_section, with_refine_section


def _models():
    torch.manual_seed(0)
    return {"simplified": SimplifiedGINR(tiny_simplified()).eval(), "corrected": CorrectedGINR(tiny_corrected()).eval()}


def _test_split(n=6):
    g = torch.Generator().manual_seed(0)
    return SimpleNamespace(images=torch.randint(0, 256, (n, 3, 32, 32), generator=g, dtype=torch.uint8))


def test_parse_steps():
    assert refine_eval.parse_steps("200,0, 10,10") == [0, 10, 200]
    for bad in ("", "a,b", "-1,5", "0,1001"):
        with pytest.raises(ValueError, match="refine-steps"):
            refine_eval.parse_steps(bad)


def test_run_writes_tables_and_resumes(tmp_path, monkeypatch):
    models, test = _models(), _test_split()
    monkeypatch.setattr(refine_eval, "one_image_seconds", lambda models, steps=200: {k: 0.5 for k in models})
    summary = refine_eval.run(models, test, tmp_path, [0, 2, 4], images=6, long_images=3, long_from=2, batch=3)
    assert summary["images_done"] == 6
    for label in models:
        m = summary["models"][label]
        assert m["steps"]["0"]["psnr"]["n"] == 6 and m["steps"]["2"]["ssim"]["n"] == 6
        assert m["steps"]["4"]["psnr"]["n"] == 3  # the long step count: first `long_images` only
        assert set(m["jitter"]) == {"0", "2"} and set(m["jitter"]["2"]) == {"0.005", "0.01", "0.02"}
        assert set(m["photos"]) == {"0", "2", "4"} and set(m["photos"]["4"]) >= {"2", "4", "8", "psnr32"}
    assert (tmp_path / "refine.md").read_text().count("| corrected |") >= 3
    assert (tmp_path / "refine.png").is_file()
    on_disk = json.loads((tmp_path / "refine.json").read_text())
    assert on_disk["models"]["corrected"]["steps"]["2"]["psnr"]["n"] == 6

    calls = []
    monkeypatch.setattr(refine_eval, "score_chunk", lambda *a, **k: calls.append(1))
    again = refine_eval.run(models, test, tmp_path, [0, 2, 4], images=6, long_images=3, long_from=2, batch=3)
    assert calls == [] and again["images_done"] == 6  # resumed: nothing recomputed


def test_chunks_timed_by_an_older_library_are_left_out_of_the_seconds(tmp_path, monkeypatch):
    models, test = _models(), _test_split()
    monkeypatch.setattr(refine_eval, "one_image_seconds", lambda models, steps=200: {k: 0.5 for k in models})
    monkeypatch.setattr(refine_eval, "photos_scores", lambda model, steps: {})
    refine_eval.run(models, test, tmp_path, [0, 2, 4], images=6, long_images=3, long_from=2, batch=3)
    path = tmp_path / "refine_partial.json"
    state = json.loads(path.read_text())
    state.pop("timing"), state.pop("timing_from_chunk")  # as left by a library that did not flush denormals
    state["chunks_done"] = 1
    for m in state["models"].values():
        m["seconds"] = {s: [100.0] for s in m["seconds"]}  # chunk 0's timing, by the older library
        for key in ("psnr", "ssim", "off_grid"):
            m[key] = {s: v[:3] for s, v in m[key].items()}
        m["jitter"] = {s: {sig: {k: x[:3] for k, x in row.items()} for sig, row in r.items()} for s, r in m["jitter"].items()}
    path.write_text(json.dumps(state))
    summary = refine_eval.run(models, test, tmp_path, [0, 2, 4], images=6, long_images=3, long_from=2, batch=3)
    steps = summary["models"]["corrected"]["steps"]
    assert steps["2"]["timed_chunks"] == 1 and steps["2"]["seconds_per_image"] < 100  # the re-timed chunk only
    assert not steps["4"]["timed_with_current_library"] and steps["4"]["seconds_per_image"] == 100.0  # only old
    assert " *" in (tmp_path / "refine.md").read_text()


def test_card_section_is_appended_then_replaced(tmp_path, monkeypatch):
    models, test = _models(), _test_split(3)
    monkeypatch.setattr(refine_eval, "one_image_seconds", lambda models, steps=200: {k: 0.5 for k in models})
    monkeypatch.setattr(refine_eval, "photos_scores", lambda model, steps: {})
    summary = refine_eval.run(models, test, tmp_path, [0, 2], images=3, batch=3)
    section = refine_section(summary, "corrected")
    assert section.startswith("## Test-time refinement") and "| 2 | 3 |" in section
    card = "# Card\n\n## Measured results\n\nx\n"
    once = with_refine_section(card, section)
    assert once.startswith(card.rstrip("\n")) and once.count("## Test-time refinement") == 1
    assert with_refine_section(once, section) == once
    middle = with_refine_section(once + "\n## Later\n\ny\n", section.replace("| 2 | 3 |", "| 2 | 9 |"))
    assert "| 2 | 9 |" in middle and "| 2 | 3 |" not in middle and middle.endswith("## Later\n\ny\n")
    assert refine_section(summary, "nonexistent") == ""


def test_evaluate_cli_refine_only(tmp_path, monkeypatch, capsys):
    import train.data
    from train.eval.evaluate import main
    for label, model in _models().items():
        model.save_pretrained(tmp_path / label)
    monkeypatch.setattr(train.data, "load_split", lambda *a, **k: _test_split(4))
    monkeypatch.setattr(refine_eval, "one_image_seconds", lambda models, steps=200: {k: 0.5 for k in models})
    monkeypatch.setattr(refine_eval, "photos_scores", lambda model, steps: {})
    out = tmp_path / "eval"
    code = main(["--weights", str(tmp_path / "simplified"), "--weights", str(tmp_path / "corrected"), "--data", "x",
                 "--out", str(out), "--refine-steps", "0,3", "--refine-images", "4", "--refine-only", "--threads", "1"])
    assert code == 0
    summary = json.loads((out / "refine.json").read_text())
    assert set(summary["models"]) == {"simplified", "corrected"} and summary["images_done"] == 4
    assert not (out / "metrics.json").exists()  # --refine-only: no one-pass evaluation
    assert "| corrected | 3 | 4 |" in capsys.readouterr().out
    assert main(["--weights", str(tmp_path / "corrected"), "--data", "x", "--out", str(out),
                 "--refine-steps", "0,2000", "--refine-only"]) == 2
