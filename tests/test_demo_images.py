"""Input sanitising (demo/images.py): every odd file either becomes a clean 32×32 input or a clear error."""
import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from demo.images import MAX_PIXELS, InputError, cifar_examples, photo_examples, prepare


def _save(tmp_path, name, image, **kwargs):
    path = tmp_path / name
    image.save(path, **kwargs)
    return str(path)


def png_header_only(width, height):
    """A PNG whose header claims width×height (a decompression bomb's signature), with no pixel data."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def check(prepared):
    x = prepared.model_input
    assert x.shape == (32, 32, 3) and x.dtype == np.float32
    assert 0.0 <= x.min() and x.max() <= 1.0 and np.isfinite(x).all()
    return prepared


def test_shipped_examples():
    cifar, photos = cifar_examples(), photo_examples()
    assert len(cifar) == 20 and len(photos) == 3
    p = check(prepare(cifar[0]))
    assert p.source is None and p.notes == []
    photo = check(prepare(photos[0]))
    assert photo.is_photo and photo.reference(256).shape == (256, 256, 3) and photo.reference(512) is None


def test_32x32_png_is_exact(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    p = check(prepare(_save(tmp_path, "a.png", Image.fromarray(rgb))))
    np.testing.assert_allclose(p.model_input, rgb / 255.0, atol=1e-6)


@pytest.mark.parametrize("mode", ["L", "1", "P", "CMYK", "LA", "RGBA", "I;16", "I", "F"])
def test_modes(tmp_path, mode):
    base = Image.fromarray(np.random.default_rng(1).integers(0, 256, (40, 40, 3), dtype=np.uint8))
    if mode == "I;16":
        image = Image.fromarray((np.arange(40 * 40, dtype=np.uint16).reshape(40, 40) * 40))
        assert image.mode == "I;16"
    elif mode in ("I", "F"):
        image = base.convert("L").convert(mode)
    else:
        image = base.convert(mode)
    fmt = {"CMYK": ("x.jpg", "JPEG"), "F": ("x.tiff", "TIFF"), "I": ("x.tiff", "TIFF")}.get(mode, ("x.png", "PNG"))
    p = check(prepare(_save(tmp_path, fmt[0], image, format=fmt[1])))
    assert p.is_photo  # 40×40 > 32: area-downsampled


def test_sixteen_bit_uses_full_range(tmp_path):
    image = Image.fromarray(np.full((32, 32), 65535, dtype=np.uint16))
    p = check(prepare(_save(tmp_path, "w.png", image)))
    assert p.model_input.min() > 0.99


def test_transparency_is_flattened_on_white(tmp_path):
    image = Image.new("RGBA", (32, 32), (255, 0, 0, 0))  # fully transparent red
    p = check(prepare(_save(tmp_path, "t.png", image)))
    assert p.model_input.min() > 0.99 and any("transparency" in n for n in p.notes)
    palette = Image.new("P", (32, 32), 0)
    palette.info["transparency"] = 0
    check(prepare(_save(tmp_path, "p.png", palette, transparency=0)))


def test_exif_rotation(tmp_path):
    image = Image.new("RGB", (64, 32), (0, 0, 0))
    image.paste((255, 255, 255), (0, 0, 32, 32))  # left half white
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° CW on display: the white half ends up on top
    p = prepare(_save(tmp_path, "r.jpg", image, exif=exif.tobytes(), quality=95))
    assert any("EXIF" in n for n in p.notes)
    # after rotation the image is 32×64 (w×h); centre square covers rows 16..48 → top half of it white
    assert p.model_input[:4].mean() > 0.8 and p.model_input[-4:].mean() < 0.2


def test_tiny_and_non_square(tmp_path):
    one = check(prepare(_save(tmp_path, "1.png", Image.new("RGB", (1, 1), (10, 200, 30)))))
    np.testing.assert_allclose(one.model_input[16, 16], np.array([10, 200, 30]) / 255, atol=0.02)
    assert any("smaller than 32" in n for n in one.notes) and not one.is_photo
    wide = check(prepare(_save(tmp_path, "w.png", Image.new("RGB", (300, 20)))))
    assert any("not square" in n for n in wide.notes)


def test_arrays_and_pil():
    check(prepare(np.zeros((32, 32), dtype=np.uint8)))
    check(prepare(np.ones((64, 64, 4), dtype=np.float32)))
    check(prepare(Image.new("RGB", (50, 50))))
    with pytest.raises(InputError):
        prepare(np.zeros((4, 4, 7)))


def test_animated_gif_uses_first_frame(tmp_path):
    frames = [Image.new("RGB", (32, 32), c) for c in ((255, 0, 0), (0, 0, 255))]
    path = tmp_path / "a.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    p = check(prepare(str(path)))
    assert p.model_input[..., 0].mean() > 0.9 and any("first frame" in n for n in p.notes)


@pytest.mark.parametrize("case, message", [
    ("none", "No image"),
    ("empty", "empty"),
    ("text", "not an image"),
    ("truncated", "corrupt or truncated"),
    ("huge", "megapixels"),
    ("bomb", "too large"),
    ("missing", "missing"),
])
def test_bad_inputs_raise_clear_errors(tmp_path, case, message):
    path = tmp_path / "bad.png"
    if case == "none":
        arg = None
    elif case == "missing":
        arg = str(tmp_path / "nope.png")
    else:
        if case == "empty":
            path.write_bytes(b"")
        elif case == "text":
            path.write_text("hello, I am not a picture\n" * 10)
        elif case == "truncated":
            buf = io.BytesIO()
            Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(buf, "PNG")
            path.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
        elif case == "huge":  # just over the limit, header only (no memory spent)
            path.write_bytes(png_header_only(5000, MAX_PIXELS // 5000 + 1))
        elif case == "bomb":  # beyond PIL's own decompression-bomb limit
            path.write_bytes(png_header_only(30000, 30000))
        arg = str(path)
    with pytest.raises(InputError, match=message):
        prepare(arg)


def test_large_photo_keeps_a_bounded_reference(tmp_path):
    rgb = np.random.default_rng(2).integers(0, 256, (1500, 1500, 3), dtype=np.uint8)
    p = check(prepare(_save(tmp_path, "big.png", Image.fromarray(rgb))))
    assert p.source.shape == (512, 512, 3) and p.reference(512).shape == (512, 512, 3)
    np.testing.assert_allclose(p.model_input.mean(), rgb.mean() / 255, atol=1e-3)


def test_centre_crop_file_previews_what_the_models_see(tmp_path):
    from PIL import Image as PILImage

    from demo.images import InputError, centre_crop_file, prepare

    wide = tmp_path / "wide.png"
    rng = np.random.default_rng(3)
    PILImage.fromarray(rng.integers(0, 256, (60, 100, 3), dtype=np.uint8)).save(wide)
    crop = centre_crop_file(wide, tmp_path)
    with PILImage.open(crop) as im:
        assert im.size == (60, 60)
    assert np.array_equal(prepare(crop).model_input, prepare(wide).model_input)  # the same model input
    assert centre_crop_file(crop, tmp_path) is None  # square already
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        centre_crop_file(empty, tmp_path)


def test_a_crops_notes_travel_with_it_and_a_foreign_chunk_is_ignored(tmp_path):
    from PIL import Image, PngImagePlugin

    from demo.images import centre_crop_file, prepare

    frames = [Image.new("RGB", (64, 40), c) for c in ("red", "blue")]
    gif = tmp_path / "anim.gif"
    frames[0].save(gif, save_all=True, append_images=frames[1:], duration=100, loop=0)
    crop = centre_crop_file(str(gif), tmp_path / "crops" if (tmp_path / "crops").mkdir() is None else None)
    notes = " ".join(prepare(crop).notes)
    assert "first frame" in notes and "not square" in notes  # on the page, not only in the API

    info = PngImagePlugin.PngInfo()
    info.add_text("ginr-notes", "**injected**")
    foreign = tmp_path / "foreign.png"
    Image.new("RGB", (32, 32)).save(foreign, pnginfo=info)
    assert not any("injected" in n for n in prepare(str(foreign)).notes)
