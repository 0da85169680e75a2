"""Re-create the photo folder from the pinned repository (train/photos/manifest.json):

    python -m train.photos.prepare --out data/photos [--source PATH_OR_URL]

SOURCE is a local copy of the repository (a work tree, a git dir or a bare mirror; read at the manifest's commit
without a checkout), a folder holding the files at their repository paths (e.g. an unpacked download), or a clone
URL (https://github.com/OWNER/NAME.git, file://…), which is fetched into a temporary folder and removed after.
Without --source the manifest's own URL is cloned (needs internet).

Every file of the manifest is copied to OUT/<split>/<path below the manifest's root> and its sha256 checked; a
missing file or a wrong sha256 stops the run with the file named, and nothing is left behind: the folder is
built beside OUT under a temporary name and renamed into place only when complete. OUT/manifest.json is a copy
of the manifest. A complete OUT (the same manifest, every file present at its size) is left as it is; --verify
re-hashes it; --force replaces an OUT that is not a complete copy of this manifest.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .common import MANIFEST_FORMAT, GitTree, dest_of, find_git_dir, sha256_hex

MANIFEST = Path(__file__).with_name("manifest.json")


class PrepareError(RuntimeError):
    """A failure the user can act on (a missing or changed file, an unusable source): the message says which."""


def load_manifest(path=MANIFEST):
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    m = json.loads(text)
    if m.get("format") != MANIFEST_FORMAT:
        raise PrepareError(f"{path}: manifest format {m.get('format')!r}, this tool reads {MANIFEST_FORMAT}")
    return m, text


def planned(manifest):
    """[(repository path, destination relative to OUT, sha256, bytes)] of every file of the manifest."""
    root = manifest["selection"]["root"]
    return [(f["path"], dest_of(f["path"], f["split"], root), f["sha256"], f["bytes"]) for f in manifest["files"]]


def is_url(source):
    return "://" in source or source.startswith("git@")


class FolderSource:
    """Files read from a plain folder at their repository paths."""

    def __init__(self, folder):
        self.folder = Path(folder)

    def read(self, path):
        p = self.folder / path
        return p.read_bytes() if p.is_file() else None

    def close(self):
        pass


def clone(url, commit, into, say):
    """A bare repository in INTO holding COMMIT of URL: the one commit if the server allows, else a full clone."""
    say(f"fetching {commit[:12]} of {url} …")
    subprocess.run(["git", "init", "--quiet", "--bare", str(into)], check=True)
    shallow = subprocess.run(["git", "--git-dir", str(into), "fetch", "--quiet", "--depth", "1", url, commit],
                             capture_output=True, text=True)
    if shallow.returncode == 0:
        return into
    shutil.rmtree(into)
    full = subprocess.run(["git", "clone", "--quiet", "--bare", url, str(into)], capture_output=True, text=True)
    if full.returncode:
        raise PrepareError(f"could not clone {url}: {full.stderr.strip() or shallow.stderr.strip()}")
    return into


def open_source(source, manifest, scratch, say):
    """A reader (.read(path) → bytes | None, .close()) of the manifest's commit of SOURCE."""
    commit = manifest["source"]["commit"]
    if source is None:
        source = manifest["source"]["url"]
    if is_url(source):
        return GitTree(clone(source, commit, Path(scratch) / "repo.git", say), commit)
    git_dir = find_git_dir(source)
    if git_dir is not None:
        try:
            return GitTree(git_dir, commit)
        except RuntimeError as e:
            raise PrepareError(str(e)) from None
    if Path(source).is_dir():
        say(f"{source} is not a git repository: reading the files at their repository paths")
        return FolderSource(source)
    raise PrepareError(f"--source {source}: neither a git repository, a folder nor a clone URL")


def complete(out, manifest_text, files):
    """Whether OUT already holds this manifest's folder (the same manifest, every file at its size)."""
    m = out / "manifest.json"
    if not m.is_file() or m.read_text(encoding="utf-8") != manifest_text:
        return False
    return all((out / dest).is_file() and (out / dest).stat().st_size == size for _p, dest, _sha, size in files)


