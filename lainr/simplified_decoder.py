"""The simplified decoder: a modulation network (cross-attention, no bias) + an MLP hyponet."""
import torch
import torch.nn as nn
import torch.nn.functional as F

from .attention import SingleHeadCrossAttention
from .fourier import gaussian_fourier_features


class SimplifiedDecoder(nn.Module):
    """(latents (B, m, d), coords (B, Q, 2)) → RGB (B, Q, 3) in (0, 1) (sigmoid head)."""

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
        """Returns rgb (B, Q, 3), attention (B, 1, Q, m), bias None.

        `mod_coords` (B, Q, 2) feeds the modulation network instead of `coords` (decoupled queries).
        need_weights=False (what `decode` uses) takes `_forward_fast`; attention comes back None.
        """
        mod_coords = coords if mod_coords is None else mod_coords
        if not need_weights:
            return self._forward_fast(latents, coords, mod_coords), None, None
        queries = self.coord_mlp(gaussian_fourier_features(mod_coords, self.B_mod))  # (B, Q, hidden)
        attended, attn = self.attention(queries, latents)  # (B, Q, d)
        modulation = self.mod_out(attended)  # (B, Q, d)
        features = gaussian_fourier_features(coords, self.B_hypo)  # (B, Q, 2·hypo_freqs)
        rgb = self.hyponet(torch.cat([modulation, features], dim=-1))  # (B, Q, 3)
        return rgb, attn, None

    def _forward_fast(self, latents, coords, mod_coords):
        """The same function as `forward` (to ~1e-6 relative), with every Linear pair that has no
        non-linearity between them folded into one, on the side where it is cheapest:

        - coord_mlp[2] → to_q → q·kᵀ: the logits are x₁·(k·W_q·W_c2)ᵀ + k·(W_q·b_c2 + b_q), so the
          query side costs 2·hidden·m per query instead of 2·hidden² + 2·hidden·d + 2·d·m;
        - attn·v → mod_out[0]: attn·(v·W_m0ᵀ) + b_m0 (softmax rows sum to 1);
        - mod_out[2] → the modulation half of hyponet[0]: one (hidden × hidden) product.
        ~213 k FLOPs per query instead of ~491 k at the SPEC sizes. The per-image products
        (m × d × hidden) are negligible.
        """
        attn_mod, (c1, _, c2), (m0, _, m1) = self.attention, self.coord_mlp, self.mod_out
        first = self.hyponet[0]
        d = m1.out_features
        x1 = F.relu(c1(gaussian_fourier_features(mod_coords, self.B_mod)))  # (B, Q, hidden)
        k = attn_mod.to_k(latents)  # (B, m, d)
        w_q = attn_mod.to_q.weight @ c2.weight  # (d, hidden)
        b_q = attn_mod.to_q.weight @ c2.bias + attn_mod.to_q.bias  # (d,)
        k_fold = (k @ w_q) * attn_mod.scale  # (B, m, hidden)
        k_bias = (k @ b_q) * attn_mod.scale  # (B, m)
        attn = torch.baddbmm(k_bias[:, None, :], x1, k_fold.transpose(1, 2)).softmax(dim=-1)  # (B, Q, m)
        v_fold = attn_mod.to_v(latents) @ m0.weight.t()  # (B, m, hidden)
        r = torch.baddbmm(m0.bias.expand(attn.shape[0], 1, -1), attn, v_fold).relu_()  # (B, Q, hidden)
        w_mod, w_feat = first.weight[:, :d], first.weight[:, d:]
        h = F.linear(r, w_mod @ m1.weight, w_mod @ m1.bias + first.bias)  # (B, Q, hidden)
        features = gaussian_fourier_features(coords, self.B_hypo)  # (B, Q, 2·hypo_freqs)
        h = torch.baddbmm(h, features, w_feat.t().expand(h.shape[0], -1, -1)).relu_()
        for layer in self.hyponet[2:]:  # Linear, ReLU, …, Linear, Sigmoid; activations in place
            if isinstance(layer, nn.ReLU):
                h = h.relu_()
            elif isinstance(layer, nn.Sigmoid):
                h = h.sigmoid_()  # autograd-safe: sigmoid's backward uses its output
            else:
                h = layer(h)
        return h  # (B, Q, 3)
