"""GPU benchmark: bf16-autocast training throughput of the corrected model and a 1024² render.

    python -m bench.gpu_bench [--device cuda] [--json PATH]         # on a machine with a GPU
    python -m bench.gpu_bench --device cpu --quick                   # smoke test (tiny model, seconds)

Measures, on one device:
- the bf16 (and tf32/fp32) matmul ceiling (TFLOP/s) of a large square GEMM;
- training step (forward + backward + clip + AdamW, SPEC §5 corrected protocol: all 1024 pixels,
  jitter 0.01, mean per-image MSE) under `torch.autocast(bfloat16)`, at batch 16 and at the largest
  batch that fits (doubling until out-of-memory, then bisecting), in img/s, with the model FLOPs
  (torch.utils.flop_counter) and the fraction of the bf16 ceiling (MFU);
- one 1024×1024 render (1 image, fp32 and bf16 autocast) at a few chunk sizes: time and peak memory.
The selective scan is mamba-ssm's CUDA kernel when it is installed (`lainr.mamba_ssm_available()`),
else the pure-torch `chunked` variant; the JSON records which.
"""
import argparse
import sys

import torch

from bench.configs import build_model, protocol
from bench.measure import count_flops
from bench.train_step import TrainStep
from train.gpu.gpu_throughput import _sync, _timed as _time  # one timing helper for the bench and the GPU call
from lainr.atomic import atomic_write_json


def _is_oom(err):
    return isinstance(err, torch.OutOfMemoryError) or "out of memory" in str(err).lower()


def _free(device):
    import gc

    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


def matmul_ceiling(device, n, repeats):
    """TFLOP/s of an n×n @ n×n matmul in bf16 and fp32 (tf32 allowed on CUDA: torch's default is not)."""
    out = {}
    for name, dtype in (("bf16", torch.bfloat16), ("fp32", torch.float32)):
        a = torch.randn(n, n, device=device, dtype=dtype)
        b = torch.randn(n, n, device=device, dtype=dtype)
        t = _time(lambda: a @ b, device, repeats)
        out[name] = 2 * n ** 3 / t / 1e12
        del a, b
    return out


def _step(model_name, quick, device, batch, dtype):
    model = build_model(model_name, quick).to(device)
    return TrainStep(model, **{**protocol(model_name, quick), "batch": batch}, device=device, autocast_dtype=dtype)


def train_throughput(model_name, quick, device, batch, repeats, dtype=torch.bfloat16, ceiling_tflops=None):
    step = _step(model_name, quick, device, batch, dtype)
    flops = count_flops(step)  # also the first warm-up step
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    seconds = _time(step, device, repeats)
    row = dict(batch=batch, step_ms=seconds * 1e3, img_per_s=batch / seconds, model_tflop_per_step=flops / 1e12,
               tflops=flops / seconds / 1e12)
    if ceiling_tflops:
        row["mfu_bf16"] = row["tflops"] / ceiling_tflops
    if device.type == "cuda":
        row["peak_mem_gib"] = torch.cuda.max_memory_allocated(device) / 2 ** 30
    del step
    _free(device)
    return row


def fits(model_name, quick, device, batch, dtype):
    """True if two training steps at `batch` run without running out of memory."""
    try:
        step = _step(model_name, quick, device, batch, dtype)
        step()
        step()
        _sync(device)
        return True
    except (RuntimeError, torch.OutOfMemoryError) as err:
        if not _is_oom(err):
            raise
        return False
    finally:
        step = None
        _free(device)


