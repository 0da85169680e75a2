"""train.gpu.pack: JPEG headers stored once, files rebuilt byte for byte, --max-bytes subsets."""
import json

import numpy as np
import pytest
import torch
from PIL import Image

from tests.test_train_helpers import make_image_folder, run_module
from train.data import load_split
from train.gpu.pack import PackError, balanced_pick, pack, split_jpeg


def jpeg_folder(root, n_train=6, n_test=2, classes=("cat", "dog", "emu")):
    src = make_image_folder(root, n_train=n_train, n_test=n_test, classes=classes)
    for p in list(src.rglob("*.png")):  # a JPEG copy, like the shared CIFAR-10 folder
        Image.open(p).convert("RGB").save(p.with_suffix(".jpg"), quality=75)
        p.unlink()
    (src / "manifest.json").write_text(json.dumps(  # the facts recorded beside the data, as for the shared copy
        {"name": "test JPEG copy", "lossless": False, "format": {"container": "baseline JPEG",
                                                                  "jpeg_quality_estimate": 75}}))
    return src


def test_split_jpeg_is_exact_and_headers_repeat(tmp_path):
    src = jpeg_folder(tmp_path / "f")
    heads = set()
    for p in src.rglob("*.jpg"):
        blob = p.read_bytes()
        head, body = split_jpeg(blob)
        assert head + body == blob and len(head) > 100
        heads.add(head)
    assert len(heads) == 1  # one encoder setting → one header for every file
    assert split_jpeg(b"not a jpeg") == (b"", b"not a jpeg")


def test_pack_loads_like_the_folder_and_stores_the_header_once(tmp_path):
    src = jpeg_folder(tmp_path / "f")
    packed = pack(src, tmp_path / "p.npz")
    with np.load(packed) as z:
        assert len(z["jpeg_header_offsets"]) == 2  # one header
        meta = json.loads(bytes(z["meta"]).decode())
    assert meta["n_train"] == 18 and "18 of 18 training images" in meta["source"]
    assert "lossy JPEG copy, q ≈ 75" in meta["source"]  # the manifest's facts travel in the pack
    for split in ("train", "test"):
        a = load_split(str(src), split, cache_dir=tmp_path / "cache")
        b = load_split(str(packed), split)
        assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels) and a.classes == b.classes
    whole = sum(p.stat().st_size for p in src.rglob("*.jpg"))
    assert packed.stat().st_size < whole  # the repeated headers are gone


def test_max_bytes_gives_the_largest_balanced_subset_that_fits(tmp_path):
    src = jpeg_folder(tmp_path / "f", n_train=8)
    full = pack(src, tmp_path / "full.npz").stat().st_size
    limit = full - 3000  # a few images' worth less
    small = pack(src, tmp_path / "small.npz", max_bytes=limit)
    assert small.stat().st_size <= limit
    train = load_split(str(small), "train")
    counts = np.bincount(train.labels.numpy())
    assert len(set(counts)) == 1 and 1 <= counts[0] < 8  # balanced, fewer than all
    bigger = pack(src, tmp_path / "bigger.npz", max_bytes=limit + 8000)
    assert np.bincount(load_split(str(bigger), "train").labels.numpy())[0] > counts[0]  # the largest that fits
    assert load_split(str(small), "test").images.shape[0] == 6  # test split kept whole
    with np.load(small) as z:
        assert f"{counts[0] * 3:,} of 24 training images" in json.loads(bytes(z["meta"]).decode())["source"]


def test_max_bytes_too_small_fails_before_writing(tmp_path):
    src = jpeg_folder(tmp_path / "f")
    with pytest.raises(PackError, match="cannot hold even one training image per class"):
        pack(src, tmp_path / "p.npz", max_bytes=2000)
    assert not (tmp_path / "p.npz").exists()
    r = run_module("train.gpu.pack", ["--data", str(src), str(tmp_path / "q.npz"), "--max-bytes", "2000"])
    assert r.returncode == 2 and "cannot hold even one training image per class" in r.stderr
    assert not (tmp_path / "q.npz").exists()


def test_pack_cli_refuses_an_existing_file(tmp_path):
    src = jpeg_folder(tmp_path / "f")
    (tmp_path / "p.npz").write_bytes(b"keep me")
    r = run_module("train.gpu.pack", ["--data", str(src), str(tmp_path / "p.npz")])
    assert r.returncode == 2 and "exists" in r.stderr and (tmp_path / "p.npz").read_bytes() == b"keep me"


def test_pack_of_a_pack_decodes_to_arrays_and_keeps_the_count(tmp_path):
    src = jpeg_folder(tmp_path / "f", n_train=8)
    small = pack(src, tmp_path / "small.npz", max_bytes=pack(src, tmp_path / "a.npz").stat().st_size - 3000)
    decoded = pack(str(small), tmp_path / "decoded.npz")
    with np.load(decoded) as z:
        assert "train_images" in z and z["meta"] is not None
        src_line = json.loads(bytes(z["meta"]).decode())["source"]
    assert src_line.count("packed:") == 1
    assert torch.equal(load_split(str(decoded), "train").images, load_split(str(small), "train").images)


def test_first_format_packs_still_load(tmp_path):
    src = jpeg_folder(tmp_path / "f", n_train=2, n_test=1)
    arrays = {}
    for split in ("train", "test"):
        files = sorted((src / split).rglob("*.jpg"))
        blobs = [f.read_bytes() for f in files]
        arrays[f"{split}_jpeg"] = np.frombuffer(b"".join(blobs), dtype=np.uint8)
        arrays[f"{split}_offsets"] = np.cumsum([0] + [len(b) for b in blobs])
        arrays[f"{split}_labels"] = np.asarray([["cat", "dog", "emu"].index(f.parent.name) for f in files])
    np.savez(tmp_path / "old.npz", **arrays)
    a = load_split(str(src), "train", cache_dir=tmp_path / "c")
    assert torch.equal(load_split(str(tmp_path / "old.npz"), "train").images, a.images)


def test_balanced_pick_takes_the_first_of_each_class():
    labels = np.array([0, 1, 0, 2, 1, 0, 2, 2])
    assert balanced_pick(labels, 2).tolist() == [0, 1, 2, 3, 4, 6]
