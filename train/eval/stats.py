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
