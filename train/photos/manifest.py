"""Write the photo collection's manifest from a repository at one commit (the tool that made
train/photos/manifest.json, so that the choice can be re-made and checked):

    python -m train.photos.manifest --repo PATH --commit SHA --out train/photos/manifest.json \
        --check-against /work/shared/data/sr-benchmarks [--check-against MORE_BENCHMARKS …]

PATH is a work tree, a git dir or a bare mirror; nothing is checked out. For every file matching --include it
records the sha256, the size in bytes, the pixel size and the split (train.photos.common.SPLIT_RULE), and it
leaves out, each with its reason: Git LFS pointers, files that do not decode as images, images whose short side
is below --min-short-side, byte-identical repeats, and any image that resembles one under --check-against.

The disjointness check against the benchmark folders (e.g. Set5/Set14/BSD68, Urban100, …) is two-fold: (1) sha256 of the raw
bytes against every benchmark file; (2) decoded pixels: each image's 16×16 greyscale area thumbnail
(zero mean, unit norm) against every benchmark image's in all 8 rotations/flips — a re-encoded, resized,
rotated or mirrored copy correlates ≥ 0.99; a correlation ≥ --flag-at (0.90) is looked at again at 48×48 and
the image is left out when that one also reaches --flag-at. The manifest records the highest correlation found.
The same thumbnails find near-duplicates inside the collection (correlation ≥ --near-duplicate-at): a group of
them is kept in one split (the split of the group's first path), so that no photo's near-copy is tested on.
"""
import argparse
import fnmatch
import io
import json
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from .common import (LFS_MAGIC, MANIFEST_FORMAT, SPLIT_FRACTIONS, SPLIT_RULE, SPLITS, GitTree, find_git_dir,
                     sha256_hex, split_of)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")

# the collection this project chose (issue 37, item 4); the flags below override each field
COLLECTION = {
    "name": "clothing-dataset",
    "title": "Clothing dataset (full), by Alexey Grigorev and contributors",
    "repository": "alexeygrigorev/clothing-dataset",
    "url": "https://github.com/alexeygrigorev/clothing-dataset.git",
    "include": ["images/*.jpg"],
    "root": "images",
    "what": ("Real photographs of single garments (t-shirts, shoes, dresses, trousers, outerwear, …, 20 classes), "
             "taken with phone cameras by 32+ contributors, mostly lying on floors, beds or hung on doors; "
             "JPEG, RGB; the repository's copy has the short side scaled to 400 px"),
    "licence": {
        "name": "CC0 1.0 Universal (Creative Commons public domain dedication)",
        "spdx": "CC0-1.0",
        "stated_in": ["LICENSE (the CC0 1.0 Universal legal code), at the pinned commit",
                      "README.md, at the pinned commit: \"This dataset can be freely used for any purpose, "
                      "including commercial\""],
        "url": "https://creativecommons.org/publicdomain/zero/1.0/legalcode",
        "attribution": ("none required (CC0); as a courtesy name the source: \"Clothing dataset, Alexey Grigorev "
                        "et al., https://github.com/alexeygrigorev/clothing-dataset (CC0 1.0)\""),
    },
}


def thumbnail(im, n=16):
    """The zero-mean, unit-norm n×n greyscale area thumbnail of a PIL image (a float32 vector)."""
    im.draft("RGB", (4 * n, 4 * n))                             # JPEG: decode at 1/2…1/8 scale (cheap)
    a = np.asarray(im.convert("L").resize((n, n), Image.BOX), dtype=np.float32)
    return unit(a)


def unit(a):
    a = a.astype(np.float32).ravel()
    a = a - a.mean()
    norm = float(np.linalg.norm(a))
    return a / norm if norm > 1e-6 else a


def dihedral(a):
    """The 8 rotations/flips of a square array."""
    out = []
    for k in range(4):
        r = np.rot90(a, k)
        out += [r, np.fliplr(r)]
    return out


def benchmark_images(folder):
    """[(relative path, sha256, PIL image)] of every image file under FOLDER."""
    folder = Path(folder)
    out = []
    for p in sorted(folder.rglob("*")):
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES:
            data = p.read_bytes()
            out.append((p.relative_to(folder).as_posix(), sha256_hex(data), data))
    return out


