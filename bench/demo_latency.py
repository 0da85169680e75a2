"""Latency of the demo's renders on this machine (not a test): `python -m bench.demo_latency`.

For each output size, after a warm-up:
- new image: encode + render, both models (what the first click on a new image costs);
- same image: render only, both models (latents cached: changing resolution / σ);
- page total: everything the Reconstruct button computes for a new image (encode, renders, nearest,
  bicubic, scores, captions, and the PNG encoding of the four panels Gradio sends); the jitter sweep
  and the LP-token map are drawn only when their section is opened (timed apart: "on opening");
- zoom: the window (8, 8, 16) rendered at that size by both models from cached latents, and the
  whole Zoom click for a new image (encode, both window renders, bicubic, nearest, scores);
- walk: the whole Walk click for a new pair (four encodes, 2 models × 5 t decodes — t = 0 and 1 are
  the plain renders — the cross-fade, the GIF and the PNG encoding of the three strips).
Ratios: the Reconstruct click over "both (new image)" (its two renders), and the Walk click over five
renders of both models (5 × "both (latents cached)").
Medians over --repeats runs: wall seconds, and in brackets the process CPU seconds (all threads).
On a shared machine wall time depends on the load; CPU seconds / threads is what an idle machine
of the same kind would take at best. The load average is printed before and after. The weights
only matter for the architecture: with no bundled weights it times the full-size untrained models.
"""
import argparse
import io
import json
import os
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from lainr.cpu_threads import set_cpu_threads
from train.hardware import cpu_description

from demo import metrics_view, walk
from demo.engine import Engine, warm_up
from demo.images import MODEL_SIZE, Prepared
from demo.service import Service, to_display
from demo.zoom import Window
from demo.weights import load_models

NAMES = ("simplified", "corrected")
ZOOM_WINDOW = Window(8.0, 8.0, 16.0, MODEL_SIZE)  # the centre quarter of the 32×32 input (the page's default window)


def _image(i):
    rng = np.random.default_rng(1000 + i)
    return Prepared(model_input=rng.random((MODEL_SIZE, MODEL_SIZE, 3), dtype=np.float32))


def _ratio(numerator, denominator, times=1):
    """(wall, CPU) ÷ times·(wall, CPU) → (wall ratio, CPU ratio): on a shared box the CPU one is the steadier."""
    return tuple(round(n / max(times * d, 1e-9), 2) for n, d in zip(numerator, denominator))


def _png(array):
    """What Gradio does with a returned array (gr.Image(format="png")): encode it."""
    with io.BytesIO() as buffer:
        Image.fromarray(array).save(buffer, format="PNG")


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
            _, images, metrics = service.reconstruct(_image(next(counter)).model_input, size, 0.0, 0)
            metrics_view.markdown(metrics)
            for name in metrics_view.ROWS:
                metrics_view.caption_line(metrics, name)
                _png(to_display(images[name]))
        row["page_total_new"] = _median_time(page, repeats)

        def secondary(_):
            engine.clear()
            prepared = _image(next(counter))
            service.sigma_curve(prepared, 0)
            service.token({"prepared": prepared, "size": size}, "corrected", 0)
        row["secondary_on_open"] = _median_time(secondary, repeats)

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
            for name in walk.ROWS:
                _png(walk.strip(rows[name], gap=4))
        row["walk_total_new"] = _median_time(walk_page, repeats)
        row["click_over_renders"] = _ratio(row["page_total_new"], row["both_new"])
        row["walk_over_5_renders"] = _ratio(row["walk_total_new"], row["both_cached_latents"], 5)
        rows.append(row)
        print(_fmt_row(row), flush=True)
    return rows


COLUMNS = [("simplified_new", "simplified (new image)"), ("corrected_new", "corrected (new image)"),
           ("both_new", "both (new image)"), ("both_cached_latents", "both (latents cached)"),
           ("page_total_new", "whole Reconstruct click (new image)"), ("click_over_renders", "click ÷ renders"),
           ("secondary_on_open", "jitter sweep + token map (on opening)"),
           ("zoom_cached_latents", "zoom, both (latents cached)"), ("zoom_total_new", "whole Zoom click (new image)"),
           ("walk_total_new", "whole Walk click (new pair, 5 t)"), ("walk_over_5_renders", "walk ÷ 5 renders")]


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
    print(f"CPU: {cpu_description()}, {os.cpu_count()} CPUs")
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
