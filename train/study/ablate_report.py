"""The training-ablation study's reports from its results folder alone: ablations.json, table.md, ablations.png.

Each scored run leaves results/<run>.npz (per-image PSNR (S, n) at the query jitters `sigmas` on the
validation images), results/<run>.curve.json (its validations during training) and, once every planned run
is in, results/test/<run>.npz. For a configuration and a metric, one seed's figure is its mean over the
images. Δ = ablation − intact is paired by seed (a seed fixes the initialisation and the data order of every
row); its 95 % interval is Student's t over the seeds' Δ (the interval the verdicts use), and beside it a
percentile bootstrap over the images with the seeds fixed (how much the image sample alone moves the mean).
The trend of a Δ with training compares, seed by seed, the Δ at the end with the Δ at the curve point
nearest half the passes: "grows" / "shrinks" when the t-interval of that change (signed so that + means a
larger gap) excludes 0, else "holds". Nothing here reads the data or a machine path, so a copy of the
folder rebuilds the same table.md anywhere (`python -m train.study.ablate --out COPY … --report`).
"""
import json

import numpy as np

from ..atomic import atomic_write, atomic_write_json
from ..eval.stats import signed, t_interval
from ..eval.thumbnails import floats
from .ablate_plan import ABLATIONS, BASE

N_BOOT = 2000
METRICS = ("psnr@0", "offgrid_loss@0.02")  # reported with intervals and trends


def metrics(psnr, sigmas):
    """(S, n) PSNR at `sigmas` → {metric: per-image values (n,)}: PSNR at each σ, off-grid loss PSNR(0) − PSNR(σ)."""
    out = {f"psnr@{s:g}": psnr[i] for i, s in enumerate(sigmas)}
    out.update({f"offgrid_loss@{s:g}": psnr[0] - psnr[i] for i, s in enumerate(sigmas) if s > 0})
    return out


def collect(results, jobs, split):
    """→ {name: {"seeds": [...], metric: (seeds, n) array, "curves": [curve dict per seed]}} of the scored runs."""
    got = {}
    for j in jobs:
        path = results / (f"test/{j['run']}.npz" if split == "test" else f"{j['run']}.npz")
        if not path.is_file():
            continue
        with np.load(path) as z:
            row = got.setdefault(j["name"], {"seeds": [], "curves": []})
            row["seeds"].append(j["seed"])
            for k, v in metrics(z[split], [float(s) for s in z["sigmas"]]).items():
                row.setdefault(k, []).append(v)
        curve = results / f"{j['run']}.curve.json"
        row["curves"].append(json.loads(curve.read_text()) if curve.is_file() else None)
    return {n: {k: (np.stack(v) if k not in ("seeds", "curves") else v) for k, v in row.items()}
            for n, row in got.items()}


def paired(values, base, seeds, base_seeds):
    """(S, n) of a row and of the base → (per-seed Δ of the seeds both have (k,), their (k, n) arrays)."""
    common = [s for s in seeds if s in base_seeds]
    a = values[[seeds.index(s) for s in common]]
    b = base[[base_seeds.index(s) for s in common]]
    return (a - b).mean(1), a, b


def image_bootstrap(a, b, seed=0, n_boot=N_BOOT):
    """(k, n) arrays of a row and the base on the same seeds and images → [low, high] of the mean Δ when only
    the images are resampled."""
    d = (a - b).mean(0)  # (n,) per-image Δ, averaged over seeds
    rng = np.random.default_rng(seed)
    reps = d[rng.integers(0, d.size, (n_boot, d.size))].mean(1)
    low, high = np.quantile(reps, [0.025, 0.975])
    return [float(low), float(high)]


def estimate(per_seed):
    """Per-seed figures → mean with a t-interval over seeds (with one seed: the mean alone)."""
    per_seed = np.asarray(per_seed, dtype=np.float64)
    if per_seed.size < 2:
        return {"mean": float(per_seed.mean()), "k": int(per_seed.size)}
    return t_interval(per_seed)


def _curve_values(curves, key):
    """Curves of one row → (passes (P,), values (seeds, P)) over the points every seed has."""
    curves = [c for c in curves if c]
    if not curves:
        return None, None
    passes = sorted(set.intersection(*({p["passes"] for p in c["points"]} for c in curves)))
    vals = []
    for c in curves:
        at = {p["passes"]: p for p in c["points"]}
        if key == "psnr@0":
            vals.append([at[x]["psnr"] for x in passes])
        else:
            vals.append([at[x]["psnr"] - at[x]["psnr_jitter"] if at[x]["psnr_jitter"] is not None else np.nan
                         for x in passes])
    return np.array(passes), np.array(vals, dtype=np.float64)


