"""Inference-time decoders: the readable decoders' functions with Linear pairs folded (`decoder.fuse()`).

Every Linear pair with no non-linearity between them is multiplied out once, at fuse time, into one
(frozen) matrix; the forward then does fewer FLOPs per query. The weights are copies: a fused
decoder does not follow later changes to the decoder it came from (fuse again), and it has no
parameters (nothing to train). Outputs are differentiable w.r.t. the latents (test-time refinement).

Each forward is split in two, `forward(latents, coords, mod_coords) = latent_part(latents,
coordinate_part(coords, mod_coords))`:
- `coordinate_part`: everything that depends on the query coordinates alone (Fourier features, the
  query projections, the band features, the spatial bias) → a dict of tensors;
- `latent_part`: the rest, differentiable w.r.t. the latents; it never writes into the dict, so one
  coordinate part serves any number of calls (test-time refinement at fixed queries, lainr.refine).
`tests/test_fused.py` ties each to the readable forward to ~1e-5.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from .attention import attend_heads
from .coords import pixel_centres
from .fourier import Float32Buffers, band_features, gaussian_fourier_features
from .spatial_bias import spatial_bias


def _frozen(t):
    return t.detach().clone()


def _mm(a, b):
    """a @ b (matrix or matrix–vector) in float32 at least, returned in a's dtype: a fold of bf16 weights
    is rounded once, not at every partial sum."""
    dtype = torch.promote_types(a.dtype, torch.float32)
    return (a.to(dtype) @ b.to(dtype)).to(a.dtype)


class FusedLAINRDecoder(Float32Buffers):
    """LAINRDecoder's function, folded: (latents (B, m, d), coords (B, Q, 2)) → RGB (B, Q, 3).

    - the spatial bias read from a (P², m) table by patch index (bit-identical: the bias depends on
      a coordinate only through its patch);
    - `attention.to_out` folded into each `modulation_lins[k]`: W'_k = W_k·W_out, b'_k = W_k·b_out + b_k
      (per query 2·(h·e)·K·hidden FLOPs instead of 2·(h·e)·hidden + 2·hidden·K·hidden, −60%);
    - each modulation added by the GEMM itself (addmm onto h_k); ReLUs in place on fresh GEMM outputs
      (autograd-safe: addmm does not save its output).
    """

    float32_buffers = ("omega_q", "omega_bands", "bias_table")

    @torch.no_grad()
    def __init__(self, dec):
        super().__init__()
        att = dec.attention
        self.heads, self.scale, self.grid = att.heads, att.scale, dec.bias_grid
        self.hidden = dec.query_lin.out_features
        buffers = {
            "omega_q": dec.omega_q, "omega_bands": dec.omega_bands,  # (n,), (K, n)
            "query_w": dec.query_lin.weight, "query_b": dec.query_lin.bias,
            "to_q_w": att.to_q.weight, "to_kv_w": att.to_kv.weight,
            "mod_w": torch.cat([_mm(lin.weight, att.to_out.weight) for lin in dec.modulation_lins]),  # (K·hidden, h·e)
            "mod_b": torch.cat([_mm(lin.weight, att.to_out.bias) + lin.bias for lin in dec.modulation_lins]),
            "band_w": torch.stack([lin.weight for lin in dec.bandwidth_lins]),  # (K, hidden, 4n)
            "band_b": torch.stack([lin.bias for lin in dec.bandwidth_lins]),
            "out_w": torch.stack([lin.weight for lin in dec.out_lins]),  # (K, 3, hidden)
            "out_b": torch.stack([lin.bias for lin in dec.out_lins]),
        }
        if len(dec.hv_lins):
            buffers["hv_w"] = torch.stack([lin.weight for lin in dec.hv_lins])  # (K−1, hidden, hidden)
            buffers["hv_b"] = torch.stack([lin.bias for lin in dec.hv_lins])
        for name, t in buffers.items():
            self.register_buffer(name, _frozen(t), persistent=False)
        table = None
        if dec.bias_alpha != 0:  # spatial_bias at the P² patch centres → (P², m)
            centres = pixel_centres(self.grid, device=dec.omega_q.device)[None]
            table = spatial_bias(centres, dec.num_lp, self.grid, dec.bias_alpha)[0]
        self.register_buffer("bias_table", table, persistent=False)

    def bias(self, coords):
        """The spatial bias (B, Q, m) by patch index, or None when α = 0."""
        if self.bias_table is None:
            return None
        rc = torch.floor(coords * self.grid).clamp_(0, self.grid - 1).long()  # (B, Q, 2) patch row, column
        return self.bias_table[rc[..., 0] * self.grid + rc[..., 1]]

    def forward(self, latents, coords, mod_coords=None):
        """latents (B, m, d), coords (B, Q, 2), mod_coords (B, Q, 2) or None (= coords) → RGB (B, Q, 3)."""
        return self.latent_part(latents, self.coordinate_part(coords, mod_coords))

    def coordinate_part(self, coords, mod_coords=None):
        """→ {"q": attention queries (B, Q, h·e), "bias": (B, Q, m) or None (both at mod_coords),
        "h": K × band features after bandwidth_lins (B, Q, hidden) (at coords)}."""
        mod_coords = coords if mod_coords is None else mod_coords
        dtype = self.query_w.dtype
        x_q = F.linear(band_features(mod_coords, self.omega_q).to(dtype), self.query_w, self.query_b).relu_()
        h = [F.linear(band_features(coords, omegas).to(dtype), self.band_w[k], self.band_b[k]).relu_()
             for k, omegas in enumerate(self.omega_bands)]  # K × (B, Q, hidden)
        return {"q": F.linear(x_q, self.to_q_w), "bias": self.bias(mod_coords), "h": h}

    def latent_part(self, latents, part):
        """latents (B, m, d), `part` from coordinate_part (not written) → RGB (B, Q, 3), unbounded."""
        hidden = self.hidden
        keys, values = F.linear(latents, self.to_kv_w).chunk(2, dim=-1)  # (B, m, h·e) each
        attended = attend_heads(part["q"], keys, values, self.heads, self.scale, part["bias"])  # (B, Q, h·e)
        lead = attended.shape[:-1]
        att2 = attended.reshape(-1, attended.shape[-1])  # (B·Q, h·e)
        hv, rgb = None, None
        for k, h_k in enumerate(part["h"]):  # band 0 (the finest) starts the chain
            w_k, b_k = self.mod_w[k * hidden:(k + 1) * hidden], self.mod_b[k * hidden:(k + 1) * hidden]
            # m_k = ReLU(h_k + W'_k·a + b'_k): the GEMM accumulates onto (a fresh copy of) h_k (beta = 1)
            m_k = torch.addmm(h_k.reshape(-1, hidden), att2, w_k.t()).add_(b_k).relu_()  # (B·Q, hidden)
            hv = m_k if k == 0 else F.linear(m_k + hv, self.hv_w[k - 1], self.hv_b[k - 1]).relu_()
            rgb = F.linear(hv, self.out_w[k], self.out_b[k]) if rgb is None else \
                torch.addmm(rgb, hv, self.out_w[k].t()).add_(self.out_b[k])  # (B·Q, 3)
        return rgb.view(*lead, 3)


class FusedSimplifiedDecoder(Float32Buffers):
    """SimplifiedDecoder's function, folded: (latents (B, m, d), coords (B, Q, 2)) → RGB (B, Q, 3).

    - coord_mlp[2] → to_q → q·kᵀ: the logits are x₁·(k·W_q·W_c2)ᵀ + k·(W_q·b_c2 + b_q), so the query
      side costs 2·hidden·m per query instead of 2·hidden² + 2·hidden·d + 2·d·m;
    - attn·v → mod_out[0]: attn·(v·W_m0ᵀ) + b_m0 (softmax rows sum to 1);
    - mod_out[2] → the modulation half of hyponet[0]: one (hidden × hidden) product.
    ~213 k FLOPs per query instead of ~491 k at the SPEC sizes; the per-image products are negligible.
    """

    float32_buffers = ("B_mod", "B_hypo")

    @torch.no_grad()
    def __init__(self, dec):
        super().__init__()
        att, (c1, _, c2), (m0, _, m1) = dec.attention, dec.coord_mlp, dec.mod_out
        first, d = dec.hyponet[0], m1.out_features
        self.scale = att.scale
        w_mod, w_feat = first.weight[:, :d], first.weight[:, d:]
        buffers = {
            "B_mod": dec.B_mod, "B_hypo": dec.B_hypo,
            "c1_w": c1.weight, "c1_b": c1.bias,
            "to_k_w": att.to_k.weight, "to_k_b": att.to_k.bias,
            "q_w": _mm(att.to_q.weight, c2.weight), "q_b": _mm(att.to_q.weight, c2.bias) + att.to_q.bias,  # (d, hidden)
            "to_v_w": att.to_v.weight, "to_v_b": att.to_v.bias,
            "m0_w": m0.weight, "m0_b": m0.bias,
            "h_w": _mm(w_mod, m1.weight), "h_b": _mm(w_mod, m1.bias) + first.bias,  # (hidden, hidden), (hidden,)
            "feat_w": w_feat,  # (hidden, 2·hypo_freqs)
        }
        tail = [layer for layer in dec.hyponet[2:] if isinstance(layer, nn.Linear)]  # ReLU between, Sigmoid last
        for i, layer in enumerate(tail):
            buffers[f"tail{i}_w"], buffers[f"tail{i}_b"] = layer.weight, layer.bias
        self.tail_layers = len(tail)
        for name, t in buffers.items():
            self.register_buffer(name, _frozen(t), persistent=False)

    def forward(self, latents, coords, mod_coords=None):
        """latents (B, m, d), coords (B, Q, 2), mod_coords (B, Q, 2) or None (= coords) → RGB (B, Q, 3)."""
        return self.latent_part(latents, self.coordinate_part(coords, mod_coords))

    def coordinate_part(self, coords, mod_coords=None):
        """→ {"x1": query features after coord_mlp[0] (B, Q, hidden) (at mod_coords), "feat": hyponet[0]'s
        Fourier-feature term plus the folded biases (B, Q, hidden) (at coords)}."""
        mod_coords = coords if mod_coords is None else mod_coords
        dtype = self.c1_w.dtype
        x1 = F.linear(gaussian_fourier_features(mod_coords, self.B_mod).to(dtype), self.c1_w, self.c1_b).relu_()
        feat = F.linear(gaussian_fourier_features(coords, self.B_hypo).to(dtype), self.feat_w, self.h_b)
        return {"x1": x1, "feat": feat}

    def latent_part(self, latents, part):
        """latents (B, m, d), `part` from coordinate_part (not written) → RGB (B, Q, 3) in (0, 1)."""
        x1, feat = part["x1"], part["feat"]  # (B, Q, hidden) each
        k = F.linear(latents, self.to_k_w, self.to_k_b)  # (B, m, d)
        k_fold = (k @ self.q_w) * self.scale  # (B, m, hidden)
        k_bias = (k @ self.q_b) * self.scale  # (B, m)
        attn = torch.baddbmm(k_bias[:, None, :], x1, k_fold.transpose(1, 2)).softmax(dim=-1)  # (B, Q, m)
        v_fold = F.linear(latents, self.to_v_w, self.to_v_b) @ self.m0_w.t()  # (B, m, hidden)
        r = torch.baddbmm(self.m0_b.expand(attn.shape[0], 1, -1), attn, v_fold).relu_()  # (B, Q, hidden)
        # hyponet[0] = ReLU(W_h·r + feat): the GEMM accumulates onto (a fresh copy of) feat (beta = 1)
        h = torch.addmm(feat.reshape(-1, feat.shape[-1]), r.reshape(-1, r.shape[-1]), self.h_w.t()).relu_()
        for i in range(self.tail_layers):  # activations in place (autograd-safe: sigmoid's backward uses its output)
            h = F.linear(h, getattr(self, f"tail{i}_w"), getattr(self, f"tail{i}_b"))
            h = h.relu_() if i < self.tail_layers - 1 else h.sigmoid_()
        return h.view(*feat.shape[:-1], 3)  # (B, Q, 3)
