"""Cross-attention from coordinate queries to the LP latents (both decoders).

Each module has one forward: with need_weights=True it forms the attention weights explicitly
(softmax of the logits, returned for inspection); with need_weights=False the same function runs as
one fused kernel (`F.scaled_dot_product_attention`), the logits never materialised.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from einops import rearrange

from .fourier import no_autocast


def attend_heads(q, k, v, heads, scale, bias=None):
    """softmax(q·kᵀ·scale + bias)·v per head, heads concatenated → (B, Q, h·e), one fused kernel.

    q (B, Q, h·e), k and v (B, m, h·e), bias (B, Q, m) or None. The (B, h, Q, m) logits are never
    materialised (at m = 256 ~3.5× faster than the explicit form on CPU at Q = 16384). The result has
    q's dtype, except that under autocast the biased kernel's float32 result is returned as it is.
    """
    q = rearrange(q, "b q (h e) -> b h q e", h=heads)  # (B, h, Q, e), a view
    k, v = (rearrange(t, "b m (h e) -> b h m e", h=heads) for t in (k, v))
    if bias is None:
        out = F.scaled_dot_product_attention(q, k, v, scale=scale)  # (B, h, Q, e)
        return rearrange(out, "b h q e -> b q (h e)")
    # Under bf16/fp16 (autocast, or a model cast with .to) the bias would lose its 1e-4 steps (and SDPA
    # itself is on autocast's low-precision list): attend in the bias's precision with autocast off.
    with no_autocast(q.device):
        dtype = torch.promote_types(q.dtype, bias.dtype)
        mask = bias[:, None].to(dtype)  # (B, 1, Q, m), broadcast over heads
        out = F.scaled_dot_product_attention(q.to(dtype), k.to(dtype), v.to(dtype), attn_mask=mask, scale=scale)
    if not torch.is_autocast_enabled(q.device.type):  # e.g. a bf16 model (.to(torch.bfloat16)): its own dtype
        out = out.to(q.dtype)
    return rearrange(out, "b h q e -> b q (h e)")


class SingleHeadCrossAttention(nn.Module):
    """The simplified decoder's attention: one head, Q/K/V with biases, no spatial bias."""

    def __init__(self, query_dim, latent_dim):
        super().__init__()
        self.to_q = nn.Linear(query_dim, latent_dim)
        self.to_k = nn.Linear(latent_dim, latent_dim)
        self.to_v = nn.Linear(latent_dim, latent_dim)
        self.scale = latent_dim ** -0.5

    def forward(self, queries, latents, *, need_weights=True):
        """queries (B, Q, q), latents (B, m, d) → out (B, Q, d), weights (B, 1, Q, m) or None."""
        q, k, v = self.to_q(queries), self.to_k(latents), self.to_v(latents)
        if not need_weights:
            return attend_heads(q, k, v, 1, self.scale), None
        attn = (torch.einsum("bqd,bmd->bqm", q, k) * self.scale).softmax(dim=-1)  # (B, Q, m)
        return attn @ v, attn[:, None]


class SharedTokenCrossAttention(nn.Module):
    """LAINR's multi-head cross-attention with an additive bias on the logits (before softmax)."""

    def __init__(self, dim, heads, head_dim, latent_dim=None):
        super().__init__()
        inner = heads * head_dim
        latent_dim = dim if latent_dim is None else latent_dim
        self.heads = heads
        self.scale = head_dim ** -0.5
        self.to_q = nn.Linear(dim, inner, bias=False)
        self.to_kv = nn.Linear(latent_dim, 2 * inner, bias=False)
        self.to_out = nn.Linear(inner, dim)

    def forward(self, queries, latents, bias=None, *, need_weights=True):
        """queries (B, Q, dim), latents (B, m, latent_dim), bias (B, Q, m) → out (B, Q, dim), weights (B, h, Q, m)
        or None (need_weights=False: the fused kernel of `attend`)."""
        if not need_weights:
            return self.to_out(self.attend(queries, latents, bias)), None
        q = rearrange(self.to_q(queries), "b q (h e) -> b h q e", h=self.heads)
        k, v = (rearrange(t, "b m (h e) -> b h m e", h=self.heads) for t in self.to_kv(latents).chunk(2, dim=-1))
        if bias is None:
            attn = ((q @ k.transpose(-1, -2)) * self.scale).softmax(dim=-1)  # (B, h, Q, m)
        else:  # as in `attend_heads`: the logits in the bias's precision (float32 under bf16), autocast off
            with no_autocast(q.device):
                dtype = torch.promote_types(q.dtype, bias.dtype)
                logits = (q.to(dtype) @ k.to(dtype).transpose(-1, -2)) * self.scale + bias[:, None].to(dtype)
                attn = logits.softmax(dim=-1)  # (B, h, Q, m)
        # the weights meet the values in the values' dtype (a bf16 model: bf16; the maps returned as computed)
        out = rearrange(attn.to(v.dtype) @ v, "b h q e -> b q (h e)")
        return self.to_out(out), attn

    def attend(self, queries, latents, bias=None):
        """softmax(q·kᵀ·scale + bias)·v with heads concatenated, before `to_out` → (B, Q, h·e)."""
        k, v = self.to_kv(latents).chunk(2, dim=-1)  # (B, m, h·e) each
        return attend_heads(self.to_q(queries), k, v, self.heads, self.scale, bias)
