"""The pairs of models the page offers (demo.pairs), their measured figures (demo.pair_figures), and every size
following the chosen pair's models: tiny models, no server."""
import dataclasses
import json
import threading
from pathlib import Path

import numpy as np
import pytest

from demo import pair_figures
from demo.images import cifar_examples, photo_examples, prepare
from demo.pairs import PairUnavailable, Registry
from demo.service import UserError
from tests.conftest import DEMO_PHOTO_FIGURES, make_photo_pair

ROOT = Path(__file__).resolve().parent.parent


def _registry(cifar_dirs, photo_dirs=None, env=None):
    chosen = {"cifar10": {name: str(d) for name, d in cifar_dirs.items()}}
    if photo_dirs is not None:
        chosen["photos64"] = {name: str(d) for name, d in photo_dirs.items()}
    return Registry.from_sources(chosen, env={} if env is None else env)


@pytest.fixture()
def no_bundled_photos(tmp_path, monkeypatch):
    """The bundled photo pair's folder is an empty tmp folder (whatever the checkout holds)."""
    from demo import pairs

    monkeypatch.setattr(pairs, "SPECS", (pairs.CIFAR10, dataclasses.replace(pairs.PHOTOS64, folder=tmp_path / "photos64")))
    return tmp_path / "photos64"


# ---- the registry ------------------------------------------------------------------------------
def test_a_pair_without_its_weights_is_not_offered(demo_weight_dirs, no_bundled_photos):
    registry = _registry(demo_weight_dirs)
    assert registry.choices() == [("CIFAR-10 · 32×32", "cifar10")]
    (pair, why), = registry.not_offered()
    assert pair.key == "photos64" and why == "no weights at `simplified` and `corrected`"
    assert str(no_bundled_photos) not in why  # no server path: the folder's last part only
    with pytest.raises(PairUnavailable):
        registry.service("photos64")


def test_the_environment_variables_offer_the_photo_pair(demo_weight_dirs, demo_photo_pair_dirs, no_bundled_photos):
    env = {"GINR_PHOTOS64_SIMPLIFIED": str(demo_photo_pair_dirs["simplified"]),
           "GINR_PHOTOS64_CORRECTED": str(demo_photo_pair_dirs["corrected"])}
    registry = Registry.from_sources({"cifar10": {n: str(d) for n, d in demo_weight_dirs.items()}}, env=env)
    assert registry.choices() == [("CIFAR-10 · 32×32", "cifar10"), ("Photos · 64×64", "photos64")]
    assert registry.get("photos64").sources["corrected"] == (str(demo_photo_pair_dirs["corrected"]),
                                                             "GINR_PHOTOS64_CORRECTED")
    flags = Registry.from_sources({"photos64": {"corrected": "/elsewhere"}}, env=env).pairs["photos64"].sources
    assert flags["corrected"] == ("/elsewhere", "--photos64-corrected")  # a flag wins over the variable
    half = {"GINR_PHOTOS64_CORRECTED": str(demo_photo_pair_dirs["corrected"])}  # one model only: not offered
    assert [p.key for p in Registry.from_sources(env=half).offered()] == ["cifar10"]


def test_pairs_load_lazily_once_and_both_stay_loaded(demo_weight_dirs, demo_photo_pair_dirs):
    """The memory side of item 2: two pairs of small models in one registry, each loaded exactly once, however
    many threads ask at the same time; the first pair's engine is untouched by the second's load."""
    registry = _registry(demo_weight_dirs, demo_photo_pair_dirs)
    cifar, photos = registry.get("cifar10"), registry.get("photos64")
    assert not cifar.loaded and not photos.loaded and photos.label == "Photos · 64×64"  # read from config.json
    first = registry.service()
    got, barrier = [], threading.Barrier(4)

    def ask():
        barrier.wait()
        got.append(registry.service("photos64"))

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(got) == 4 and all(service is got[0] for service in got)
    assert (cifar.loads, photos.loads) == (1, 1) and cifar.loaded and photos.loaded
    assert registry.service() is first and first.engine is not got[0].engine
    assert (first.size, got[0].size) == (32, 64) and got[0].key == "photos64"
    models = [lm.model for service in (first, got[0]) for lm in service.engine.models.values()]
    assert len({id(m) for m in models}) == 4  # two pairs, each model held once


def test_a_pair_that_fails_to_load_says_why_and_never_runs_other_weights(demo_weight_dirs, tmp_path):
    broken = make_photo_pair(tmp_path / "broken")
    (broken["corrected"] / "model.safetensors").write_bytes(b"not safetensors")
    registry = _registry(demo_weight_dirs, broken)
    for _ in range(2):  # loaded once: the second call repeats the reason without trying again
        with pytest.raises(PairUnavailable, match="Photos · 64×64: could not be loaded: corrected"):
            registry.service("photos64")
    assert registry.get("photos64").loads == 1


