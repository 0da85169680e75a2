"""The models and protocols the benchmarks run: full size, or tiny for `--quick` smoke tests."""
import torch

from lainr import CorrectedConfig, CorrectedGINR, SimplifiedConfig, SimplifiedGINR

# Training protocols (SPEC §5): batch, pixels per image (None = all 1024), jitter σ, lr.
PROTOCOLS = {
    "simplified": dict(batch=32, pixels=512, sigma=0.0, lr=1e-4, weight_decay=1e-5),
    "corrected": dict(batch=16, pixels=None, sigma=0.01, lr=5e-4, weight_decay=1e-5),
}
QUICK_PROTOCOLS = {
    "simplified": dict(batch=2, pixels=64, sigma=0.0, lr=1e-4, weight_decay=1e-5),
    "corrected": dict(batch=2, pixels=None, sigma=0.01, lr=5e-4, weight_decay=1e-5),
}

# Tiny versions of both models (same code paths, ~1% of the work) for the smoke test.
QUICK_CONFIGS = {
    "simplified": SimplifiedConfig(dim=32, depth=1, ff_dim=64, hidden=32, mod_freqs=16, hypo_freqs=8),
    "corrected": CorrectedConfig(dim=32, depth=1, ff_dim=64, num_lp=32, pos_freqs=16, hidden=32, heads=2,
                                 head_dim=16),
}


def build_model(name, quick=False, seed=0):
    """A randomly initialised model (seeded), full size or the tiny smoke-test version."""
    torch.manual_seed(seed)
    if name == "simplified":
        return SimplifiedGINR(QUICK_CONFIGS["simplified"] if quick else None)
    if name == "corrected":
        return CorrectedGINR(QUICK_CONFIGS["corrected"] if quick else None)
    raise ValueError(f"unknown model {name!r}")


def protocol(name, quick=False):
    return dict((QUICK_PROTOCOLS if quick else PROTOCOLS)[name])
