"""A folder of any images (train/photo_folder.py, photo_batches.py, photo_validation.py): decoding, the split by
file, the scale-aware crops and queries, the photo validation."""
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lainr import CorrectedGINR, psnr_per_image
from tests.photo_folders import make_mixed_folder, smooth_rgb
from train.batches import queries, step_generator
from train.data import DataError
from train.photo_batches import crop_generator, photo_batch, pick_crop
from train.photo_folder import (VAL_FRACTION, PhotoSet, cap_for, held_out_fraction, load_photo_folder, scan_folder,
                                split_names)
from train.photo_validation import evaluate_photos, validation_crops
from train.tiny import TINY


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    root = tmp_path_factory.mktemp("photos")
    return root, make_mixed_folder(root)


def test_scan_finds_images_recursively_and_ignores_other_files(mixed):
    root, files = mixed
    scan = scan_folder(root)
    assert scan.names == sorted(files["good"] + files["bad"]) and scan.ignored == 1  # notes.txt


def test_decoding_converts_bounds_and_skips(mixed, tmp_path):
    root, files = mixed
    size = 48
    train, val, manifest = load_photo_folder(root, size, 4.0, cache_dir=tmp_path)
    photos = dict(zip(train.names + val.names, train.photos + val.photos))
    assert sorted(photos) == files["good"]
    assert [s["file"] for s in manifest["skipped"]] == files["bad"]
    assert all(p.dtype == torch.uint8 and p.shape[0] == 3 and min(p.shape[1:]) >= size for p in photos.values())
    assert photos["dogs/tiny.png"].shape == (3, size, size)  # 10×7: enlarged, centre-cropped
    cap = cap_for(size, 4.0)
    assert photos["huge.jpg"].shape == (3, cap, cap * 3 // 2)  # 1500×1000: short side reduced to the cap
    assert photos["photo_a.jpg"].shape == (3, 150, 200)  # between N and the cap: as it is
    grey = photos["cats/grey.png"]
    assert torch.equal(grey[0], grey[1]) and torch.equal(grey[1], grey[2])  # grey → RGB
    # RGBA at alpha 128 composited onto white: every channel at least about half-way to white
    assert photos["cats/rgba.png"].min() >= 126
    assert manifest["images_used"] == 10 and manifest["n_skipped"] == 2 and manifest["files_found"] == 12
    assert manifest["original_width_range"] == [10, 1500] and manifest["original_height_range"] == [7, 1000]
    assert manifest["n_train"] + manifest["n_validation"] == 10 and manifest["validation_files"] == val.names
    json.dumps(manifest)  # writable as JSON


def test_sixteen_bit_grey_is_scaled_not_clipped(tmp_path):
    from PIL import Image
    ramp = np.linspace(0, 65535, 48 * 64).reshape(48, 64).astype(np.uint16)
    Image.fromarray(ramp).save(tmp_path / "a.png")
    Image.fromarray(ramp[::-1].copy()).save(tmp_path / "b.png")
    train, val, _ = load_photo_folder(tmp_path, 32, 1.0, cache_dir=tmp_path / "c")
    photo = dict(zip(train.names + val.names, train.photos + val.photos))["a.png"]
    want = torch.from_numpy((ramp / 257).round().astype(np.uint8))
    assert torch.equal(photo[0], want) and torch.equal(photo[2], want)


def test_the_cache_returns_the_same_photos(mixed, tmp_path):
    root, _ = mixed
    first = load_photo_folder(root, 32, 1.0, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("photos-*.npz"))) == 1
    again = load_photo_folder(root, 32, 1.0, cache_dir=tmp_path)
    assert again[2] == first[2] and all(torch.equal(a, b) for a, b in zip(first[0].photos, again[0].photos))


def test_decoding_in_worker_processes_gives_the_same_photos(mixed, tmp_path):
    root, _ = mixed
    one = load_photo_folder(root, 32, 4.0, cache_dir=tmp_path / "a")
    two = load_photo_folder(root, 32, 4.0, cache_dir=tmp_path / "b", workers=2)
    assert one[2] == two[2] and all(torch.equal(a, b) for a, b in zip(one[0].photos, two[0].photos))