def test_the_two_models_of_a_pair_take_one_size(demo_weight_dirs, demo_photo_pair_dirs):
    mixed = {"simplified": demo_weight_dirs["simplified"], "corrected": demo_photo_pair_dirs["corrected"]}
    with pytest.raises(PairUnavailable, match="one input size.*simplified 32×32, corrected 64×64"):
        _registry(demo_weight_dirs, mixed).service("photos64")


# ---- sizes follow the pair -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def photo_service(demo_weight_dirs, demo_photo_pair_dirs):
    return _registry(demo_weight_dirs, demo_photo_pair_dirs).service("photos64")


def test_every_size_follows_the_pairs_models(photo_service):
    service = photo_service
    assert service.size == 64 == service.engine.model("corrected").config.image_size
    prepared, images, metrics = service.reconstruct(photo_examples()[0], 256, 0.0)
    assert prepared.model_input.shape == (64, 64, 3) and images["corrected"].shape == (256, 256, 3)
    assert metrics["input_size"] == 64 and metrics["pair"] == "Photos · 64×64" and metrics["mode"] == "sr"
    assert "area-downsampled to 64×64" in " ".join(prepared.notes)
    _, _, at_input = service.reconstruct(cifar_examples()[0], 64, 0.0)  # a 32×32 image, enlarged to the input
    assert at_input["mode"] == "input" and "the 64×64 model input" in at_input["reference"]
    with pytest.raises(UserError, match="from 64 to 512"):
        service.reconstruct(photo_examples()[0], 32, 0.0)
    _, window, zoomed, zmetrics = service.zoom(photo_examples()[0], 40, 0, 24, 96)
    assert window.input_size == 64 and zmetrics["input_size"] == 64 and zoomed["bicubic"].shape == (96, 96, 3)
    with pytest.raises(UserError, match="outside the 64×64 input"):
        service.zoom(photo_examples()[0], 50, 0, 16, 96)
    curves, _ = service.sigma_curve(prepared, 0)
    assert set(curves) == {"simplified", "corrected"}
    assert service.engine.bias_matrix("corrected").shape[0] == 64 * 64 and service.bias_grid() == 64
    rows, info = service.interpolate(photo_examples()[0], cifar_examples()[0], 64, "0, 1")
    assert info["input_size"] == 64 and rows["corrected"][0].shape == (64, 64, 3)


def test_a_wrong_size_input_is_refused_naming_both_sizes(photo_service):
    with pytest.raises(ValueError, match="take 64×64 inputs; the input is 32×32"):
        photo_service.engine.render("corrected", prepare(cifar_examples()[0]), 64)


def test_refining_fits_the_pairs_pixel_centres(photo_service):
    from demo.ui_refine import describe

    _, refined = photo_service.refine_latents(photo_examples()[1], 3)
    assert refined.input_size == 64 and refined.steps_done("corrected") == 3
    assert "64×64 reconstruction at the pixel centres" in describe(refined)


# ---- the figures ------------------------------------------------------------------------------------
def test_no_figures_file_is_not_measured_yet(tmp_path):
    for folder in (None, tmp_path / "absent", tmp_path):
        figures = pair_figures.load(folder, 64)
        assert not figures.measured
        text = pair_figures.markdown(figures, "Photos · 64×64", 256)
        assert "not measured yet" in text and "dB" not in text
        assert pair_figures.bicubic_line(figures, 4).endswith("not measured yet")
    assert "licence: **not stated yet**" in pair_figures.data_line(pair_figures.load(None, 64), licence=True)


def test_a_figures_file_is_read_and_nothing_is_made_up(tmp_path):
    (tmp_path / "figures.json").write_text(json.dumps(DEMO_PHOTO_FIGURES))
    figures = pair_figures.load(tmp_path, 64, "weights/photos64/eval")
    assert figures.source == "weights/photos64/eval/figures.json" and figures.factors() == [2]
    line = pair_figures.bicubic_line(figures, 2)
    assert "bicubic 30.00 dB" in line and "corrected one pass 28.00 dB" in line and "refined not measured yet" in line
    assert "×4 on benchmark photos: not measured yet" in pair_figures.bicubic_line(figures, 4)
    text = pair_figures.markdown(figures, "Photos · 64×64", 128)
    assert "corrected 25.00 [24.00, 26.00] dB" in text and "n = 12" in text
    assert "| Set5 (5) | 30.00 [29.00, 31.00] | 28.00 [27.00, 29.00] | not measured yet | not measured yet |" in text
    assert "CC0-1.0" in text and "made in the test suite" in text
    text = pair_figures.markdown(figures, "Photos · 64×64", 192)
    assert "×3 (output 192 from the 64×64 input): not measured yet; measured: ×2" in text


