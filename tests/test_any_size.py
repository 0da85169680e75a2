"""Both models at image sizes other than 32 (issue 37): every entry point at 32, 48, 64 and 96, the size saved
with the weights, and inputs of the wrong size refused with both sizes named."""
import pytest
import torch

from lainr import CorrectedGINR, SimplifiedGINR, pixel_centres, psnr
from train.tiny import TINY

SIZES = (32, 48, 64, 96)
CLASSES = {"simplified": SimplifiedGINR, "corrected": CorrectedGINR}


def tiny_model(name, size, **over):
    torch.manual_seed(0)
    return CLASSES[name](dict(TINY[name], image_size=size, **over)).eval()


def smooth_images(batch, size):
    """(B, 3, S, S) in [0, 1]: low-frequency colour fields, so that fitting them is quick."""
    grid = pixel_centres(size).reshape(size, size, 2)  # (S, S, 2)
    phase = torch.arange(batch * 3, dtype=torch.float32).reshape(batch, 3, 1, 1)
    return 0.5 + 0.4 * torch.sin(3 * grid[..., 0] + 2 * grid[..., 1] + phase)  # (B, 3, S, S)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("name", sorted(CLASSES))
def test_encode_decode_render_attention_at_size(name, size):
    model = tiny_model(name, size)
    c = model.config
    x = smooth_images(2, size)
    z = model.encode(x)
    assert z.shape == (2, c.num_lp, c.dim)
    rgb = model.decode(z, model.query_grid(2, size))
    assert rgb.shape == (2, size * size, 3)
    assert model.render(x, size).shape == (2, 3, size, size)
    assert model.render(x, 2 * size, sigma=0.01, generator=torch.Generator().manual_seed(0)).shape == \
        (2, 3, 2 * size, 2 * size)
    maps = model.attention_maps(x, model.query_grid(2, 5))
    heads = 1 if name == "simplified" else c.heads
    assert maps["weights"].shape == (2, heads, 25, c.num_lp)
    torch.testing.assert_close(maps["weights"].sum(-1), torch.ones(2, heads, 25))
    if name == "corrected":
        assert maps["bias"].shape == (2, 25, c.num_lp)
        assert model.decoder.bias_grid == size // c.patch_size
        assert torch.equal(model.encoder.patch_centres, pixel_centres(size // c.patch_size))


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("name", sorted(CLASSES))
def test_fused_decoder_matches_at_size(name, size):
    """fuse() reads the spatial bias from a table over the (S/p)² patches: the same function at every size."""
    model = tiny_model(name, size)
    x = smooth_images(2, size)
    coords = torch.rand(2, 300, 2)
    coords[:, :4] = torch.tensor([[0.0, 0.0], [1.0, 1.0], [0.999, 0.0], [0.5, 0.5]])  # corners, the last patch
    z = model.encode(x)
    plain = model.decode(z, coords)
    model.fuse()
    torch.testing.assert_close(model.decode(z, coords), plain, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("name", sorted(CLASSES))
def test_fit_latents_at_size_improves_the_fit(name, size):
    model = tiny_model(name, size)
    x = smooth_images(1, size)
    fit = model.fit_latents(x, steps=15, lr=5e-2)
    assert fit.psnr.shape == (16, 1)
    assert fit.psnr[-1, 0] > fit.psnr[0, 0]
    area = model.fit_latents(x, steps=2, area=2)
    assert area.latents.shape == fit.latents.shape and torch.isfinite(area.psnr).all()
    rendered = model.decode(fit.latents, model.query_grid(1, size)).clamp(0, 1)  # (1, S², 3)
    recon = rendered.transpose(1, 2).reshape(1, 3, size, size)
    torch.testing.assert_close(psnr(recon, x), fit.psnr[-1, 0], atol=1e-3, rtol=0)


@pytest.mark.parametrize("size", (48, 96))
@pytest.mark.parametrize("name", sorted(CLASSES))
def test_bf16_autocast_at_size(name, size):
    model = tiny_model(name, size)
    x = smooth_images(2, size)
    ref = model.render(x, size)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low = model.render(x, size)
    assert low.shape == ref.shape and torch.isfinite(low).all()
    assert psnr(low.float(), ref).min() > 30  # bf16 Linears, float32 coordinate maths


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_image_size_round_trips_through_the_hub_format(name, tmp_path):
    model = tiny_model(name, 64)
    model.save_pretrained(tmp_path / "w")
    loaded = CLASSES[name].from_pretrained(tmp_path / "w")
    assert loaded.config.image_size == 64 and loaded.config == model.config
    x = smooth_images(1, 64)
    assert torch.equal(loaded.render(x, 64), model.render(x, 64))
    with pytest.raises(ValueError, match="this model takes 64×64 images; got 32×32"):
        loaded.encode(torch.rand(1, 3, 32, 32))


@pytest.mark.parametrize("name", sorted(CLASSES))
@pytest.mark.parametrize("size,wrong", [(32, 64), (64, 32), (48, 96)])
def test_wrong_spatial_size_is_refused_by_every_entry_point(name, size, wrong):
    model = tiny_model(name, size)
    bad = torch.rand(1, 3, wrong, wrong)
    message = f"this model takes {size}×{size} images; got {wrong}×{wrong}"
    for call in (lambda: model.encode(bad), lambda: model.render(bad, 8), lambda: model(bad, torch.rand(1, 4, 2)),
                 lambda: model.fit_latents(bad, steps=1), lambda: model.attention_maps(bad, torch.rand(1, 4, 2))):
        with pytest.raises(ValueError, match=message):
            call()
    with pytest.raises(ValueError, match=f"this model takes {size}×{size} images; got {size}×{wrong}"):
        model.encode(torch.rand(1, 3, size, wrong))  # not square


@pytest.mark.parametrize("name,patch,size", [("simplified", 4, 50), ("corrected", 2, 33), ("corrected", 3, 32)])
def test_a_patch_that_does_not_divide_the_size_is_refused(name, patch, size):
    with pytest.raises(ValueError, match=f"patch_size {patch} does not divide image_size {size}"):
        CLASSES[name](dict(TINY[name], image_size=size, patch_size=patch))


@pytest.mark.parametrize("bad", [0, -32, 32.0, "64", True])
def test_a_bad_image_size_is_refused(bad):
    with pytest.raises(ValueError, match="image_size must be a positive int"):
        SimplifiedGINR(dict(TINY["simplified"], image_size=bad))
