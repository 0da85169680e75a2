"""`python -m bench [--quick] [--json PATH]`: every CPU figure of BENCHMARKS.md in one run.

Measures, in this order: the fp32 GEMM ceiling; per model: encode latency (batch 1 and 16),
decode latency on S×S grids (S = 32 … 512, one image, chunked as `render` chunks), the FLOPs of
each and the achieved rate as a fraction of the ceiling, the training-step throughput at the
protocol's batch, and the peak RSS of a 512² render (in a subprocess); then every selective-scan
variant at the corrected model's size (via `bench.scan_bench.bench_scan`); then the ceiling again.

Times are medians of `--repeats` runs after a warm-up. FLOPs are those of the matrix products
(torch.utils.flop_counter; a multiply-add = 2), counted two ways: *model* FLOPs on the reference
forward passes (`bench/reference.py`, the architecture as the SPEC writes it) and *executed*
FLOPs on the fast paths actually run. `mfu` = model FLOPs / time / ceiling; `hfu` the same with
executed FLOPs. `--quick` runs tiny models on tiny inputs (a smoke test, seconds).
"""
import argparse
import contextlib
import json
import statistics
import subprocess
import sys
import time

import torch

from bench.configs import build_model, protocol
from bench.measure import (clock_name, count_flops, gemm_ceiling, load_average, machine_info, scan_flops,
                           set_clock, time_fn)
from bench.reference import reference_model
from bench.train_step import TrainStep
from lainr.cpu_threads import set_cpu_threads
from lainr.ginr import DEFAULT_CHUNK
from lainr.atomic import atomic_write_json

MODELS = ("simplified", "corrected")
FULL = dict(sizes=(32, 64, 128, 256, 512), encode_batches=(1, 16), gemm_n=2048, rss_size=512,
            scan=dict(batch=16, d_inner=512, d_state=16, length=512))
QUICK = dict(sizes=(32, 64), encode_batches=(1, 2), gemm_n=256, rss_size=64,
             scan=dict(batch=1, d_inner=16, d_state=4, length=32))


# ---- FLOP counts (exact linear fits: every count here is a + b·n in the batch / query count) -----
def _linear_fit(count, n1=1, n2=2):
    f1, f2 = count(n1), count(n2)
    slope = (f2 - f1) / (n2 - n1)
    return lambda n: int(round(f1 + slope * (n - n1)))


def _decode_flops_fn(model, reference):
    lat = torch.zeros(1, model.config.num_lp, model.config.dim)

    def count(q):
        coords = torch.rand(1, q, 2)
        if reference:
            with reference_model(model):
                return count_flops(lambda: model.decode(lat, coords))
        return count_flops(lambda: model.decode(lat, coords))

    per_call = _linear_fit(count)
    return lambda queries, chunk: sum(per_call(min(chunk, queries - s)) for s in range(0, queries, chunk))


def _encode_flops_fn(model, reference):
    def count(b):
        x = torch.rand(b, 3, 32, 32)
        if reference:
            with reference_model(model):
                return count_flops(lambda: model.encode(x))
        return count_flops(lambda: model.encode(x))

    return _linear_fit(count)


