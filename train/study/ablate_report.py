"""The training-ablation study's reports: per-run scores collected, intervals over seeds *and* images,
ablations.json, table.md and ablations.png.

Each scored run leaves results/<run>.npz: per-image PSNR (S, n) at the query jitters `sigmas` on the
validation images ("val") and on the test images ("test"). For one configuration and metric the values
form a (seeds, images) array; its estimate is the mean over both, and its 95 % interval a two-level
percentile bootstrap: each replicate resamples the images (shared by every configuration: paired) and,
independently per configuration, its seeds. Δ = ablation − corrected per replicate. With one seed the
interval is over images only (a pilot). The test split is reported only once every planned run is
scored: the validation columns are what the study is read on; the test columns are the one final look.
"""
import numpy as np

from ..atomic import atomic_write_json
from ..eval.stats import signed
from .ablate_plan import ABLATIONS, BASE

N_BOOT = 2000


def metrics(z, split):
    """One run's npz → {metric: per-image values (n,)}: PSNR at each σ and the off-grid loss PSNR(0) − PSNR(σ)."""
    psnr, sigmas = z[split], [float(s) for s in z["sigmas"]]
    out = {f"psnr@{s:g}": psnr[i] for i, s in enumerate(sigmas)}
    out.update({f"offgrid_loss@{s:g}": psnr[0] - psnr[i] for i, s in enumerate(sigmas) if s > 0})
    return out


def collect(results_dir, jobs, split):
    """→ {name: {"seeds": [...], metric: (seeds, n) array}} of the scored runs."""
    got = {}
    for j in jobs:
        path = results_dir / f"{j['run']}.npz"
        if not path.is_file():
            continue
        with np.load(path) as z:
            row = got.setdefault(j["name"], {"seeds": []})
            row["seeds"].append(j["seed"])
            for k, v in metrics(z, split).items():
                row.setdefault(k, []).append(v)
    return {n: {k: (v if k == "seeds" else np.stack(v)) for k, v in row.items()} for n, row in got.items()}


def _estimate(samples, point, n_seeds, n_images):
    low, high = np.quantile(samples, [0.025, 0.975])
    return {"mean": float(point), "low": float(low), "high": float(high), "seeds": n_seeds, "n": n_images}


def two_level(values, base=None, *, seed=0, n_boot=N_BOOT):
    """values (seeds, n) [− base (seeds', n), the same n images] → mean with a seeds × images bootstrap interval."""
    rng = np.random.default_rng(seed)
    n = values.shape[1]
    reps = np.empty(n_boot)
    for r in range(n_boot):
        idx = rng.integers(0, n, n)
        a = values[rng.integers(0, len(values), len(values))].mean(0)[idx].mean()
        b = base[rng.integers(0, len(base), len(base))].mean(0)[idx].mean() if base is not None else 0.0
        reps[r] = a - b
    point = values.mean() - (base.mean() if base is not None else 0.0)
    return _estimate(reps, point, len(values), n)


def summarise(identity, jobs, got):
    rows, base = {}, got.get(BASE)
    for name in dict.fromkeys(j["name"] for j in jobs):
        runs = got.get(name)
        row = {"removed": ABLATIONS[name][0], "passes": next(j["passes"] for j in jobs if j["name"] == name),
               "seeds_done": runs["seeds"] if runs else []}
        if runs:
            row["per_seed_psnr"] = {str(s): float(v) for s, v in zip(runs["seeds"], runs["psnr@0"].mean(1))}
            row["metrics"] = {k: two_level(v) for k, v in runs.items() if k != "seeds"}
            if base is not None and name != BASE:
                row["delta"] = {k: two_level(v, base[k]) for k, v in runs.items() if k != "seeds"}
        rows[name] = row
    return {**identity, "base": BASE, "ablations": rows}


def _fmt(e, sign=False):
    f = signed if sign else (lambda x: f"{x:.2f}")  # noqa: E731
    return f"{f(e['mean'])} [{f(e['low'])}, {f(e['high'])}]"


def table_md(summary, split_name):
    n = summary["eval_images"] if split_name == "validation" else summary["test_images"]
    lines = [f"Training ablations of the corrected model, scale '{summary['scale']}' "
             f"({summary.get('params', 0):,} parameters at the base), {summary['passes']:,} image passes per run "
             f"unless said; scored on {n:,} {split_name} images. Mean over seeds and images "
             "[95 % bootstrap interval over seeds and images]; Δ = ablation − corrected (same images).", "",
             "| ablation | removed | passes | seeds | PSNR (dB) per seed | PSNR mean | Δ vs corrected (dB) | "
             "off-grid loss σ 0.02 (dB) | Δ off-grid loss |", "|---|---|---|---|---|---|---|---|---|"]
    for name, r in summary["ablations"].items():
        m, d = r.get("metrics", {}), r.get("delta", {})
        cell = lambda dct, k, s=False: _fmt(dct[k], s) if k in dct else "–"  # noqa: E731
        lines.append(f"| {name} | {r['removed']} | {r['passes']:,} | {len(r['seeds_done'])} | "
                     + (", ".join(f"{x:.2f}" for x in r.get("per_seed_psnr", {}).values()) or "not run") + " | "
                     + f"{cell(m, 'psnr@0')} | {cell(d, 'psnr@0', True)} | {cell(m, 'offgrid_loss@0.02')} | "
                     + f"{cell(d, 'offgrid_loss@0.02', True)} |")
    return "\n".join(lines) + "\n"


def plot(path, summary):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    names = [n for n, r in summary["ablations"].items() if "metrics" in r]
    fig, ax = plt.subplots(figsize=(8, 0.5 * len(names) + 1.5))
    for i, n in enumerate(names):
        r = summary["ablations"][n]
        v = r["metrics"]["psnr@0"]
        ax.errorbar(v["mean"], i, xerr=[[v["mean"] - v["low"]], [v["high"] - v["mean"]]], fmt="o", color="k")
        ax.scatter(list(r["per_seed_psnr"].values()), [i] * len(r["per_seed_psnr"]), s=12, color="tab:blue")
    ax.set_yticks(range(len(names)), names)
    ax.invert_yaxis()
    ax.set_xlabel(f"validation PSNR (dB), scale '{summary['scale']}' (dots: seeds; bars: 95 % over seeds × images)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_reports(out, identity, jobs):
    """ablations.json (validation; test once every run is scored), table.md, ablations.png → the summary."""
    results = out / "results"
    summary = summarise(identity, jobs, collect(results, jobs, "val"))
    text = table_md(summary, "validation")
    if all((results / f"{j['run']}.npz").is_file() for j in jobs):
        summary["test"] = summarise(identity, jobs, collect(results, jobs, "test"))["ablations"]
        text += "\n## Test split (the one final look, after every run was scored)\n\n" + table_md(
            {**summary, "ablations": summary["test"]}, "test")
    atomic_write_json(out / "ablations.json", summary)
    (out / "table.md").write_text(text)
    if any("metrics" in r for r in summary["ablations"].values()):
        plot(out / "ablations.png", summary)
    return summary
