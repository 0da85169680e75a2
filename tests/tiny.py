"""Small configurations of both architectures, for fast tests."""
from lainr import CorrectedConfig, SimplifiedConfig


def tiny_simplified():
    return SimplifiedConfig(depth=1, dim=32, ff_dim=64, num_lp=8, hidden=64)


def tiny_corrected():
    return CorrectedConfig(depth=1, dim=32, ff_dim=64, num_lp=16, hidden=64, pos_freqs=8, head_dim=16)
