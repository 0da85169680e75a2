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


def _peak_mib():
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return kib / 1024 if sys.platform != "darwin" else kib / 2 ** 20


def measure(model_name, size, chunk=None, quick=False, threads=None, reference=False):
    from bench.configs import build_model
    from bench.reference import reference_model

    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = build_model(model_name, quick).eval()
    images = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        model.encode(images)  # warm-up: numba compilation, allocator pools
    before = _peak_mib()
    kwargs = {} if chunk is None else {"chunk": chunk}
    with reference_model(model) if reference else contextlib.nullcontext():
        t0 = time.perf_counter()
        out = model.render(images, size, **kwargs)
        seconds = time.perf_counter() - t0
    after = _peak_mib()
    assert out.shape == (1, 3, size, size)
    return dict(model=model_name, size=size, chunk=chunk, reference=reference, peak_rss_mib=after, peak_rss_before_render_mib=before,
                render_added_mib=after - before, render_s=seconds, threads=torch.get_num_threads())


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
