"""train plumbing: --threads sets numba's threads too; train.publish.export and train.loop no longer import
each other (build_model lives in train.model_factory)."""
import subprocess
import sys

import pytest

from tests.test_train_helpers import ROOT


def test_set_threads_sets_torch_and_numba(monkeypatch):
    numba = pytest.importorskip("numba")
    import torch

    import lainr.cpu_threads
    monkeypatch.setattr(lainr.cpu_threads, "_numba_threads", lainr.cpu_threads._numba_threads)  # restored after

    from train.hardware import set_threads
    old_t, old_n = torch.get_num_threads(), numba.get_num_threads()
    try:
        assert set_threads(1) == 1
        assert torch.get_num_threads() == 1 and numba.get_num_threads() == 1
    finally:
        torch.set_num_threads(old_t)
        numba.set_num_threads(old_n)


def test_set_threads_without_numba(monkeypatch):
    import torch

    import lainr.cpu_threads
    monkeypatch.setattr(lainr.cpu_threads, "_numba_threads", lainr.cpu_threads._numba_threads)  # restored after

    from train.hardware import set_threads
    old = torch.get_num_threads()
    monkeypatch.setitem(sys.modules, "numba", None)  # `import numba` now raises ImportError
    try:
        assert set_threads(1) is None and torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(old)


def test_export_and_loop_do_not_import_each_other():
    # a fresh interpreter: importing train.publish.export must not pull in train.loop
    code = "import sys, train.publish.export; assert 'train.loop' not in sys.modules, 'export imports loop'"
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    src = (ROOT / "train" / "publish" / "export.py").read_text()
    assert "from .loop" not in src and "import train.loop" not in src
    from train.publish.export import build_model as b1
    from train.loop import build_model as b2
    from train.model_factory import build_model
    assert b1 is b2 is build_model
