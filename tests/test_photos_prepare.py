"""train.photos: the manifest tool and the prepare command, on a tiny git repository of PIL-made photos built in
tmp_path (no network, no /work/shared)."""
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from train.photos import manifest as manifest_tool
from train.photos.common import SPLITS, dest_of, split_of
from train.photos.prepare import PrepareError, prepare

ROOT = Path(__file__).resolve().parents[1]
GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", "-c", "commit.gpgsign=false"]


def photo(seed, size=(300, 280)):
    """A distinct smooth colour image (upsampled noise) as JPEG bytes."""
    rng = np.random.default_rng(seed)
    small = (rng.random((6, 6, 3)) * 255).astype(np.uint8)
    im = Image.fromarray(small).resize(size, Image.BICUBIC)
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def git(repo, *args):
    return subprocess.run([*GIT, "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


@pytest.fixture
def tiny(tmp_path):
    """(repo, commit, benchmarks folder): 12 good photos plus one of each thing the manifest leaves out."""
    bench = tmp_path / "bench" / "SetX"
    bench.mkdir(parents=True)
    bench_im = Image.open(io.BytesIO(photo(1000, (320, 480))))
    bench_im.save(bench / "b1.png")
    Image.open(io.BytesIO(photo(1001, (256, 256)))).save(bench / "b2.png")

    repo = tmp_path / "repo"
    (repo / "images" / "sub").mkdir(parents=True)
    git(repo, "init", "--quiet")
    (repo / "LICENSE").write_text("Creative Commons Legal Code\n\nCC0 1.0 Universal\n")
    (repo / "README.md").write_text("# tiny photos\n")
    for i in range(12):
        folder = repo / "images" / ("sub" if i % 4 == 0 else "")
        (folder / f"p{i:02d}.jpg").write_bytes(photo(i))
    (repo / "images" / "q_dup.jpg").write_bytes(photo(3))                     # byte-identical to p03
    (repo / "images" / "small.jpg").write_bytes(photo(50, (200, 150)))        # short side < 256
    (repo / "images" / "lfs.jpg").write_bytes(b"version https://git-lfs.github.com/spec/v1\noid sha256:00\n")
    (repo / "images" / "broken.jpg").write_bytes(photo(51)[:200])             # truncated: does not decode
    copy = bench_im.rotate(90, expand=True).resize((390, 260), Image.BOX)     # a rotated, resized, re-encoded
    buf = io.BytesIO()                                                        # copy of a benchmark image
    copy.save(buf, "JPEG", quality=80)
    (repo / "images" / "zz_bench_copy.jpg").write_bytes(buf.getvalue())
    (repo / "notes.txt").write_text("not an image\n")
    git(repo, "add", "-A")
    git(repo, "commit", "--quiet", "-m", "photos")
    commit = git(repo, "rev-parse", "HEAD").strip()
    return repo, commit, tmp_path / "bench"


def make_manifest(tiny, tmp_path, **extra):
    repo, commit, bench = tiny
    out = tmp_path / "manifest.json"
    args = ["--repo", str(repo), "--commit", "HEAD", "--out", str(out), "--include", "images/*.jpg",
            "--include", "images/sub/*.jpg", "--check-against", str(bench), "--repository", "t/tiny",
            "--url", "file://" + str(repo)]
    assert manifest_tool.main(args) == 0
    return out, json.loads(out.read_text())


def test_manifest_records_files_splits_and_left_outs(tiny, tmp_path):
    repo, commit, _ = tiny
    path, m = make_manifest(tiny, tmp_path)
    assert m["source"] == {"repository": "t/tiny", "url": "file://" + str(repo), "commit": commit,
                           "commit_date": m["source"]["commit_date"]}
    assert len(m["source"]["commit"]) == 40
    kept = sorted(f["path"] for f in m["files"])
    assert kept == sorted([f"images/p{i:02d}.jpg" for i in range(12) if i % 4]
                          + [f"images/sub/p{i:02d}.jpg" for i in range(0, 12, 4)])
    why = {e["path"]: e["why"] for e in m["selection"]["left_out"]}
    assert set(why) == {"images/q_dup.jpg", "images/small.jpg", "images/lfs.jpg", "images/broken.jpg",
                        "images/zz_bench_copy.jpg"}
    assert "images/p03.jpg" in why["images/q_dup.jpg"] and "Git LFS" in why["images/lfs.jpg"]
    assert "short side 150" in why["images/small.jpg"] and "does not decode" in why["images/broken.jpg"]
    assert "SetX/b1.png" in why["images/zz_bench_copy.jpg"]
    d = m["disjointness"]
    assert d["left_out_as_resembling"] == 1 and d["byte_identical"] == 0
    assert d["highest_correlation_kept"]["value"] < 0.9                      # of the kept photos
    for f in m["files"]:
        data = (repo / f["path"]).read_bytes()
        assert f["bytes"] == len(data) and f["width"] == 300 and f["height"] == 280
        assert f["split"] == split_of(f["path"])                       # no look-alikes among these
    assert m["counts"]["files"] == 12 and sum(m["counts"][s] for s in SPLITS) == 12
    assert m["licence"]["files_at_commit"]["LICENSE"]["first_line"] == "Creative Commons Legal Code"
    # the tool is deterministic: the same command writes the same bytes
    first = path.read_bytes()
    make_manifest(tiny, tmp_path)
    assert path.read_bytes() == first


def test_split_rule_is_deterministic_and_near_90_5_5():
    paths = [f"images/{i:05d}.jpg" for i in range(20000)]
    splits = [split_of(p) for p in paths]
    assert splits == [split_of(p) for p in paths]
    share = {s: splits.count(s) / len(paths) for s in SPLITS}
    assert abs(share["train"] - 0.90) < 0.01 and abs(share["val"] - 0.05) < 0.01
    assert dest_of("images/sub/x.jpg", "val", "images") == "val/sub/x.jpg"


def check_folder(out, m, repo):
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    want = sorted(dest_of(f["path"], f["split"], "images") for f in m["files"]) + ["manifest.json"]
    assert files == sorted(want)
    for f in m["files"]:
        assert (out / dest_of(f["path"], f["split"], "images")).read_bytes() == (repo / f["path"]).read_bytes()
    assert json.loads((out / "manifest.json").read_text()) == m
    assert not [p for p in out.parent.iterdir() if ".partial-" in p.name]


def test_prepare_from_work_tree_then_rerun_is_a_no_op(tiny, tmp_path):
    repo, _, _ = tiny
    mpath, m = make_manifest(tiny, tmp_path)
    out = tmp_path / "data" / "photos"
    assert prepare(out, str(repo), mpath, say=lambda s: None) == "created"
    check_folder(out, m, repo)
    assert {p.name for p in out.iterdir()} <= {"train", "val", "test", "manifest.json"}
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("*")}
    said = []
    assert prepare(out, str(repo), mpath, check=True, say=said.append) == "complete"
    assert "nothing to do" in said[-1]
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*")} == stamps


def test_prepare_from_bare_mirror_and_clone_url(tiny, tmp_path):
    repo, _, _ = tiny
    mpath, m = make_manifest(tiny, tmp_path)
    # a later commit changes a photo: prepare still reads the pinned commit
    (repo / "images" / "p01.jpg").write_bytes(photo(99))
    git(repo, "commit", "--quiet", "-am", "change p01")
    bare = tmp_path / "mirror.git"
    subprocess.run(["git", "clone", "--quiet", "--bare", str(repo), str(bare)], check=True)
    git(repo, "checkout", "--quiet", "HEAD~1")       # the work tree as pinned, for the byte comparisons
    out = tmp_path / "a" / "photos"
    prepare(out, str(bare), mpath, say=lambda s: None)
    check_folder(out, m, repo)
    out2 = tmp_path / "b" / "photos"
    prepare(out2, "file://" + str(bare), mpath, say=lambda s: None)
    check_folder(out2, m, repo)
    assert not list((tmp_path / "b").glob(".photos.partial-*"))


def test_corrupted_or_missing_file_is_named_and_nothing_is_written(tiny, tmp_path):
    repo, _, _ = tiny
    mpath, m = make_manifest(tiny, tmp_path)
    folder = tmp_path / "download"                    # a plain folder of the files (not a git repository)
    subprocess.run(["git", "clone", "--quiet", str(repo), str(folder)], check=True)
    subprocess.run(["rm", "-rf", str(folder / ".git")], check=True)
    victim = sorted(f["path"] for f in m["files"])[-1]
    data = bytearray((folder / victim).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (folder / victim).write_bytes(bytes(data))
    out = tmp_path / "data" / "photos"
    with pytest.raises(PrepareError, match=victim.replace(".", r"\.") + ": sha256"):
        prepare(out, str(folder), mpath, say=lambda s: None)
    assert not out.exists() and list((tmp_path / "data").iterdir()) == []
    (folder / victim).unlink()
    with pytest.raises(PrepareError, match=victim.replace(".", r"\.") + ": missing"):
        prepare(out, str(folder), mpath, say=lambda s: None)
    assert not out.exists() and list((tmp_path / "data").iterdir()) == []
    # a manifest whose sha256 does not match the pinned commit: the same clear error from a git source
    bad = json.loads(mpath.read_text())
    bad["files"][0]["sha256"] = "0" * 64
    bad_path = tmp_path / "bad.json"
    bad_path.write_text(json.dumps(bad))
    with pytest.raises(PrepareError, match=bad["files"][0]["path"].replace(".", r"\.")):
        prepare(out, str(repo), bad_path, say=lambda s: None)
    assert list((tmp_path / "data").iterdir()) == []


def test_incomplete_folder_needs_force(tiny, tmp_path):
    repo, _, _ = tiny
    mpath, m = make_manifest(tiny, tmp_path)
    out = tmp_path / "photos"
    prepare(out, str(repo), mpath, say=lambda s: None)
    one = next(p for p in out.rglob("*.jpg"))
    one.unlink()
    with pytest.raises(PrepareError, match="not a complete copy"):
        prepare(out, str(repo), mpath, say=lambda s: None)
    assert prepare(out, str(repo), mpath, force=True, say=lambda s: None) == "replaced"
    check_folder(out, m, repo)
    # --verify on a complete folder whose file changed at the same size: named
    victim = next(p for p in out.rglob("*.jpg"))
    data = bytearray(victim.read_bytes())
    data[-10] ^= 0xFF
    victim.write_bytes(bytes(data))
    with pytest.raises(PrepareError, match=victim.name):
        prepare(out, str(repo), mpath, check=True, say=lambda s: None)


def test_cli(tiny, tmp_path):
    repo, _, _ = tiny
    mpath, _ = make_manifest(tiny, tmp_path)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    run = lambda *a: subprocess.run([sys.executable, "-m", "train.photos.prepare", *a], cwd=tmp_path, env=env,
                                    capture_output=True, text=True)
    r = run("--out", "data/photos", "--source", str(repo), "--manifest", str(mpath))
    assert r.returncode == 0, r.stderr
    assert "12 files" in r.stderr and (tmp_path / "data" / "photos" / "manifest.json").is_file()
    r = run("--out", "data/photos", "--source", str(repo), "--manifest", str(mpath))
    assert r.returncode == 0 and "nothing to do" in r.stderr
    r = run("--out", "elsewhere", "--source", str(tmp_path / "nope"), "--manifest", str(mpath))
    assert r.returncode == 1 and "prepare: error:" in r.stderr and not (tmp_path / "elsewhere").exists()


def test_committed_manifest_is_consistent():
    """The project's manifest: every file's split follows the rule or its look-alike group, counts add up."""
    m = json.loads((ROOT / "train" / "photos" / "manifest.json").read_text())
    assert len(m["source"]["commit"]) == 40 and m["licence"]["spdx"] == "CC0-1.0"
    grouped = {p for g in m["split"]["near_duplicates"]["members"] for p in g}
    paths = [f["path"] for f in m["files"]]
    assert len(set(paths)) == len(paths) == m["counts"]["files"]
    assert len({f["sha256"] for f in m["files"]}) == len(paths)
    for s in SPLITS:
        assert sum(1 for f in m["files"] if f["split"] == s) == m["counts"][s]
    assert all(f["split"] == split_of(f["path"]) for f in m["files"] if f["path"] not in grouped)
    assert sum(f["bytes"] for f in m["files"]) == m["counts"]["bytes"]
    assert min(min(f["width"], f["height"]) for f in m["files"]) >= m["selection"]["min_short_side"]
    assert m["disjointness"]["byte_identical"] == 0 and m["disjointness"]["left_out_as_resembling"] == 0
