"""The fast paths in lainr/ against the reference forward passes they replaced (bench/reference.py).

Outputs, attention and gradients must agree to 1e-5 relative; parameter names and shapes must not
change (state dicts stay loadable).
"""
import pytest
import torch

from bench.reference import lainr_forward_reference, reference_model, rel_err
from lainr import CorrectedConfig, CorrectedGINR, SimplifiedConfig, SimplifiedGINR

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


@pytest.mark.parametrize("name", ["simplified", "corrected"])
@pytest.mark.parametrize("decoupled", [False, True])
def test_decode_matches_reference(name, decoupled):
    model = _perturbed(SMALL[name]).eval()
    g = torch.Generator().manual_seed(1)
    images = torch.rand(3, 3, 32, 32, generator=g)
    coords = model.query_grid(3, 24, sigma=0.02, generator=g)
    mod = model.query_grid(3, 24, sigma=0.05, generator=g) if decoupled else None
    with torch.no_grad():
        lat = model.encode(images)
        fast = model.decode(lat, coords, mod)
        rgb, attn, bias = model.decode_with_attention(lat, coords, mod)
        with reference_model(model):
            lat_ref = model.encode(images)
            ref_rgb, ref_attn, ref_bias = model.decoder(lat, coords, mod)
    assert rel_err(lat, lat_ref) < TOL
    assert rel_err(fast, ref_rgb) < TOL
    assert rel_err(rgb, ref_rgb) < TOL and rel_err(attn, ref_attn) < TOL
    assert (bias is None) == (ref_bias is None)
    if bias is not None:
        assert torch.equal(bias, ref_bias)


def test_lainr_bias_table_is_bit_identical():
    dec = SMALL["corrected"]().decoder
    coords = torch.rand(2, 500, 2)
    coords[0, :4] = torch.tensor([[0.0, 0.0], [1.0, 1.0], [0.5, 0.999999], [1 / 16, 15 / 16]])
    assert torch.equal(dec._bias_by_table(coords), dec.bias(coords))


def test_lainr_fast_path_without_bias():
    torch.manual_seed(0)
    model = _perturbed(lambda: CorrectedGINR(CorrectedConfig(dim=64, depth=1, ff_dim=64, num_lp=64, hidden=64,
                                                             pos_freqs=16, bias_alpha=0.0))).eval()
    lat, coords = torch.randn(2, 64, 64), torch.rand(2, 300, 2)
    with torch.no_grad():
        assert rel_err(model.decode(lat, coords), lainr_forward_reference(model.decoder, lat, coords)[0]) < TOL


@pytest.mark.parametrize("name", ["simplified", "corrected"])
def test_gradients_match_reference(name):
    model = _perturbed(SMALL[name]).train()
    g = torch.Generator().manual_seed(2)
    images = torch.rand(2, 3, 32, 32, generator=g)
    coords = model.query_grid(2, 16, sigma=0.01, generator=g)
    target = torch.rand(2, 256, 3, generator=g)

    def grads(reference):
        model.zero_grad(set_to_none=True)
        if reference:
            with reference_model(model):
                loss = ((model(images, coords) - target) ** 2).mean()
        else:
            loss = ((model(images, coords) - target) ** 2).mean()
        loss.backward()
        return loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters()}

    loss_ref, ref = grads(True)
    loss, fast = grads(False)
    assert rel_err(loss, loss_ref) < TOL
    assert ref.keys() == fast.keys()
    for n in ref:
        if ref[n].abs().max() < 1e-9:  # mathematically zero (e.g. to_k.bias: softmax is shift-invariant)
            assert fast[n].abs().max() < 1e-9, n
        else:
            assert rel_err(fast[n], ref[n]) < TOL, (n, rel_err(fast[n], ref[n]))


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
def test_mamba_fast_path_matches_reference_in_float64(length, variant):
    """Channels-first mixer (bmm projections, shifted-multiply-add conv, fast softplus) vs the
    original mixer, in float64 so that any difference is a bug, not rounding; short sequences too."""
    from bench.reference import mamba_forward_reference
    from lainr.mamba import Mamba

    torch.manual_seed(0)
    mixer = Mamba(32, scan_variant=variant).double()
    with torch.no_grad():
        for p in mixer.parameters():
            p.add_(0.05 * torch.randn_like(p))
    h = torch.randn(2, length, 32, dtype=torch.float64, requires_grad=True)
    out, ref = mixer(h), mamba_forward_reference(mixer, h)
    assert rel_err(out, ref) < 1e-12
    params = [h] + list(mixer.parameters())
    for a, b in zip(torch.autograd.grad(out.square().sum(), params), torch.autograd.grad(ref.square().sum(), params)):
        assert rel_err(a, b) < 1e-12


def test_fast_softplus_matches_torch():
    from lainr.mamba import softplus

    v = torch.cat([torch.linspace(-100, 100, 20001), torch.tensor([-1e-8, 0.0, 1e-8, 19.99, 20.0, 20.01, 88.0, 89.0])])
    ref = torch.nn.functional.softplus(v.double())
    out = softplus(v)
    assert torch.isfinite(out).all()
    assert ((out.double() - ref).abs() <= 3e-7 * ref.abs() + 1e-30).all()
    x = (torch.randn(200, dtype=torch.float64) * 10).requires_grad_()
    assert torch.autograd.gradcheck(softplus, (x,))
