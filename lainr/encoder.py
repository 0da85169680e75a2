"""The Mamba-GINR encoder: patchify → embed (+ Fourier PE) → interleave LP tokens → BiMamba blocks."""
import torch
import torch.nn as nn
from einops import rearrange

from .coords import pixel_centres
from .fourier import Float32Buffers, gaussian_fourier_features
from .lp_tokens import LPTokens
from .mamba import BiMamba


class Block(nn.Module):
    """mamba-ssm's `Block` (pre-norm, fused_add_norm=False) with a BiMamba mixer and a GELU MLP."""

    def __init__(self, dim, ff_dim, **mamba_kwargs):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.mixer = BiMamba(dim, **mamba_kwargs)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, ff_dim), nn.GELU(), nn.Linear(ff_dim, dim))

    def forward(self, hidden, residual=None):
        """hidden, residual (B, L, d) → (hidden, residual)."""
        residual = hidden if residual is None else hidden + residual
        hidden = self.mixer(self.norm1(residual))
        residual = hidden + residual
        hidden = self.mlp(self.norm2(residual))
        return hidden, residual


def patchify(images, patch):
    """(B, C, H, W) → (B, (H/p)(W/p), C·p·p): raster order, each patch flattened as (C, p, p)."""
    return rearrange(images, "b c (h p1) (w p2) -> b (h w) (c p1 p2)", p1=patch, p2=patch)


class MambaEncoder(Float32Buffers):
    """(B, 3, S, S) images → (B, m, d) latents (the outputs at the LP-token slots)."""

    float32_buffers = ("pos_freq", "patch_centres")

    def __init__(self, *, image_size, patch_size, dim, depth, ff_dim, num_lp,
                 d_state=16, d_conv=4, expand=2, pos_freqs=0, pos_std=10.0):
        super().__init__()
        if image_size % patch_size:
            raise ValueError(f"image_size {image_size} is not a multiple of patch_size {patch_size}")
        self.patch_size = patch_size
        grid = image_size // patch_size
        num_patches = grid * grid
        self.patch_embed = nn.Linear(3 * patch_size * patch_size, dim)
        self.pos_proj = None
        if pos_freqs:  # Fourier positional encoding of the patch centres (corrected model only)
            self.register_buffer("pos_freq", torch.randn(pos_freqs, 2) * pos_std)  # (F, 2), saved
            self.register_buffer("patch_centres", pixel_centres(grid), persistent=False)  # (P², 2)
            self.pos_proj = nn.Linear(2 * pos_freqs, dim)
        self.lp = LPTokens(num_patches, num_lp, dim)
        self.blocks = nn.ModuleList(
            Block(dim, ff_dim, d_state=d_state, d_conv=d_conv, expand=expand) for _ in range(depth))

    def forward(self, images):
        tokens = self.patch_embed(patchify(images, self.patch_size))  # (B, L, d)
        if self.pos_proj is not None:
            features = gaussian_fourier_features(self.patch_centres, self.pos_freq)  # (L, 2F), float32
            pe = self.pos_proj(features.to(self.pos_proj.weight.dtype))  # (L, d)
            tokens = tokens + pe
        hidden, residual = self.lp.interleave(tokens), None  # (B, L+m, d)
        for block in self.blocks:
            hidden, residual = block(hidden, residual)
        # As in the origin: the last block's residual is not added back and there is no final norm.
        return self.lp.extract(hidden)  # (B, m, d)