def largest_batch(model_name, quick, device, start, cap, dtype, log):
    """Double from `start` until a step runs out of memory (or `cap`), then bisect."""
    good, bad = None, None
    b = start
    while b <= cap:
        ok = fits(model_name, quick, device, b, dtype)
        log(f"  batch {b}: {'fits' if ok else 'out of memory'}")
        if not ok:
            bad = b
            break
        good, b = b, b * 2
    if good is None:
        return None
    if bad is None:
        return good  # reached the cap
    while bad - good > max(1, good // 16):  # bisect to ~6%
        mid = (good + bad) // 2
        ok = fits(model_name, quick, device, mid, dtype)
        log(f"  batch {mid}: {'fits' if ok else 'out of memory'}")
        good, bad = (mid, bad) if ok else (good, mid)
    return good


def render_bench(model_name, quick, device, size, chunks, repeats):
    model = build_model(model_name, quick).to(device).eval()
    images = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0)).to(device)
    rows = []
    for dtype in (None, torch.bfloat16):
        for chunk in chunks:
            try:
                if device.type == "cuda":
                    torch.cuda.reset_peak_memory_stats(device)
                with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
                    t = _time(lambda: model.render(images, size, chunk=chunk), device, repeats, warmup=1)
                row = dict(size=size, chunk=chunk, dtype="bf16-autocast" if dtype else "fp32", ms=t * 1e3,
                           megapixels_per_s=size * size / t / 1e6)
                if device.type == "cuda":
                    row["peak_mem_gib"] = torch.cuda.max_memory_allocated(device) / 2 ** 30
            except (RuntimeError, torch.OutOfMemoryError) as err:
                if not _is_oom(err):
                    raise
                row = dict(size=size, chunk=chunk, dtype="bf16-autocast" if dtype else "fp32", error="out of memory")
                _free(device)
            rows.append(row)
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench.gpu_bench", description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda")
    p.add_argument("--quick", action="store_true", help="tiny model and sizes: a smoke test")
    p.add_argument("--json", default=None)
    p.add_argument("--repeats", type=int, default=None)
    p.add_argument("--max-batch", type=int, default=None, help="cap of the largest-batch search")
    p.add_argument("--model", default="corrected", choices=["corrected", "simplified"])
    a = p.parse_args(argv)
    device = torch.device(a.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        sys.exit("CUDA is not available here; use --device cpu --quick for a smoke test")
    quick = a.quick
    repeats = a.repeats or (1 if quick else 10)
    cap = a.max_batch or (8 if quick else 8192)
    log = print
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    from lainr import mamba_ssm_available
    from lainr.scan.dispatch import default_variant

    scan = "mamba-ssm CUDA kernel" if (device.type == "cuda" and mamba_ssm_available()) else default_variant(device)
    info = dict(device=str(device), name=torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
                torch=torch.__version__, quick=quick, model=a.model, scan=scan, repeats=repeats)
    log(f"device: {info['name']}, torch {torch.__version__}, scan: {scan}")

    ceiling = matmul_ceiling(device, 512 if quick else 8192, max(3, repeats // 2))
    log(f"matmul ceiling: bf16 {ceiling['bf16']:.1f} TFLOP/s, fp32/tf32 {ceiling['fp32']:.1f} TFLOP/s")

    base = protocol(a.model, quick)["batch"]
    train = [train_throughput(a.model, quick, device, base, repeats, ceiling_tflops=ceiling["bf16"])]
    log(f"train bf16, batch {base}: {train[0]['img_per_s']:.1f} img/s ({train[0].get('mfu_bf16', 0):.1%} MFU)")
    log("largest batch that fits (bf16 autocast):")
    biggest = largest_batch(a.model, quick, device, base, cap, torch.bfloat16, log)
    if biggest and biggest != base:
        train.append(train_throughput(a.model, quick, device, biggest, repeats, ceiling_tflops=ceiling["bf16"]))
        log(f"train bf16, batch {biggest}: {train[-1]['img_per_s']:.1f} img/s ({train[-1].get('mfu_bf16', 0):.1%} MFU)")

    size = 64 if quick else 1024
    chunks = [1024, 4096] if quick else [16384, 65536, 262144, 1048576]
    renders = render_bench(a.model, quick, device, size, chunks, max(1, repeats // 2))
    for r in renders:
        log(f"render {r['size']}² {r['dtype']:>13} chunk {r['chunk']:>8}: "
            + (f"{r['ms']:.1f} ms" if "ms" in r else r["error"]))
    result = dict(info=info, ceiling_tflops=ceiling, train=train, largest_batch=biggest, render=renders)
    if a.json:
        atomic_write_json(a.json, result, indent=1, sort_keys=False)
        log(f"wrote {a.json}")
    return result


if __name__ == "__main__":
    main()
