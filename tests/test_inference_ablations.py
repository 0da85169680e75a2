"""train.study.inference_ablations: each test-time ablation changes what it says and nothing else."""
import json

import pytest
import torch

from lainr import CorrectedConfig, CorrectedGINR
from tests.oracles import lainr_oracle
from tests.test_train_helpers import TINY, make_image_folder


def _tiny(**changes):
    torch.manual_seed(0)
    model = CorrectedGINR(CorrectedConfig(**dict(TINY["corrected"], **changes))).eval()
    with torch.no_grad():
        for p in model.decoder.parameters():  # larger weights: every part visibly matters
            p.mul_(3)
    return model


@pytest.fixture
def tiny():
    model = _tiny()
    latents = torch.randn(2, model.config.num_lp, model.config.dim)
    return model, latents, model.query_grid(2, 8)


def _state(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def _changed(model, before):
    """The state-dict names whose values differ from `before`."""
    return {k for k, v in model.state_dict().items() if not torch.equal(v, before[k])}


def test_query_ablations_use_the_model_itself(tiny):
    from train.study.inference_ablations import ablated_model, ablations, query_coords
    model, _, grid = tiny
    for name, abl in ablations().items():
        if "mod" in abl or "band" in abl:
            assert ablated_model(model, abl) is model, name
    assert ablated_model(model, {}) is model
    assert query_coords(grid, {}, None) == (grid, grid)  # intact: both queries at the pixel centres


@pytest.mark.parametrize("alpha", [0.0, 5.0, 100.0])
def test_alpha_is_the_model_trained_with_that_alpha(tiny, alpha):
    from train.study.inference_ablations import ablated_model
    model, latents, grid = tiny
    before = _state(model)
    other = CorrectedGINR(CorrectedConfig(**dict(TINY["corrected"], bias_alpha=alpha))).eval()
    other.load_state_dict(model.state_dict())
    ablated = ablated_model(model, {"alpha": alpha})
    assert ablated.decoder.bias_alpha == ablated.config.bias_alpha == alpha and not _changed(ablated, before)
    with torch.no_grad():
        rgb = ablated.decode(latents, grid)
        assert torch.allclose(rgb, other.decode(latents, grid), atol=1e-5)
        assert not torch.allclose(rgb, model.decode(latents, grid), atol=1e-4)
    assert model.config.bias_alpha == 10.0 and model.decoder.bias_alpha == 10.0  # the model is untouched
    assert not _changed(model, before)


@pytest.mark.parametrize("bands, band", [(2, 0), (2, 1), (3, 0), (3, 1), (3, 2)])
def test_a_dropped_band_is_the_definition_and_only_its_layers_change(bands, band):
    from train.study.inference_ablations import ablated_model
    model = _tiny(sigma_bands=[128.0, 64.0, 32.0][-bands:])
    latents, grid = torch.randn(2, model.config.num_lp, model.config.dim), model.query_grid(2, 8)
    before = _state(model)
    ablated = ablated_model(model, {"drop_band": band})
    assert not _changed(model, before)
    assert _changed(ablated, before) == {f"decoder.{lins}.{band}.{p}" for lins in ("bandwidth_lins", "modulation_lins", "out_lins")
                                         for p in ("weight", "bias")} and set(ablated.state_dict()) == set(before)
    with torch.no_grad():
        rgb = ablated.decode(latents, grid)
        definition = lainr_oracle(model.decoder, latents, grid, drop_band=band)[0]
        assert torch.allclose(rgb, definition, atol=1e-5)
        assert not torch.allclose(rgb, model.decode(latents, grid), atol=1e-4)
        for kept in set(range(bands)) - {band}:  # every other band still matters
            other = ablated_model(model, {"drop_band": band})
            other.decoder.out_lins[kept].bias.add_(1.0)
            assert not torch.allclose(other.decode(latents, grid), rgb, atol=1e-4)


def test_decoupled_queries_move_only_the_named_queries(tiny):
    from train.study.inference_ablations import DECOUPLED_SIGMA, query_coords
    from lainr.coords import jitter
    _, _, grid = tiny
    moved = jitter(grid, DECOUPLED_SIGMA, torch.Generator().manual_seed(5))
    coords, mod = query_coords(grid, {"mod": "jitter"}, torch.Generator().manual_seed(5))
    assert coords is grid and torch.equal(mod, moved)
    coords, mod = query_coords(grid, {"band": "jitter"}, torch.Generator().manual_seed(5))
    assert torch.equal(coords, moved) and mod is grid
    coords, mod = query_coords(grid, {"mod": "centre"}, None)
    assert coords is grid and torch.equal(mod, torch.full_like(grid, 0.5))


def test_decoupled_queries_reach_only_their_part_of_the_decoder(tiny):
    """mod_coords feed only the attention (query features and bias), coords only the bands."""
    model, latents, grid = tiny
    moved = torch.rand_like(grid)
    with torch.no_grad():
        for coords, mod in ((grid, moved), (moved, grid)):
            ours = model.decode(latents, coords, mod)
            assert torch.allclose(ours, lainr_oracle(model.decoder, latents, coords, mod)[0], atol=1e-5)
            assert not torch.allclose(ours, model.decode(latents, grid), atol=1e-4)


def test_cli_writes_paired_differences(tmp_path):
    from train.study.inference_ablations import ablations, main
    data = make_image_folder(tmp_path / "data", n_train=1, n_test=3)
    torch.manual_seed(0)
    CorrectedGINR(CorrectedConfig(**TINY["corrected"])).save_pretrained(tmp_path / "w")
    out = tmp_path / "eval"
    assert main(["--weights", str(tmp_path / "w"), "--data", str(data), "--cache-dir", str(tmp_path / "c"),
                 "--n", "4", "--out", str(out)]) == 0
    res = json.loads((out / "inference_ablations.json").read_text())
    assert res["n"] == 4 and list(res["ablations"]) == list(ablations())
    for r in res["ablations"].values():
        d = r["delta"]
        assert d["low"] <= d["mean"] <= d["high"] and d["n"] == 4
        assert abs(r["psnr"]["mean"] - res["intact"]["mean"] - d["mean"]) < 1e-6
    assert "| drop-band-0 |" in (out / "inference_ablations.md").read_text()
