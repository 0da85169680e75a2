"""The pure-PyTorch Mamba mixer has mamba-ssm's exact parameter layout and initialisation."""
import math

import pytest
import torch

from lainr import BiMamba, Mamba

# mamba_ssm.Mamba(d_model=256) state dict, written out by hand from mamba_simple.py
# (d_inner = 512, d_state = 16, d_conv = 4, dt_rank = ceil(256/16) = 16).
EXPECTED_256 = {
    "A_log": (512, 16),
    "D": (512,),
    "in_proj.weight": (1024, 256),
    "conv1d.weight": (512, 1, 4),
    "conv1d.bias": (512,),
    "x_proj.weight": (48, 512),
    "dt_proj.weight": (512, 16),
    "dt_proj.bias": (512,),
    "out_proj.weight": (256, 512),
}


def test_state_dict_matches_mamba_ssm():
    got = {k: tuple(v.shape) for k, v in Mamba(256).state_dict().items()}
    assert got == EXPECTED_256


def test_dt_rank_and_sizes_follow_d_model():
    m = Mamba(40)
    assert m.dt_rank == math.ceil(40 / 16) == 3
    assert m.x_proj.weight.shape == (3 + 32, 80)


def test_initialisation_matches_mamba_ssm():
    torch.manual_seed(0)
    m = Mamba(256)
    assert torch.allclose(m.A_log, torch.log(torch.arange(1, 17.0)).repeat(512, 1))
    assert torch.equal(m.D, torch.ones(512))
    assert m.dt_proj.weight.abs().max() <= 16 ** -0.5
    dt = torch.nn.functional.softplus(m.dt_proj.bias)
    assert dt.min() >= 1e-3 * 0.999 and dt.max() <= 0.1 * 1.001


def test_bimamba_has_two_independent_mixers():
    keys = BiMamba(32).state_dict().keys()
    assert {k.split(".")[0] for k in keys} == {"forward_mixer", "backward_mixer"}


def _manual_mamba(m, x):
    """An independent, literal transcription of the SPEC's forward pass (sequential scan)."""
    B, L, _ = x.shape
    xz = m.in_proj(x)  # (B, L, 2E)
    u, z = xz[..., : m.d_inner], xz[..., m.d_inner:]
    conv = torch.nn.functional.conv1d(u.transpose(1, 2), m.conv1d.weight, m.conv1d.bias,
                                      padding=m.d_conv - 1, groups=m.d_inner)[..., :L]
    u = torch.nn.functional.silu(conv).transpose(1, 2)  # (B, L, E)
    dbc = m.x_proj(u)
    dt, Bm, Cm = dbc.split([m.dt_rank, m.d_state, m.d_state], dim=-1)
    delta = torch.nn.functional.softplus(dt @ m.dt_proj.weight.T + m.dt_proj.bias)  # (B, L, E)
    A = -torch.exp(m.A_log)
    h = torch.zeros(B, m.d_inner, m.d_state)
    ys = []
    for t in range(L):
        h = torch.exp(delta[:, t, :, None] * A) * h + delta[:, t, :, None] * Bm[:, t, None, :] * u[:, t, :, None]
        ys.append((h * Cm[:, t, None, :]).sum(-1) + m.D * u[:, t])
    y = torch.stack(ys, 1) * torch.nn.functional.silu(z)
    return m.out_proj(y)


@pytest.mark.parametrize("variant", [None, "reference"])
def test_forward_matches_literal_spec(variant):
    torch.manual_seed(1)
    m = Mamba(24, scan_variant=variant)
    x = torch.randn(2, 37, 24)
    torch.testing.assert_close(m(x), _manual_mamba(m, x), rtol=1e-4, atol=1e-5)


def test_causal_in_forward_direction():
    torch.manual_seed(2)
    m = Mamba(16)
    x = torch.randn(1, 20, 16)
    y = m(x)
    x2 = x.clone()
    x2[:, 10:] += 1.0  # changing the future must not change the past
    torch.testing.assert_close(m(x2)[:, :10], y[:, :10])
