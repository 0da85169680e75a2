"""Pack a dataset into one .npz that `--data FILE.npz` reads (for machines without the folder).

    python -m train.pack --data /path/to/cifar10 OUT.npz [--limit-train N] [--limit-test N]

An ImageFolder of JPEGs is stored as the original JPEG bytes ({split}_jpeg + {split}_offsets): the
60,000-image CIFAR-10 JPEG copy packs into ≈ 53 MiB, small enough to carry to a GPU machine.
Other sources are stored as decoded uint8 arrays ({split}_images, (N, 32, 32, 3)).
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np

from .data import describe_source, list_image_folder, load_split

JPEG_EXTS = {".jpg", ".jpeg"}


def pack(data, out, limit_train=0, limit_test=0, data_root="data"):
    arrays, meta = {}, {"source": describe_source(data), "classes": None}
    for split, limit in (("train", limit_train), ("test", limit_test)):
        if data != "cifar10" and Path(data).is_dir():
            paths, labels, classes = list_image_folder(data, split)
            if all(p.suffix.lower() in JPEG_EXTS for p in paths):
                if limit:
                    pick = np.linspace(0, len(paths) - 1, limit).astype(int)  # every class represented
                    paths, labels = [paths[i] for i in pick], [labels[i] for i in pick]
                blobs = [p.read_bytes() for p in paths]
                arrays[f"{split}_jpeg"] = np.frombuffer(b"".join(blobs), dtype=np.uint8)
                arrays[f"{split}_offsets"] = np.cumsum([0] + [len(b) for b in blobs]).astype(np.int64)
                arrays[f"{split}_labels"] = np.asarray(labels, dtype=np.int64)
                meta["classes"] = classes
                continue
        s = load_split(data, split, data_root=data_root)
        n = limit or len(s)
        arrays[f"{split}_images"] = s.images[:n].permute(0, 2, 3, 1).numpy()
        arrays[f"{split}_labels"] = s.labels[:n].numpy()
        meta["classes"] = s.classes
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(out, **arrays)
    return out


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m train.pack", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True)
    p.add_argument("out")
    p.add_argument("--limit-train", type=int, default=0)
    p.add_argument("--limit-test", type=int, default=0)
    p.add_argument("--data-root", default="data")
    a = p.parse_args(argv)
    out = pack(a.data, a.out, a.limit_train, a.limit_test, a.data_root)
    print(f"{out}: {out.stat().st_size / 2**20:.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
