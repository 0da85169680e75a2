"""Upload an exported weights folder to the Hugging Face Hub.

    python -m train.publish.publish --repo-id USER/NAME DIR [--private] [--dry-run]

DIR must hold config.json, model.safetensors and README.md (what `train.publish.export` writes).
--dry-run lists what would be uploaded and touches no network.
"""
import argparse
import sys
from pathlib import Path

from ..atomic import is_temporary

REQUIRED = ("config.json", "model.safetensors", "README.md")
SKIP_SUFFIXES = (".tmp", ".pt", ".lock")


def files_to_upload(folder):
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder")
    missing = [n for n in REQUIRED if not (folder / n).is_file()]
    if missing:
        raise FileNotFoundError(f"{folder} lacks {', '.join(missing)}; export it first (python -m train.publish.export)")
    return sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.endswith(SKIP_SUFFIXES) and not is_temporary(p.name)
                  and ".cache" not in p.parts)


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m train.publish.publish", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("folder")
    p.add_argument("--repo-id", required=True)
    p.add_argument("--private", action="store_true")
    p.add_argument("--dry-run", action="store_true")
    p.add_argument("--message", default="Upload Mamba-GINR weights")
    a = p.parse_args(argv)
    try:
        files = files_to_upload(a.folder)
    except FileNotFoundError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    total = sum(f.stat().st_size for f in files)
    print(f"{'would upload' if a.dry_run else 'uploading'} {len(files)} files ({total / 2**20:.2f} MiB) "
          f"to https://huggingface.co/{a.repo_id}:")
    for f in files:
        print(f"  {f.relative_to(a.folder)}  ({f.stat().st_size:,} bytes)")
    if a.dry_run:
        return 0
    from huggingface_hub import HfApi
    try:
        api = HfApi()
        api.create_repo(a.repo_id, private=a.private, exist_ok=True)
        api.upload_folder(repo_id=a.repo_id, folder_path=a.folder, commit_message=a.message,
                          allow_patterns=[str(f.relative_to(a.folder)) for f in files])
    except Exception as err:  # noqa: BLE001 — network / auth problems are reported, not traced
        print(f"error: upload failed: {type(err).__name__}: {err}", file=sys.stderr)
        return 1
    print("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