class Benchmarks:
    """The images that the collection must not contain, as thumbnails in all 8 orientations."""

    def __init__(self, folders, n_coarse=16, n_fine=48):
        self.folders, self.items = [], []
        for folder in folders:
            items = benchmark_images(folder)
            if not items:
                raise SystemExit(f"--check-against {folder}: no image files found")
            groups = sorted({rel.split("/")[0] for rel, _, _ in items})
            self.folders.append(f"{folder} ({len(items)} images: {', '.join(groups)})")
            self.items += items
        self.sha = {sha: rel for rel, sha, _ in self.items}
        self.sizes = set()
        coarse, fine, self.owner = [], [], []
        for i, (rel, _sha, data) in enumerate(self.items):
            im = Image.open(io.BytesIO(data))
            self.sizes.add(tuple(sorted(im.size)))
            g = np.asarray(im.convert("L"), dtype=np.float32)
            for n, bucket in ((n_coarse, coarse), (n_fine, fine)):
                small = np.asarray(Image.fromarray(g).resize((n, n), Image.BOX), dtype=np.float32)
                bucket.extend(unit(v) for v in dihedral(small))
            self.owner.extend([i] * 8)
        self.items = [(rel, sha, None) for rel, sha, _ in self.items]     # the bytes are no longer needed
        self.coarse, self.fine = np.stack(coarse), np.stack(fine)
        self.owner = np.array(self.owner)
        self.n_coarse, self.n_fine = n_coarse, n_fine

    def closest(self, thumbs):
        """(best correlation, benchmark index) per row of THUMBS (coarse thumbnails)."""
        c = thumbs @ self.coarse.T
        j = c.argmax(axis=1)
        return c[np.arange(len(c)), j], self.owner[j]

    def fine_check(self, data):
        """Best correlation of one image's fine thumbnail against every benchmark's."""
        im = Image.open(io.BytesIO(data))
        t = thumbnail(im, self.n_fine)
        c = self.fine @ t
        j = int(c.argmax())
        return float(c[j]), int(self.owner[j])


def near_duplicate_groups(paths, thumbs, at):
    """Groups (lists of indices, ≥ 2 members) of images whose thumbnails correlate ≥ AT, chained."""
    parent = list(range(len(paths)))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    step = 1024
    for s in range(0, len(paths), step):
        c = thumbs[s:s + step] @ thumbs.T
        for a, b in zip(*np.nonzero(c >= at)):
            a = int(a) + s
            if a < b:
                parent[find(int(b))] = find(a)
    groups = {}
    for i in range(len(paths)):
        groups.setdefault(find(i), []).append(i)
    return [g for g in groups.values() if len(g) > 1]


