"""The LAINR decoder (Lee et al., NeurIPS 2023) as used by the corrected model (SPEC §4)."""
import torch
import torch.nn as nn
import torch.nn.functional as F

from .attention import SharedTokenCrossAttention
from .fourier import band_features, log_frequencies
from .spatial_bias import spatial_bias


class LAINRDecoder(nn.Module):
    """(latents (B, m, d), coords (B, Q, 2)) → RGB (B, Q, 3), unbounded (no sigmoid)."""

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

    def _bias_by_table(self, coords):
        """The same values as `bias`, read from a (P², m) table by patch index: one pass, not three.

        The bias depends on a coordinate only through its patch index; the table is `spatial_bias`
        evaluated at the P² patch centres, so each entry is bit-identical to the direct formula.
        """
        if self.bias_alpha == 0:
            return None
        grid = self.bias_grid
        centres = (torch.arange(grid, device=coords.device, dtype=coords.dtype) + 0.5) / grid
        centres = torch.stack(torch.meshgrid(centres, centres, indexing="ij"), dim=-1).reshape(1, -1, 2)
        table = spatial_bias(centres, self.num_lp, grid, self.bias_alpha)[0]  # (P², m)
        rc = torch.floor(coords * grid).clamp_(0, grid - 1).long()  # (B, Q, 2) patch row, column
        return table[rc[..., 0] * grid + rc[..., 1]]  # (B, Q, m)

    def _folded_modulation(self):
        """to_out followed by each modulation_lin (no non-linearity between) as one Linear:
        W'_k = W_k·W_out, b'_k = W_k·b_out + b_k, stacked over bands → (K·hidden, h·e), (K·hidden,).
        Per query this is 2·(h·e)·K·hidden FLOPs instead of 2·(h·e)·hidden + 2·hidden·K·hidden (−60%).
        """
        out = self.attention.to_out
        weight = torch.cat([lin.weight @ out.weight for lin in self.modulation_lins])
        bias = torch.cat([lin.weight @ out.bias + lin.bias for lin in self.modulation_lins])
        return weight, bias

    def forward(self, latents, coords, mod_coords=None, *, need_weights=True):
        """Returns rgb (B, Q, 3), attention (B, h, Q, m), bias (B, Q, m) or None.

        need_weights=False (what `decode` uses) takes the fast path: fused attention kernel, bias
        from a table, to_out folded into the modulation Linears; attention and bias come back None.
        """
        mod_coords = coords if mod_coords is None else mod_coords
        if not need_weights:
            return self._forward_fast(latents, coords, mod_coords), None, None
        bias = self.bias(mod_coords)
        x_q = F.relu(self.query_lin(band_features(mod_coords, self.omega_q)))  # (B, Q, hidden)
        mod, attn = self.attention(x_q, latents, bias)  # (B, Q, hidden)
        hv, rgb = None, 0
        for k, omegas in enumerate(self.omega_bands):
            h_k = F.relu(self.bandwidth_lins[k](band_features(coords, omegas)))  # (B, Q, hidden)
            m_k = F.relu(h_k + self.modulation_lins[k](mod))
            hv = m_k if k == 0 else F.relu(self.hv_lins[k - 1](m_k + hv))
            rgb = rgb + self.out_lins[k](hv)  # (B, Q, 3)
        return rgb, attn, bias

    def _forward_fast(self, latents, coords, mod_coords):
        """The same function as `forward` (to ~1e-6 relative), without the attention weights.

        Differences, none of which changes the maths: the bias read from a table; one fused
        attention kernel; to_out folded into the modulation Linears; each modulation added by the
        GEMM itself (addmm into h_k); ReLUs in place on fresh GEMM outputs (autograd-safe: addmm
        does not save its output).
        """
        bands = len(self.bandwidth_lins)
        g_q = band_features(mod_coords, self.omega_q)  # (B, Q, 4n)
        x_q = self.query_lin(g_q).relu_()  # (B, Q, hidden)
        attended = self.attention.attend(x_q, latents, self._bias_by_table(mod_coords))  # (B, Q, h·e)
        weight, bias = self._folded_modulation()  # (K·hidden, h·e), (K·hidden,)
        lead = attended.shape[:-1]
        att2 = attended.reshape(-1, attended.shape[-1])  # (B·Q, h·e)
        hv, rgb = None, None
        for k in range(bands):
            lin = self.bandwidth_lins[k]
            h_k = F.linear(band_features(coords, self.omega_bands[k]), lin.weight, lin.bias).relu_()  # (B, Q, hidden)
            w_k = weight[k * lin.out_features:(k + 1) * lin.out_features]
            b_k = bias[k * lin.out_features:(k + 1) * lin.out_features]
            # m_k = ReLU(h_k + W'_k·a + b'_k): the GEMM accumulates onto h_k (beta = 1)
            m_k = torch.addmm(h_k.reshape(-1, h_k.shape[-1]), att2, w_k.t()).add_(b_k).relu_().view(h_k.shape)
            hv = m_k if k == 0 else self.hv_lins[k - 1](m_k + hv).relu_()
            out = self.out_lins[k]
            rgb = F.linear(hv, out.weight, out.bias) if rgb is None else \
                torch.addmm(rgb.reshape(-1, 3), hv.reshape(-1, hv.shape[-1]), out.weight.t()).add_(out.bias)
        return rgb.view(*lead, 3)
