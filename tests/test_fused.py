"""One readable forward per decoder (what trains and what `decode` runs) against the tests' oracles
(tests/oracles.py), and the folded inference decoders of `model.fuse()` against the readable forward,
whole and split (coordinate part + latent part, what test-time refinement runs).

Outputs, attention and gradients agree to 1e-5 (relative); parameter names and shapes are unchanged
(state dicts stay loadable); a fused model is for inference (frozen decoder, gradients to the latents).
"""
import pytest
import torch

from lainr import CorrectedConfig, CorrectedGINR, SimplifiedConfig, SimplifiedGINR
from tests.oracles import decoder_oracle, lainr_oracle, mamba_oracle, rel_err

TOL = 1e-5
SMALL = {
    "simplified": lambda: SimplifiedGINR(SimplifiedConfig(dim=64, depth=2, ff_dim=128, hidden=48)),
    "corrected": lambda: CorrectedGINR(CorrectedConfig(dim=64, depth=2, ff_dim=128, num_lp=64, hidden=96,
                                                       pos_freqs=32)),
}


def _perturbed(make, seed=0):
    """A model with all parameters moved off their initial values (biases ≠ 0, larger weights)."""
    torch.manual_seed(seed)
    model = make()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model


def _inputs(model, batch=3, size=24, decoupled=False, seed=1):
    g = torch.Generator().manual_seed(seed)
    images = torch.rand(batch, 3, 32, 32, generator=g)
    coords = model.query_grid(batch, size, sigma=0.02, generator=g)
    mod = model.query_grid(batch, size, sigma=0.05, generator=g) if decoupled else None
    return images, coords, mod


@pytest.mark.parametrize("name", ["simplified", "corrected"])
@pytest.mark.parametrize("decoupled", [False, True])
def test_readable_and_fused_decoders_match_the_oracle(name, decoupled):
    model = _perturbed(SMALL[name]).eval()
    images, coords, mod = _inputs(model, decoupled=decoupled)
    with torch.no_grad():
        lat = model.encode(images)
        ref_rgb, ref_attn, ref_bias = decoder_oracle(model.decoder, lat, coords, mod)
        rgb = model.decode(lat, coords, mod)  # the readable forward, fused attention kernel
        rgb_w, attn, bias = model.decode_with_attention(lat, coords, mod)  # the same, weights formed
        fused = model.decoder.fuse()(lat, coords, mod)
    assert rel_err(rgb, ref_rgb) < TOL and rel_err(rgb_w, ref_rgb) < TOL and rel_err(attn, ref_attn) < TOL
    assert rel_err(fused, rgb) < TOL
    assert (bias is None) == (ref_bias is None)
    if bias is not None:
        assert torch.equal(bias, ref_bias)


def _tensors(part):
    """A coordinate part's tensors in order (band lists unrolled, None left out)."""
    out = []
    for value in part.values():
        out += value if isinstance(value, list) else [] if value is None else [value]
    return out


@pytest.mark.parametrize("name", ["simplified", "corrected"])
@pytest.mark.parametrize("decoupled", [False, True])
def test_fused_split_is_the_readable_forward(name, decoupled):
    """forward = latent_part(coordinate_part): what test-time refinement runs (lainr.refine) is the
    readable forward, values and latent gradients; one coordinate part serves many latent parts."""
    model = _perturbed(SMALL[name]).eval()
    images, coords, mod = _inputs(model, decoupled=decoupled)
    with torch.no_grad():
        lat0 = model.encode(images)
    fused = model.decoder.fuse()
    with torch.no_grad():
        part = fused.coordinate_part(coords, mod)
    before = [t.clone() for t in _tensors(part)]

    def latent_grad(decode):
        lat = lat0.clone().requires_grad_()
        out = decode(lat)
        out.square().sum().backward()
        return out.detach(), lat.grad

    ref_out, ref_grad = latent_grad(lambda lat: model.decode(lat, coords, mod))
    out, grad = latent_grad(lambda lat: fused.latent_part(lat, part))
    again, grad_again = latent_grad(lambda lat: fused.latent_part(lat, part))
    assert rel_err(out, ref_out) < TOL and rel_err(grad, ref_grad) < TOL
    assert torch.equal(again, out) and torch.equal(grad_again, grad)  # the part was not written
    assert all(torch.equal(a, b) for a, b in zip(_tensors(part), before))
    with torch.no_grad():
        assert torch.equal(fused(lat0, coords, mod), fused.latent_part(lat0, part))