def build(repo, commit, include, root, min_short_side=256, check_against=(), flag_at=0.90,
          near_duplicate_at=0.97, meta=None, progress=print):
    """The manifest (a dict) of the repository's files at COMMIT."""
    meta = dict(COLLECTION if meta is None else meta)
    git_dir = find_git_dir(repo)
    if git_dir is None:
        raise SystemExit(f"--repo {repo}: not a git repository (a work tree, a git dir or a bare mirror)")
    bench = Benchmarks(check_against) if check_against else None
    excluded, kept, thumbs, seen = [], [], [], {}
    t0, last = time.time(), time.time()
    with GitTree(git_dir, commit) as tree:
        listing = tree.files()
        paths = sorted(p for p in listing if any(fnmatch.fnmatchcase(p, g) for g in include))
        if not paths:
            raise SystemExit(f"no file of commit {tree.commit} matches {include}")
        licence_text = {name: tree.read(name) for name in ("LICENSE", "LICENSE.md", "LICENSE.txt", "README.md")}
        for k, path in enumerate(paths):
            data = tree.read(path)
            if data.startswith(LFS_MAGIC):
                excluded.append({"path": path, "why": "a Git LFS pointer, not the image"})
                continue
            sha = sha256_hex(data)
            if bench is not None and sha in bench.sha:
                excluded.append({"path": path, "why": f"byte-identical to benchmark {bench.sha[sha]}"})
                continue
            if sha in seen:
                excluded.append({"path": path, "why": f"byte-identical to {seen[sha]}"})
                continue
            try:
                im = Image.open(io.BytesIO(data))
                width, height = im.size
                thumb = thumbnail(im)
            except Exception as e:                                  # noqa: BLE001 (any decoder failure)
                excluded.append({"path": path, "why": f"does not decode: {type(e).__name__}: {e}"})
                continue
            if min(width, height) < min_short_side:
                excluded.append({"path": path, "why": f"short side {min(width, height)} px < {min_short_side}"})
                continue
            seen[sha] = path
            kept.append({"path": path, "sha256": sha, "bytes": len(data), "width": width, "height": height})
            thumbs.append(thumb)
            if time.time() - last > 5 or k + 1 == len(paths):
                progress(f"  read {k + 1}/{len(paths)} files ({time.time() - t0:.0f} s)")
                last = time.time()
        thumbs = np.stack(thumbs) if thumbs else np.zeros((0, 256), np.float32)

        disjoint = None
        if bench is not None:
            best, owner = bench.closest(thumbs) if len(kept) else (np.zeros(0), np.zeros(0, int))
            flagged, drop = [], set()
            for i in np.nonzero(best >= flag_at)[0]:
                fine, j = bench.fine_check(tree.read(kept[i]["path"]))
                flagged.append({"path": kept[i]["path"], "benchmark": bench.items[int(owner[i])][0],
                                "coarse": round(float(best[i]), 4), "fine": round(fine, 4)})
                if fine >= flag_at:
                    drop.add(int(i))
                    excluded.append({"path": kept[i]["path"],
                                     "why": f"resembles benchmark {bench.items[j][0]} (thumbnail correlation "
                                            f"{fine:.3f})"})
            rest = [i for i in range(len(kept)) if i not in drop]
            top = max(rest, key=lambda i: best[i]) if rest else None      # among the photos kept
            same_size = sorted({f"{k['width']}x{k['height']}" for k in kept
                                if tuple(sorted((k["width"], k["height"]))) in bench.sizes})
            disjoint = {
                "against": bench.folders,
                "method": ("(1) sha256 of the raw bytes against every benchmark file; (2) 16×16 greyscale area "
                           "thumbnails (zero mean, unit norm) of the decoded pixels against every benchmark image "
                           f"in its 8 rotations/flips; correlation ≥ {flag_at} re-checked at 48×48 and left out "
                           "if that also reaches it (a resized/re-encoded copy scores ≥ 0.99)"),
                "byte_identical": sum(1 for e in excluded if e["why"].startswith("byte-identical to benchmark")),
                "left_out_as_resembling": len(drop),
                "flagged_for_the_fine_check": flagged,
                "highest_correlation_kept": (None if top is None else
                                        {"value": round(float(best[top]), 4), "path": kept[top]["path"],
                                         "benchmark": bench.items[int(owner[top])][0]}),
                "pixel_sizes_shared_with_benchmarks": same_size,
            }
            kept = [kept[i] for i in rest]
            thumbs = thumbs[rest]
        commit_sha, commit_date = tree.commit, tree.commit_date()

    for k in kept:
        k["split"] = split_of(k["path"])
    groups = near_duplicate_groups([k["path"] for k in kept], thumbs, near_duplicate_at) if len(kept) else []
    moved = 0
    for g in groups:
        first = min(g, key=lambda i: kept[i]["path"])
        for i in g:
            if kept[i]["split"] != kept[first]["split"]:
                kept[i]["split"] = kept[first]["split"]
                moved += 1

    counts = {s: sum(1 for k in kept if k["split"] == s) for s in SPLITS}
    shorts = [min(k["width"], k["height"]) for k in kept] or [0]
    longs = [max(k["width"], k["height"]) for k in kept] or [0]
    licence = dict(meta["licence"])
    licence["files_at_commit"] = {name: {"sha256": sha256_hex(text), "first_line": text.decode(
        "utf-8", "replace").strip().splitlines()[0] if text.strip() else ""}
        for name, text in licence_text.items() if text is not None}
    return {
        "format": MANIFEST_FORMAT,
        "name": meta["name"],
        "title": meta["title"],
        "what": meta["what"],
        "source": {"repository": meta["repository"], "url": meta["url"], "commit": commit_sha,
                   "commit_date": commit_date},
        "licence": licence,
        "selection": {"include": list(include), "root": root, "min_short_side": min_short_side,
                      "matched": len(paths), "kept": len(kept), "left_out": excluded},
        "counts": {"files": len(kept), **counts, "bytes": sum(k["bytes"] for k in kept)},
        "size_range": {"short_side": [min(shorts), max(shorts)], "long_side": [min(longs), max(longs)],
                       "bytes": [min((k["bytes"] for k in kept), default=0),
                                 max((k["bytes"] for k in kept), default=0)]},
        "split": {"rule": SPLIT_RULE, "fractions": SPLIT_FRACTIONS,
                  "near_duplicates": {"at": near_duplicate_at, "groups": len(groups),
                                      "files_in_groups": sum(len(g) for g in groups),
                                      "moved_to_their_group_split": moved,
                                      "members": sorted(sorted(kept[i]["path"] for i in g) for g in groups)},
                  "layout": "<out>/<split>/<path below selection.root>"},
        "disjointness": disjoint,
        "made_by": "python -m train.photos.manifest (this repository)",
        "files": [{"path": k["path"], "split": k["split"], "sha256": k["sha256"], "bytes": k["bytes"],
                   "width": k["width"], "height": k["height"]} for k in kept],
    }


