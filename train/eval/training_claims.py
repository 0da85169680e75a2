"""The training-time claims (3, 4, 5, 8) read from a training-ablation study: the rule of each, fixed before its
numbers, and the sentence that states the verdict with its interval, trend and regime.

Each claim says that removing one correction costs something of a size: Δ = ablation − intact, paired by
seed, with its 95 % Student-t interval over seeds on the test split (train/study/ablate_report.py). Written
as g = direction × Δ, the claim is "g ≥ size". Verdicts:
- holds:          the interval lies above the claimed size (low > size)
- partly:         an effect in the claimed direction is shown (low > 0), its size not shown to reach the claim
- inconclusive:   the interval holds both no effect and the claimed size (low ≤ 0 and high ≥ size)
- does not hold:  the interval excludes the claimed size (high < size) and shows no effect in its direction
"""
from .stats import signed

RULES = {
    "spatial-bias": {"ablation": "alpha0", "metric": "psnr@0", "direction": -1, "size": 1.0,
                     "words": "\"critical\" = training without the spatial bias (α = 0) costs more than 1 dB of PSNR"},
    "full-image": {"ablation": "pixels512", "metric": "psnr@0", "direction": -1, "size": 1.0,
                   "words": "\"essential\" = training on 512 random pixels per image instead of all 1,024, at equal "
                            "image passes, costs more than 1 dB of PSNR"},
    "multi-scale": {"ablation": "one-band", "metric": "psnr@0", "direction": -1, "size": 1.0,
                    "words": "\"matters\" = training with one band (σ = 32) instead of two costs more than 1 dB of PSNR"},
    "jitter-training": {"ablation": "no-jitter", "metric": "offgrid_loss@0.02", "direction": 1, "size": 1.0,
                        "words": "\"overfits to the grid\" = training without jitter loses more than 1 dB more PSNR "
                                 "when the queries are jittered by σ = 0.02 (a pixel is 1/32 = 0.031)"},
}
MIN_SEEDS = 5


def verdict(delta, direction, size):
    """A Δ interval {low, high} → holds / partly / inconclusive / does not hold (the module's rule)."""
    lo, hi = sorted((direction * delta["low"], direction * delta["high"]))
    if lo > size:
        return "holds"
    if lo > 0:
        return "partly"
    if hi >= size:
        return "inconclusive"
    return "does not hold"


def _ci(e):
    return f"{signed(e['mean'])} dB [{signed(e['low'])}, {signed(e['high'])}]"


def regime(study, split="test"):
    """The setting a training-time verdict was measured in, in one sentence."""
    part = study.get("test", {}) if split == "test" else study
    intact = part["ablations"][study["base"]]["metrics"]["psnr@0"]
    cfg = study["model_config"]
    b = part.get("baselines", {})
    n = study["test_images"] if split == "test" else study["eval_images"]
    epochs = f" ({study['epochs']:.1f} epochs)" if study.get("epochs") else ""
    text = (f"Regime: the corrected model reduced to {study['params']:,} parameters (latent {cfg['num_lp']} × "
            f"{cfg['dim']} = {cfg['num_lp'] * cfg['dim']:,} floats), trained {study['passes']:,} image passes{epochs} "
            f"per run, {intact.get('k', 1)} seeds; intact model {intact['mean']:.2f} dB "
            f"[{intact.get('low', intact['mean']):.2f}, {intact.get('high', intact['mean']):.2f}] on {n:,} {split} "
            f"images")
    if b:
        text += ", against " + ", ".join(f"{k} {v['psnr']:.2f} dB ({v['floats']:,} floats)" for k, v in b.items())
    return text + "."


def trend_sentence(row, metric):
    t = (row.get("trend") or {}).get(metric) or {}
    if "gap_change" not in t:
        return "Trend with training: not measured."
    c = t["gap_change"]
    return (f"With training the gap {t['trend']} (validation curves: Δ {signed(t['delta_half'])} dB at "
            f"{t['from_passes']:,} passes → {signed(t['delta_end'])} dB at {t['to_passes']:,}; change of the gap "
            f"{signed(c['mean'])} [{signed(c['low'])}, {signed(c['high'])}] dB).")


def missing_runs(study, ablation):
    """Runs of the ablation and of the base that the study has not scored yet (of MIN_SEEDS seeds)."""
    rows = study.get("ablations", {})
    seeds = study.get("seeds") or list(range(MIN_SEEDS))
    return [f"{name}-s{s}" for name in (study.get("base", "corrected"), ablation)
            for s in seeds if s not in (rows.get(name) or {}).get("seeds_done", [])]


def provisional(study, rule):
    """What the runs in so far show on the validation split — figures without a verdict."""
    row = study.get("ablations", {}).get(rule["ablation"], {})
    d = (row.get("delta") or {}).get(rule["metric"])
    intact = (study.get("ablations", {}).get(study.get("base", "corrected"), {}).get("metrics") or {}).get("psnr@0")
    if not d or not intact:
        return ""
    what = "Δ PSNR" if rule["metric"] == "psnr@0" else "Δ off-grid loss (σ = 0.02)"
    interval = f" [{signed(d['low'])}, {signed(d['high'])}]" if "low" in d else ""
    return (f" So far, on the validation split, {d['k']} paired seed(s), no verdict: {what} {signed(d['mean'])} dB"
            f"{interval}; intact model {intact['mean']:.2f} dB.")


def training_claim(study, claim_id):
    """→ (verdict or None, measurement sentence). None: not measured (no study, runs missing, test not scored)."""
    rule = RULES[claim_id]
    if not study:
        return None, "Training ablation: no study given (--ablations)."
    missing = missing_runs(study, rule["ablation"])
    name = f"Training ablation ({study.get('ablations', {}).get(rule['ablation'], {}).get('removed', rule['ablation'])})"
    row_t = (study.get("test") or {}).get("ablations", {}).get(rule["ablation"], {})
    if missing:
        seeds = study.get("seeds") or list(range(MIN_SEEDS))
        have = {n: len((study.get("ablations", {}).get(n) or {}).get("seeds_done", []))
                for n in (study.get("base", "corrected"), rule["ablation"])}
        base_n, abl_n = have.values()
        return None, (f"{name}: not measured yet — the study (scale '{study.get('scale')}', "
                      f"{study.get('passes', 0):,} image passes per run) is running: {base_n} of {len(seeds)} seeds "
                      f"of the intact model and {abl_n} of {len(seeds)} of this ablation are in "
                      f"(train/results/ablations/table.md; python -m train.study.ablate resumes it)."
                      + provisional(study, rule))
    if "delta" not in row_t:
        return None, (f"{name}: every run is in, the test split is not scored yet "
                      f"(python -m train.study.ablate scores it once).")
    d = row_t["delta"][rule["metric"]]
    if d.get("k", 0) < 2:
        return None, f"{name}: one seed only, no interval."
    v = verdict(d, rule["direction"], rule["size"])
    what = "Δ PSNR" if rule["metric"] == "psnr@0" else "Δ off-grid loss (σ = 0.02)"
    val = study["ablations"][rule["ablation"]]["delta"][rule["metric"]]
    text = (f"{name} − intact, trained from the start: {what} {_ci(d)} on the test "
            f"split (95 % t-interval over {d['k']} paired seeds; validation {_ci(val)}). "
            f"{trend_sentence(study['ablations'][rule['ablation']], rule['metric'])} {regime(study)} "
            f"Rule: {rule['words']}; holds when the interval lies beyond that size, partly when it shows an effect in "
            f"that direction, inconclusive when it holds both 0 and the size, does not hold when it excludes the size "
            f"and shows no effect.")
    return v, text
