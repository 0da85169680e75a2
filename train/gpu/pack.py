"""Pack a dataset into one .npz that `--data FILE.npz` reads (for machines without the folder).

    python -m train.gpu.pack --data /path/to/cifar10 OUT.npz [--max-bytes N] [--limit-train N] [--limit-test N]

An ImageFolder of JPEGs is stored as the original JPEG bytes, split in two: the header (everything
up to and including the start-of-scan segment: quantisation and Huffman tables, frame size) and the
entropy-coded body. Headers that repeat are stored once (`jpeg_headers`); each image keeps an index
into them. Every file is rebuilt byte for byte as header + body. The CIFAR-10 JPEG copy has one
header (623 bytes) for all 60,000 files and bodies of ≈ 260 bytes, so it packs into ≈ 16 MiB
instead of ≈ 53 MiB. Other sources are stored as decoded uint8 arrays ({split}_images, (N, 32, 32, 3)).

--max-bytes N writes the largest class-balanced training subset (the same number of images per
class, the first ones of each class) whose pack fits in N bytes; the test split is kept whole (or
--limit-test). The pack's `source` line states how many training images it holds, and the model
card repeats it.
"""
import argparse
import io
import json
import sys
from pathlib import Path

import numpy as np

from ..data import DataError, describe_source, list_image_folder, load_split

JPEG_EXTS = {".jpg", ".jpeg"}
SOS = 0xDA  # JPEG start-of-scan marker: the entropy-coded data follows its segment
NPZ_OVERHEAD = 4096  # zip directory + .npy headers of a pack, a generous bound


class PackError(DataError):
    """The pack cannot be made as asked (e.g. it cannot fit --max-bytes)."""


def split_jpeg(blob):
    """JPEG bytes → (header, body) with header + body == blob; header ends after the first SOS segment.

    A file that does not parse as a JPEG keeps everything in its body (empty header)."""
    i = 2
    while blob[:2] == b"\xff\xd8" and i + 4 <= len(blob) and blob[i] == 0xFF:
        marker, length = blob[i + 1], int.from_bytes(blob[i + 2:i + 4], "big")
        i += 2 + length
        if marker == SOS:
            return blob[:i], blob[i:]
    return b"", blob


def _concat(blobs):
    """list of bytes → (uint8 array, int64 offsets (n+1,))"""
    data = np.frombuffer(b"".join(blobs), dtype=np.uint8) if blobs else np.zeros(0, np.uint8)
    return data, np.cumsum([0] + [len(b) for b in blobs]).astype(np.int64)


class _JpegSplit:
    """One split of an ImageFolder of JPEGs: per image its header index and body, per class the images."""

    def __init__(self, root, split, headers):
        paths, labels, self.classes = list_image_folder(root, split)
        self.source = describe_source(root)
        self.labels = np.asarray(labels, dtype=np.int64)
        self.header_index, self.bodies = [], []
        for p in paths:
            head, body = split_jpeg(p.read_bytes())
            self.header_index.append(headers.setdefault(head, len(headers)))
            self.bodies.append(body)
        self.header_index = np.asarray(self.header_index, dtype=np.int32)

    def cost(self, i):
        return len(self.bodies[i]) + 8 + 4 + 8  # body + offset + header index + label

    def arrays(self, name, pick):
        body, offsets = _concat([self.bodies[i] for i in pick])
        return {f"{name}_jpeg_body": body, f"{name}_offsets": offsets,
                f"{name}_header_index": self.header_index[pick], f"{name}_labels": self.labels[pick]}


class _ArraySplit:
    """One split of any other source, as decoded uint8 images."""

    def __init__(self, data, split, data_root):
        s = load_split(data, split, data_root=data_root)
        self.images = s.images.permute(0, 2, 3, 1).numpy()  # (N, 32, 32, 3)
        self.labels, self.classes, self.source = s.labels.numpy(), s.classes, s.source

    def cost(self, i):
        return self.images[i].nbytes + 8

    def arrays(self, name, pick):
        return {f"{name}_images": self.images[pick], f"{name}_labels": self.labels[pick]}