def dumps(manifest):
    """JSON text: the header indented, one line per file (a readable, diff-friendly manifest)."""
    head = {k: v for k, v in manifest.items() if k != "files"}
    text = json.dumps(head, indent=1, ensure_ascii=False)
    rows = ",\n".join("  " + json.dumps(f, ensure_ascii=False) for f in manifest["files"])
    return text[:-2] + ',\n "files": [\n' + rows + "\n ]\n}\n"


def main(argv=None):
    c = COLLECTION
    ap = argparse.ArgumentParser(prog="python -m train.photos.manifest", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repo", required=True, help="the repository: a work tree, a git dir or a bare mirror")
    ap.add_argument("--commit", required=True, help="the commit to describe (a sha or a ref; recorded as a sha)")
    ap.add_argument("--out", required=True, help="where to write the manifest (e.g. train/photos/manifest.json)")
    ap.add_argument("--include", action="append", help=f"glob of repository paths (repeatable; {c['include']})")
    ap.add_argument("--root", default=c["root"], help="folder the layout starts below (default %(default)s)")
    ap.add_argument("--min-short-side", type=int, default=256, help="leave out smaller images (%(default)s px)")
    ap.add_argument("--check-against", action="append",
                    help="a folder of benchmark images the collection must not contain (repeatable)")
    ap.add_argument("--flag-at", type=float, default=0.90, help="thumbnail correlation that flags (%(default)s)")
    ap.add_argument("--near-duplicate-at", type=float, default=0.97,
                    help="thumbnail correlation of near-duplicates kept in one split (%(default)s)")
    ap.add_argument("--name", default=c["name"])
    ap.add_argument("--repository", default=c["repository"], help="owner/name recorded as the source")
    ap.add_argument("--url", default=c["url"], help="clone URL recorded as the source")
    args = ap.parse_args(argv)
    meta = dict(c, name=args.name, repository=args.repository, url=args.url)
    m = build(args.repo, args.commit, args.include or c["include"], args.root, args.min_short_side,
              args.check_against, args.flag_at, args.near_duplicate_at, meta,
              progress=lambda s: print(s, file=sys.stderr, flush=True))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(dumps(m), encoding="utf-8")
    tmp.replace(out)
    n = m["counts"]
    print(f"{out}: {n['files']} files ({n['train']} train / {n['val']} val / {n['test']} test), "
          f"{n['bytes'] / 1e6:.1f} MB; left out {len(m['selection']['left_out'])}; commit {m['source']['commit']}")
    if m["disjointness"]:
        d = m["disjointness"]
        print(f"disjointness: {d['byte_identical']} byte-identical, {d['left_out_as_resembling']} resembling, "
              f"highest thumbnail correlation kept {d['highest_correlation_kept']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