@pytest.mark.parametrize("name", ["simplified", "corrected"])
def test_decoder_fuse_leaves_the_model_alone(name):
    """decoder.fuse() returns a new module of copies: no parameters, no storage shared with the
    decoder, the decoder's weights, flags and modules unchanged (fit_latents fuses once per call)."""
    model = _perturbed(SMALL[name]).train()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    flags = {n: p.requires_grad for n, p in model.named_parameters()}
    fused = model.decoder.fuse()
    assert fused is not model.decoder.fuse() and not list(fused.parameters())
    assert model.training and "fused_decoder" not in model._modules
    assert {n: p.requires_grad for n, p in model.named_parameters()} == flags
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())
    pointers = {p.data_ptr() for p in model.parameters()}
    assert not any(b.data_ptr() in pointers for b in fused.buffers())


def test_fused_bias_table_is_bit_identical():
    dec = SMALL["corrected"]().decoder
    coords = torch.rand(2, 500, 2)
    coords[0, :4] = torch.tensor([[0.0, 0.0], [1.0, 1.0], [0.5, 0.999999], [1 / 16, 15 / 16]])
    assert torch.equal(dec.fuse().bias(coords), dec.bias(coords))


def test_lainr_without_bias():
    model = _perturbed(lambda: CorrectedGINR(CorrectedConfig(dim=64, depth=1, ff_dim=64, num_lp=64, hidden=64,
                                                             pos_freqs=16, bias_alpha=0.0))).eval()
    lat, coords = torch.randn(2, 64, 64), torch.rand(2, 300, 2)
    with torch.no_grad():
        ref = lainr_oracle(model.decoder, lat, coords)[0]
        assert rel_err(model.decode(lat, coords), ref) < TOL
        assert rel_err(model.decoder.fuse()(lat, coords), ref) < TOL


@pytest.mark.parametrize("name", ["simplified", "corrected"])
def test_training_gradients_match_the_oracle(name):
    """What trains is the readable forward: its parameter gradients are the oracle's."""
    model = _perturbed(SMALL[name]).train()
    images, coords, _ = _inputs(model, batch=2, size=16, seed=2)
    target = torch.rand(2, 256, 3, generator=torch.Generator().manual_seed(3))

    def grads(decode):
        model.zero_grad(set_to_none=True)
        loss = ((decode(model.encode(images), coords) - target) ** 2).mean()
        loss.backward()
        return loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters()}

    loss_ref, ref = grads(lambda lat, c: decoder_oracle(model.decoder, lat, c)[0])
    loss, got = grads(model.decode)
    assert rel_err(loss, loss_ref) < TOL and ref.keys() == got.keys()
    for n in ref:
        if ref[n].abs().max() < 1e-9:  # mathematically zero (e.g. to_k.bias: softmax is shift-invariant)
            assert got[n].abs().max() < 1e-9, n
        else:
            assert rel_err(got[n], ref[n]) < TOL, (n, rel_err(got[n], ref[n]))