def test_a_broken_or_other_size_figures_file_is_said_not_used(tmp_path):
    (tmp_path / "figures.json").write_text("{broken")
    figures = pair_figures.load(tmp_path, 64)
    assert not figures.measured and "could not be read" in pair_figures.markdown(figures, "p", 128)
    (tmp_path / "figures.json").write_text(json.dumps(dict(DEMO_PHOTO_FIGURES, input_size=32)))
    assert "measures a 32×32 input" in pair_figures.load(tmp_path, 64).problem
    bad_row = json.loads(json.dumps(DEMO_PHOTO_FIGURES))
    bad_row["test"]["rows"]["corrected"] = {"mean": "high", "low": 0, "high": 1}
    (tmp_path / "figures.json").write_text(json.dumps(bad_row))
    assert "corrected" not in pair_figures.load(tmp_path, 64).test["rows"]  # not a number: not measured


@pytest.mark.skipif(not (ROOT / "weights" / "eval" / "sr_benchmarks.json").is_file(), reason="no CIFAR-10 eval files")
def test_the_cifar_pairs_figures_come_from_its_eval_files():
    eval_dir = ROOT / "weights" / "eval"
    summary = json.loads((eval_dir / "sr_benchmarks.json").read_text())["summary"]
    figures = pair_figures.load(eval_dir, 32, "weights/eval")
    assert figures.factors() == [4, 8]  # 128 and 256 from 32
    for factor, size in ((4, 128), (8, 256)):
        for name, entry in summary.items():
            for row in ("bicubic", "corrected", "corrected refined"):
                assert figures.sr[factor][name]["rows"][row]["mean"] == summary[name][f"{row}@{size}"]["psnr"]["mean"]
    metrics = json.loads((eval_dir / "metrics.json").read_text())
    assert figures.test["rows"]["corrected"]["mean"] == metrics["weights/corrected"]["test_psnr_ci"]["mean"]
    bsd = summary["BSD68"]
    assert pair_figures.bicubic_line(figures, 8) == (
        f"this pair measured at ×8 (BSD68, n = 68, PSNR vs the photo): bicubic {bsd['bicubic@256']['psnr']['mean']:.2f} dB"
        f" · corrected one pass {bsd['corrected@256']['psnr']['mean']:.2f} dB"
        f" · refined {bsd['corrected refined@256']['psnr']['mean']:.2f} dB")


# ---- switching pair: what the page keeps ------------------------------------------------------------
def test_switching_pair_keeps_the_input_it_can_prepare_again(demo_weight_dirs, demo_photo_pair_dirs, tmp_path):
    from PIL import Image

    from demo.ui_pairs import carried

    registry = _registry(demo_weight_dirs, demo_photo_pair_dirs)
    cifar, photos = registry.get("cifar10"), registry.get("photos64")
    cat, astronaut = cifar.default_example(), photos.default_example()
    assert carried(cat, cifar, photos, astronaut) == (astronaut, "astronaut.png instead of the 32×32 example cat_0000.png")
    kept, note = carried(astronaut, photos, cifar, cat)
    assert kept == astronaut and note == "astronaut.png kept, prepared again: area-downsampled from 256×256 to 32×32"
    small = tmp_path / "upload-40.png"
    Image.fromarray(np.zeros((40, 40, 3), np.uint8)).save(small)
    kept, note = carried(str(small), cifar, photos, astronaut)
    assert kept == str(small) and "enlarged (bicubic) from 40×40 to 64×64" in note
    gone = tmp_path / "gone.png"
    assert carried(str(gone), cifar, photos, astronaut)[0] == astronaut


def test_the_test_split_line_offers_no_bicubic_at_the_inputs_own_size():
    """Bicubic at the input's own size is the input itself: the test-split line names only what was measured."""
    from demo import pair_figures
    row = {"mean": 29.0, "low": 28.5, "high": 29.5}
    figures = pair_figures.Figures(32, test={"n": 10, "rows": {"corrected": row}})
    line = next(x for x in pair_figures.markdown(figures, "CIFAR-10 · 32×32").splitlines() if "test split" in x)
    assert "corrected 29.00 [28.50, 29.50] dB" in line and "bicubic" not in line
    assert "simplified not measured yet" in line
