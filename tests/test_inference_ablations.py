"""train.study.inference_ablations: each test-time ablation changes what it says and nothing else."""
import copy
import json

import pytest
import torch

from lainr import CorrectedConfig, CorrectedGINR
from tests.test_train_helpers import TINY, make_image_folder


@pytest.fixture
def tiny():
    torch.manual_seed(0)
    model = CorrectedGINR(CorrectedConfig(**TINY["corrected"])).eval()
    for p in model.decoder.parameters():  # larger weights: every part visibly matters
        p.data.mul_(3)
    latents = torch.randn(2, model.config.num_lp, model.config.dim)
    return model, latents, model.query_grid(2, 8)


def test_the_intact_forward_is_the_models_decode(tiny):
    from train.study.inference_ablations import decoder_forward
    model, latents, grid = tiny
    with torch.no_grad():
        assert torch.allclose(decoder_forward(model, latents, grid), model.decode(latents, grid), atol=1e-5)
        mod = torch.rand_like(grid)
        assert torch.allclose(decoder_forward(model, latents, grid, mod), model.decode(latents, grid, mod), atol=1e-5)


@pytest.mark.parametrize("alpha", [0.0, 5.0, 100.0])
def test_alpha_is_the_model_trained_with_that_alpha(tiny, alpha):
    from train.study.inference_ablations import decoder_forward
    model, latents, grid = tiny
    other = CorrectedGINR(CorrectedConfig(**dict(TINY["corrected"], bias_alpha=alpha))).eval()
    other.load_state_dict(model.state_dict())
    with torch.no_grad():
        ablated = decoder_forward(model, latents, grid, alpha=alpha)
        assert torch.allclose(ablated, other.decode(latents, grid), atol=1e-5)
        assert not torch.allclose(ablated, model.decode(latents, grid), atol=1e-4)
    assert model.config.bias_alpha == 10.0 and model.decoder.bias_alpha == 10.0  # the model is untouched


@pytest.mark.parametrize("band", [0, 1])
def test_a_dropped_band_no_longer_matters_and_the_other_still_does(tiny, band):
    from train.study.inference_ablations import decoder_forward
    model, latents, grid = tiny
    with torch.no_grad():
        ablated = decoder_forward(model, latents, grid, drop_band=band)
        assert not torch.allclose(ablated, decoder_forward(model, latents, grid), atol=1e-4)
        changed = copy.deepcopy(model)  # perturb only the dropped band's own layers
        for lin in (changed.decoder.bandwidth_lins[band], changed.decoder.modulation_lins[band],
                    changed.decoder.out_lins[band]):
            lin.weight.add_(1.0)
        assert torch.allclose(decoder_forward(changed, latents, grid, drop_band=band), ablated, atol=1e-6)
        kept = 1 - band
        other = copy.deepcopy(model)
        other.decoder.out_lins[kept].bias.add_(1.0)
        assert not torch.allclose(decoder_forward(other, latents, grid, drop_band=band), ablated, atol=1e-4)


def test_decoupled_queries_move_only_the_named_queries(tiny):
    from train.study.inference_ablations import DECOUPLED_SIGMA, ablated_decode
    from lainr.coords import jitter
    model, latents, grid = tiny
    with torch.no_grad():
        moved = jitter(grid, DECOUPLED_SIGMA, torch.Generator().manual_seed(5))
        mod = ablated_decode(model, latents, grid, {"mod": "jitter"}, torch.Generator().manual_seed(5))
        assert torch.allclose(mod, model.decode(latents, grid, moved), atol=1e-5)
        band = ablated_decode(model, latents, grid, {"band": "jitter"}, torch.Generator().manual_seed(5))
        assert torch.allclose(band, model.decode(latents, moved, grid), atol=1e-5)
        centre = ablated_decode(model, latents, grid, {"mod": "centre"}, None)
        assert torch.allclose(centre, model.decode(latents, grid, torch.full_like(grid, 0.5)), atol=1e-5)


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
