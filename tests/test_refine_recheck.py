"""train.study.refine_recheck: the table names its data and the CPU beside the seconds; a mismatched resume is refused."""
import json

from train.study.refine_recheck import DEFAULT, main, markdown


def _row(mean, delta=None):
    e = {"mean": mean, "low": mean - 0.5, "high": mean + 0.5, "n": 4}
    row = {"psnr": e, "seconds": 8.0, "cpu": "Some CPU", "threads": 1}
    if delta is not None:
        row["delta"] = {"mean": delta, "low": delta - 0.2, "high": delta + 0.2, "n": 4}
    return row


def test_the_table_names_the_data_the_cpu_and_the_paired_deltas():
    state = {"n": 4, "data": "ImageFolder at cifar10/ (CIFAR-10, lossy JPEG copy, q ≈ 75)",
             "rows": {f"corrected {DEFAULT}": _row(45.0), "corrected adam-const-3e-2": _row(44.0, -1.0)}}
    text = markdown(state)
    assert "lossy JPEG copy, q ≈ 75" in text and "Some CPU, 1 thread(s)" in text
    assert "(the defaults)" in text and "-1.00 [-1.20, -0.80]" in text and "| 2.00 |" in text


def test_a_resume_on_another_image_count_is_refused_before_loading_data(tmp_path, capsys):
    (tmp_path / "refine_recheck.json").write_text(json.dumps({"n": 200, "rows": {}, "values": {}}))
    assert main(["--data", str(tmp_path / "no-such-data"), "--images", "50", "--out", str(tmp_path)]) == 2
    assert "--images 200" in capsys.readouterr().err
