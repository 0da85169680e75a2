"""Reference (unoptimised) forward passes, kept to check the fast paths and to count model FLOPs.

These are the straightforward implementations the fast paths in `lainr/` replaced (as of commit
5f88dc3), written against the same modules and parameters. `tests/test_bench_fastpath.py` checks
that the fast paths agree with them to 1e-5 (relative); `python -m bench` counts the *model* FLOPs
(what the SPEC's architecture computes, layer by layer) on them, so an algebraic shortcut in the
fast path (e.g. two Linear layers folded into one) shows up as a higher model-FLOP rate (MFU)
rather than as less work — the executed FLOPs are reported beside them (HFU).
"""
import types
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from einops import rearrange

from lainr.fourier import band_features, gaussian_fourier_features
from lainr.spatial_bias import spatial_bias


# ---- decoders ------------------------------------------------------------------------------------
def _mha_reference(attn_mod, queries, latents, bias):
    q = rearrange(attn_mod.to_q(queries), "b q (h e) -> b h q e", h=attn_mod.heads)
    k, v = (rearrange(t, "b m (h e) -> b h m e", h=attn_mod.heads) for t in attn_mod.to_kv(latents).chunk(2, dim=-1))
    logits = (q @ k.transpose(-1, -2)) * attn_mod.scale  # (B, h, Q, m)
    if bias is not None:
        logits = logits + bias[:, None]
    attn = logits.softmax(dim=-1)
    out = rearrange(attn @ v, "b h q e -> b q (h e)")
    return attn_mod.to_out(out), attn


def lainr_forward_reference(dec, latents, coords, mod_coords=None):
    """LAINRDecoder.forward as first written: → rgb (B, Q, 3), attention (B, h, Q, m), bias."""
    mod_coords = coords if mod_coords is None else mod_coords
    bias = None if dec.bias_alpha == 0 else spatial_bias(mod_coords, dec.num_lp, dec.bias_grid, dec.bias_alpha)
    x_q = F.relu(dec.query_lin(band_features(mod_coords, dec.omega_q)))
    mod, attn = _mha_reference(dec.attention, x_q, latents, bias)
    hv, rgb = None, 0
    for k, omegas in enumerate(dec.omega_bands):
        h_k = F.relu(dec.bandwidth_lins[k](band_features(coords, omegas)))
        m_k = F.relu(h_k + dec.modulation_lins[k](mod))
        hv = m_k if k == 0 else F.relu(dec.hv_lins[k - 1](m_k + hv))
        rgb = rgb + dec.out_lins[k](hv)
    return rgb, attn, bias


def simplified_forward_reference(dec, latents, coords, mod_coords=None):
    """SimplifiedDecoder.forward as first written: → rgb (B, Q, 3), attention (B, 1, Q, m), None."""
    mod_coords = coords if mod_coords is None else mod_coords
    queries = dec.coord_mlp(gaussian_fourier_features(mod_coords, dec.B_mod))
    a = dec.attention
    q, k, v = a.to_q(queries), a.to_k(latents), a.to_v(latents)
    attn = (torch.einsum("bqd,bmd->bqm", q, k) * a.scale).softmax(dim=-1)
    modulation = dec.mod_out(attn @ v)
    features = gaussian_fourier_features(coords, dec.B_hypo)
    rgb = dec.hyponet(torch.cat([modulation, features], dim=-1))
    return rgb, attn[:, None], None


# ---- encoder -------------------------------------------------------------------------------------
def mamba_forward_reference(mixer, hidden):
    """Mamba.forward as first written (CPU path), using the same scan dispatch."""
    from lainr.scan import selective_scan

    length = hidden.shape[1]
    xz = rearrange(mixer.in_proj(hidden), "b l d -> b d l")
    x, z = xz.chunk(2, dim=1)
    x = F.silu(mixer.conv1d(x)[..., :length])
    x_dbl = mixer.x_proj(rearrange(x, "b d l -> b l d"))
    dt, B, C = torch.split(x_dbl, [mixer.dt_rank, mixer.d_state, mixer.d_state], dim=-1)
    B = rearrange(B, "b l n -> b n l").contiguous()
    C = rearrange(C, "b l n -> b n l").contiguous()
    A = -torch.exp(mixer.A_log.float())
    delta = rearrange(F.softplus(mixer.dt_proj(dt)), "b l d -> b d l")
    y = selective_scan(x, delta, A, B, C, mixer.D, variant=mixer.scan_variant)
    y = y * F.silu(z)
    return mixer.out_proj(rearrange(y, "b d l -> b l d"))


def bimamba_forward_reference(bi, hidden):
    fwd = mamba_forward_reference(bi.forward_mixer, hidden)
    bwd = mamba_forward_reference(bi.backward_mixer, hidden.flip(1)).flip(1)
    return (fwd + bwd) / 2


@contextmanager
def reference_model(model):
    """Temporarily run `model` (either GINR) through the reference forward passes (nestable)."""
    from lainr.lainr_decoder import LAINRDecoder
    from lainr.mamba import BiMamba

    dec = model.decoder
    fn = lainr_forward_reference if isinstance(dec, LAINRDecoder) else simplified_forward_reference
    patches = [(dec, types.MethodType(lambda self, lat, c, mc=None, **_: fn(self, lat, c, mc), dec))]
    patches += [(mod, types.MethodType(bimamba_forward_reference, mod))
                for mod in model.modules() if isinstance(mod, BiMamba)]
    saved = [(mod, mod.__dict__.get("forward")) for mod, _ in patches]
    for mod, forward in patches:
        mod.forward = forward
    try:
        yield model
    finally:
        for mod, old in saved:
            if old is None:
                del mod.forward  # back to the class's method
            else:
                mod.forward = old


def rel_err(a, b):
    """max|a − b| / max|b|."""
    return ((a.double() - b.double()).abs().max() / b.double().abs().max().clamp_min(1e-30)).item()


__all__ = ["lainr_forward_reference", "simplified_forward_reference", "mamba_forward_reference",
           "bimamba_forward_reference", "reference_model", "rel_err"]
