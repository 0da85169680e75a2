"""Deploy the demo as a Hugging Face Space.

    python -m space.deploy --space-id USER/NAME [--weights-from-hub] [--dry-run] [--staging DIR]

Builds the exact file set the Space needs in a staging folder (space/staging.py says what is in
it), checks it, then uploads it with huggingface_hub (create_repo(repo_type="space",
space_sdk="gradio", exist_ok=True) + upload_folder(repo_type="space"), which sends large files
through LFS/Xet by itself). Remote files that are not in the staged set are deleted in the same
commit, so the Space holds exactly the staged set.

Checks, all before anything is uploaded (exit status 2 and one `error:` line when one fails):
the Space id is owner/name; both models load strictly with lainr's from_pretrained from what the
Space will load (the staged weights/, or the Hub ids); the staged app imports and builds its page
in a fresh interpreter whose cwd and sys.path[0] are the staged folder (no access to the checkout).

--dry-run does all that, prints the file list with sizes and touches no network (Hub ids are then
checked only if they are in the local HF cache). --weights-from-hub stages no weights folder: the
Space's app.py loads both models by Hub id (default: the README front matter's models: list).
"""
import argparse
import sys
import tempfile
from pathlib import Path

from . import staging
from .staging import StagingError


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m space.deploy", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--space-id", required=True, help="owner/name of the Space (created if missing)")
    p.add_argument("--weights-from-hub", action="store_true",
                   help="no weights/ in the Space: load both models by Hub id at start")
    p.add_argument("--simplified-id", help="Hub id of the simplified weights (with --weights-from-hub; "
                                           "default: from the README front matter's models:)")
    p.add_argument("--corrected-id", help="Hub id of the corrected weights (likewise)")
    p.add_argument("--weights", metavar="DIR", help="folder with simplified/ and corrected/ to bundle "
                                                    "(default: weights/)")
    p.add_argument("--staging", metavar="DIR", help="staging folder, emptied first and kept "
                                                    "(default: a temporary folder, removed at the end)")
    p.add_argument("--dry-run", action="store_true", help="build, check and list; upload nothing")
    p.add_argument("--private", action="store_true", help="create the Space private")
    p.add_argument("--message", default="Deploy Mamba-GINR demo (python -m space.deploy)")
    return p.parse_args(argv)


def upload(staged, space_id, *, private=False, message=None, api=None):
    """create_repo + upload_folder; the Space ends up holding exactly the staged files."""
    if api is None:
        from huggingface_hub import HfApi

        api = HfApi()
    url = api.create_repo(space_id, repo_type="space", space_sdk="gradio", exist_ok=True, private=private)
    api.upload_folder(repo_id=space_id, repo_type="space", folder_path=str(staged),
                      commit_message=message, delete_patterns="*")
    return url


def run(args, out=print):
    """→ exit status. Everything that can fail on bad input fails before the upload."""
    with tempfile.TemporaryDirectory(prefix="space-staging-") as tmp:
        dest = Path(args.staging).resolve() if args.staging else Path(tmp) / "space"
        try:
            plan = staging.plan(args.space_id, weights_from_hub=args.weights_from_hub,
                                simplified_id=args.simplified_id, corrected_id=args.corrected_id,
                                weights_dir=args.weights)
            _refuse_inside_sources(dest)
            staged = staging.stage(plan, dest)
            notes = staging.check_weights(plan, staged, offline=args.dry_run)
            loaded = staging.check_imports(staged)
            strays = staging.prune(plan, staged)  # whatever the app wrote at start-up is not uploaded
        except StagingError as err:
            out(f"error: {err}", file=sys.stderr)
            return 2
        verb = "would upload" if args.dry_run else "uploading"
        out(f"{verb} to https://huggingface.co/spaces/{plan.space_id} (staged in {staged}):")
        for line in plan.listing():
            out(f"  {line}")
        for note in notes:
            out(f"weights: {note}")
        out("import check: the staged app imports and builds its page from the staged folder alone "
            "(models: " + ", ".join(f"{n} {k} {s}".rstrip() for n, (k, s) in loaded.items()) + ")")
        if strays:
            out(f"removed {len(strays)} files the import check left in the staging folder: {', '.join(strays[:5])}"
                + (" …" if len(strays) > 5 else ""))
        if args.dry_run:
            out("dry run: nothing uploaded")
            return 0
        try:
            url = upload(staged, plan.space_id, private=args.private, message=args.message)
        except Exception as err:  # noqa: BLE001 - network / auth problems are reported, not traced
            out(f"error: upload failed: {type(err).__name__}: {err}", file=sys.stderr)
            return 1
        out(f"done: {url}")
        return 0


def _refuse_inside_sources(dest):
    """The staging folder is emptied first: never let that be (or contain) the checkout's sources."""
    root = staging.REPO_ROOT.resolve()
    inside = [root / p for p in ("demo", "lainr", "weights", "tests", "train", "bench", ".git")]
    if root.is_relative_to(dest) or any(dest.is_relative_to(p) for p in inside):
        raise StagingError(f"--staging {dest} would overwrite the repository's own files; "
                           f"use a folder outside demo/, lainr/, weights/ (e.g. /tmp/space)")


def main(argv=None):
    def out(*a, **k):
        print(*a, **k, flush=True)

    return run(parse_args(argv), out)


if __name__ == "__main__":
    sys.exit(main())
