"""Both models: SPEC sizes, the public API's shapes and errors, rendering, and that they learn."""
import pytest
import torch

from lainr import CorrectedConfig, CorrectedGINR, SimplifiedConfig, SimplifiedGINR, model_class, psnr
from train.tiny import tiny_corrected, tiny_simplified

MODELS = {"simplified": (SimplifiedGINR, tiny_simplified), "corrected": (CorrectedGINR, tiny_corrected)}


@pytest.fixture(params=["simplified", "corrected"])
def tiny(request):
    cls, cfg = MODELS[request.param]
    torch.manual_seed(0)
    return cls(cfg()).eval()


def test_parameter_counts_match_spec():
    assert CorrectedGINR().num_parameters() == 8_927_494
    assert SimplifiedGINR().num_parameters() == 5_991_811


def test_fourier_matrices_are_saved_buffers_not_parameters():
    c, s = CorrectedGINR(), SimplifiedGINR()
    assert {"encoder.pos_freq"} <= set(c.state_dict()) and "encoder.pos_freq" not in dict(c.named_parameters())
    assert {"decoder.B_mod", "decoder.B_hypo"} <= set(s.state_dict())
    assert s.decoder.B_mod.shape == (128, 2) and s.decoder.B_hypo.shape == (64, 2)
    assert c.encoder.pos_freq.shape == (128, 2)


def test_default_configs_are_the_spec():
    c, s = CorrectedConfig(), SimplifiedConfig()
    assert (c.patch_size, c.num_lp, c.depth, c.dim, c.ff_dim, c.hidden, c.feature_dim) == (2, 256, 6, 256, 1024, 256, 64)
    assert (c.heads, c.head_dim, c.sigma_q, c.sigma_bands, c.bias_alpha) == (2, 64, 16.0, [128.0, 32.0], 10.0)
    assert (s.patch_size, s.num_lp, s.depth, s.dim, s.ff_dim, s.hidden) == (4, 32, 4, 256, 1024, 128)


def test_model_class_lookup():
    assert model_class("corrected") is CorrectedGINR
    with pytest.raises(ValueError, match="unknown model"):
        model_class("nope")


def test_full_size_shapes():
    x = torch.rand(1, 3, 32, 32)
    for model, m, heads in ((SimplifiedGINR(), 32, 1), (CorrectedGINR(), 256, 2)):
        z = model.encode(x)
        assert z.shape == (1, m, 256)
        coords = model.query_grid(1, 5)
        assert model.decode(z, coords).shape == (1, 25, 3)
        maps = model.attention_maps(x, coords)
        assert maps["weights"].shape == (1, heads, 25, m)
        torch.testing.assert_close(maps["weights"].sum(-1), torch.ones(1, heads, 25))
        assert (maps["bias"] is None) == (heads == 1)


@pytest.mark.parametrize("size", [32, 64, 128, 256, 512])
def test_render_shapes(tiny, size):
    out = tiny.render(torch.rand(2, 3, 32, 32), size)
    assert out.shape == (2, 3, size, size)
    assert out.min() >= 0 and out.max() <= 1


def test_render_chunked_equals_unchunked(tiny):
    x = torch.rand(2, 3, 32, 32)
    torch.testing.assert_close(tiny.render(x, 64, chunk=333), tiny.render(x, 64, chunk=64 * 64), rtol=1e-5, atol=1e-6)


def test_render_jitter_reproducible_with_seed(tiny):
    x = torch.rand(1, 3, 32, 32)
    a = tiny.render(x, 32, sigma=0.02, generator=torch.Generator().manual_seed(7))
    b = tiny.render(x, 32, sigma=0.02, generator=torch.Generator().manual_seed(7))
    c = tiny.render(x, 32, sigma=0.02, generator=torch.Generator().manual_seed(8))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_render_matches_decode_on_grid(tiny):
    x = torch.rand(1, 3, 32, 32)
    rgb = tiny.decode(tiny.encode(x), tiny.query_grid(1, 32)).clamp(0, 1)
    torch.testing.assert_close(tiny.render(x, 32), rgb.transpose(1, 2).reshape(1, 3, 32, 32))


