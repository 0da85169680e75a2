"""One CPU thread count for torch and for numba (the selective-scan kernels of lainr.scan).

Order matters. torch and numba's OpenMP threading layer share one libgomp, and numba, when it launches
its thread pool (at its first parallel kernel, or at `numba.set_num_threads`), calls
`omp_set_num_threads(NUMBA_NUM_THREADS)`, which also lifts torch's count back to every core. Setting
torch first and numba second therefore left `--threads 1` running torch on all cores (measured on a
2-core box: a second OpenMP thread spinning at ~40 % of a core per process). So: launch numba's pool
first, then set torch's count last.

numba also keeps its count per thread: a thread that did not call `set_cpu_threads` (a web server's
worker, a warm-up thread) starts at NUMBA_NUM_THREADS. The numba scan therefore calls
`apply_numba_threads()` before each kernel, which brings the calling thread to the chosen count.
"""
import torch

_numba_threads = None  # the count the last set_cpu_threads chose for numba; None: never called


def set_cpu_threads(n):
    """Use n CPU threads in torch and numba; → numba's thread count, or None where numba is absent
    (then only torch's count is set)."""
    if n < 1:
        raise ValueError(f"threads must be a positive number, got {n}")
    numba_threads = None
    try:
        import numba
    except ImportError:
        pass
    else:
        numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))  # launches the pool (OpenMP: resets omp threads)
        numba_threads = numba.get_num_threads()
    torch.set_num_threads(n)  # last: after numba's pool launch
    global _numba_threads
    _numba_threads = numba_threads
    return numba_threads


def apply_numba_threads():
    """Bring the calling thread's numba count to the one set_cpu_threads chose (no-op if it never ran).
    Called by the numba scan before its parallel kernels."""
    if _numba_threads is None:
        return
    import numba
    if numba.get_num_threads() != _numba_threads:
        numba.set_num_threads(_numba_threads)
