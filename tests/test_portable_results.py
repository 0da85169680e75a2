"""Committed results name no machine: no absolute path in train/results/ or weights/eval/ (a copy of them must read
the same on any machine), and the helper that makes recorded commands portable."""
import re

from train.portable import REPO, portable_command, portable_path

ABSOLUTE = re.compile(r"(?<![\w.~])/(?:work|root|home|tmp|Users|mnt|opt|srv|var)/[\w.-]")


def test_no_absolute_machine_path_in_committed_results():
    found = []
    for folder in (REPO / "train" / "results", REPO / "weights" / "eval"):
        for path in folder.rglob("*"):
            if path.is_file() and path.suffix in (".json", ".md", ".txt", ".csv"):
                for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
                    if ABSOLUTE.search(line):
                        found.append(f"{path.relative_to(REPO)}:{n}: {ABSOLUTE.search(line).group(0)}…")
    assert not found, "absolute paths in committed results:\n" + "\n".join(found[:20])


def test_a_recorded_command_names_paths_relative_to_the_repository():
    data = REPO.parent / "shared" / "data" / "x"
    assert portable_path(str(data)) == "../shared/data/x" and portable_path("runs/a") == "runs/a"
    assert portable_command("train.study.area_refine", ["--sr-dir", str(data), "--threads", "2"]) == \
        "python -m train.study.area_refine --sr-dir ../shared/data/x --threads 2"
