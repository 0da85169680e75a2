"""A one-line description of the machine, for run.json and the model card."""
import os
import platform

import torch


def describe(device):
    if str(device).startswith("cuda") and torch.cuda.is_available():
        return f"{torch.cuda.get_device_name(torch.device(device))} (CUDA), torch {torch.__version__}"
    cpu = platform.processor() or platform.machine()
    return (f"CPU only: {os.cpu_count()} cores ({cpu}), {torch.get_num_threads()} torch thread(s), "
            f"torch {torch.__version__}")


def set_threads(n):
    """CPU threads for torch *and* numba (the selective-scan kernels), as bench/run.py sets them.
    numba is optional: without it only torch's threads are set. Returns numba's thread count or None."""
    torch.set_num_threads(n)
    try:
        import numba
    except ImportError:
        return None
    numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    return numba.get_num_threads()
