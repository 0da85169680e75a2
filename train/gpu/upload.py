"""What one GPU call uploads, against the device's 64 MiB: the tracked tree plus the data pack it carries.

    python -m train.gpu.upload [--pack PACK.npz]

The device copies every tracked file (and untracked files git does not ignore) plus the carried pack. This
prints the tree by top folder, the pack (its real size with --pack, else the measured size of the whole CIFAR-10
pack below), the total and what is left; exit 1 when over.

The training study keeps each run's weights in `train/results/ablations/weights/` until the test split has been
scored once (`results/test/baselines.npz`), so that a new machine does not lose them; they are counted apart
("in flight") and leave the tree in the commit that lands the test scores (git history keeps them). While they
are there, a GPU call either waits for the study or packs less (`python -m train.gpu.pack --max-bytes`).
"""
import argparse
import subprocess
import sys
from pathlib import Path

LIMIT = 64 * 2 ** 20  # the device tool's limit on what travels
CIFAR_PACK_BYTES = 19_074_714  # `python -m train.gpu.pack --data cifar10 OUT.npz`: 50,000 + 10,000 images (2026-12-07)
STUDY_WEIGHTS = "train/results/ablations/weights"  # in flight until the study's test split is scored
STUDY_TEST_DONE = "train/results/ablations/results/test/baselines.npz"
REPO = Path(__file__).resolve().parents[2]


def tracked_files(root=REPO):
    """→ {relative path: bytes} of what travels: the tracked files present in the working tree and the untracked
    ones git does not ignore."""
    out = subprocess.run(["git", "-C", str(root), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                         capture_output=True, check=True).stdout
    sizes = {}
    for name in out.decode().split("\0"):
        path = Path(root) / name
        if name and path.is_file():
            sizes[name] = path.stat().st_size
    return sizes


def in_flight(name):
    return name.startswith(STUDY_WEIGHTS + "/")


def budget(root=REPO, pack_bytes=CIFAR_PACK_BYTES):
    """→ dict: tree bytes (without the study's weights in flight), in-flight bytes, pack, total, left, folders."""
    files = tracked_files(root)
    tree = sum(b for n, b in files.items() if not in_flight(n))
    flight = sum(b for n, b in files.items() if in_flight(n))
    folders = {}
    for n, b in files.items():
        key = "/".join(n.split("/")[:2]) if "/" in n else n
        folders[key] = folders.get(key, 0) + b
    total = tree + pack_bytes
    return {"tree": tree, "in_flight": flight, "pack": pack_bytes, "total": total, "left": LIMIT - total,
            "with_in_flight": total + flight, "folders": folders,
            "study_test_scored": (Path(root) / STUDY_TEST_DONE).is_file()}


def mib(b):
    return f"{b / 2 ** 20:.1f} MiB"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pack", help="the pack the call will carry (default: the whole CIFAR-10 pack's measured size)")
    p.add_argument("--top", type=int, default=12, help="largest folders to list")
    a = p.parse_args(argv)
    pack = Path(a.pack).stat().st_size if a.pack else CIFAR_PACK_BYTES
    r = budget(pack_bytes=pack)
    for name, b in sorted(r["folders"].items(), key=lambda kv: -kv[1])[:a.top]:
        print(f"  {mib(b):>10}  {name}")
    print(f"tracked tree {mib(r['tree'])} + pack {mib(pack)} = {mib(r['total'])} of {mib(LIMIT)} "
          f"({mib(r['left'])} left)")
    if r["in_flight"]:
        print(f"the study's weights in flight: {mib(r['in_flight'])} more ({mib(r['with_in_flight'])} in all) until "
              f"its test split is scored")
        if r["with_in_flight"] > LIMIT:
            room = LIMIT - r["tree"] - r["in_flight"]
            print(f"  meanwhile a GPU call waits, or packs at most {mib(room)} (python -m train.gpu.pack --max-bytes {room})")
    if r["left"] < 0:
        print(f"error: the upload is over the device's limit by {mib(-r['left'])}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