def curve_delta(row, base, key):
    """Δ (row − base) at each curve point both have, paired by seed → [{passes, intact, mean, low, high}]."""
    xr, vr = _curve_values(row["curves"], key)
    xb, vb = _curve_values(base["curves"], key)
    if xr is None or xb is None:
        return []
    seeds_r = [s for s, c in zip(row["seeds"], row["curves"]) if c]
    seeds_b = [s for s, c in zip(base["seeds"], base["curves"]) if c]
    common = [s for s in seeds_r if s in seeds_b]
    out = []
    for x in sorted(set(xr) & set(xb)):
        ir, ib = list(xr).index(x), list(xb).index(x)
        d = [vr[seeds_r.index(s), ir] - vb[seeds_b.index(s), ib] for s in common]
        if not common or np.isnan(d).any():
            continue
        out.append({"passes": int(x), "intact": float(np.mean([vb[seeds_b.index(s), ib] for s in common])),
                    **estimate(d)})
    return out


def trend(row, base, key):
    """Does the gap grow, shrink or hold between half the passes and the end? (see the module's docstring)"""
    xr, vr = _curve_values(row["curves"], key)
    xb, vb = _curve_values(base["curves"], key)
    if xr is None or xb is None:
        return {"trend": "not measured"}
    xs = sorted(set(xr) & set(xb))
    seeds_r = [s for s, c in zip(row["seeds"], row["curves"]) if c]
    seeds_b = [s for s, c in zip(base["seeds"], base["curves"]) if c]
    common = [s for s in seeds_r if s in seeds_b]
    if len(xs) < 2 or len(common) < 2:
        return {"trend": "not measured (fewer than 2 seeds or curve points)"}
    end, half = xs[-1], min(xs[:-1], key=lambda x: abs(np.log(x) - np.log(xs[-1] / 2)))

    def delta_at(x):
        return np.array([vr[seeds_r.index(s), list(xr).index(x)] - vb[seeds_b.index(s), list(xb).index(x)]
                         for s in common])
    d_end, d_half = delta_at(end), delta_at(half)
    sign = 1.0 if d_end.mean() >= 0 else -1.0
    change = t_interval(sign * (d_end - d_half))
    word = "grows" if change["low"] > 0 else "shrinks" if change["high"] < 0 else "holds"
    return {"trend": word, "from_passes": int(half), "to_passes": int(end), "delta_half": float(d_half.mean()),
            "delta_end": float(d_end.mean()), "gap_change": change}


def summarise(identity, jobs, got):
    rows, base = {}, got.get(BASE)
    for name in dict.fromkeys(j["name"] for j in jobs):
        runs = got.get(name)
        row = {"removed": ABLATIONS[name][0], "passes": next(j["passes"] for j in jobs if j["name"] == name),
               "seeds_done": runs["seeds"] if runs else []}
        if runs:
            row["per_seed_psnr"] = {str(s): float(v) for s, v in zip(runs["seeds"], runs["psnr@0"].mean(1))}
            row["metrics"] = {k: estimate(v.mean(1)) for k, v in runs.items() if k not in ("seeds", "curves")}
            if base is not None and name != BASE:
                row["delta"] = {}
                for k in METRICS:
                    per_seed, a, b = paired(runs[k], base[k], runs["seeds"], base["seeds"])
                    if len(per_seed):
                        row["delta"][k] = {**estimate(per_seed), "n": int(a.shape[1]),
                                           "image_bootstrap": image_bootstrap(a, b)}
                row["curve_delta"] = {k: curve_delta(runs, base, k) for k in METRICS}
                row["trend"] = {k: trend(runs, base, k) for k in METRICS}
            if name == BASE:
                row["curve"] = [{"passes": p["passes"], **estimate(v)} for p, v in _base_curve(runs)]
        rows[name] = row
    return {**identity, "base": BASE, "ablations": rows}


def _base_curve(runs):
    x, v = _curve_values(runs["curves"], "psnr@0")
    return [] if x is None else [({"passes": int(p)}, v[:, i]) for i, p in enumerate(x)]


