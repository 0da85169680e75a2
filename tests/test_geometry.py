"""Coordinates, Fourier features, LP-token slots and the spatial bias against SPEC formulas."""
import math

import pytest
import torch

from lainr import jitter, pixel_centres, spatial_bias, window_grid
from lainr.fourier import band_features, gaussian_fourier_features, log_frequencies
from lainr.lp_tokens import LPTokens, lp_positions
from lainr.spatial_bias import lp_token_positions, query_raster_position


def test_pixel_centres():
    g = pixel_centres(2, 4)
    assert g.shape == (8, 2)
    torch.testing.assert_close(g[0], torch.tensor([0.25, 0.125]))
    torch.testing.assert_close(g[5], torch.tensor([0.75, 0.375]))  # row 1, col 1 in raster order


def test_window_grid():
    torch.testing.assert_close(window_grid(0, 0, 1, 5), pixel_centres(5))
    g = window_grid(0.25, 0.5, 0.5, 2)  # the window's 2×2 pixel centres
    torch.testing.assert_close(g, torch.tensor([[0.375, 0.625], [0.375, 0.875], [0.625, 0.625], [0.625, 0.875]]))
    # a window one input pixel of 32 wide: all queries stay inside that pixel
    g = window_grid(3 / 32, 7 / 32, 1 / 32, 64)
    assert g.shape == (4096, 2) and g[:, 0].min() > 3 / 32 and g[:, 0].max() < 4 / 32
    assert g[:, 1].min() > 7 / 32 and g[:, 1].max() < 8 / 32
    with pytest.raises(ValueError):
        window_grid(0, 0, 0, 4)


def test_jitter_clamps_and_is_reproducible():
    c = pixel_centres(8).expand(2, -1, -1)
    a = jitter(c, 0.5, torch.Generator().manual_seed(3))
    b = jitter(c, 0.5, torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and a.min() >= 0 and a.max() <= 1
    assert not torch.equal(a[0], a[1])  # every sample gets its own noise
    assert jitter(c, 0.0) is c
    with pytest.raises(ValueError):
        jitter(c, -0.1)


def test_gaussian_fourier_layout():
    M = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    c = torch.tensor([[0.1, 0.2]])
    f = gaussian_fourier_features(c, M)
    expected = [math.sin(2 * math.pi * 0.1), math.sin(2 * math.pi * 0.4),
                math.cos(2 * math.pi * 0.1), math.cos(2 * math.pi * 0.4)]
    torch.testing.assert_close(f[0], torch.tensor(expected))


def test_band_features_layout():
    om = log_frequencies(16, 16)
    torch.testing.assert_close(om[0], torch.tensor(10.0))
    torch.testing.assert_close(om[-1], torch.tensor(16.0))
    c = torch.tensor([[0.3, 0.7]])
    f = band_features(c, om)
    assert f.shape == (1, 64)
    torch.testing.assert_close(f[0, :16], torch.sin(math.pi * 0.3 * om))
    torch.testing.assert_close(f[0, 16:32], torch.cos(math.pi * 0.3 * om))
    torch.testing.assert_close(f[0, 32:48], torch.sin(math.pi * 0.7 * om))
    torch.testing.assert_close(f[0, 48:], torch.cos(math.pi * 0.7 * om))


def test_lp_positions():
    assert lp_positions(256, 256).tolist() == [int(i * 511 / 255) for i in range(256)]
    assert lp_positions(64, 32).tolist()[:4] == [0, 3, 6, 9]
    assert lp_positions(64, 32)[-1] == 95


def test_lp_interleave_and_extract():
    lp = LPTokens(num_data=6, num_lp=3, dim=2)
    data = torch.arange(12.0).reshape(1, 6, 2)
    seq = lp.interleave(data)
    assert seq.shape == (1, 9, 2)
    assert lp.lp_index.tolist() == [0, 4, 8]
    torch.testing.assert_close(seq[0, [1, 2, 3, 5, 6, 7]], data[0])  # data keep their order
    torch.testing.assert_close(lp.extract(seq)[0], lp.tokens.detach())


def _bias_by_hand(y, x, P=16, m=256, alpha=10.0):
    row = min(max(math.floor(y * P), 0), P - 1)
    col = min(max(math.floor(x * P), 0), P - 1)
    t = (row * P + col) / P ** 2
    return [-alpha * (t - (i + 0.5) / m) ** 2 for i in range(m)]


@pytest.mark.parametrize("y,x", [(0.0, 0.0), (1.0, 1.0), (0.5, 0.25), (1.3, -0.2), (0.999, 0.0625)])
def test_spatial_bias_by_hand(y, x):
    got = spatial_bias(torch.tensor([[[y, x]]]), num_lp=256, grid=16, alpha=10.0)
    torch.testing.assert_close(got[0, 0], torch.tensor(_bias_by_hand(y, x)), rtol=1e-5, atol=1e-6)


def test_spatial_bias_corners_and_neighbours():
    t = query_raster_position(torch.tensor([[1.0, 1.0], [1.0 / 32, 1.0 / 32]]), 16)
    torch.testing.assert_close(t, torch.tensor([255 / 256, 0.0]))
    s = lp_token_positions(256)
    torch.testing.assert_close(s[[0, -1]], torch.tensor([0.5 / 256, 255.5 / 256]))
    b = spatial_bias(torch.tensor([[[0.0, 0.0], [0.0, 1 / 16], [1.0, 1.0]]]), 256, 16, 10.0)
    # raster neighbours differ by a few 1e-4 in the logit (SPEC §8): α·(1.5² − 0.5²)/256² at token 1 ...
    assert (b[0, 1, 1] - b[0, 0, 1]).item() == pytest.approx(10 * (1.5 ** 2 - 0.5 ** 2) / 256 ** 2, rel=1e-4)
    # ... and opposite corners by ≈ 10 at the end tokens
    assert (b[0, 2, -1] - b[0, 0, -1]).item() == pytest.approx(10 * ((255.5 / 256) ** 2 - (0.5 / 256) ** 2), rel=1e-4)


@pytest.mark.parametrize("size", [32, 64, 128])
def test_spatial_bias_per_sample_at_any_size(size):
    grid = pixel_centres(size)
    coords = torch.stack([grid, jitter(grid, 0.05, torch.Generator().manual_seed(0))])
    b = spatial_bias(coords, 256, 16, 10.0)
    assert b.shape == (2, size * size, 256)
    # each sample's bias comes from its own coordinates
    torch.testing.assert_close(b[1], spatial_bias(coords[1:], 256, 16, 10.0)[0])
    # every output pixel inside one encoder patch shares its bias row
    per_patch = size // 16
    torch.testing.assert_close(b[0, 0], b[0, per_patch - 1])
