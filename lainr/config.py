"""One configuration dataclass per model; saved as config.json beside the weights.

Defaults are each model's published configuration (README.md, "the two models").
"""
from dataclasses import dataclass, field


@dataclass
class SimplifiedConfig:
    """The simplified Mamba-GINR: no positional encoding, plain MLP hyponet, random-pixel training."""
    architecture: str = "simplified"
    image_size: int = 32
    patch_size: int = 4
    dim: int = 256  # encoder width d
    depth: int = 4
    ff_dim: int = 1024
    num_lp: int = 32  # learnable position tokens = latents
    d_state: int = 16
    d_conv: int = 4
    expand: int = 2
    hidden: int = 128  # decoder width
    fourier_std: float = 10.0  # std of the random Fourier matrices
    mod_freqs: int = 128  # rows of B_mod → 2·128 features
    hypo_freqs: int = 64  # rows of B_hypo → 2·64 features
    hypo_layers: int = 3  # hidden Linear layers in the hyponet before the RGB head


@dataclass
class CorrectedConfig:
    """The corrected Mamba-GINR: BiMamba + Fourier PE + LP tokens, LAINR decoder with spatial bias."""
    architecture: str = "corrected"
    image_size: int = 32
    patch_size: int = 2
    dim: int = 256
    depth: int = 6
    ff_dim: int = 1024
    num_lp: int = 256
    d_state: int = 16
    d_conv: int = 4
    expand: int = 2
    pos_freqs: int = 128  # rows of the patch-position Fourier matrix (std pos_std)
    pos_std: float = 10.0
    hidden: int = 256  # LAINR hidden width
    feature_dim: int = 64  # 4n: n = feature_dim / (2 · 2) frequencies per axis
    heads: int = 2
    head_dim: int = 64
    sigma_q: float = 16.0
    sigma_bands: list = field(default_factory=lambda: [128.0, 32.0])  # band 0 is the finest
    bias_alpha: float = 10.0  # strength of the spatial bias; 0 disables it
