"""Reference (unoptimised) forward passes, for the bench's "before" figures and its model-FLOP count.

Decoders: their own readable forward with the attention weights formed explicitly (no copy). Encoder:
the Mamba mixer as first written (before the channels-first fast path, commit 5f88dc3). `python -m
bench` counts the *model* FLOPs (what the SPEC's architecture computes, layer by layer) on these, so
an algebraic shortcut (e.g. the folded inference decoder of `model.fuse()`) shows up as a higher
model-FLOP rate (MFU) rather than as less work — the executed FLOPs are reported beside them (HFU).
The tests' oracles are their own (tests/oracles.py), not these.
"""
import types
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from einops import rearrange



# ---- decoders ------------------------------------------------------------------------------------
def decoder_forward_reference(dec, latents, coords, mod_coords=None):
    """The decoder's own readable forward with the attention weights formed explicitly (softmax of the
    logits): the computation the SPEC writes, layer by layer → rgb, attention, bias."""
    return type(dec).forward(dec, latents, coords, mod_coords, need_weights=True)


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
    from lainr.mamba import BiMamba

    dec = model.decoder
    reference = types.MethodType(lambda self, lat, c, mc=None, **_: decoder_forward_reference(self, lat, c, mc), dec)
    patches = [(dec, reference)]
    patches += [(mod, types.MethodType(bimamba_forward_reference, mod))
                for mod in model.modules() if isinstance(mod, BiMamba)]
    saved = [(mod, mod.__dict__.get("forward")) for mod, _ in patches]
    for mod, forward in patches:
        mod.forward = forward
    saved_fuse = dec.__dict__.get("fuse")
    dec.fuse = lambda: (lambda lat, c, mc=None: reference(lat, c, mc)[0])  # render: no folded decoder either
    try:
        yield model
    finally:
        if saved_fuse is None:
            del dec.fuse
        else:
            dec.fuse = saved_fuse
        for mod, old in saved:
            if old is None:
                del mod.forward  # back to the class's method
            else:
                mod.forward = old


def rel_err(a, b):
    """max|a − b| / max|b|."""
    return ((a.double() - b.double()).abs().max() / b.double().abs().max().clamp_min(1e-30)).item()


__all__ = ["decoder_forward_reference", "mamba_forward_reference",
           "bimamba_forward_reference", "reference_model", "rel_err"]
