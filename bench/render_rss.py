"""Peak resident memory of one render, measured in a fresh process.

    python -m bench.render_rss --model corrected --size 512 [--chunk N] [--quick]

Prints one JSON line: the peak RSS (resource.getrusage ru_maxrss) after building the model and
encoding the image, and after the render; their difference is what the render itself added.
A subprocess is used so that the peak is the render's, not that of earlier benchmarks.
"""
import argparse
import contextlib
import json
import resource
import sys
import time

import torch

from lainr.cpu_threads import set_cpu_threads


def _ru_maxrss_mib():
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return kib / 1024 if sys.platform != "darwin" else kib / 2 ** 20


def _status_mib(field):
    """VmHWM (peak) or VmRSS (current) of this process from /proc/self/status, MiB; None off Linux."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _reset_peak():
    """Reset this process's VmHWM to its current RSS (Linux: write 5 to clear_refs). True if done."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def measure(model_name, size, chunk=None, quick=False, threads=None, reference=False):
    from bench.configs import build_model
    from bench.reference import reference_model

    if threads:
        set_cpu_threads(threads)
    torch.manual_seed(0)
    model = build_model(model_name, quick).eval()
    images = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        model.encode(images)  # warm-up: numba compilation, allocator pools
    # ru_maxrss is the figure asked for, but Linux carries it over exec from the parent that forked
    # us (a benchmark process of several GiB), so the peak is also read from VmHWM, which is reset
    # here to the current RSS: the render's own peak is then VmHWM − VmRSS before it.
    ru_before = _ru_maxrss_mib()
    reset = _reset_peak()
    rss_before = _status_mib("VmRSS")
    kwargs = {} if chunk is None else {"chunk": chunk}
    with reference_model(model) if reference else contextlib.nullcontext():
        t0 = time.perf_counter()
        out = model.render(images, size, **kwargs)
        seconds = time.perf_counter() - t0
    hwm = _status_mib("VmHWM")
    assert out.shape == (1, 3, size, size)
    row = dict(model=model_name, size=size, chunk=chunk, reference=reference, ru_maxrss_mib=_ru_maxrss_mib(),
               ru_maxrss_before_render_mib=ru_before, render_s=seconds, threads=torch.get_num_threads())
    if reset and hwm is not None and rss_before is not None:
        row.update(peak_rss_mib=hwm, rss_before_render_mib=rss_before, render_added_mib=hwm - rss_before,
                   peak_source="VmHWM after clear_refs")
    else:  # no /proc: fall back on ru_maxrss (may include the parent's peak)
        row.update(peak_rss_mib=row["ru_maxrss_mib"], rss_before_render_mib=ru_before,
                   render_added_mib=row["ru_maxrss_mib"] - ru_before, peak_source="ru_maxrss")
    return row


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="corrected", choices=["simplified", "corrected"])
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--chunk", type=int, default=None)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--reference", action="store_true", help="the reference (pre-optimisation) forward passes")
    a = p.parse_args(argv)
    print(json.dumps(measure(a.model, a.size, a.chunk, a.quick, a.threads, a.reference)))


if __name__ == "__main__":
    main()
