"""Uncertainty of per-image figures: a mean with its 95 % bootstrap interval, and paired differences.

Every headline PSNR/SSIM is a mean over images; its interval resamples the images (percentile
bootstrap, seeded). A comparison of two models or configurations on the *same* images is the mean
of the per-image differences, with the interval of that mean (paired), which is much tighter than
two separate intervals.
"""
from dataclasses import asdict, dataclass

import numpy as np

N_BOOT = 2000
LEVEL = 0.95


@dataclass
class Estimate:
    mean: float
    low: float  # lower end of the 95 % interval
    high: float
    n: int

    def as_dict(self):
        return asdict(self)

    def __str__(self):
        return f"{self.mean:.2f} [{self.low:.2f}, {self.high:.2f}] (n = {self.n:,})"


def bootstrap_mean(values, *, n_boot=N_BOOT, level=LEVEL, seed=0):
    """values (n,) → Estimate of their mean with a percentile-bootstrap interval over the n values."""
    v = np.asarray(values, dtype=np.float64).ravel()
    if v.size == 0:
        raise ValueError("no values to estimate a mean from")
    if not np.all(np.isfinite(v)):
        raise ValueError("values must be finite (a NaN or inf PSNR means a broken measurement)")
    rng = np.random.default_rng(seed)
    means = np.empty(n_boot)
    for start in range(0, n_boot, 256):  # resample in blocks: bounded memory for n = 10,000
        stop = min(start + 256, n_boot)
        means[start:stop] = v[rng.integers(0, v.size, size=(stop - start, v.size))].mean(axis=1)
    tail = (1 - level) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return Estimate(float(v.mean()), float(low), float(high), int(v.size))


def paired_difference(a, b, **kwargs):
    """Per-image values of two models on the same images → Estimate of mean(a − b)."""
    a, b = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(f"a paired difference needs the same images: {a.size} vs {b.size} values")
    return bootstrap_mean(a - b, **kwargs)


def signed(x, nd=2):
    """x with its sign ("+0.41", "-0.98"); a value that rounds to zero is "0.00", never "-0.00"."""
    text = f"{x:+.{nd}f}"
    return text[1:] if float(text) == 0 else text


# Student's t, two-sided 95 %: the 0.975 quantile for 1…30 degrees of freedom (beyond 30: 1.96 + 2.4 / df,
# within 0.003 of the exact value up to 120 and converging to the normal quantile)
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
         2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)


def t_quantile_975(df):
    if df < 1:
        raise ValueError(f"a t-interval needs at least 2 values (1 degree of freedom), got {df} degrees")
    return _T975[df - 1] if df <= len(_T975) else 1.96 + 2.4 / df


def t_interval(values):
    """values (k,) — e.g. one paired difference per seed → {"mean", "low", "high", "k", "sd"}: the mean with its
    95 % Student-t interval (k − 1 degrees of freedom). The interval of a mean over k seeds, each seed one draw."""
    v = np.asarray(values, dtype=np.float64).ravel()
    if v.size < 2:
        raise ValueError(f"a t-interval needs at least 2 values, got {v.size}")
    if not np.all(np.isfinite(v)):
        raise ValueError("values must be finite")
    sd = float(v.std(ddof=1))
    half = t_quantile_975(v.size - 1) * sd / np.sqrt(v.size)
    return {"mean": float(v.mean()), "low": float(v.mean() - half), "high": float(v.mean() + half), "k": int(v.size),
            "sd": sd}
