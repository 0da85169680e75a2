"""Each decoder split in two for test-time refinement (SPEC §9):

- `coordinate_part(coords)`: everything that depends on the query coordinates alone (Fourier
  features, query projections, band features, the spatial bias). No gradient; computed once when
  the queries do not change between steps (σ = 0).
- `__call__(latents, part)`: the rest, differentiable in the latents only → RGB (B, Q, 3).

Built from the decoders' parameters by their state-dict names and from the model's config (both
stable), never from the decoder classes' internals. The weights are detached copies' views: autograd
never reaches a parameter, so refinement needs no `requires_grad` switching (thread-safe) and cannot
change a weight. Linear pairs with no non-linearity between them are folded into one, once.
"""
import torch
import torch.nn.functional as F

from .fourier import band_features, gaussian_fourier_features, log_frequencies
from .spatial_bias import spatial_bias


def split_decoder(model):
    """model (SimplifiedGINR | CorrectedGINR) → its decoder split (SimplifiedSplit | CorrectedSplit)."""
    arch = model.config.architecture
    if arch == "corrected":
        return CorrectedSplit(model)
    if arch == "simplified":
        return SimplifiedSplit(model)
    raise ValueError(f"no decoder split for architecture {arch!r}")


def _weights(module):
    """{state-dict name: detached tensor} (shares storage with the parameters; never written)."""
    return {name: t.detach() for name, t in module.state_dict().items()}


class CorrectedSplit:
    """LAINR decoder (SPEC §4) = coordinate part (q, bias, band features) + latent part."""

    @torch.no_grad()
    def __init__(self, model):
        c, w = model.config, _weights(model.decoder)
        self.w = w
        self.heads, self.head_dim = c.heads, c.head_dim
        self.scale = c.head_dim ** -0.5
        self.num_lp, self.grid, self.alpha = c.num_lp, c.image_size // c.patch_size, c.bias_alpha
        n = c.feature_dim // 4
        device = w["query_lin.weight"].device
        self.omega_q = log_frequencies(c.sigma_q, n).to(device)  # (n,)
        self.omega_bands = [log_frequencies(s, n).to(device) for s in c.sigma_bands]  # K × (n,)
        self.bands = len(c.sigma_bands)
        # to_out then modulation_lin_k (no non-linearity between): one (K·hidden, h·e) Linear
        w_out, b_out = w["attention.to_out.weight"], w["attention.to_out.bias"]
        self.w_mod = torch.cat([w[f"modulation_lins.{k}.weight"] @ w_out for k in range(self.bands)])
        self.b_mod = torch.cat([w[f"modulation_lins.{k}.weight"] @ b_out + w[f"modulation_lins.{k}.bias"]
                                for k in range(self.bands)])

    @torch.no_grad()
    def coordinate_part(self, coords):
        """coords (B, Q, 2) → dict q (B, h, Q, e), bias (B, 1, Q, m) or None, h (K × (B, Q, hidden))."""
        w = self.w
        x_q = F.linear(band_features(coords, self.omega_q), w["query_lin.weight"], w["query_lin.bias"]).relu_()
        q = F.linear(x_q, w["attention.to_q.weight"])  # (B, Q, h·e)
        q = q.unflatten(-1, (self.heads, self.head_dim)).transpose(1, 2)  # (B, h, Q, e)
        bias = None if self.alpha == 0 else \
            spatial_bias(coords, self.num_lp, self.grid, self.alpha)[:, None].to(q.dtype)  # (B, 1, Q, m)
        h = [F.linear(band_features(coords, om), w[f"bandwidth_lins.{k}.weight"], w[f"bandwidth_lins.{k}.bias"]).relu_()
             for k, om in enumerate(self.omega_bands)]  # K × (B, Q, hidden)
        return {"q": q, "bias": bias, "h": h}

    def __call__(self, latents, part):
        """latents (B, m, d), part from `coordinate_part` → RGB (B, Q, 3), unbounded."""
        w = self.w
        kv = F.linear(latents, w["attention.to_kv.weight"])  # (B, m, 2·h·e)
        k, v = (t.unflatten(-1, (self.heads, self.head_dim)).transpose(1, 2) for t in kv.chunk(2, dim=-1))  # (B, h, m, e)
        att = F.scaled_dot_product_attention(part["q"], k, v, attn_mask=part["bias"], scale=self.scale)  # (B, h, Q, e)
        att = att.transpose(1, 2).flatten(2)  # (B, Q, h·e)
        mods = F.linear(att, self.w_mod, self.b_mod).chunk(self.bands, dim=-1)  # K × (B, Q, hidden)
        hv, rgb = None, 0
        for k in range(self.bands):
            m_k = F.relu(part["h"][k] + mods[k])  # (B, Q, hidden)
            hv = m_k if k == 0 else F.relu(F.linear(m_k + hv, w[f"hv_lins.{k - 1}.weight"], w[f"hv_lins.{k - 1}.bias"]))
            rgb = rgb + F.linear(hv, w[f"out_lins.{k}.weight"], w[f"out_lins.{k}.bias"])  # (B, Q, 3)
        return rgb


