"""train.gpu.upload: what one GPU call uploads stays under the device's 64 MiB (issue 37, item 7)."""
import subprocess

from train.gpu import upload


def test_the_repository_and_the_whole_cifar_pack_fit_one_gpu_call():
    r = upload.budget()
    assert r["total"] <= upload.LIMIT, (f"tracked tree {upload.mib(r['tree'])} + CIFAR pack {upload.mib(r['pack'])} "
                                        f"is over 64 MiB: move what the device does not need out of the tree")
    if r["study_test_scored"]:  # the study's weights leave the tree once the test split is scored
        assert r["in_flight"] == 0, "the study's test split is scored: its weights belong to git history now"


def _git(root, *args):
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)


def test_the_count_is_what_travels(tmp_path):
    """Tracked and untracked-not-ignored files count, ignored ones do not; the study's weights count apart."""
    _git(tmp_path, "init", "-q")
    (tmp_path / ".gitignore").write_text("runs/\n")
    (tmp_path / "a.bin").write_bytes(b"x" * 1000)
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "big.bin").write_bytes(b"x" * 10 ** 6)
    w = tmp_path / upload.STUDY_WEIGHTS
    w.mkdir(parents=True)
    (w / "r-s0.safetensors").write_bytes(b"w" * 500)
    _git(tmp_path, "add", ".gitignore", "a.bin")
    (tmp_path / "new.txt").write_text("untracked, not ignored")
    r = upload.budget(tmp_path, pack_bytes=100)
    assert r["tree"] == 1000 + len("runs/\n") + len("untracked, not ignored")
    assert r["in_flight"] == 500 and r["total"] == r["tree"] + 100 and not r["study_test_scored"]


def test_the_command_prints_the_budget_and_fails_when_over(tmp_path, capsys, monkeypatch):
    assert upload.main([]) == 0
    assert "of 64.0 MiB" in capsys.readouterr().out
    pack = tmp_path / "huge.npz"
    with open(pack, "wb") as f:
        f.truncate(70 * 2 ** 20)
    assert upload.main(["--pack", str(pack)]) == 1
    assert "over the device's limit" in capsys.readouterr().err
