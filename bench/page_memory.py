"""Resident memory of the demo server: idle after start, at the peak of a 512² refine + walk, and idle again.

    python -m bench.page_memory [--steps 1000] [--size 512] [--idle 60] [--threads 1]

Starts `python app.py` (bundled weights) in a subprocess, waits for it, reads its RSS (/proc/PID/status),
then calls `/refine` (steps, size) and `/interpolate` (9 t, size) through gradio_client, and reads the RSS
after each and every 10 s for `--idle` seconds. Prints the CPU model and the load average: the wall
seconds move with the machine's load, the RSS much less.
"""
import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def rss_mib(pid, field="VmRSS"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def wait_up(url, proc, timeout=300):
    import httpx

    start = time.time()
    while time.time() - start < timeout:
        if proc.poll() is not None:
            raise SystemExit(f"the app exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise SystemExit("the app did not start")


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench.page_memory", description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--idle", type=int, default=60)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--port", type=int, default=7893)
    a = p.parse_args(argv)
    from gradio_client import Client, handle_file

    from train.hardware import cpu_model
    print(f"CPU: {cpu_model()}, load average before: {os.getloadavg()[0]:.2f}")
    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE", GRADIO_ANALYTICS_ENABLED="False")
    proc = subprocess.Popen([sys.executable, "app.py", "--threads", str(a.threads), "--port", str(a.port)], cwd=ROOT,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{a.port}/"
        wait_up(url, proc)
        time.sleep(20)  # the warm-up thread
        print(f"idle after start: {rss_mib(proc.pid):.0f} MiB")
        client = Client(url, verbose=False)
        cat = handle_file(str(ROOT / "demo/assets/cifar10/cat_0000.png"))
        dog = handle_file(str(ROOT / "demo/assets/cifar10/dog_0000.png"))
        t = time.perf_counter()
        client.predict(cat, a.steps, a.size, api_name="/refine")
        print(f"after /refine {a.steps} steps at {a.size}²: {rss_mib(proc.pid):.0f} MiB ({time.perf_counter() - t:.1f} s)")
        t = time.perf_counter()
        ts = ", ".join(f"{i / 8:g}" for i in range(9))
        client.predict(cat, dog, a.size, ts, api_name="/interpolate")
        print(f"after /interpolate 9 t at {a.size}²: {rss_mib(proc.pid):.0f} MiB ({time.perf_counter() - t:.1f} s); "
              f"peak (VmHWM) {rss_mib(proc.pid, 'VmHWM'):.0f} MiB")
        for waited in range(10, a.idle + 1, 10):
            time.sleep(10)
            print(f"idle {waited} s after: {rss_mib(proc.pid):.0f} MiB")
        print(f"load average after: {os.getloadavg()[0]:.2f}")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


if __name__ == "__main__":
    main()
