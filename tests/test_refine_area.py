"""fit_latents(area=K, smooth=λ): each pixel fitted as the mean of K×K sub-pixel samples, optionally smoothed."""
import pytest
import torch
from einops import rearrange

from lainr import CorrectedGINR, pixel_centres
from lainr.refine import area_smoothness, subpixel_coords
from train.tiny import tiny_corrected


def _model():
    torch.manual_seed(0)
    return CorrectedGINR(tiny_corrected()).eval()


def _images(n=2):
    g = torch.Generator().manual_seed(1)
    return torch.nn.functional.avg_pool2d(torch.rand(n, 3, 64, 64, generator=g), 2)


@pytest.mark.parametrize("k", [2, 3, 4])
def test_subpixel_samples_are_grouped_by_pixel_and_average_to_its_centre(k):
    sub = subpixel_coords(8, k)  # (64·k², 2)
    assert sub.shape == (64 * k * k, 2)
    groups = sub.view(64, k * k, 2)
    assert torch.allclose(groups.mean(1), pixel_centres(8), atol=1e-6)
    spread = groups.max(1).values - groups.min(1).values  # inside one pixel: < 1/8 apart
    assert (spread < 1 / 8).all() and torch.allclose(spread, torch.full_like(spread, (k - 1) / (8 * k)), atol=1e-6)


def test_area_fit_scores_the_area_mean_and_improves_it():
    model, images = _model(), _images()
    res = model.fit_latents(images, steps=30, area=2)
    with torch.no_grad():
        z0 = model.encode(images)
        q = subpixel_coords(32, 2).expand(2, -1, -1)
        mean0 = model.decode(z0, q).view(2, 1024, 4, 3).mean(2).clamp(0, 1)
    mse0 = (mean0 - rearrange(images, "b c h w -> b (h w) c")).pow(2).flatten(1).mean(1)
    assert torch.allclose(res.psnr[0], -10 * torch.log10(mse0), atol=1e-3)  # row 0: the one pass, area-scored
    assert (res.psnr[-1] > res.psnr[0] + 1).all()


def test_area_one_is_the_pixel_centre_fit():
    model, images = _model(), _images()
    a, b = model.fit_latents(images, steps=5), model.fit_latents(images, steps=5, area=1)
    assert torch.equal(a.latents, b.latents)


@pytest.mark.parametrize("kw", [{"area": 0}, {"area": 5}, {"area": 2.0}, {"area": True}, {"area": 2, "sigma": 0.01}])
def test_bad_area_is_refused(kw):
    with pytest.raises(ValueError, match="area"):
        _model().fit_latents(_images(1), steps=1, **kw)


def test_area_smoothness_is_the_neighbours_squared_differences_on_the_fine_grid():
    size, k = 4, 2
    fine_img = torch.rand(2, 3, size * k, size * k, generator=torch.Generator().manual_seed(3))
    fine = rearrange(fine_img, "b ch (h a) (w c) -> b (h w a c) ch", a=k, c=k)  # subpixel_coords' order
    dy = (fine_img[:, :, 1:] - fine_img[:, :, :-1]).pow(2).flatten(1).mean(1)
    dx = (fine_img[..., 1:] - fine_img[..., :-1]).pow(2).flatten(1).mean(1)
    assert torch.allclose(area_smoothness(fine, size, k), dx + dy)
    flat = torch.full_like(fine, 0.4)
    assert torch.equal(area_smoothness(flat, size, k), torch.zeros(2))


def test_smoothness_term_makes_the_fine_field_smoother():
    model, images = _model(), _images()
    q = subpixel_coords(32, 2).expand(2, -1, -1)
    rough = [area_smoothness(model.decode(r.latents, q).detach(), 32, 2)
             for r in (model.fit_latents(images, steps=20, area=2, smooth=s) for s in (0.0, 10.0))]
    assert (rough[1] < rough[0]).all()


@pytest.mark.parametrize("kw", [{"smooth": 0.1}, {"smooth": -1.0, "area": 2}, {"smooth": float("nan"), "area": 2}])
def test_bad_smooth_is_refused(kw):
    with pytest.raises(ValueError, match="smooth"):
        _model().fit_latents(_images(1), steps=1, **kw)
