"""Timing, FLOP counting and machine description helpers shared by the benchmarks.

Every time is the **median** of `repeats` runs after one warm-up run. The machine is shared
(other jobs run on the same 2 cores), so single runs are noisy; the load average at the start
and the end of a run is recorded beside the numbers.
"""
import os
import platform
import statistics
import time
from contextlib import contextmanager

import torch
from torch.utils import flop_counter
from torch.utils.flop_counter import FlopCounterMode

from lainr.cpu_threads import set_cpu_threads
from train import hardware


# ---- timing --------------------------------------------------------------------------------------
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
_clock = {"name": "wall"}


def set_clock(name):
    """'wall' (perf_counter, the default) or 'cpu' (process CPU time: all threads of this process).

    On a shared machine the wall clock also counts the time this process waits for a core; CPU
    time does not, so with one thread it measures the work itself. (With several threads it also
    counts OpenMP spin-waiting, so use it with --threads 1.)
    """
    if name not in CLOCKS:
        raise ValueError(f"clock must be one of {sorted(CLOCKS)}")
    _clock["name"] = name


def clock_name():
    return _clock["name"]


def time_fn(fn, repeats=3, warmup=1):
    """Run `fn` warmup + repeats times → dict(median_s, min_s, max_s, runs_s) on the current clock."""
    clock = CLOCKS[_clock["name"]]
    for _ in range(warmup):
        fn()
    runs = []
    for _ in range(max(1, repeats)):
        t0 = clock()
        fn()
        runs.append(clock() - t0)
    return dict(median_s=statistics.median(runs), min_s=min(runs), max_s=max(runs), runs_s=runs)


# ---- FLOPs ---------------------------------------------------------------------------------------
def _prod(xs):
    out = 1
    for x in xs:
        out *= x
    return out


def _conv_backward_flop(grad_out_shape, x_shape, w_shape, _bias, _stride, _padding, _dilation, transposed,
                        _output_padding, _groups, output_mask, out_shape=None, **kwargs):
    """Grouped-conv-aware backward count: each requested gradient costs the forward's MACs × 2.

    (torch's own formula swaps the weight's channel dims and so counts a depthwise conv's backward
    as a dense one: 512× too many FLOPs for the Mamba conv1d.)
    """
    spatial = grad_out_shape[2:] if not transposed else x_shape[2:]
    fwd = 2 * grad_out_shape[0] * _prod(w_shape) * _prod(spatial)
    return fwd * (int(bool(output_mask[0])) + int(bool(output_mask[1])))


def _sdpa_cpu_flop(query, key, value, *args, out_shape=None, **kwargs):
    return flop_counter.sdpa_flop_count(query, key, value)


def _sdpa_cpu_backward_flop(grad_out, query, key, value, *args, out_shape=None, **kwargs):
    return flop_counter.sdpa_backward_flop_count(grad_out, query, key, value)


_CUSTOM = {torch.ops.aten.convolution_backward: _conv_backward_flop}
for _name, _fn in (("_scaled_dot_product_flash_attention_for_cpu", _sdpa_cpu_flop),
                   ("_scaled_dot_product_flash_attention_for_cpu_backward", _sdpa_cpu_backward_flop)):
    if hasattr(torch.ops.aten, _name):  # the CPU flash-attention kernel, which torch does not count
        _CUSTOM[getattr(torch.ops.aten, _name)] = _fn


def count_flops(fn):
    """FLOPs of the matrix products (mm, addmm, bmm, baddbmm, conv, attention) `fn` runs.

    torch.utils.flop_counter counts a multiply-add as 2 FLOPs and ignores element-wise ops,
    softmax and custom kernels (the numba selective scan): see `scan_flops` for the latter. Two
    formulas are supplied here: the CPU flash-attention kernel (not counted by torch) and the
    backward of a grouped convolution (over-counted by torch).
    """
    with FlopCounterMode(display=False, custom_mapping=_CUSTOM) as counter:
        fn()
    return int(counter.get_total_flops())


def scan_flops(batch, d_inner, d_state, length, backward=False):
    """Analytic FLOPs of one selective scan (the part FlopCounterMode cannot see).

    Per (b, d, t, n): Δ·A (1), exp (counted 1), a·h + (Δu)·B (3), C·h accumulate (2) = 7;
    per (b, d, t): Δ·u (1), D·u + y (2). The backward pass recomputes the forward states and runs
    the adjoint recurrence (≈ 2.5× the forward).
    """
    fwd = batch * d_inner * length * (7 * d_state + 3)
    return int(fwd * 3.5) if backward else fwd


# ---- the machine ---------------------------------------------------------------------------------
def gemm_ceiling(n=2048, repeats=5, dtype=torch.float32):
    """fp32 GFLOP/s of one n×n @ n×n matmul: the machine's practical compute ceiling."""
    g = torch.Generator().manual_seed(0)
    a = torch.randn(n, n, generator=g, dtype=dtype)
    b = torch.randn(n, n, generator=g, dtype=dtype)
    out = torch.empty(n, n, dtype=dtype)
    t = time_fn(lambda: torch.mm(a, b, out=out), repeats=repeats, warmup=2)
    flops = 2 * n ** 3
    return dict(n=n, flops=flops, median_s=t["median_s"], gflops=flops / t["median_s"] / 1e9,
                best_gflops=flops / t["min_s"] / 1e9)


def load_average():
    try:
        return list(os.getloadavg())
    except OSError:  # pragma: no cover - not on Linux
        return None


def machine_info():
    """CPU model, core count, torch version and thread settings."""
    info = dict(cpu=hardware.cpu_model(), logical_cpus=os.cpu_count(), torch=torch.__version__,
                torch_threads=torch.get_num_threads(), torch_interop_threads=torch.get_num_interop_threads(),
                python=platform.python_version(), mkldnn=torch.backends.mkldnn.is_available())
    info["env"] = {k: os.environ[k] for k in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "OMP_NUM_THREADS",
                                            "NUMBA_NUM_THREADS", "NUMBA_THREADING_LAYER") if k in os.environ}
    try:
        import numba
        info["numba"] = numba.__version__
        info["numba_threads"] = numba.get_num_threads()
        info["numba_threading_layer_config"] = numba.config.THREADING_LAYER
    except ImportError:
        info["numba"] = None
    return info


@contextmanager
def num_threads(n):
    """Temporarily set the CPU thread count of torch and numba (None: leave it)."""
    old = torch.get_num_threads()
    if n:
        set_cpu_threads(n)
    try:
        yield
    finally:
        if n:
            set_cpu_threads(old)