def baseline_summary(path, intact_per_image=None):
    """results/baselines-*.npz → {name: {"psnr", "floats", "intact_minus": Δ of the intact model (seed-mean)}}."""
    if not path.is_file():
        return {}
    with np.load(path) as z:
        names, psnr = [str(n) for n in z["names"]], z["psnr"]
    out = {}
    for name, v in zip(names, psnr):
        out[name] = {"psnr": float(v.mean()), "floats": floats(name), "n": int(v.size)}
        if intact_per_image is not None and intact_per_image.shape[-1] == v.size:
            out[name]["intact_minus"] = float((intact_per_image - v).mean())
    return out


# ---- the table ------------------------------------------------------------------------------------
def _ci(e, sign=False):
    f = signed if sign else (lambda x: f"{x:.2f}")  # noqa: E731
    return f"{f(e['mean'])} [{f(e['low'])}, {f(e['high'])}]" if "low" in e else f"{f(e['mean'])} (1 seed)"


def regime_line(summary, split_name, n):
    cfg, b = summary["model_config"], summary.get("baselines", {})
    intact = summary["ablations"][BASE].get("metrics", {}).get("psnr@0")
    latent = cfg.get("num_lp", 256) * cfg.get("dim", 256)
    epochs = summary.get("epochs")
    text = (f"Scale '{summary['scale']}': the corrected model at {summary.get('params', 0):,} parameters "
            f"(latent {latent:,} floats per image), {summary['passes']:,} image passes per run"
            + (f" ({epochs:.2f} epochs)" if epochs else "") + f", {'bf16 autocast' if summary.get('bf16') else 'fp32'}; "
            f"scored on {n:,} {split_name} images.")
    if intact:
        text += f" Intact model: {_ci(intact)} dB."
    if b:
        text += " Baselines on the same images: " + ", ".join(
            f"{k} {v['psnr']:.2f} dB ({v['floats']:,} floats)" for k, v in b.items()) + "."
    return text


