"""`python -m train --data FOLDER --image-size N`: a short run on a folder of mixed files, and the refusals (each
before anything is written)."""
import json
import shutil

import pytest

from lainr import CorrectedGINR, SimplifiedGINR
from tests.photo_folders import make_mixed_folder, smooth_rgb
from tests.test_train_helpers import make_image_folder, run_module, train_args
from train.config import TrainConfig
from train.photo_folder import load_photo_folder


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    root = tmp_path_factory.mktemp("photos")
    return root, make_mixed_folder(root)


def test_a_short_photo_run_trains_writes_the_manifest_and_names_the_bad_files(mixed, tmp_path):
    root, files = mixed
    out = tmp_path / "run"
    args = train_args("corrected", root, out, tmp_path / "cache", "--image-size", "48", "--max-steps", "3")
    r = run_module("train", args)
    assert r.returncode == 0, r.stderr
    for bad in files["bad"]:
        assert bad in r.stderr  # named in the log
    assert "skipped 2 unreadable file(s) of 12" in r.stderr
    manifest = json.loads((out / "data_manifest.json").read_text())
    assert manifest["images_used"] == 10 and [s["file"] for s in manifest["skipped"]] == files["bad"]
    assert manifest["image_size"] == 48 and len(manifest["content_sha256"]) == 64
    run = json.loads((out / "run.json").read_text())
    assert run["config"]["model_config"]["image_size"] == 48 and run["config"]["scale_range"] == [1.0, 4.0]
    assert run["history"][-1]["data_manifest"]["content_sha256"] == manifest["content_sha256"]
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in records if r["kind"] == "step"]
    vals = [r for r in records if r["kind"] in ("val", "epoch")]  # an epoch end validates too
    assert len(steps) == 3 and vals and vals[-1]["n"] == manifest["n_validation"] and "sr4_n" in vals[-1]
    model = CorrectedGINR.from_pretrained(out / "hf")  # the export: the image size saved with the weights
    assert model.config.image_size == 48
    info = json.loads((out / "hf" / "training_info.json").read_text())
    assert info["data"]["content_sha256"] == manifest["content_sha256"]
    again = run_module("train", args)  # the same command: the finished run is found, nothing retrained
    assert again.returncode == 0 and "already finished" in again.stderr
    assert json.loads((out / "data_manifest.json").read_text()) == manifest
    from train.publish.export import export_run
    with pytest.raises(ValueError, match="a run on a folder of images"):  # the CIFAR export would score CIFAR images
        export_run(out, tmp_path / "exported")
    assert not (tmp_path / "exported").exists()


def test_a_folder_that_changed_between_starts_keeps_the_old_manifest(mixed, tmp_path):
    from PIL import Image
    root = tmp_path / "photos"
    shutil.copytree(mixed[0], root)
    out = tmp_path / "run"
    args = train_args("simplified", root, out, tmp_path / "cache", "--image-size", "32", "--max-steps", "1")
    assert run_module("train", args).returncode == 0
    first = json.loads((out / "data_manifest.json").read_text())
    Image.fromarray(smooth_rgb(50, 50, 42)).save(root / "added.png")
    r = run_module("train", args)
    assert r.returncode == 0 and "changed since this run's last start" in r.stderr
    assert json.loads((out / "data_manifest.before-step-1.json").read_text()) == first
    assert json.loads((out / "data_manifest.json").read_text())["images_used"] == first["images_used"] + 1


def test_a_photo_run_without_scale_aware_training(tmp_path):
    from PIL import Image
    for i in range(4):
        (tmp_path / "p" / f"d{i % 2}").mkdir(parents=True, exist_ok=True)
        Image.fromarray(smooth_rgb(90 + 10 * i, 70, i)).save(tmp_path / "p" / f"d{i % 2}" / f"{i}.jpg")
    out = tmp_path / "run"
    r = run_module("train", train_args("simplified", tmp_path / "p", out, tmp_path / "cache", "--image-size", "64",
                                       "--scale-range", "1,1", "--max-steps", "2"))
    assert r.returncode == 0, r.stderr
    assert json.loads((out / "run.json").read_text())["config"]["scale_range"] == [1.0, 1.0]
    assert SimplifiedGINR.from_pretrained(out / "hf").config.image_size == 64


