"""Bring home what a GPU call (train/gpu/gpu_run.sh) returned: DEST/simplified, DEST/corrected, DEST/eval.

    python -m train.publish.collect OUT_DIR DEST [--replace]

Every archive listed in OUT_DIR/report.json is joined from its parts, checked against its sha256,
unpacked into a scratch folder and (for the models) loaded strictly with `from_pretrained`, all
before anything in DEST is touched. An existing DEST/<name> is only replaced with --replace, and
then it is first moved to a backup folder whose path is printed.
"""
import argparse
import hashlib
import io
import json
import shutil
import sys
import tarfile
import tempfile
import time
from pathlib import Path

MODELS = ("simplified", "corrected")


class CollectError(ValueError):
    """What came back is incomplete, corrupt or would overwrite a folder."""


def _archive(out_dir, name, entry):
    """The bytes of one shipped archive, joined from its parts and sha256-checked."""
    data = b""
    for part in entry["parts"]:
        f = out_dir / part
        if not f.is_file():
            raise CollectError(f"{f} is missing (the call may have been cut short); nothing was written")
        data += f.read_bytes()
    if hashlib.sha256(data).hexdigest() != entry["sha256"]:
        raise CollectError(f"{name}: the joined parts do not match the sha256 in report.json; nothing was written")
    return data


def _unpack(data, folder):
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(folder, filter="data")  # refuses absolute paths, links out of the folder, devices


def _check_model(name, folder):
    from lainr import WeightsError, model_class
    for needed in ("config.json", "model.safetensors", "README.md"):
        if not (folder / needed).is_file():
            raise CollectError(f"{name}: the archive has no {needed}; nothing was written")
    try:
        model = model_class(name).from_pretrained(str(folder))
    except (WeightsError, ValueError, OSError) as err:
        raise CollectError(f"{name}: the weights do not load strictly: {err}; nothing was written") from err
    return model.num_parameters()


def collect(out_dir, dest, replace=False):
    """→ {name: path in DEST}. CollectError before any write if anything is wrong."""
    out_dir, dest = Path(out_dir), Path(dest)
    report_file = out_dir / "report.json"
    if not report_file.is_file():
        raise CollectError(f"{out_dir} has no report.json: not the output of train/gpu/gpu_run.sh")
    report = json.loads(report_file.read_text())
    files = report.get("files", {})
    if not any(m in files for m in MODELS):
        raise CollectError(f"{out_dir}/report.json lists no model archive (the call shipped: {sorted(files)})")
    clashes = [dest / n for n in files if (dest / n).exists() and any((dest / n).iterdir())]
    if clashes and not replace:
        raise CollectError(f"{', '.join(map(str, clashes))} already hold files; give --replace to replace them "
                           f"(the old folders are kept in a backup); nothing was written")
    dest.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".collect-", dir=dest))
    try:
        for name, entry in files.items():
            _unpack(_archive(out_dir, name, entry), staging / name)
            if name in MODELS:
                _check_model(name, staging / name)
        backup = None
        placed = {}
        for name in files:
            target = dest / name
            if target.exists():
                if backup is None:
                    backup = Path(tempfile.mkdtemp(prefix=f"collect-backup-{time.strftime('%Y%m%d-%H%M%S')}-"))
                shutil.move(str(target), str(backup / name))
            shutil.move(str(staging / name), str(target))
            placed[name] = target
        if backup is not None:
            print(f"previous folders moved to {backup}", file=sys.stderr)
        return placed
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _summary(dest, name):
    info_file = dest / name / "training_info.json"
    if not info_file.is_file():
        return f"{name}: {dest / name}"
    info = json.loads(info_file.read_text())
    t = info.get("test", {})
    return (f"{name}: {dest / name} — {info.get('step')} steps ({info.get('epochs', 0):.2f} epochs), "
            f"test PSNR {t.get('psnr', float('nan')):.2f} dB on {t.get('n')} images, {info.get('hardware')}")


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m train.publish.collect", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out_dir", help="the folder the GPU call returned (its $OUT)")
    p.add_argument("dest", help="where DEST/simplified, DEST/corrected and DEST/eval go (e.g. weights)")
    p.add_argument("--replace", action="store_true", help="replace existing folders (old ones are backed up)")
    a = p.parse_args(argv)
    try:
        placed = collect(a.out_dir, a.dest, a.replace)
    except (CollectError, OSError, tarfile.TarError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for name in placed:
        print(_summary(Path(a.dest), name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
