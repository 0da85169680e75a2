"""Folders of mixed image files made in a test's tmp_path (PIL-generated): what `--image-size N` must take."""
from pathlib import Path

import numpy as np


def smooth_rgb(width, height, seed):
    """(height, width, 3) uint8: a smooth random colour field (a 4×4 field enlarged), like a blurry photo."""
    from PIL import Image
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 255, (4, 4, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(small).resize((width, height), Image.BILINEAR))


def make_mixed_folder(root):
    """root with good JPEG / PNG / WebP files in nested folders, grey, RGBA, palette, tiny (10×7) and huge
    (1500×1000) images, two corrupt image files and a text file. → {"good": names, "bad": names}."""
    from PIL import Image
    root = Path(root)
    good = {
        "photo_a.jpg": ("RGB", 200, 150, "JPEG"), "photo_b.png": ("RGB", 64, 80, "PNG"),
        "deep/er/photo_c.webp": ("RGB", 120, 90, "WEBP"), "deep/photo_d.jpeg": ("RGB", 96, 96, "JPEG"),
        "cats/grey.png": ("L", 70, 50, "PNG"), "cats/rgba.png": ("RGBA", 60, 60, "PNG"),
        "dogs/palette.png": ("P", 50, 40, "PNG"), "dogs/tiny.png": ("RGB", 10, 7, "PNG"),
        "huge.jpg": ("RGB", 1500, 1000, "JPEG"), "deep/er/more/photo_e.png": ("RGB", 150, 110, "PNG"),
    }
    for i, (name, (mode, w, h, fmt)) in enumerate(good.items()):
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        im = Image.fromarray(smooth_rgb(w, h, i))
        if mode == "RGBA":
            im = im.convert("RGBA")
            im.putalpha(128)
        elif mode == "P":
            im = im.convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
        else:
            im = im.convert(mode)
        im.save(path, fmt)
    (root / "cats" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not a JPEG")
    png = (root / "photo_b.png").read_bytes()
    (root / "dogs" / "truncated.png").write_bytes(png[: len(png) // 3])
    (root / "notes.txt").write_text("not an image")
    return {"good": sorted(good), "bad": ["cats/broken.jpg", "dogs/truncated.png"]}
