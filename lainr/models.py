"""The two published models. Constructor argument = the config dataclass; defaults = SPEC."""
from .config import CorrectedConfig, SimplifiedConfig
from .encoder import MambaEncoder
from .ginr import GINR
from .hub import StrictHubMixin
from .lainr_decoder import LAINRDecoder
from .simplified_decoder import SimplifiedDecoder

_HUB = dict(library_name="lainr", license="mit", tags=["implicit-neural-representation", "mamba", "cifar10"])


def _config(config, cls):
    config = cls() if config is None else config
    if isinstance(config, dict):
        config = cls(**config)
    if not isinstance(config, cls):
        raise ValueError(f"config must be a {cls.__name__}, got {type(config).__name__}")
    if config.architecture != cls.architecture:
        raise ValueError(f"config is for the {config.architecture!r} model, not {cls.architecture!r}")
    size, patch = config.image_size, config.patch_size
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"image_size must be a positive int, got {size!r}")
    if isinstance(patch, bool) or not isinstance(patch, int) or patch < 1 or size % patch:
        raise ValueError(f"patch_size {patch!r} does not divide image_size {size}: the image is cut into whole "
                         f"patches, so image_size must be a multiple of the patch size")
    return config


class SimplifiedGINR(GINR, StrictHubMixin, **_HUB):
    """Mamba encoder (patch 4, 32 LP tokens, no PE) + modulation network + MLP hyponet."""

    def __init__(self, config: SimplifiedConfig = None):
        super().__init__()
        self.config = c = _config(config, SimplifiedConfig)
        self._hub_mixin_config = c  # config.json = the whole dataclass
        self.encoder = MambaEncoder(image_size=c.image_size, patch_size=c.patch_size, dim=c.dim, depth=c.depth,
                                    ff_dim=c.ff_dim, num_lp=c.num_lp, d_state=c.d_state, d_conv=c.d_conv,
                                    expand=c.expand)
        self.decoder = SimplifiedDecoder(dim=c.dim, hidden=c.hidden, mod_freqs=c.mod_freqs,
                                         hypo_freqs=c.hypo_freqs, fourier_std=c.fourier_std,
                                         hypo_layers=c.hypo_layers)


class CorrectedGINR(GINR, StrictHubMixin, **_HUB):
    """BiMamba encoder (patch 2, Fourier PE, 256 LP tokens) + LAINR decoder with spatial bias."""

    def __init__(self, config: CorrectedConfig = None):
        super().__init__()
        self.config = c = _config(config, CorrectedConfig)
        self._hub_mixin_config = c  # config.json = the whole dataclass
        self.encoder = MambaEncoder(image_size=c.image_size, patch_size=c.patch_size, dim=c.dim, depth=c.depth,
                                    ff_dim=c.ff_dim, num_lp=c.num_lp, d_state=c.d_state, d_conv=c.d_conv,
                                    expand=c.expand, pos_freqs=c.pos_freqs, pos_std=c.pos_std)
        self.decoder = LAINRDecoder(dim=c.dim, hidden=c.hidden, feature_dim=c.feature_dim, heads=c.heads,
                                    head_dim=c.head_dim, sigma_q=c.sigma_q, sigma_bands=c.sigma_bands,
                                    num_lp=c.num_lp, bias_grid=c.image_size // c.patch_size,
                                    bias_alpha=c.bias_alpha)


MODELS = {"simplified": SimplifiedGINR, "corrected": CorrectedGINR}


def model_class(name):
    """'simplified' | 'corrected' → the model class."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose from {sorted(MODELS)}")
    return MODELS[name]
