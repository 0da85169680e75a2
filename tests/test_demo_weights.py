"""Weights loading for the demo: source order, strict loading, quick clear fall-backs."""
import shutil
import time

import pytest

from demo import weights
from demo.weights import load_models, load_one, read_card, resolve_source


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


def test_local_dirs_load_and_card_is_read(demo_weight_dirs, demo_bundled):
    models = load_models(str(demo_weight_dirs["simplified"]), str(demo_weight_dirs["corrected"]), env={})
    assert all(m.trained and m.kind == "local" and not m.messages for m in models.values())
    assert models["corrected"].model.config.num_lp == 16
    info = models["corrected"].info
    assert info["test_psnr"] == pytest.approx(21.5) and info["steps"] == 1200
    assert "compressed to 1,200 steps" in info["protocol"]
    assert "21.50 dB" in models["corrected"].summary()


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


def test_card_parsing(tmp_path):
    (tmp_path / "README.md").write_text(
        "---\nlicense: mit\n---\n# corrected\n\n| metric | value |\n|---|---|\n| test PSNR | 28.73 dB |\n\n"
        "Schedule: protocol, 40 epochs (125,000 steps). Data: lossless CIFAR-10 (torchvision).\n")
    info = read_card(tmp_path)
    assert info["test_psnr"] == pytest.approx(28.73) and info["protocol"] == "protocol, 40 epochs"
    assert info["steps"] == 125000 and info["data"].startswith("lossless")
    assert read_card(tmp_path / "nothing") == {}


def test_project_card_format(tmp_path):
    """The card train/card.py writes: YAML model-index + Schedule / Steps / Training data lines."""
    (tmp_path / "README.md").write_text(
        "---\nlibrary_name: lainr\nmodel-index:\n- name: mamba-ginr-corrected\n  results:\n  - task:\n"
        "      type: image-to-image\n    metrics:\n    - type: psnr\n      value: 24.123\n"
        "    - type: ssim\n      value: 0.8100\n---\n\n# Mamba-GINR (corrected)\n\n"
        "- Schedule: **protocol schedule compressed to 3,000 steps (0.96 epochs)**.\n"
        "- Steps: 3000 optimiser steps of batch 16 (0.960 epochs of 50,000 training images).\n"
        "- Training data: CIFAR-10 JPEG copy (quality ≈75).\n\nSSIM per image then averaged, on "
        "**1000 test images** (a fixed seeded subset of 10,000):\n")
    info = read_card(tmp_path)
    assert info["test_psnr"] == pytest.approx(24.123) and info["steps"] == 3000 and info["test_images"] == 1000
    assert info["protocol"] == "protocol schedule compressed to 3,000 steps (0.96 epochs)"
    assert info["data"].startswith("CIFAR-10 JPEG copy")


def test_card_of_an_unfinished_run_reports_the_steps_done_not_the_planned_total(tmp_path):
    from types import SimpleNamespace
    from demo.weights import LoadedModel
    model = SimpleNamespace(num_parameters=lambda: 8_927_494)
    (tmp_path / "README.md").write_text(
        "- Schedule: **protocol schedule compressed to 12124 steps (0.97 epochs)**.\n"
        "- Steps: 3979 optimiser steps of batch 4 (0.318 epochs of 50,000 training images).\n")
    info = read_card(tmp_path)
    assert info["steps"] == 3979 and info["epochs"] == "0.318"
    line = LoadedModel("corrected", model, "w", "local", True, info).summary()
    assert "steps 3979" in line and "epochs 0.318" in line
    info["protocol"] += ", stopped at step 3979 (0.32 epochs), before the schedule's end"
    line = LoadedModel("corrected", model, "w", "local", True, info).summary()
    assert "steps 3979" not in line and "epochs 0.318" not in line and "stopped at step 3979" in line  # said once


def test_card_of_a_continued_run_gives_the_totals_of_all_its_stages(tmp_path):
    """A run started --init-from earlier weights: the page line says the whole training, not only the last stage."""
    from types import SimpleNamespace
    from demo.weights import LoadedModel
    (tmp_path / "README.md").write_text(
        "- Schedule: **protocol schedule compressed to 2000 steps (0.16 epochs)**.\n"
        "- Training history (this run continues the weights of the stages before it):\n"
        "  1. `weights/corrected`: 944 steps of batch 128 (2.41 epochs, 0.05 h) on NVIDIA H200\n"
        "  2. `weights/corrected`: 9012 steps of batch 4 (0.72 epochs, 8.49 h) on CPU only\n"
        "  3. this run: 2000 steps of batch 4 (0.16 epochs, 0.76 h)\n"
        "- In all: 3.30 epochs, 9.30 h of training.\n"
        "- Steps: 2000 optimiser steps of batch 4 (0.160 epochs of 50,000 training images).\n")
    info = read_card(tmp_path)
    assert info["in_all"] == "in all 3.30 epochs, 9.30 h of training over 3 stages"
    line = LoadedModel("corrected", SimpleNamespace(num_parameters=lambda: 1), "w", "local", True, info).summary()
    assert "2000 steps (0.16 epochs) · in all 3.30 epochs, 9.30 h of training over 3 stages" in line
    (tmp_path / "README.md").write_text("- Schedule: **protocol schedule compressed to 20 steps (0.01 epochs)**.\n")
    assert "in_all" not in read_card(tmp_path)  # a single-stage card has no totals line


def test_bundled_cards_state_every_stage():
    from demo.weights import BUNDLED
    assert read_card(BUNDLED / "corrected")["in_all"].endswith("over 3 stages")
    assert read_card(BUNDLED / "simplified")["in_all"].endswith("over 2 stages")


def test_cli_flags():
    from demo.app import parse_args

    args = parse_args(["--corrected", "org/corrected", "--port", "7861", "--no-warm-up"])
    assert args.corrected == "org/corrected" and args.simplified is None and args.port == 7861 and args.no_warm_up