@pytest.mark.parametrize("name", ["simplified", "corrected"])
def test_fused_model_decodes_with_gradients_to_the_latents(name):
    """model.fuse(): eval mode, decoder frozen, decode = the folded decoder, the latents' gradient
    the readable forward's (test-time refinement); train() goes back to the readable forward."""
    model = _perturbed(SMALL[name])
    images, coords, _ = _inputs(model, batch=2, size=12)
    with torch.no_grad():
        lat0 = model.encode(images)

    def latent_grad():
        lat = lat0.clone().requires_grad_()
        out = model.decode(lat, coords)
        out.square().sum().backward()
        return out.detach(), lat.grad

    model.eval()
    ref_out, ref_grad = latent_grad()
    assert model.fuse() is model and not model.training and model.fused_decoder is not None
    assert not any(p.requires_grad for p in model.decoder.parameters())
    assert all(p.requires_grad for p in model.encoder.parameters())
    out, grad = latent_grad()
    assert rel_err(out, ref_out) < TOL and rel_err(grad, ref_grad) < TOL
    assert set(model.state_dict()) == set(SMALL[name]().state_dict())  # nothing fused is saved
    with torch.no_grad():  # render uses the folded decoder, fused or not
        fused_render = model.render(images, 8)
        model.unfuse()
        assert rel_err(model.render(images, 8), fused_render) < TOL
    model.fuse().train()
    assert "fused_decoder" not in model._modules and all(p.requires_grad for p in model.parameters())


def test_fused_model_follows_load_state_dict():
    model, other = _perturbed(SMALL["corrected"], 0).fuse(), _perturbed(SMALL["corrected"], 1).eval()
    images, coords, _ = _inputs(model)
    model.load_state_dict(other.state_dict())
    with torch.no_grad():
        assert rel_err(model.decode(model.encode(images), coords), other.decode(other.encode(images), coords)) < TOL


@pytest.mark.parametrize("cls", [SimplifiedGINR, CorrectedGINR])
def test_state_dict_names_and_shapes_unchanged(cls):
    """The published parameter layout (the counts of SPEC §5 and every name) is untouched."""
    sd = cls().state_dict()
    expected = {SimplifiedGINR: 5_991_811, CorrectedGINR: 8_927_494}[cls]
    params = dict(cls().named_parameters())
    assert sum(p.numel() for p in params.values()) == expected
    assert set(params) <= set(sd)
    assert not any("fused" in k or "folded" in k for k in sd)


@pytest.mark.parametrize("length", [1, 2, 3, 40])
@pytest.mark.parametrize("variant", ["reference", "chunked", None])
def test_mamba_mixer_matches_the_oracle_in_float64(length, variant):
    """The channels-first mixer (bmm projections, shifted-multiply-add conv, fast softplus, the scan
    variants) vs the SPEC's loop, in float64 so that any difference is a bug, not rounding."""
    from lainr.mamba import Mamba

    torch.manual_seed(0)
    mixer = Mamba(32, scan_variant=variant).double()
    with torch.no_grad():
        for p in mixer.parameters():
            p.add_(0.05 * torch.randn_like(p))
    h = torch.randn(2, length, 32, dtype=torch.float64, requires_grad=True)
    out, ref = mixer(h), mamba_oracle(mixer, h)
    assert rel_err(out, ref) < 1e-12
    names, params = ["input"] + [n for n, _ in mixer.named_parameters()], [h] + list(mixer.parameters())
    for n, a, b in zip(names, torch.autograd.grad(out.square().sum(), params),
                       torch.autograd.grad(ref.square().sum(), params)):
        # A = −exp(A_log) is formed in float32 (as mamba-ssm does): its gradient carries float32 rounding
        assert rel_err(a, b) < (1e-6 if n == "A_log" else 1e-12), n


def test_fast_softplus_matches_torch():
    from lainr.mamba import softplus

    v = torch.cat([torch.linspace(-100, 100, 20001), torch.tensor([-1e-8, 0.0, 1e-8, 19.99, 20.0, 20.01, 88.0, 89.0])])
    ref = torch.nn.functional.softplus(v.double())
    out = softplus(v)
    assert torch.isfinite(out).all()
    assert ((out.double() - ref).abs() <= 3e-7 * ref.abs() + 1e-30).all()
    x = (torch.randn(200, dtype=torch.float64) * 10).requires_grad_()
    assert torch.autograd.gradcheck(softplus, (x,))
