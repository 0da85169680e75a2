"""Refine on the page's server vs the library alone: `python -m bench.page_refine [--steps 200] [--size 128]`.

Starts `python app.py` (bundled weights, --threads 2) in a subprocess and times `/refine` (both models,
rendered at --size) through gradio_client; then, with the server idle, times `fit_latents` of each model
alone in this process on one thread (as `bench.refine_speed`). Interleaved --repeats times so both see
the same machine load; prints the CPU model and the load average. The target: the page's refinement of
both models ≤ 1.2 × the slower model alone.
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

import torch

from bench.page_memory import ROOT, wait_up


def library_seconds(steps):
    from lainr import CorrectedGINR, SimplifiedGINR
    from demo.images import prepare, to_tensor

    x = to_tensor(prepare(str(ROOT / "demo/assets/cifar10/cat_0000.png")).model_input)
    out = {}
    for name, cls in (("simplified", SimplifiedGINR), ("corrected", CorrectedGINR)):
        model = cls.from_pretrained(str(ROOT / "weights" / name)).eval()
        model.fit_latents(x, steps=3)
        out[name] = model.fit_latents(x, steps=steps).seconds
    return out


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench.page_refine", description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--port", type=int, default=7894)
    a = p.parse_args(argv)
    from gradio_client import Client, handle_file

    from lainr.cpu_threads import set_cpu_threads
    from train.hardware import cpu_model
    set_cpu_threads(1)
    print(f"CPU: {cpu_model()}, load average before: {os.getloadavg()[0]:.2f}")
    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE", GRADIO_ANALYTICS_ENABLED="False")
    proc = subprocess.Popen([sys.executable, "app.py", "--threads", "2", "--port", str(a.port)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    page, alone, each = [], [], []
    try:
        url = f"http://127.0.0.1:{a.port}/"
        wait_up(url, proc)
        time.sleep(20)  # the warm-up thread
        client = Client(url, verbose=False)
        cat = handle_file(str(ROOT / "demo/assets/cifar10/cat_0000.png"))
        for _ in range(a.repeats):
            t = time.perf_counter()
            *_, metrics = client.predict(cat, a.steps, a.size, api_name="/refine")
            page.append((time.perf_counter() - t, metrics["refinement"]["seconds_total"]))
            each.append(metrics["refinement"]["seconds"])
            alone.append(library_seconds(a.steps))
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    call, fit = statistics.median(c for c, _ in page), statistics.median(f for _, f in page)
    slower = statistics.median(max(s.values()) for s in alone)
    per_model = {n: round(statistics.median(s[n] for s in alone), 2) for n in ("simplified", "corrected")}
    on_page = {n: round(statistics.median(s[n] for s in each), 2) for n in ("simplified", "corrected")}
    print(f"library alone, one thread (median of {a.repeats}): {per_model} s")
    print(f"on the page, both at once, one thread each (median of {a.repeats}): {on_page} s")
    print(f"page /refine {a.steps} steps, both models, rendered at {a.size}²: whole call {call:.2f} s "
          f"({call / slower:.2f}× the slower model alone); refinement itself {fit:.2f} s ({fit / slower:.2f}×)")
    print(f"load average after: {os.getloadavg()[0]:.2f}; torch threads here: {torch.get_num_threads()}")


if __name__ == "__main__":
    main()
