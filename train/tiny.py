"""The tiny model configurations: same code paths as the published models, milliseconds per call. Used by the
test suite and by the GPU call's CPU dry run (`train.gpu.gpu_job --tiny`).

TINY[model]: the smallest, as a dict (what `--config-json` takes) — for training, CLI, demo, evaluation tests and
the dry run.
tiny_simplified() / tiny_corrected(): the same depth and width with a wider decoder (hidden 64; the corrected one
with 16-wide heads) — kept because the tests that fit images need that capacity: with TINY's decoder the
overfit-to-30-dB tests (test_models), the refinement test (test_refine) and the float64 cast test (test_bf16) fail.
"""
from lainr import CorrectedConfig, SimplifiedConfig

TINY = {
    "simplified": {"depth": 1, "dim": 32, "ff_dim": 64, "num_lp": 4, "hidden": 16},
    "corrected": {"depth": 1, "dim": 32, "ff_dim": 64, "num_lp": 16, "hidden": 32, "pos_freqs": 8},
}
FITTING = {  # TINY with the decoder capacity that fitting needs (see above)
    "simplified": dict(TINY["simplified"], num_lp=8, hidden=64),
    "corrected": dict(TINY["corrected"], hidden=64, head_dim=16),
}


def tiny_simplified():
    return SimplifiedConfig(**FITTING["simplified"])


def tiny_corrected():
    return CorrectedConfig(**FITTING["corrected"])
