"""The simplified decoder: a modulation network (cross-attention, no bias) + an MLP hyponet."""
import torch
import torch.nn as nn

from .attention import SingleHeadCrossAttention
from .fourier import Float32Buffers, gaussian_fourier_features


class SimplifiedDecoder(Float32Buffers):
    """(latents (B, m, d), coords (B, Q, 2)) → RGB (B, Q, 3) in (0, 1) (sigmoid head)."""

    float32_buffers = ("B_mod", "B_hypo")

    def __init__(self, *, dim, hidden, mod_freqs, hypo_freqs, fourier_std, hypo_layers):
        super().__init__()
        self.register_buffer("B_mod", torch.randn(mod_freqs, 2) * fourier_std)  # (128, 2), saved
        self.register_buffer("B_hypo", torch.randn(hypo_freqs, 2) * fourier_std)  # (64, 2), saved
        self.coord_mlp = nn.Sequential(nn.Linear(2 * mod_freqs, hidden), nn.ReLU(), nn.Linear(hidden, hidden))
        self.attention = SingleHeadCrossAttention(hidden, dim)
        self.mod_out = nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), nn.Linear(hidden, dim))
        layers = [nn.Linear(dim + 2 * hypo_freqs, hidden), nn.ReLU()]
        for _ in range(hypo_layers - 1):
            layers += [nn.Linear(hidden, hidden), nn.ReLU()]
        self.hyponet = nn.Sequential(*layers, nn.Linear(hidden, 3), nn.Sigmoid())

    def forward(self, latents, coords, mod_coords=None, *, need_weights=True):
        """Returns rgb (B, Q, 3), attention (B, 1, Q, m) or None, bias None.

        `mod_coords` (B, Q, 2) feeds the modulation network instead of `coords` (decoupled queries).
        What trains and what `decode` runs (need_weights=False: one fused attention kernel, the weights
        not formed). `fuse()` gives the same function folded for inference.
        """
        mod_coords = coords if mod_coords is None else mod_coords
        dtype = self.coord_mlp[0].weight.dtype  # the Fourier features (float32) meet the Linears in theirs
        queries = self.coord_mlp(gaussian_fourier_features(mod_coords, self.B_mod).to(dtype))  # (B, Q, hidden)
        attended, attn = self.attention(queries, latents, need_weights=need_weights)  # (B, Q, d)
        modulation = self.mod_out(attended)  # (B, Q, d)
        features = gaussian_fourier_features(coords, self.B_hypo).to(modulation.dtype)  # (B, Q, 2·hypo_freqs)
        rgb = self.hyponet(torch.cat([modulation, features], dim=-1))  # (B, Q, 3)
        return rgb, attn, None

    def fuse(self):
        """The same function folded for inference (weights copied and frozen): lainr.fused."""
        from .fused import FusedSimplifiedDecoder
        return FusedSimplifiedDecoder(self)