def table_md(summary, split_name):
    n = summary["eval_images"] if split_name == "validation" else summary["test_images"]
    lines = [regime_line(summary, split_name, n), "",
             "Mean over seeds of each seed's mean over the images [95 % Student-t interval over seeds]. Δ = ablation − "
             "intact, paired by seed (same initialisation and data order); beside it the interval from resampling "
             "the images alone. Trend: the gap between half the passes and the end (learning curves, "
             f"{summary['curve']['images']} validation images).", "",
             "| ablation | removed | seeds | PSNR (dB) per seed | PSNR mean | Δ vs intact (dB) [t, seeds] | "
             "Δ [images] | trend of Δ | off-grid loss σ 0.02 (dB) | Δ off-grid loss [t] | trend |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in summary["ablations"].items():
        m, d, t = r.get("metrics", {}), r.get("delta", {}), r.get("trend", {})

        def cell(dct, k, sign=False):
            return _ci(dct[k], sign) if k in dct else "–"

        def boot(k):
            return f"[{signed(d[k]['image_bootstrap'][0])}, {signed(d[k]['image_bootstrap'][1])}]" if k in d else "–"
        lines.append(f"| {name} | {r['removed']} | {len(r['seeds_done'])} | "
                     + (", ".join(f"{x:.2f}" for x in r.get("per_seed_psnr", {}).values()) or "not run") + " | "
                     + f"{cell(m, 'psnr@0')} | {cell(d, 'psnr@0', True)} | {boot('psnr@0')} | "
                     + f"{t.get('psnr@0', {}).get('trend', '–')} | {cell(m, 'offgrid_loss@0.02')} | "
                     + f"{cell(d, 'offgrid_loss@0.02', True)} | {t.get('offgrid_loss@0.02', {}).get('trend', '–')} |")
    return "\n".join(lines) + "\n" + curve_table(summary)


def curve_table(summary):
    base = summary["ablations"][BASE].get("curve") or []
    names = [n for n, r in summary["ablations"].items() if r.get("curve_delta", {}).get("psnr@0")]
    if not base:
        return ""
    lines = ["", "Learning curves (validation): intact PSNR and Δ PSNR vs intact [t over seeds] at each point.", "",
             "| " + " | ".join(["image passes", "intact (dB)"] + [f"Δ {n}" for n in names]) + " |",
             "|---" * (2 + len(names)) + "|"]
    for p in base:
        cells = []
        for n in names:
            e = next((c for c in summary["ablations"][n]["curve_delta"]["psnr@0"] if c["passes"] == p["passes"]), None)
            cells.append(_ci(e, True) if e else "–")
        lines.append("| " + " | ".join([f"{p['passes']:,}", _ci(p)] + cells) + " |")
    return "\n".join(lines) + "\n"


def cost_line(out, jobs):
    runs = [json.loads((out / "results" / f"{j['run']}.json").read_text()) for j in jobs
            if (out / "results" / f"{j['run']}.json").is_file()]
    done = [r for r in runs if r.get("status") == "done" and "wall_s" in r]
    if not done:
        return None
    hw = sorted({r.get("hardware", "") for r in done})
    return {"runs": len(done), "core_hours": sum(r["wall_s"] * max(r.get("threads") or [1]) for r in done) / 3600,
            "img_s_median": float(np.median([r["img_s"] for r in done])), "launches": sum(r["launches"] for r in done),
            "hardware": hw}


# ---- the figure ----------------------------------------------------------------------------------
def plot(path, summary):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    base = summary["ablations"][BASE].get("curve") or []
    if base:
        x = [p["passes"] for p in base]
        axes[0].plot(x, [p["mean"] for p in base], "k-o", ms=3, label="intact")
        for name, b in summary.get("baselines", {}).items():
            axes[0].axhline(b["psnr"], ls=":", lw=1, color="gray")
            axes[0].text(x[0], b["psnr"] + 0.1, name, fontsize=7, color="gray")
    for ax, key, what in ((axes[1], "psnr@0", "Δ PSNR vs intact (dB)"),
                          (axes[2], "offgrid_loss@0.02", "Δ off-grid loss σ 0.02 (dB)")):
        for name, r in summary["ablations"].items():
            pts = r.get("curve_delta", {}).get(key) or []
            if not pts:
                continue
            x = [p["passes"] for p in pts]
            line, = ax.plot(x, [p["mean"] for p in pts], "-o", ms=3, label=name)
            if all("low" in p for p in pts):
                ax.fill_between(x, [p["low"] for p in pts], [p["high"] for p in pts], alpha=0.2, color=line.get_color())
        ax.axhline(0, color="k", lw=0.6)
        ax.set_ylabel(what)
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel("image passes")
    axes[0].set_ylabel("intact validation PSNR (dB)")
    if axes[1].get_legend_handles_labels()[0]:
        axes[1].legend(fontsize=7)
    fig.suptitle(f"Training ablations, scale '{summary['scale']}' (bands: 95 % t-interval over seeds)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_reports(out, identity, jobs):
    """ablations.json (validation; test once every run is scored), table.md, ablations.png → the summary."""
    results = out / "results"
    got = collect(results, jobs, "val")
    summary = summarise(identity, jobs, got)
    intact = got.get(BASE, {}).get("psnr@0")
    summary["baselines"] = baseline_summary(results / "baselines-val.npz",
                                            intact.mean(0) if intact is not None else None)
    summary["epochs"] = _epochs(out, jobs)
    summary["cost"] = cost_line(out, jobs)
    text = table_md(summary, "validation")
    if all((results / "test" / f"{j['run']}.npz").is_file() for j in jobs):
        got_t = collect(results, jobs, "test")
        intact_t = got_t[BASE]["psnr@0"].mean(0)
        test = {**summary, "ablations": summarise(identity, jobs, got_t)["ablations"],
                "baselines": baseline_summary(results / "test" / "baselines.npz", intact_t)}
        for name, row in test["ablations"].items():  # the curves are validation figures: one copy is enough
            for k in ("curve", "curve_delta", "trend"):
                row.pop(k, None)
        summary["test"] = {"ablations": test["ablations"], "baselines": test["baselines"]}
        text += "\n## Test split (the one final look, after every run was scored)\n\n" + table_md(
            {**test, "curve": summary["curve"]}, "test")
    if summary["cost"]:
        c = summary["cost"]
        text += (f"\nCost: {c['runs']} run(s), {c['core_hours']:.1f} core-hours of training over {c['launches']} "
                 f"launches, median {c['img_s_median']:.1f} img/s per run, on {'; '.join(c['hardware'])}.\n")
    atomic_write_json(out / "ablations.json", summary)
    atomic_write(out / "table.md", text)
    if any("metrics" in r for r in summary["ablations"].values()):
        plot(out / "ablations.png", summary)
    return summary


def _epochs(out, jobs):
    for j in jobs:
        path = out / "results" / f"{j['run']}.json"
        if path.is_file():
            r = json.loads(path.read_text())
            if "epochs" in r:
                return r["epochs"]
    return None