def test_content_hash_follows_the_bytes(tmp_path):
    from PIL import Image
    for i in range(3):
        Image.fromarray(smooth_rgb(40, 40, i)).save(tmp_path / f"{i}.png")
    before = load_photo_folder(tmp_path, 32, 1.0, cache_dir=tmp_path / "c")[2]["content_sha256"]
    Image.fromarray(smooth_rgb(40, 40, 9)).save(tmp_path / "1.png")
    after = load_photo_folder(tmp_path, 32, 1.0, cache_dir=tmp_path / "c")[2]["content_sha256"]
    assert before != after


def test_split_by_file_is_stable_when_files_are_added():
    names = [f"dir{i % 7}/img_{i}.jpg" for i in range(2000)]
    held = {names[i] for i in split_names(names)}
    assert abs(len(held) / len(names) - VAL_FRACTION) < 0.03
    more = names + [f"new/img_{i}.png" for i in range(500)]
    held_more = {more[i] for i in split_names(more)}
    assert held_more & set(names) == held  # no old file moved between the splits
    assert all((held_out_fraction(n) < VAL_FRACTION) == (n in held) for n in names)
    assert split_names(["a.png", "b.png"]) != []  # a small folder still validates on one file
    assert split_names(["only.png"]) == []


def test_a_single_readable_image_is_refused(tmp_path):
    from PIL import Image
    Image.fromarray(smooth_rgb(40, 40, 0)).save(tmp_path / "one.png")
    (tmp_path / "bad.png").write_bytes(b"nope")
    with pytest.raises(DataError, match="only 1 readable image"):
        load_photo_folder(tmp_path, 32, 1.0, cache_dir=tmp_path / "c")


def _positional_photo(h, w):
    """(3, h, w) uint8 whose channels 0/1 encode the row/column (mod 256): a target tells where it was read."""
    ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    return torch.stack([ys % 256, xs % 256, (ys + xs) % 256]).to(torch.uint8)


def test_scale_aware_batch_reads_targets_at_the_crop_pixel_centres():
    size, scale = 16, 4
    photos = [_positional_photo(size * scale, size * scale), _positional_photo(size * scale, size * scale + 9)]
    x, coords, targets = photo_batch(photos, torch.tensor([0, 1]), size, (scale, scale), 300, 0.0,
                                     crop_generator(0, 0, 0), step_generator(0, 0, 0, "cpu"), "cpu")
    assert x.shape == (2, 3, size, size) and coords.shape == (2, 300, 2) and targets.shape == (2, 300, 3)
    side = size * scale  # s = 4 → the crop is 64×64; the whole first photo
    row, col = (coords[0, :, 0] * side - 0.5).round(), (coords[0, :, 1] * side - 0.5).round()
    torch.testing.assert_close(targets[0, :, 0] * 255, row)
    torch.testing.assert_close(targets[0, :, 1] * 255, col)
    whole = photos[0].float()[None] / 255
    torch.testing.assert_close(x[:1], F.avg_pool2d(whole, scale))  # the input: area reduction of the target
    # the second photo is wider: the crop's column offset is the target's column minus the query's
    col1 = (coords[1, :, 1] * side - 0.5).round()
    offset = targets[1, :, 1] * 255 - col1
    assert torch.all(offset == offset[0]) and 0 <= offset[0] <= 9


def test_scale_range_draws_sizes_within_the_range_and_the_photo():
    size = 16
    photo = _positional_photo(50, 200)
    gen = crop_generator(3, 5, 0)
    sides = {pick_crop(photo, size, (1.0, 4.0), gen).shape[-1] for _ in range(200)}
    assert min(sides) >= size and max(sides) <= 50 and len(sides) > 10  # capped by the short side (50 < 64)
    again = pick_crop(photo, size, (1.0, 4.0), crop_generator(3, 5, 0))
    assert torch.equal(again, pick_crop(photo, size, (1.0, 4.0), crop_generator(3, 5, 0)))  # replayable


