"""Two pairs on one server: idle RSS with both loaded, and the photo pair's 256² Reconstruct click.

    python -m bench.page_pairs [--size 256] [--repeats 3] [--threads 2] [--idle 30]
    python -m bench.page_pairs --stand-in      # while weights/photos64 is not there yet

Starts `python app.py` (bundled weights; the photo pair from weights/photos64, or --photos64-simplified /
--photos64-corrected) in a subprocess and reads its RSS (/proc/PID/status): idle after start (the CIFAR-10
pair loaded and warmed up), then after the page's own Reconstruct click (`/run`, the event the page's
button sends, with the pair choice "photos64") has loaded the photo pair on its first selection, then idle
again with both pairs loaded (`--idle` seconds after the last click: freed memory goes back to the system
a few seconds after a request). The click is timed through gradio_client at --size (a new image each
time: the three sample photos, then rotated copies): the whole call in wall seconds and the server's CPU
seconds over its threads (steadier on a shared machine), and the first call with the pair's loading and
warm-up. Targets: idle RSS with both pairs ≤ 1.5 GiB; the photo pair's 256² click ≤ 1.5 s on
2 AVX2 cores.

--stand-in: untrained models with the bundled CIFAR-10 models' configs at image_size 64 (the full width,
so an upper bound for the reduced-width photo models), written to a temporary folder. Prints the CPU model
and the load average before and after: the wall seconds move with the machine's load, the RSS much less.
Not a test: minutes on a busy machine.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.page_memory import ROOT, rss_mib, wait_up

TARGET_RSS_MIB = 1.5 * 1024
TARGET_CLICK_S = 1.5


def stand_in(folder, size=64):
    """Untrained simplified + corrected models at size×size with the bundled configs → {name: dir}."""
    import torch

    from lainr import CorrectedConfig, CorrectedGINR, SimplifiedConfig, SimplifiedGINR

    torch.manual_seed(0)
    out = {}
    for name, cls, config_cls in (("simplified", SimplifiedGINR, SimplifiedConfig),
                                  ("corrected", CorrectedGINR, CorrectedConfig)):
        raw = json.loads((ROOT / "weights" / name / "config.json").read_text())
        fields = {k: (tuple(v) if isinstance(v, list) else v) for k, v in raw.items()
                  if k in config_cls.__dataclass_fields__}
        fields["image_size"] = size
        out[name] = Path(folder) / name
        cls(config_cls(**fields)).save_pretrained(out[name])
    return out


def images(folder, count):
    """`count` different photos (new images, so every click encodes): the sample photos, then rotated copies."""
    from PIL import Image

    photos = sorted((ROOT / "demo" / "assets" / "photos").glob("*.png"))
    out = []
    for i in range(count):
        src = photos[i % len(photos)]
        turn = i // len(photos)
        path = Path(folder) / f"{src.stem}-{turn}.png"
        with Image.open(src) as im:
            im.rotate(90 * turn).save(path)
        out.append(str(path))
    return out


def cpu_seconds(pid):
    """User + system CPU seconds of a process so far (/proc/PID/stat), all its threads."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def click(client, path, size, handle_file, pid):
    """The page's Reconstruct click with the photo pair (`/run`: image, resolution, σ, seed, pair, stamp)
    → (wall seconds, the server's CPU seconds)."""
    t, cpu = time.perf_counter(), cpu_seconds(pid)
    client.predict(handle_file(path), size, 0.0, 0, "photos64", 0, api_name="/run")
    return time.perf_counter() - t, cpu_seconds(pid) - cpu


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench.page_pairs", description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--idle", type=int, default=30)
    p.add_argument("--port", type=int, default=7895)
    p.add_argument("--stand-in", action="store_true", help="untrained 64×64 models with the CIFAR-10 configs")
    p.add_argument("--photos64-simplified")
    p.add_argument("--photos64-corrected")
    a = p.parse_args(argv)
    from gradio_client import Client, handle_file

    from train.hardware import cpu_model, vector_width

    print(f"CPU: {cpu_model()} ({vector_width()}), {os.cpu_count()} cores, load average before: "
          f"{os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory(prefix="bench-pairs-") as tmp:
        sources = {"simplified": a.photos64_simplified, "corrected": a.photos64_corrected}
        if a.stand_in:
            sources = {name: str(d) for name, d in stand_in(Path(tmp) / "photos64").items()}
            print("photo pair: untrained stand-in (the CIFAR-10 configs at 64×64, full width)")
        flags = [f"--photos64-{name}={src}" for name, src in sources.items() if src]
        env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE", GRADIO_ANALYTICS_ENABLED="False")
        proc = subprocess.Popen([sys.executable, "app.py", "--threads", str(a.threads), "--port", str(a.port), *flags],
                                cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            url = f"http://127.0.0.1:{a.port}/"
            wait_up(url, proc)
            time.sleep(20)  # the warm-up thread
            print(f"idle after start (the CIFAR-10 pair): {rss_mib(proc.pid):.0f} MiB")
            client = Client(url, verbose=False)
            photos = images(tmp, a.repeats + 1)
            first, _ = click(client, photos[0], a.size, handle_file, proc.pid)
            print(f"first photo-pair click at {a.size}² (loads and warms the pair up): {first:.2f} s; "
                  f"RSS {rss_mib(proc.pid):.0f} MiB")
            runs = [click(client, path, a.size, handle_file, proc.pid) for path in photos[1:]]
            wall, cpu = [w for w, _ in runs], [c for _, c in runs]
            print(f"photo-pair Reconstruct click at {a.size}², new image: median {statistics.median(wall):.2f} s wall "
                  f"of {[round(t, 2) for t in wall]}, {statistics.median(cpu):.2f} CPU s of the server over its "
                  f"threads (target ≤ {TARGET_CLICK_S} s wall on 2 AVX2 cores)")
            time.sleep(a.idle)
            idle = rss_mib(proc.pid)
            print(f"idle {a.idle} s after, both pairs loaded: {idle:.0f} MiB (target ≤ {TARGET_RSS_MIB:.0f} MiB); "
                  f"peak (VmHWM) {rss_mib(proc.pid, 'VmHWM'):.0f} MiB")
            print(f"load average after: {os.getloadavg()[0]:.2f}")
        finally:
            proc.terminate()
            proc.wait(timeout=30)


if __name__ == "__main__":
    main()