def verify(out, files, say):
    """Re-hash every file of a prepared folder; the first mismatch is an error naming the file."""
    for i, (_path, dest, sha, _size) in enumerate(files, 1):
        got = sha256_hex((out / dest).read_bytes())
        if got != sha:
            raise PrepareError(f"{out / dest}: sha256 {got}, the manifest says {sha} (re-run with --force)")
        if i % 1000 == 0:
            say(f"  verified {i}/{len(files)}")


def prepare(out, source=None, manifest_path=MANIFEST, force=False, check=False, say=print):
    """Create OUT from SOURCE as the manifest describes; returns 'created' | 'complete' | 'replaced'."""
    manifest, manifest_text = load_manifest(manifest_path)
    files = planned(manifest)
    out = Path(out)
    if out.exists():
        if complete(out, manifest_text, files):
            if check:
                verify(out, files, say)
            say(f"{out}: complete ({len(files)} files), nothing to do")
            return "complete"
        if not force:
            raise PrepareError(f"{out} exists but is not a complete copy of {manifest_path}: "
                               "remove it, or pass --force to replace it")
    out.parent.mkdir(parents=True, exist_ok=True)
    total = sum(size for *_, size in files)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    reader = None
    try:
        reader = open_source(source, manifest, work, say)
        staged = work / out.name
        say(f"copying {len(files)} files ({total / 1e6:.1f} MB) of {manifest['source']['repository']} "
            f"@ {manifest['source']['commit'][:12]} into {out} …")
        done_bytes, t0, last = 0, time.time(), time.time()
        made = set()
        for i, (path, dest, sha, size) in enumerate(files, 1):
            data = reader.read(path)
            if data is None:
                raise PrepareError(f"{path}: missing from the source (commit {manifest['source']['commit']})")
            got = sha256_hex(data)
            if got != sha:
                raise PrepareError(f"{path}: sha256 {got}, the manifest says {sha} ({len(data)} bytes, "
                                   f"expected {size}); nothing was written to {out}")
            target = staged / dest
            if target.parent not in made:
                target.parent.mkdir(parents=True, exist_ok=True)
                made.add(target.parent)
            target.write_bytes(data)
            done_bytes += len(data)
            if time.time() - last >= 2 or i == len(files):
                rate = done_bytes / 1e6 / max(time.time() - t0, 1e-9)
                say(f"  {i}/{len(files)} files, {done_bytes / 1e6:.1f}/{total / 1e6:.1f} MB ({rate:.1f} MB/s)")
                last = time.time()
        (staged / "manifest.json").write_text(manifest_text, encoding="utf-8")
        reader.close()
        reader = None
        result = "created"
        if out.exists():                                        # --force: swap, then drop the old folder
            old = work / "old"
            os.replace(out, old)
            result = "replaced"
        os.replace(staged, out)
    finally:
        if reader is not None:
            reader.close()
        shutil.rmtree(work, ignore_errors=True)
    counts = {s: sum(1 for f in manifest["files"] if f["split"] == s) for s in ("train", "val", "test")}
    say(f"{out}: {result}, {len(files)} files ({counts['train']} train / {counts['val']} val / "
        f"{counts['test']} test), {total / 1e6:.1f} MB")
    return result


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m train.photos.prepare", description=__doc__.split("\n\n")[0],
                                 epilog=__doc__.split("\n\n", 1)[1],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="the folder to create (e.g. data/photos)")
    ap.add_argument("--source", help="a local repository, a folder of its files, or a clone URL "
                                     "(default: the manifest's URL)")
    ap.add_argument("--manifest", default=str(MANIFEST), help="the manifest to follow (default: %(default)s)")
    ap.add_argument("--force", action="store_true", help="replace an OUT that is not a complete copy")
    ap.add_argument("--verify", action="store_true", help="re-hash every file of an already complete OUT")
    args = ap.parse_args(argv)
    try:
        prepare(args.out, args.source, args.manifest, args.force, args.verify,
                say=lambda s: print(s, file=sys.stderr, flush=True))
    except PrepareError as e:
        print(f"prepare: error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