class SimplifiedSplit:
    """Simplified decoder (SPEC §3) = coordinate part (query features, hyponet Fourier term) + latent part."""

    @torch.no_grad()
    def __init__(self, model):
        c, w = model.config, _weights(model.decoder)
        self.w, self.dim = w, c.dim
        self.scale = c.dim ** -0.5
        self.hypo_linears = [f"hyponet.{2 * i}" for i in range(c.hypo_layers + 1)]  # Linear, ReLU, … , Linear
        # coord_mlp[2] then to_q: one (d, hidden) map on the query side (folded into the keys per image)
        self.w_q = w["attention.to_q.weight"] @ w["coord_mlp.2.weight"]  # (d, hidden)
        self.b_q = w["attention.to_q.weight"] @ w["coord_mlp.2.bias"] + w["attention.to_q.bias"]  # (d,)
        # mod_out[2] then the modulation half of hyponet[0]: one (hidden, hidden) map
        first_w = w["hyponet.0.weight"]  # (hidden, d + 2·hypo_freqs), input = [modulation, features]
        self.w_first_mod = first_w[:, :c.dim] @ w["mod_out.2.weight"]  # (hidden, hidden)
        self.w_first_feat = first_w[:, c.dim:]  # (hidden, 2·hypo_freqs)
        self.b_first = first_w[:, :c.dim] @ w["mod_out.2.bias"] + w["hyponet.0.bias"]  # (hidden,)

    @torch.no_grad()
    def coordinate_part(self, coords):
        """coords (B, Q, 2) → dict x1 (B, Q, hidden) (query features), feat (B, Q, hidden) (hyponet's
        Fourier-feature term plus the folded biases)."""
        w = self.w
        x1 = F.linear(gaussian_fourier_features(coords, w["B_mod"]), w["coord_mlp.0.weight"],
                      w["coord_mlp.0.bias"]).relu_()
        feat = F.linear(gaussian_fourier_features(coords, w["B_hypo"]), self.w_first_feat, self.b_first)
        return {"x1": x1, "feat": feat}

    def __call__(self, latents, part):
        """latents (B, m, d), part from `coordinate_part` → RGB (B, Q, 3) in (0, 1)."""
        w = self.w
        k = F.linear(latents, w["attention.to_k.weight"], w["attention.to_k.bias"])  # (B, m, d)
        k_fold = (k @ self.w_q) * self.scale  # (B, m, hidden)
        k_bias = (k @ self.b_q) * self.scale  # (B, m)
        attn = torch.baddbmm(k_bias[:, None, :], part["x1"], k_fold.transpose(1, 2)).softmax(dim=-1)  # (B, Q, m)
        v = F.linear(latents, w["attention.to_v.weight"], w["attention.to_v.bias"])  # (B, m, d)
        v_fold = v @ w["mod_out.0.weight"].t()  # (B, m, hidden)
        r = F.relu(attn @ v_fold + w["mod_out.0.bias"])  # (B, Q, hidden)
        h = F.relu(F.linear(r, self.w_first_mod) + part["feat"])  # (B, Q, hidden)
        for name in self.hypo_linears[1:-1]:
            h = F.relu(F.linear(h, w[f"{name}.weight"], w[f"{name}.bias"]))
        last = self.hypo_linears[-1]
        return torch.sigmoid(F.linear(h, w[f"{last}.weight"], w[f"{last}.bias"]))  # (B, Q, 3)
