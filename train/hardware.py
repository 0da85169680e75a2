"""A one-line description of the machine, for run.json and the model card."""
import os
import platform

import torch

from lainr.cpu_threads import set_cpu_threads


def _cpuinfo():
    """→ (model name, set of flags) from /proc/cpuinfo; (platform's name, empty set) where it is absent."""
    name, flags = "", set()
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8", errors="replace"):
            key, _, value = line.partition(":")
            key = key.strip()
            if key == "model name" and not name:
                name = value.strip()
            elif key == "flags" and not flags:
                flags = set(value.split())
            if name and flags:
                break
    except OSError:
        pass
    return name or platform.processor() or platform.machine(), flags


def cpu_model():
    """The CPU's model name, as `lscpu` shows it ("Model name")."""
    return _cpuinfo()[0]


def cpu_has_bf16():
    """True where the CPU computes bfloat16 natively (AVX-512 BF16 or AMX): the case where CPU bf16 autocast
    can train faster than float32. Elsewhere torch emulates it."""
    return bool(_cpuinfo()[1] & {"avx512_bf16", "amx_bf16"})


def vector_width():
    """The widest SIMD the CPU reports, as `lscpu` would show it: "AVX-512 (+bf16)", "AVX2", ..."""
    flags = _cpuinfo()[1]
    if "avx512f" in flags:
        return "AVX-512" + (" (+bf16)" if cpu_has_bf16() else "")
    for flag, label in (("avx2", "AVX2"), ("avx", "AVX"), ("sse4_2", "SSE4.2"), ("asimd", "NEON")):
        if flag in flags:
            return label
    return "unknown vector width"


def cpu_description():
    """The CPU's model name and its widest SIMD, e.g. "Intel(R) Xeon(R) … (AVX-512 (+bf16))": what CPU timings
    depend on (refinement and bench records)."""
    return f"{cpu_model()} ({vector_width()})"


def describe(device):
    if str(device).startswith("cuda") and torch.cuda.is_available():
        return f"{torch.cuda.get_device_name(torch.device(device))} (CUDA), torch {torch.__version__}"
    return (f"CPU only: {os.cpu_count()} cores ({cpu_model()}, {vector_width()}), "
            f"{torch.get_num_threads()} torch thread(s), torch {torch.__version__}")


def set_threads(n):
    """CPU threads for torch *and* numba (the selective-scan kernels): lainr.cpu_threads.set_cpu_threads,
    which sets them in the order that keeps torch at n. Returns numba's thread count or None."""
    return set_cpu_threads(n)
