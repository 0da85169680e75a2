"""The LAINR decoder (Lee et al., NeurIPS 2023) as used by the corrected model (SPEC §4)."""
import torch
import torch.nn as nn
import torch.nn.functional as F

from .attention import SharedTokenCrossAttention
from .fourier import Float32Buffers, band_features, log_frequencies
from .spatial_bias import spatial_bias


class LAINRDecoder(Float32Buffers):
    """(latents (B, m, d), coords (B, Q, 2)) → RGB (B, Q, 3), unbounded (no sigmoid)."""

    float32_buffers = ("omega_q", "omega_bands")

    def __init__(self, *, dim, hidden, feature_dim, heads, head_dim, sigma_q, sigma_bands,
                 num_lp, bias_grid, bias_alpha):
        super().__init__()
        if feature_dim % 4:
            raise ValueError(f"feature_dim must be a multiple of 4, got {feature_dim}")
        n = feature_dim // 4  # frequencies per axis
        self.num_lp, self.bias_grid, self.bias_alpha = num_lp, bias_grid, bias_alpha
        self.register_buffer("omega_q", log_frequencies(sigma_q, n), persistent=False)  # (n,)
        self.register_buffer("omega_bands", torch.stack([log_frequencies(s, n) for s in sigma_bands]),
                             persistent=False)  # (K, n), band 0 the finest
        self.query_lin = nn.Linear(feature_dim, hidden)
        self.attention = SharedTokenCrossAttention(hidden, heads, head_dim, latent_dim=dim)
        bands = len(sigma_bands)
        self.bandwidth_lins = nn.ModuleList(nn.Linear(feature_dim, hidden) for _ in range(bands))
        self.modulation_lins = nn.ModuleList(nn.Linear(hidden, hidden) for _ in range(bands))
        self.hv_lins = nn.ModuleList(nn.Linear(hidden, hidden) for _ in range(bands - 1))
        self.out_lins = nn.ModuleList(nn.Linear(hidden, 3) for _ in range(bands))

    def bias(self, coords):
        """Spatial bias (B, Q, m) for coords (B, Q, 2); None when α = 0."""
        if self.bias_alpha == 0:
            return None
        return spatial_bias(coords, self.num_lp, self.bias_grid, self.bias_alpha)

    def features(self, coords, omegas, linear):
        """γ(c; ω) (float32, autocast off) handed to `linear` in its own dtype → (B, Q, 4n)."""
        return band_features(coords, omegas).to(linear.weight.dtype)

    def forward(self, latents, coords, mod_coords=None, *, need_weights=True):
        """→ rgb (B, Q, 3), attention (B, h, Q, m) or None, bias (B, Q, m) or None.

        What trains and what `decode` runs (need_weights=False: one fused attention kernel, the
        weights not formed). `fuse()` gives the same function folded for inference.
        """
        mod_coords = coords if mod_coords is None else mod_coords
        bias = self.bias(mod_coords)  # (B, Q, m) or None
        x_q = F.relu(self.query_lin(self.features(mod_coords, self.omega_q, self.query_lin)))  # (B, Q, hidden)
        mod, attn = self.attention(x_q, latents, bias, need_weights=need_weights)  # (B, Q, hidden)
        hv, rgb = None, 0
        for k, omegas in enumerate(self.omega_bands):  # band 0 (the finest) starts the chain
            lin = self.bandwidth_lins[k]
            h_k = F.relu(lin(self.features(coords, omegas, lin)))  # (B, Q, hidden)
            m_k = F.relu(h_k + self.modulation_lins[k](mod))
            hv = m_k if k == 0 else F.relu(self.hv_lins[k - 1](m_k + hv))
            rgb = rgb + self.out_lins[k](hv)  # (B, Q, 3)
        return rgb, attn, bias

    def fuse(self):
        """The same function folded for inference (weights copied and frozen): lainr.fused."""
        from .fused import FusedLAINRDecoder
        return FusedLAINRDecoder(self)