def test_corrected_bias_uses_each_samples_own_coords():
    model = CorrectedGINR(tiny_corrected())
    coords = torch.stack([model.query_grid(1, 8)[0], torch.zeros(64, 2)])
    bias = model.decoder.bias(coords)
    assert not torch.equal(bias[0], bias[1])
    assert torch.equal(bias[1], bias[1, :1].expand(64, -1))


def test_bias_alpha_zero_disables_bias():
    cfg = tiny_corrected()
    cfg.bias_alpha = 0.0
    assert CorrectedGINR(cfg).attention_maps(torch.rand(1, 3, 32, 32), torch.rand(1, 4, 2))["bias"] is None


@pytest.mark.parametrize("bad,match", [
    (torch.rand(3, 32, 32), r"\(B, 3, 32, 32\)"),
    (torch.rand(1, 1, 32, 32), r"\(B, 3, 32, 32\)"),
    (torch.rand(1, 3, 64, 64), r"\(B, 3, 32, 32\)"),
    (torch.randint(0, 255, (1, 3, 32, 32), dtype=torch.uint8), "floating point"),
    ([[0.0]], "torch.Tensor"),
])
def test_bad_images_raise_value_error(tiny, bad, match):
    with pytest.raises(ValueError, match=match):
        tiny.encode(bad)


def test_bad_coords_and_sizes_raise_value_error(tiny):
    z = tiny.encode(torch.rand(2, 3, 32, 32))
    for coords in (torch.rand(2, 10), torch.rand(2, 10, 3), torch.rand(1, 10, 2), torch.zeros(2, 10, 2, dtype=torch.long)):
        with pytest.raises(ValueError, match="coords"):
            tiny.decode(z, coords)
    with pytest.raises(ValueError, match="latents"):
        tiny.decode(torch.rand(2, 3, 4), torch.rand(2, 10, 2))
    for size in (0, 12.5, "64"):
        with pytest.raises(ValueError, match="size"):
            tiny.render(torch.rand(1, 3, 32, 32), size)
    with pytest.raises(ValueError, match="sigma"):
        tiny.render(torch.rand(1, 3, 32, 32), 32, sigma=-1.0)


def test_wrong_config_type_is_refused():
    with pytest.raises(ValueError, match="SimplifiedConfig"):
        SimplifiedGINR(CorrectedConfig())
    with pytest.raises(ValueError, match="'corrected' model"):
        SimplifiedGINR(SimplifiedConfig(architecture="corrected"))


def test_decoupled_queries_change_only_modulation():
    torch.manual_seed(0)
    model = SimplifiedGINR(tiny_simplified())
    z = model.encode(torch.rand(1, 3, 32, 32))
    c = model.query_grid(1, 8)
    torch.testing.assert_close(model.decode(z, c, mod_coords=c), model.decode(z, c))
    # the modulation (attention) follows mod_coords; the hyponet's own features follow coords
    _, attn_flipped, _ = model.decode_with_attention(z, c, mod_coords=c.flip(1))
    _, attn, _ = model.decode_with_attention(z, c)
    torch.testing.assert_close(attn_flipped, attn.flip(2))
    assert not torch.equal(model.decode(z, c, mod_coords=c.flip(1)), model.decode(z, c))


@pytest.mark.parametrize("name,lr,max_steps", [("simplified", 3e-3, 400), ("corrected", 3e-3, 300)])
def test_overfits_one_image_to_30db(name, lr, max_steps):
    """Each architecture (at a small width) can fit one image: proof that gradients flow end to end."""
    torch.manual_seed(0)
    cls, cfg = MODELS[name]
    model = cls(cfg())
    image = torch.nn.functional.interpolate(torch.rand(1, 3, 8, 8), size=32, mode="bicubic",
                                            align_corners=False).clamp(0, 1)
    coords = model.query_grid(1, 32)
    target = image.flatten(2).transpose(1, 2)  # (1, 1024, 3)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    best = 0.0
    for step in range(max_steps):
        loss = (model(image, coords) - target).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 25 == 24:
            best = max(best, psnr(model.render(image, 32), image).item())
            if best >= 30:
                break
    assert best >= 30, f"{name} reached only {best:.1f} dB in {max_steps} steps"
