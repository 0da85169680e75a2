"""Bootstrap intervals: cover the mean, shrink with n, paired differences need the same images."""
import numpy as np
import pytest

from train.eval.stats import bootstrap_mean, paired_difference


def test_interval_brackets_the_mean_and_shrinks_with_n():
    rng = np.random.default_rng(1)
    small, large = rng.normal(30, 3, 100), rng.normal(30, 3, 10_000)
    e_small, e_large = bootstrap_mean(small), bootstrap_mean(large)
    for e in (e_small, e_large):
        assert e.low < e.mean < e.high
    assert (e_large.high - e_large.low) < (e_small.high - e_small.low) / 5
    assert abs(e_large.mean - 30) < 0.2 and e_large.low < 30 < e_large.high  # 3σ/√n ≈ 0.03 → holds here
    assert bootstrap_mean(small) == e_small  # seeded


def test_paired_difference_is_tight_where_separate_intervals_overlap():
    rng = np.random.default_rng(2)
    base = rng.normal(25, 4, 500)
    a, b = base + 0.3 + rng.normal(0, 0.1, 500), base
    d = paired_difference(a, b)
    assert 0.28 < d.low < d.mean < d.high < 0.32
    ea, eb = bootstrap_mean(a), bootstrap_mean(b)
    assert ea.low < eb.high  # the separate intervals overlap; the paired one excludes 0
    with pytest.raises(ValueError, match="same images"):
        paired_difference(a, b[:10])
    with pytest.raises(ValueError, match="finite"):
        bootstrap_mean([1.0, float("nan")])


def test_signed_figures_never_print_minus_zero():
    from train.eval.stats import signed
    assert [signed(x) for x in (0.41, -0.98, -0.001, 0.004, 0.0)] == ["+0.41", "-0.98", "0.00", "0.00", "0.00"]
    assert signed(-0.04, 1) == "0.0" and signed(-0.06, 1) == "-0.1"