def _refused(tmp_path, capsys, data, *extra, model="corrected"):
    from train.cli import main
    out = tmp_path / "out"
    cache = tmp_path / "refused-cache"
    assert main(train_args(model, data, out, cache, "--max-steps", "1", *extra)) == 2
    assert not out.exists() and not cache.exists()  # nothing written
    return capsys.readouterr().err


def test_an_empty_folder_is_refused(tmp_path, capsys):
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    assert "holds no image files" in _refused(tmp_path, capsys, tmp_path / "empty", "--image-size", "32")


def test_a_folder_of_non_images_is_refused(tmp_path, capsys):
    (tmp_path / "docs").mkdir()
    for name in ("a.txt", "b.csv", "c.json"):
        (tmp_path / "docs" / name).write_text("text")
    err = _refused(tmp_path, capsys, tmp_path / "docs", "--image-size", "32")
    assert "holds no image files" in err and "3 other file(s) ignored" in err


def test_a_folder_of_unreadable_images_is_refused(tmp_path, capsys):
    (tmp_path / "bad").mkdir()
    for name in ("a.jpg", "b.png", "c.webp"):
        (tmp_path / "bad" / name).write_bytes(b"garbage, not an image")
    err = _refused(tmp_path, capsys, tmp_path / "bad", "--image-size", "32")
    assert "none of its 3 image file(s) could be read" in err and "a.jpg" in err


def test_a_patch_that_does_not_divide_the_size_is_refused(mixed, tmp_path, capsys):
    root, _ = mixed
    err = _refused(tmp_path, capsys, root, "--image-size", "50", model="simplified")
    assert "--image-size 50: the simplified model's patch size 4 does not divide it" in err
    err = _refused(tmp_path, capsys, root, "--image-size", "33")
    assert "patch size 2 does not divide it" in err


@pytest.mark.parametrize("extra,message", [
    (("--image-size", "32", "--scale-range", "0.5,2"), "--scale-range must be LO,HI with 1 <= LO <= HI"),
    (("--image-size", "32", "--scale-range", "4"), "--scale-range must be two numbers"),
    (("--scale-range", "1,4"), "--scale-range belongs to a folder of images"),
    (("--image-size", "32", "--val-from", "test"), "--val-from test and --val-list do not apply"),
])
def test_bad_photo_flags_are_refused(mixed, tmp_path, capsys, extra, message):
    root, _ = mixed
    assert message in _refused(tmp_path, capsys, root, *extra)


def test_image_size_with_cifar_sources_is_refused(tmp_path, capsys):
    assert "--image-size takes a folder of images" in _refused(tmp_path, capsys, "cifar10", "--image-size", "32")


def test_a_cifar_style_folder_with_image_size_trains_on_train_and_never_reads_test(tmp_path):
    """With --image-size, a folder holding train/ and test/ is a prepared split (documented): train/ trains, the
    hash rule holds some of its files out for validation, test/ is not read."""
    root = make_image_folder(tmp_path / "cifar_like", n_train=6, n_test=3)
    train, val, manifest = load_photo_folder(root, 32, 4.0, cache_dir=tmp_path / "c")
    names = train.names + val.names
    assert manifest["images_used"] == 12 and all(n.startswith("train/") for n in names) and len(val) >= 1


def test_the_identity_of_runs_recorded_before_image_size_is_unchanged():
    """A run.json written before --image-size existed (no image_size, no scale_range) is the same run as the
    command that started it: resuming it is not refused."""
    old = {k: v for k, v in json.loads(TrainConfig(model="corrected", data="x", out="o").to_json()).items()
           if k not in ("image_size", "scale_range")}
    assert TrainConfig.from_dict(old).resolved().identity() == TrainConfig(model="corrected", data="x").resolved().identity()
