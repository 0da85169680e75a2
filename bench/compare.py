"""Before/after table from two `python -m bench --json` files.

    python -m bench.compare BEFORE.json AFTER.json

BEFORE is typically a `--reference` run (the forward passes as first written), AFTER a run of the
fast paths, taken back to back under the same conditions. Prints a Markdown table.
"""
import argparse
import json


def _rows(result, ceiling):
    """{(model, measurement): (value, unit, fraction of `ceiling` or None)}."""
    out = {}
    for name, e in result["models"].items():
        for r in e["encode"]:
            out[(name, f"encode, batch {r['batch']}")] = (r["median_ms"], "ms", r["gflops"] / ceiling)
        for r in e["decode"]:
            out[(name, f"decode {r['size']}²")] = (r["median_ms"], "ms", r["gflops"] / ceiling)
        t = e["train"]
        out[(name, f"train step, batch {t['batch']}")] = (t["median_ms"], "ms", t["gflops"] / ceiling)
        r = e["render_rss"]
        out[(name, f"render {r['size']}² peak RSS")] = (r["peak_rss_mib"], "MiB", None)
        if "render_added_mib" in r:
            out[(name, f"render {r['size']}² RSS added")] = (r["render_added_mib"], "MiB", None)
    return out


def common_ceiling(*results):
    """Median of every GEMM measurement (start and end of each run): one yardstick for both runs."""
    values = sorted(r["ceiling"][k]["gflops"] for r in results for k in ("start", "end"))
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def compare(before, after):
    ceiling = common_ceiling(before, after)
    b, a = _rows(before, ceiling), _rows(after, ceiling)
    lines = [f"GEMM ceiling: median of the runs' four measurements = {ceiling:.1f} GFLOP/s "
             f"(clock: {before['meta'].get('clock', 'wall')}, threads {after['meta']['machine']['torch_threads']}). "
             "% = model FLOPs / time / that ceiling (train: = fraction of the FLOP bound).", "",
             "| model | measurement | before | after | speed-up | % ceiling before → after |",
             "|---|---|---:|---:|---:|---:|"]
    for key in a:
        if key not in b:
            continue
        (vb, unit, fb), (va, _, fa) = b[key], a[key]
        ratio = f"{vb / va:.2f}×" if unit == "ms" and va > 0 else ""
        frac = f"{fb:.0%} → {fa:.0%}" if fb is not None else ""
        lines.append(f"| {key[0]} | {key[1]} | {vb:.1f} {unit} | {va:.1f} {unit} | {ratio} | {frac} |")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench.compare", description=__doc__.splitlines()[0])
    p.add_argument("before")
    p.add_argument("after")
    a = p.parse_args(argv)
    with open(a.before) as f:
        before = json.load(f)
    with open(a.after) as f:
        after = json.load(f)
    print(compare(before, after))


if __name__ == "__main__":
    main()