def _encoder_scan_flops(model, batch, backward=False):
    c = model.config
    length = (c.image_size // c.patch_size) ** 2 + c.num_lp
    d_inner = c.expand * c.dim
    mixers = 2 * c.depth  # BiMamba: two mixers per block
    return mixers * scan_flops(batch, d_inner, c.d_state, length, backward)


def _rate(flops, seconds, ceiling):
    gflops = flops / seconds / 1e9
    return gflops, gflops / ceiling


# ---- the measurements ----------------------------------------------------------------------------
def bench_encode(model, batches, repeats, ceiling, log):
    model_flops, exec_flops = _encode_flops_fn(model, True), _encode_flops_fn(model, False)
    rows = []
    for b in batches:
        x = torch.rand(b, 3, 32, 32, generator=torch.Generator().manual_seed(b))
        with torch.inference_mode():
            t = time_fn(lambda: model.encode(x), repeats)
        mf, ef = model_flops(b), exec_flops(b)
        gf, mfu = _rate(mf, t["median_s"], ceiling)
        rows.append(dict(batch=b, median_ms=t["median_s"] * 1e3, min_ms=t["min_s"] * 1e3,
                         ms_per_image=t["median_s"] * 1e3 / b, model_gflop=mf / 1e9, exec_gflop=ef / 1e9,
                         scan_gflop=_encoder_scan_flops(model, b) / 1e9, gflops=gf, mfu=mfu,
                         hfu=_rate(ef, t["median_s"], ceiling)[1]))
        log(f"  encode  batch {b:>3}: {rows[-1]['median_ms']:9.1f} ms  {gf:6.1f} GFLOP/s  {mfu:5.1%} of ceiling")
    return rows


def bench_decode(model, sizes, repeats, ceiling, chunk, log):
    model_flops, exec_flops = _decode_flops_fn(model, True), _decode_flops_fn(model, False)
    images = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        latents = model.encode(images)
    rows = []
    for s in sizes:
        coords = model.query_grid(1, s)
        q = coords.shape[1]

        def run():
            with torch.inference_mode():
                return torch.cat([model.decode(latents, part) for part in coords.split(chunk, dim=1)], dim=1)

        t = time_fn(run, repeats if s < 512 else max(1, min(repeats, 2)))
        mf, ef = model_flops(q, chunk), exec_flops(q, chunk)
        gf, mfu = _rate(mf, t["median_s"], ceiling)
        rows.append(dict(size=s, queries=q, chunk=chunk, median_ms=t["median_s"] * 1e3, min_ms=t["min_s"] * 1e3,
                         us_per_query=t["median_s"] * 1e6 / q, model_gflop=mf / 1e9, exec_gflop=ef / 1e9,
                         gflops=gf, mfu=mfu, hfu=_rate(ef, t["median_s"], ceiling)[1]))
        log(f"  decode  {s:>4}²    : {rows[-1]['median_ms']:9.1f} ms  {gf:6.1f} GFLOP/s  {mfu:5.1%} of ceiling")
    return rows


def bench_train(name, model, quick, repeats, ceiling, log):
    proto = protocol(name, quick)
    batch = proto["batch"]

    def flops_at(reference):
        def count(b):
            m = build_model(name, quick)
            step = TrainStep(m, **{**proto, "batch": b})
            if reference:
                with reference_model(m):
                    return count_flops(step)
            return count_flops(step)
        return _linear_fit(count)(batch)

    mf, ef = flops_at(True), flops_at(False)
    step = TrainStep(model, **proto)
    t = time_fn(step, repeats)
    model.eval()
    imgs = batch / t["median_s"]
    gf, mfu = _rate(mf, t["median_s"], ceiling)
    bound = batch / (mf / (ceiling * 1e9))  # img/s if every FLOP ran at the GEMM ceiling
    row = dict(batch=batch, pixels_per_image=proto["pixels"] or 1024, median_ms=t["median_s"] * 1e3,
               min_ms=t["min_s"] * 1e3, img_per_s=imgs, flop_bound_img_per_s=bound, frac_of_bound=imgs / bound,
               model_gflop_per_step=mf / 1e9, exec_gflop_per_step=ef / 1e9,
               scan_gflop_per_step=_encoder_scan_flops(model, batch, backward=True) / 1e9,
               gflops=gf, mfu=mfu, hfu=_rate(ef, t["median_s"], ceiling)[1])
    log(f"  train   batch {batch:>3}: {row['median_ms']:9.1f} ms/step {imgs:7.2f} img/s  "
        f"(FLOP bound {bound:.2f} img/s, {imgs / bound:5.1%})")
    return row


def bench_render_rss(name, size, quick, log, reference=False, repeats=3):
    """Peak RSS of a render, each time in a fresh process; medians over `repeats` processes.

    The peak moves by ±100 MiB from process to process (when glibc returns freed chunk buffers to
    the system varies), hence the repeats.
    """
    cmd = [sys.executable, "-m", "bench.render_rss", "--model", name, "--size", str(size),
           "--threads", str(torch.get_num_threads())] + (["--quick"] if quick else []) + \
          (["--reference"] if reference else [])
    runs = []
    if quick:  # smoke test: in this process (VmHWM is reset before the render), saving 2 interpreter starts
        from bench.render_rss import measure

        runs.append(measure(name, size, quick=True, threads=torch.get_num_threads(), reference=reference))
    for _ in range(0 if quick else max(1, repeats)):
        out = subprocess.run(cmd, capture_output=True, text=True, check=True)
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    row = dict(runs[0])
    for key in ("peak_rss_mib", "render_added_mib", "rss_before_render_mib", "render_s", "ru_maxrss_mib"):
        row[key] = statistics.median(r[key] for r in runs)
    row["render_added_mib_runs"] = [r["render_added_mib"] for r in runs]
    log(f"  render  {size}² peak RSS {row['peak_rss_mib']:.0f} MiB (+{row['render_added_mib']:.0f} MiB "
        f"for the render, runs {[round(x) for x in row['render_added_mib_runs']]}, {row['render_s']:.1f} s)")
    return row


def bench_scans(sizes, repeats, log):
    from bench.scan_bench import bench_scan

    rows = bench_scan(repeats=repeats, **sizes)
    for r in rows:
        r["fwd_bwd_ms"], r["fwd_ms"] = float(r["fwd_bwd_ms"]), float(r["fwd_ms"])
        log(f"  scan    {r['variant']:<15} fwd {r['fwd_ms']:9.1f} ms   fwd+bwd {r['fwd_bwd_ms']:9.1f} ms")
    return dict(shape=sizes, timing="best of repeats (bench_scan)", variants=rows)


def run(quick=False, repeats=None, chunk=None, models=MODELS, reference=False, scan=True, log=print):
    plan = QUICK if quick else FULL
    repeats = repeats or (1 if quick else 3)
    chunk = chunk or DEFAULT_CHUNK
    started = time.time()
    result = dict(meta=dict(command=" ".join(["python -m bench"] + sys.argv[1:]), quick=quick, repeats=repeats,
                            timing="median of repeats after one warm-up", clock=clock_name(), started=time.strftime(
                                "%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
                            load_average_start=load_average(), machine=machine_info(), render_chunk=chunk,
                            forward_passes="reference (before optimisation)" if reference else
                            "library: decode through model.fuse(), encode and training as they run"))
    log(f"machine: {result['meta']['machine']}  load {result['meta']['load_average_start']}")
    ceil0 = gemm_ceiling(plan["gemm_n"], repeats=max(3, repeats))
    ceiling = ceil0["gflops"]
    log(f"GEMM {plan['gemm_n']}³ fp32: {ceiling:.1f} GFLOP/s (median), best {ceil0['best_gflops']:.1f}")
    result["models"] = {}
    for name in models:
        log(f"{name}:")
        model = build_model(name, quick).eval()
        entry = dict(parameters=model.num_parameters())
        with reference_model(model) if reference else contextlib.nullcontext():
            entry["encode"] = bench_encode(model, plan["encode_batches"], repeats, ceiling, log)
            if not reference:  # decode as inference runs it: the folded decoder of model.fuse()
                model.fuse()
            entry["decode"] = bench_decode(model, plan["sizes"], repeats, ceiling, chunk, log)
            model.unfuse()  # training: the readable forward
            entry["train"] = bench_train(name, model, quick, repeats, ceiling, log)
        entry["render_rss"] = bench_render_rss(name, plan["rss_size"], quick, log, reference,
                                               repeats=1 if quick else 5)
        result["models"][name] = entry
        del model
    if scan:
        log("selective scan variants:")
        result["scan"] = bench_scans(plan["scan"], repeats, log)
    ceil1 = gemm_ceiling(plan["gemm_n"], repeats=max(3, repeats))
    log(f"GEMM again: {ceil1['gflops']:.1f} GFLOP/s")
    result["ceiling"] = dict(start=ceil0, end=ceil1, gflops=ceiling,
                             note="ratios use the start-of-run median; the end value shows drift under load")
    result["meta"]["load_average_end"] = load_average()
    result["meta"]["seconds"] = time.time() - started
    return result


# ---- table -----------------------------------------------------------------------------------------
def format_table(result):
    ceiling = result["ceiling"]["gflops"]
    lines = [f"GEMM ceiling (fp32, {result['ceiling']['start']['n']}³): {ceiling:.1f} GFLOP/s median "
             f"(end of run: {result['ceiling']['end']['gflops']:.1f})", "",
             "| model | measurement | median | model GFLOP | GFLOP/s | % ceiling (MFU) | executed GFLOP | HFU |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for name, e in result["models"].items():
        for r in e["encode"]:
            lines.append(f"| {name} | encode, batch {r['batch']} | {r['median_ms']:.1f} ms | {r['model_gflop']:.2f} | "
                         f"{r['gflops']:.1f} | {r['mfu']:.1%} | {r['exec_gflop']:.2f} | {r['hfu']:.1%} |")
        for r in e["decode"]:
            lines.append(f"| {name} | decode {r['size']}² (1 image) | {r['median_ms']:.1f} ms | {r['model_gflop']:.2f} | "
                         f"{r['gflops']:.1f} | {r['mfu']:.1%} | {r['exec_gflop']:.2f} | {r['hfu']:.1%} |")
        t = e["train"]
        lines.append(f"| {name} | train step, batch {t['batch']} | {t['median_ms']:.0f} ms = {t['img_per_s']:.2f} img/s "
                     f"(bound {t['flop_bound_img_per_s']:.2f}) | {t['model_gflop_per_step']:.1f} | {t['gflops']:.1f} | "
                     f"{t['mfu']:.1%} | {t['exec_gflop_per_step']:.1f} | {t['hfu']:.1%} |")
        r = e["render_rss"]
        lines.append(f"| {name} | render {r['size']}², peak RSS | {r['peak_rss_mib']:.0f} MiB "
                     f"(+{r['render_added_mib']:.0f} MiB) | | | | | |")
    s = result.get("scan")
    if s is None:
        return "\n".join(lines)
    lines += ["", f"Selective scan, batch {s['shape']['batch']}, d_inner {s['shape']['d_inner']}, "
              f"d_state {s['shape']['d_state']}, L {s['shape']['length']} ({s['timing']}):", "",
              "| variant | forward ms | forward+backward ms | max rel err |", "|---|---:|---:|---:|"]
    for r in s["variants"]:
        lines.append(f"| {r['variant']} | {r['fwd_ms']:.1f} | {r['fwd_bwd_ms']:.1f} | {r['max_rel_err']:.1e} |")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny models and inputs: a smoke test")
    p.add_argument("--json", default=None, help="write all results to this JSON file")
    p.add_argument("--repeats", type=int, default=None, help="timed runs per figure (median; default 3)")
    p.add_argument("--chunk", type=int, default=None, help=f"decode chunk (default render's, {DEFAULT_CHUNK})")
    p.add_argument("--threads", type=int, default=None,
                   help="CPU threads for torch and the numba scan (default: all cores)")
    p.add_argument("--models", nargs="*", default=list(MODELS), choices=list(MODELS))
    p.add_argument("--reference", action="store_true",
                   help="run the reference forward passes (bench/reference.py): the 'before' figures")
    p.add_argument("--skip-scan", action="store_true", help="leave out the selective-scan variants")
    p.add_argument("--clock", default="wall", choices=["wall", "cpu"],
                   help="wall: elapsed time (default); cpu: process CPU time, for a loaded machine (with --threads 1)")
    a = p.parse_args(argv)
    set_clock(a.clock)
    threads = a.threads or (1 if a.quick else None)  # quick: 1 thread, robust on a loaded machine
    if threads:
        set_cpu_threads(threads)  # numba's pool first, then torch (see lainr.cpu_threads)
    result = run(quick=a.quick, repeats=a.repeats, chunk=a.chunk, models=a.models, reference=a.reference,
                 scan=not a.skip_scan)
    print()
    print(format_table(result))
    if a.json:
        atomic_write_json(a.json, result, indent=1, sort_keys=False)
        print(f"\nwrote {a.json}")
    return result


if __name__ == "__main__":
    main()
