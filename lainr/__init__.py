"""lainr: Mamba-GINR on CIFAR-10, the simplified and the corrected model, in pure PyTorch."""
from .config import CorrectedConfig, SimplifiedConfig
from .coords import jitter, pixel_centres, window_grid
from .hub import WeightsError
from .mamba import BiMamba, Mamba, mamba_ssm_available
from .metrics import psnr, psnr_per_image, ssim, ssim_per_image
from .models import MODELS, CorrectedGINR, SimplifiedGINR, model_class
from .refine import REFINE_DEFAULTS, RefineDiverged, RefineResult, fit_latents
from .spatial_bias import spatial_bias

__all__ = ["SimplifiedGINR", "CorrectedGINR", "SimplifiedConfig", "CorrectedConfig", "MODELS", "model_class",
           "Mamba", "BiMamba", "mamba_ssm_available", "pixel_centres", "window_grid", "jitter", "spatial_bias",
           "psnr", "psnr_per_image", "ssim", "ssim_per_image", "WeightsError",
           "fit_latents", "REFINE_DEFAULTS", "RefineDiverged", "RefineResult"]
