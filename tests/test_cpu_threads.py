"""lainr.cpu_threads: one thread count for torch and numba that holds after numba's pool starts.

numba's OpenMP layer resets the shared libgomp thread count when it launches its pool; before the fix
`--threads 1` trained with torch on every core. Checked in a fresh interpreter, because the pool is
launched once per process."""
import os
import subprocess
import sys

import pytest

from tests.test_train_helpers import ROOT

CHECK = """
import torch, numba
torch.get_num_threads(); torch.ones(4096).sum()  # torch's threads initialised first, as in a trainer
from lainr.cpu_threads import set_cpu_threads
assert set_cpu_threads(1) == 1
from lainr.scan.fused_numba import selective_scan_fused_numba as scan
r = torch.randn
B, D, L, N = 2, 8, 16, 4
scan(r(B, D, L), r(B, D, L).exp(), -r(D, N).exp(), r(B, N, L), r(B, N, L), r(D), r(B, D, L))  # a parallel kernel
print(torch.get_num_threads(), numba.get_num_threads())
"""


def test_one_thread_holds_after_a_numba_kernel():
    pytest.importorskip("numba")
    env = dict(os.environ, NUMBA_NUM_THREADS="2", PYTHONPATH=str(ROOT))  # a 2-thread pool on any machine
    r = subprocess.run([sys.executable, "-c", CHECK], cwd=ROOT, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["1", "1"], f"torch, numba threads after a scan: {r.stdout}"


def test_rejects_a_thread_count_below_one():
    from lainr.cpu_threads import set_cpu_threads
    with pytest.raises(ValueError, match="positive"):
        set_cpu_threads(0)


WORKER = """
import threading, torch, numba
from lainr.cpu_threads import set_cpu_threads
from lainr.scan.fused_numba import selective_scan_fused_numba as scan
set_cpu_threads(1)
seen = {}
def decode():  # as a web server's worker thread would: set_cpu_threads never ran here
    seen['before'] = numba.get_num_threads()
    r = torch.randn
    B, D, L, N = 2, 8, 16, 4
    u = r(B, D, L, requires_grad=True)
    scan(u, r(B, D, L).exp(), -r(D, N).exp(), r(B, N, L), r(B, N, L), r(D), r(B, D, L)).sum().backward()
    seen['after'] = numba.get_num_threads()
t = threading.Thread(target=decode); t.start(); t.join()
print(seen['before'], seen['after'])
"""


def test_the_scan_uses_the_chosen_count_in_other_threads():
    pytest.importorskip("numba")
    env = dict(os.environ, NUMBA_NUM_THREADS="2", PYTHONPATH=str(ROOT))
    r = subprocess.run([sys.executable, "-c", WORKER], cwd=ROOT, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["2", "1"], f"numba threads in a worker thread before / after a scan: {r.stdout}"
