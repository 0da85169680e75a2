"""Paths as committed results record them: relative to the repository root, never a machine's absolute path
(a results folder copied to another machine must read the same)."""
import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def portable_path(path):
    """An absolute path → the same path relative to the repository root ('../shared/data/x'); others unchanged."""
    p = str(path)
    return os.path.relpath(p, REPO) if os.path.isabs(p) else p


def portable_command(module, argv):
    """'python -m MODULE ARGS' with every absolute-path argument made relative to the repository root."""
    return " ".join(["python -m", module, *(portable_path(x) for x in argv)])