def balanced_pick(labels, per_class):
    """The first `per_class` indices of every class, in file order → (n,) int64."""
    return np.sort(np.concatenate([np.flatnonzero(labels == c)[:per_class] for c in np.unique(labels)]))


def _even_pick(n, limit):
    return np.arange(n) if not limit or limit >= n else np.linspace(0, n - 1, limit).astype(np.int64)


def pack(data, out, limit_train=0, limit_test=0, data_root="data", max_bytes=0):
    """Write the pack; → its path. PackError (nothing written) if it cannot fit max_bytes."""
    out = Path(out)
    if max_bytes and limit_train:
        raise PackError("--max-bytes chooses the training subset itself: give it or --limit-train, not both")
    headers = {}
    jpeg = data != "cifar10" and Path(data).is_dir() and all(
        p.suffix.lower() in JPEG_EXTS for split in ("train", "test") for p in list_image_folder(data, split)[0])
    splits = {s: (_JpegSplit(data, s, headers) if jpeg else _ArraySplit(data, s, data_root)) for s in ("train", "test")}
    train, test = splits["train"], splits["test"]
    test_pick = _even_pick(len(test.labels), limit_test)
    train_pick = _even_pick(len(train.labels), limit_train)
    fixed = sum(len(h) for h in headers) + sum(test.cost(i) for i in test_pick) + NPZ_OVERHEAD
    if max_bytes:
        counts = np.bincount(train.labels)
        per_class_cost = lambda k: sum(train.cost(i) for i in balanced_pick(train.labels, k))  # noqa: E731
        if fixed + per_class_cost(1) > max_bytes:
            raise PackError(f"--max-bytes {max_bytes:,} cannot hold even one training image per class "
                            f"(the test split and headers alone take ≈ {fixed:,} bytes; try --limit-test)")
        lo, hi = 1, int(counts.min())  # largest k with fixed + cost(k) ≤ max_bytes
        while lo < hi:
            mid = (lo + hi + 1) // 2
            lo, hi = (mid, hi) if fixed + per_class_cost(mid) <= max_bytes else (lo, mid - 1)
        if lo < counts.min():
            train_pick = balanced_pick(train.labels, lo)
    n_train, n_test = len(train_pick), len(test_pick)
    note = f"{n_train:,} of {len(train.labels):,} training images"
    if n_train < len(train.labels):
        note += f" (class-balanced: the first {n_train // len(train.classes)} of each class)" if max_bytes else ""
    source = f"{train.source.split('; packed:')[0]}; packed: {note}, {n_test:,} test images"
    if "; packed:" in train.source and n_train == len(train.labels) and n_test == len(test.labels):
        source = train.source  # a whole pack of a pack: its line (with the original count) stands
    meta = {"source": source,
            "classes": train.classes, "n_train": n_train, "n_test": n_test}
    arrays = {**train.arrays("train", train_pick), **test.arrays("test", test_pick)}
    if jpeg:
        arrays["jpeg_headers"], arrays["jpeg_header_offsets"] = _concat(list(headers))
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    if max_bytes and buf.tell() > max_bytes:  # the estimate is an upper bound; this guards it
        raise PackError(f"the pack would take {buf.tell():,} bytes, over --max-bytes {max_bytes:,}")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(buf.getvalue())
    return out


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m train.gpu.pack", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="an ImageFolder root with train/ and test/, or cifar10")
    p.add_argument("out")
    p.add_argument("--max-bytes", type=int, default=0,
                   help="largest class-balanced training subset whose pack fits N bytes (0 = everything)")
    p.add_argument("--limit-train", type=int, default=0)
    p.add_argument("--limit-test", type=int, default=0)
    p.add_argument("--data-root", default="data")
    a = p.parse_args(argv)
    if Path(a.out).exists():
        print(f"error: {a.out} exists; choose a new file name (nothing was written)", file=sys.stderr)
        return 2
    try:
        out = pack(a.data, a.out, a.limit_train, a.limit_test, a.data_root, a.max_bytes)
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    with np.load(out) as z:
        meta = json.loads(bytes(z["meta"]).decode())
    print(f"{out}: {out.stat().st_size:,} bytes ({out.stat().st_size / 2**20:.1f} MiB); {meta['source']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
