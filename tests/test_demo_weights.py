"""Weights loading for the demo: source order, strict loading, quick clear fall-backs."""
import shutil
import time

import pytest

from demo import weights
from demo import training_record
from demo.weights import load_models, load_one, resolve_source


@pytest.fixture()
def demo_bundled(tmp_path, monkeypatch):
    """Point the 'bundled' weights at an empty tmp folder."""
    monkeypatch.setattr(weights, "BUNDLED", tmp_path / "weights")
    return tmp_path / "weights"


def test_source_order(demo_bundled):
    env = {"GINR_SIMPLIFIED": "org/simplified", "GINR_CORRECTED": "/somewhere"}
    assert resolve_source("simplified", "cli/repo", env) == ("cli/repo", "--simplified")
    assert resolve_source("simplified", None, env) == ("org/simplified", "GINR_SIMPLIFIED")
    assert resolve_source("corrected", None, {}) == (str(demo_bundled / "corrected"), "bundled")


def test_local_dirs_load_and_training_record_is_read(demo_weight_dirs, demo_bundled):
    models = load_models(str(demo_weight_dirs["simplified"]), str(demo_weight_dirs["corrected"]), env={})
    assert all(m.trained and m.kind == "local" and not m.messages for m in models.values())
    assert models["corrected"].model.config.num_lp == 16
    info = models["corrected"].info
    assert info["test_psnr"] == pytest.approx(21.5) and info["steps"] == 1200 and info["stages"] == 2
    line = models["corrected"].summary()
    assert "1,200 steps in all (0.40 epochs, 2.00 h, 2 stages)" in line
    assert "test PSNR 21.50 dB on the CIFAR-10 test split (lossy JPEG copy, q ≈ 75)" in line
    assert "no training record" in models["simplified"].summary()  # its folder has no training_info.json
    assert "/" + str(demo_weight_dirs["corrected"]).strip("/") not in line + str(models["corrected"].as_dict())


def test_missing_bundled_weights_start_untrained_and_say_so(demo_bundled):
    models = load_models(env={})
    for name, lm in models.items():
        assert not lm.trained and lm.kind == "untrained"
        assert "no bundled weights" in lm.messages[0]
        assert "UNTRAINED" in lm.summary()


def test_env_var_is_used(demo_weight_dirs, demo_bundled):
    env = {"GINR_CORRECTED": str(demo_weight_dirs["corrected"])}
    models = load_models(env=env)
    assert models["corrected"].trained and models["corrected"].source == str(demo_weight_dirs["corrected"])
    assert not models["simplified"].trained


def test_unreachable_hub_falls_back_to_bundled_quickly(demo_weight_dirs, demo_bundled, monkeypatch, tmp_path):
    shutil.copytree(demo_weight_dirs["simplified"], demo_bundled / "simplified")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # an empty cache
    start = time.monotonic()
    lm = load_one("simplified", "nobody/no-such-model", "--simplified")
    assert time.monotonic() - start < 10
    assert lm.trained and lm.kind == "local" and lm.source == str(demo_bundled / "simplified")
    assert "nobody/no-such-model" in lm.messages[0]


def test_unreachable_hub_without_offline_flag(demo_bundled, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens on the discard port
    start = time.monotonic()
    lm = load_one("corrected", "nobody/no-such-model", "GINR_CORRECTED")
    assert time.monotonic() - start < 10
    assert not lm.trained and len(lm.messages) == 2  # hub failed, bundled missing


def test_mismatched_weights_are_refused(demo_weight_dirs, demo_bundled):
    lm = load_one("corrected", str(demo_weight_dirs["simplified"]), "--corrected")
    assert not lm.trained
    assert "could not load" in lm.messages[0]


def test_training_record_totals_over_stages():
    raw = {"step": 2000, "epochs": 0.16, "elapsed": 2736.0, "test": {"psnr": 29.3436, "n": 10000},
           "data_source": "ImageFolder at cifar10/ (lossy JPEG copy of CIFAR-10, quality ≈ 75)",
           "lineage": [{"step": 944, "epochs": 2.41, "elapsed": 180.0}, {"step": 9012, "epochs": 0.72, "elapsed": 30564.0}]}
    info = training_record.facts(raw)
    assert info == {"stages": 3, "steps": 11956, "epochs": 3.29, "hours": 9.3, "test_psnr": 29.344,
                    "test_images": 10000, "data": raw["data_source"]}
    text = training_record.describe(info)
    assert text.startswith("trained 11,956 steps in all (3.29 epochs, 9.30 h, 3 stages)")
    assert "(lossy JPEG copy, q ≈ 75), 10,000 images" in text
    del raw["lineage"][0]["elapsed"]  # a stage without its time: the total is not made up
    assert "hours" not in training_record.facts(raw)


def test_training_record_missing_or_broken(tmp_path):
    assert training_record.read(tmp_path) == {} and training_record.describe({}) == "no training record"
    (tmp_path / "training_info.json").write_text("{not json")
    info = training_record.read(tmp_path)
    assert training_record.describe(info).startswith("no training record (training_info.json could not be read")


def test_card_is_never_parsed_only_shown(tmp_path):
    (tmp_path / "README.md").write_text("---\nmodel-index: []\n---\n\n# A card\n\nTest PSNR: 99 dB.\n")
    assert training_record.card_text(tmp_path) == "# A card\n\nTest PSNR: 99 dB."
    assert training_record.read(tmp_path) == {}  # the card's figures are not facts


def test_bundled_weights_state_every_stage():
    from demo.weights import BUNDLED
    assert training_record.read(BUNDLED / "corrected")["stages"] == 3
    assert training_record.read(BUNDLED / "simplified")["stages"] == 2


def test_no_server_path_in_a_fallback_message(demo_bundled, tmp_path):
    lm = load_one("corrected", str(tmp_path / "deep" / "nowhere"), "--corrected")
    assert not lm.trained and str(tmp_path) not in " ".join(lm.messages)


def test_cli_flags():
    from demo.app import parse_args

    args = parse_args(["--corrected", "org/corrected", "--port", "7861", "--no-warm-up"])
    assert args.corrected == "org/corrected" and args.simplified is None and args.port == 7861 and args.no_warm_up
