"""Smoke test of `python -m bench --quick`: it runs, writes JSON with every figure, all positive.

No timing is asserted (the machine is shared); only that each measurement exists and is > 0.
"""
import json
import math
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _positive(x):
    return isinstance(x, (int, float)) and math.isfinite(x) and x > 0


def test_bench_quick_writes_complete_json(tmp_path):
    out = tmp_path / "bench.json"
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-m", "bench", "--quick", "--json", str(out)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "| model | measurement |" in proc.stdout  # the table is printed
    r = json.loads(out.read_text())

    assert set(r) >= {"meta", "ceiling", "models", "scan"}
    assert r["meta"]["quick"] is True
    assert {"cpu", "logical_cpus", "torch", "torch_threads"} <= set(r["meta"]["machine"])
    assert _positive(r["ceiling"]["gflops"]) and _positive(r["ceiling"]["end"]["gflops"])

    assert set(r["models"]) == {"simplified", "corrected"}
    for name, e in r["models"].items():
        assert _positive(e["parameters"])
        assert [x["batch"] for x in e["encode"]] == [1, 2]
        assert [x["size"] for x in e["decode"]] == [32, 64]
        for row in e["encode"] + e["decode"]:
            for key in ("median_ms", "model_gflop", "exec_gflop", "gflops", "mfu", "hfu"):
                assert _positive(row[key]), (name, key, row)
        for key in ("img_per_s", "flop_bound_img_per_s", "frac_of_bound", "model_gflop_per_step",
                    "exec_gflop_per_step", "median_ms"):
            assert _positive(e["train"][key]), (name, key)
        for key in ("peak_rss_mib", "render_s"):
            assert _positive(e["render_rss"][key]), (name, key)
        # FLOPs grow with the work: bigger batch / more queries → more FLOPs.
        assert e["encode"][1]["model_gflop"] > e["encode"][0]["model_gflop"]
        assert e["decode"][1]["model_gflop"] > e["decode"][0]["model_gflop"]

    variants = {v["variant"] for v in r["scan"]["variants"]}
    assert "reference" in variants
    for v in r["scan"]["variants"]:
        assert _positive(v["fwd_ms"]) and _positive(v["fwd_bwd_ms"])


def test_gpu_bench_cpu_smoke(tmp_path):
    """bench/gpu_bench.py runs end to end on CPU with --quick (the device run needs a GPU)."""
    out = tmp_path / "gpu.json"
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-m", "bench.gpu_bench", "--device", "cpu", "--quick", "--max-batch", "4",
                           "--json", str(out)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    r = json.loads(out.read_text())
    assert r["info"]["device"] == "cpu" and r["largest_batch"] == 4
    assert [t["batch"] for t in r["train"]] == [2, 4]
    assert all(_positive(t["img_per_s"]) and _positive(t["model_tflop_per_step"]) for t in r["train"])
    assert {x["dtype"] for x in r["render"]} == {"fp32", "bf16-autocast"}
    assert all(_positive(x["ms"]) for x in r["render"])