def test_scale_one_queries_the_crop_as_a_cifar_batch_is_queried():
    size = 32
    photos = [_positional_photo(size, size)] * 3
    x, coords, targets = photo_batch(photos, torch.tensor([0, 1, 2]), size, (1, 1), 1024, 0.01,
                                     crop_generator(0, 0, 0), step_generator(0, 7, 0, "cpu"), "cpu")
    want = queries(x, 1024, 0.01, step_generator(0, 7, 0, "cpu"))
    assert torch.equal(coords, want[0]) and torch.equal(targets, want[1])
    assert torch.equal(targets, x.flatten(2).transpose(1, 2))  # all pixels, raster order, targets unjittered


def test_corrected_jitter_moves_queries_not_targets():
    size = 16
    photos = [_positional_photo(64, 64)]
    args = (photos, torch.tensor([0]), size, (2, 2), 100)
    _, plain, t0 = photo_batch(*args, 0.0, crop_generator(0, 0, 0), step_generator(0, 0, 0, "cpu"), "cpu")
    _, jittered, t1 = photo_batch(*args, 0.01, crop_generator(0, 0, 0), step_generator(0, 0, 0, "cpu"), "cpu")
    assert torch.equal(t0, t1) and not torch.equal(plain, jittered)
    assert (plain - jittered).abs().max() < 0.1


def test_photo_validation_scores_centre_crops_and_x4_against_bicubic():
    size = 16
    photos = [torch.from_numpy(smooth_rgb(80, 70, i).copy()).permute(2, 0, 1).contiguous() for i in range(2)]
    photos.append(torch.from_numpy(smooth_rgb(30, 20, 5).copy()).permute(2, 0, 1).contiguous())  # too small for ×4
    val = PhotoSet(photos, ["a", "b", "c"], "test", size)
    crops, sr = validation_crops(val, size)
    assert crops.shape == (3, 3, size, size) and sr.shape == (2, 3, 64, 64)
    assert torch.equal(crops[0], photos[0][:, 27:43, 32:48])  # the centre 16×16 of 70×80
    torch.manual_seed(0)
    model = CorrectedGINR(dict(TINY["corrected"], image_size=size))
    m = evaluate_photos(model, crops, sr)
    assert m["n"] == 3 and m["sr4_n"] == 2 and np.isfinite([m["psnr"], m["ssim"], m["sr4_psnr"]]).all()
    assert m["sr4_bicubic_psnr"] > 25  # a smooth field: bicubic up-sampling is close
    rec = model.render(crops.float() / 255, size)
    assert m["psnr"] == pytest.approx(psnr_per_image(rec, crops.float() / 255).mean().item(), abs=1e-4)
    limited = validation_crops(val, size, torch.tensor([2]))  # --val-limit: only the photos validated on
    assert limited[0].shape == (1, 3, size, size) and torch.equal(limited[0][0], crops[2]) and len(limited[1]) == 0


def test_a_prepared_split_trains_on_train_validates_on_val_and_never_reads_test(tmp_path):
    from PIL import Image

    from tests.photo_folders import smooth_rgb
    from train.photo_folder import load_photo_folder
    root = tmp_path / "photos"
    for split, n in (("train", 4), ("val", 2), ("test", 2)):
        (root / split).mkdir(parents=True)
        for i in range(n):
            Image.fromarray(smooth_rgb(80, 60, hash((split, i)) % 1000)).save(root / split / f"{i}.jpg")
    (root / "test" / "broken.jpg").write_bytes(b"not read at all")  # a test file is never even opened
    train_set, val_set, manifest = load_photo_folder(root, 32, 1.0, cache_dir=tmp_path / "cache")
    assert sorted(train_set.names) == [f"train/{i}.jpg" for i in range(4)]
    assert sorted(val_set.names) == ["val/0.jpg", "val/1.jpg"]
    assert manifest["n_skipped"] == 0 and "test/ is not read" in manifest["split_rule"]
    assert not any(n.startswith("test/") for n in train_set.names + val_set.names)
    assert not manifest["source"].startswith("/")  # relative to the repository, never a machine path
