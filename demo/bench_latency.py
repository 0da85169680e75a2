"""Latency of the demo's renders on this machine (not a test): `python -m demo.bench_latency`.

For each output size, after a warm-up:
- new image: encode + render, both models (what the first click on a new image costs);
- same image: render only, both models (latents cached: changing resolution / σ);
- page total: everything the Reconstruct button computes for a new image (renders, bicubic,
  scores, the 32×32 jitter sweep, the token map);
- zoom: the window (8, 8, 16) rendered at that size by both models from cached latents, and the
  whole Zoom click for a new image (encode, both window renders, bicubic, nearest, scores);
- walk: the whole Walk click for a new pair (four encodes, 2 models × 5 t decodes — t = 0 and 1 are
  the plain renders — the cross-fade and the GIF).
Medians over --repeats runs: wall seconds, and in brackets the process CPU seconds (all threads).
On a shared machine wall time depends on the load; CPU seconds / threads is what an idle machine
of the same kind would take at best. The load average is printed before and after. The weights
only matter for the architecture: with no bundled weights it times the full-size untrained models.
"""
import os
import argparse
import json
import statistics
import time

import numpy as np
import torch

from lainr.cpu_threads import set_cpu_threads

from .engine import Engine, warm_up
from .images import MODEL_SIZE, Prepared
from . import walk
from .service import Service
from .zoom import Window
from .weights import load_models

NAMES = ("simplified", "corrected")
ZOOM_WINDOW = Window(8.0, 8.0, 16.0)  # the centre quarter of the input (the page's default window)


def _image(i):
    rng = np.random.default_rng(1000 + i)
    return Prepared(model_input=rng.random((MODEL_SIZE, MODEL_SIZE, 3), dtype=np.float32))


def _median_time(fn, repeats):
    """→ (median wall s, median CPU s)."""
    walls, cpus = [], []
    for i in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        fn(i)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return round(statistics.median(walls), 3), round(statistics.median(cpus), 3)


def bench(engine, sizes, repeats):
    service = Service(engine)
    counter = iter(range(10**6))
    rows = []
    for size in sizes:
        row = {"size": size}
        for name in NAMES:
            def new_image(_, name=name):
                engine.clear()
                engine.render(name, _image(next(counter)), size)
            row[f"{name}_new"] = _median_time(new_image, repeats)

        def both_new(_):
            engine.clear()
            image = _image(next(counter))
            for name in NAMES:
                engine.render(name, image, size)
        row["both_new"] = _median_time(both_new, repeats)

        cached = _image(-1)
        for name in NAMES:
            engine.latents(name, cached)

        def both_cached(i):
            engine._renders = type(engine._renders)(engine._renders.capacity)  # keep latents, drop renders
            for name in NAMES:
                engine.render(name, cached, size)
        row["both_cached_latents"] = _median_time(both_cached, repeats)

        def page(_):
            engine.clear()
            prepared, _, _ = service.reconstruct(_image(next(counter)).model_input, size, 0.0, 0)
            service.sigma_curve(prepared, 0)
            service.token({"prepared": prepared, "size": size}, "corrected", 0)
        row["page_total_new"] = _median_time(page, repeats)

        window = ZOOM_WINDOW.unit()

        def zoom_cached(_):
            engine._renders = type(engine._renders)(engine._renders.capacity)  # keep latents, drop renders
            for name in NAMES:
                engine.render_window(name, cached, window, size)
        row["zoom_cached_latents"] = _median_time(zoom_cached, repeats)

        def zoom_page(_):
            engine.clear()
            service.zoom(_image(next(counter)).model_input, ZOOM_WINDOW.y, ZOOM_WINDOW.x, ZOOM_WINDOW.size, size)
        row["zoom_total_new"] = _median_time(zoom_page, repeats)

        def walk_page(_):
            engine.clear()
            rows, info = service.interpolate(_image(next(counter)).model_input, _image(next(counter)).model_input,
                                             size, walk.TS)
            walk.write_gif(rows, info["t"])
        row["walk_total_new"] = _median_time(walk_page, repeats)
        rows.append(row)
        print(_fmt_row(row), flush=True)
    return rows


COLUMNS = [("simplified_new", "simplified (new image)"), ("corrected_new", "corrected (new image)"),
           ("both_new", "both (new image)"), ("both_cached_latents", "both (latents cached)"),
           ("page_total_new", "whole Reconstruct click (new image)"),
           ("zoom_cached_latents", "zoom, both (latents cached)"), ("zoom_total_new", "whole Zoom click (new image)"),
           ("walk_total_new", "whole Walk click (new pair, 5 t)")]


def _cell(value):
    return f"{value[0]:.2f} ({value[1]:.2f})"


def _fmt_row(row):
    return f"| {row['size']}² | " + " | ".join(_cell(row[key]) for key, _ in COLUMNS) + " |"


def _header():
    return ("| output | " + " | ".join(label for _, label in COLUMNS) + " |\n|---|"
            + "---|" * len(COLUMNS))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--simplified")
    parser.add_argument("--corrected")
    parser.add_argument("--sizes", type=int, nargs="+", default=[32, 64, 128, 256, 512])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads for torch and the numba scan (default: all cores)")
    parser.add_argument("--json", help="also write the rows to this file")
    args = parser.parse_args(argv)
    if args.threads:
        set_cpu_threads(args.threads)
    engine = Engine(load_models(args.simplified, args.corrected))
    for lm in engine.models.values():
        print(lm.summary())
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; chunk {engine.chunk} queries; "
          f"median of {args.repeats}; seconds")
    start = time.perf_counter()
    warm_up(engine)
    print(f"warm-up: {time.perf_counter() - start:.2f} s")
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    print("wall s (CPU s, all threads)")
    print(_header())
    rows = bench(engine, args.sizes, args.repeats)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
