"""train.atomic (one atomic write) and train.metrics_log.read_jsonl (one JSONL reader)."""
import json
from pathlib import Path

import numpy as np
import pytest

from train.atomic import atomic_write, atomic_write_json, is_temporary, replacing
from train.metrics_log import JsonlError, read_jsonl, read_metrics, truncate_metrics


def test_atomic_write_text_bytes_and_json(tmp_path):
    atomic_write(tmp_path / "a.txt", "héllo\n")
    atomic_write(tmp_path / "b.bin", b"\x00\x01")
    atomic_write_json(tmp_path / "c.json", {"b": 1, "a": 2})
    assert (tmp_path / "a.txt").read_text(encoding="utf-8") == "héllo\n"
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\x01"
    assert (tmp_path / "c.json").read_text() == '{\n  "a": 2,\n  "b": 1\n}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.bin", "c.json"]  # no temporary file left


def test_atomic_write_refuses_other_types(tmp_path):
    with pytest.raises(TypeError, match="str or bytes"):
        atomic_write(tmp_path / "x", {"not": "text"})


def test_a_failed_write_leaves_the_old_file(tmp_path):
    path = tmp_path / "state.json"
    path.write_text("old")
    with pytest.raises(RuntimeError):
        with replacing(path) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed mid-write")
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_replacing_keeps_the_suffix_for_writers_that_need_it(tmp_path):
    with replacing(tmp_path / "chunk.npz") as tmp:
        assert tmp.suffix == ".npz" and tmp.parent == tmp_path and is_temporary(tmp.name)
        np.savez(tmp, x=np.arange(3))  # np.savez would append .npz to a name without it
    with np.load(tmp_path / "chunk.npz") as z:
        assert z["x"].tolist() == [0, 1, 2]


def test_read_jsonl_drops_a_torn_last_line(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text('{"kind": "step", "step": 1}\n\n{"kind": "step", "step": 2}\n{"kind": "st')
    assert [r["step"] for r in read_jsonl(path)] == [1, 2]
    assert read_jsonl(tmp_path / "missing.jsonl") == []


def test_read_jsonl_refuses_a_bad_line_before_the_last(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text('{"step": 1}\nnot json\n{"step": 3}\n')
    with pytest.raises(JsonlError, match="line 2"):
        read_jsonl(path)


def test_truncate_metrics_keeps_records_up_to_the_step(tmp_path):
    recs = [{"kind": "step", "step": s, "lr": 1e-05} for s in (1, 2, 3)]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs) + '{"kind": "st')
    truncate_metrics(tmp_path, 2)
    assert read_metrics(tmp_path) == recs[:2]
    assert (tmp_path / "metrics.jsonl").read_text().endswith("}\n")


def test_publish_skips_a_temporary_file_left_by_a_killed_writer(tmp_path):
    from train.publish.publish import files_to_upload
    for name in ("config.json", "model.safetensors", "README.md"):
        (tmp_path / name).write_text("x")
    with replacing(tmp_path / "training_info.json") as tmp:
        tmp.write_text("{}")
        left = tmp.with_name(tmp.name.replace("training_info", "old_info"))  # a temp another writer left
        left.write_text("{}")
    assert [p.name for p in files_to_upload(tmp_path)] == ["README.md", "config.json", "model.safetensors",
                                                           "training_info.json"]


def test_a_gzipped_log_reads_as_the_plain_one(tmp_path):
    """Logs kept beside published weights are gzipped (weights/*/metrics.jsonl.gz); every reader takes either."""
    import gzip
    recs = [{"kind": "step", "step": i, "loss": 1.0 / i} for i in range(1, 4)]
    text = "".join(json.dumps(r) + "\n" for r in recs)
    with gzip.open(tmp_path / "metrics.jsonl.gz", "wt", encoding="utf-8") as f:
        f.write(text)
    assert read_metrics(tmp_path) == recs
    assert read_jsonl(tmp_path / "metrics.jsonl") == recs  # the plain name finds the .gz beside it
    (tmp_path / "metrics.jsonl").write_text(text[:-1] + "\n" + json.dumps({"kind": "end"}) + "\n")
    assert read_metrics(tmp_path)[-1] == {"kind": "end"}  # a plain log, when there is one, is the one read


def test_the_published_logs_are_gzipped_and_complete():
    """The bundled weights' training logs travel gzipped (the GPU call's 64 MiB upload) and still read whole."""
    root = Path(__file__).resolve().parent.parent / "weights"
    for log, first_kind in (("simplified/metrics.jsonl", "step"), ("corrected/metrics.jsonl", "step"),
                            ("corrected/long_run_metrics.jsonl", "step")):
        assert not (root / log).exists() and (root / (log + ".gz")).is_file()
        recs = read_jsonl(root / log)
        assert len(recs) > 1000 and any(r.get("kind") == first_kind for r in recs)
