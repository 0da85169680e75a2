"""Shared fixtures. Demo fixtures are prefixed `demo_` (tiny models, one live Gradio server per session)."""
import json
import os
import socket
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

# the facts the demo reads (train/publish/card.py writes the real ones): two stages, 1,200 steps in all
DEMO_TRAINING_INFO = {"model": "corrected", "step": 1000, "epochs": 0.3, "elapsed": 5400.0,
                      "lineage": [{"from": "weights/corrected", "step": 200, "epochs": 0.1, "elapsed": 1800.0}],
                      "test": {"psnr": 21.5, "ssim": 0.61, "n": 10000, "of": 10000},
                      "data_source": "ImageFolder at cifar10/ (lossy JPEG copy of CIFAR-10, quality ≈ 75)"}


def demo_free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def demo_weight_dirs(tmp_path_factory):
    """{"simplified": dir, "corrected": dir} of freshly initialised tiny models (save_pretrained)."""
    import torch

    from lainr import CorrectedConfig, CorrectedGINR, SimplifiedConfig, SimplifiedGINR
    from train.tiny import TINY

    root = tmp_path_factory.mktemp("demo_weights")
    torch.manual_seed(0)
    dirs = {"simplified": root / "simplified", "corrected": root / "corrected"}
    SimplifiedGINR(SimplifiedConfig(**TINY["simplified"])).save_pretrained(dirs["simplified"])
    CorrectedGINR(CorrectedConfig(**TINY["corrected"])).save_pretrained(dirs["corrected"])
    (dirs["corrected"] / "training_info.json").write_text(json.dumps(DEMO_TRAINING_INFO))  # simplified: none
    card = ROOT / "weights" / "corrected" / "README.md"  # a real card: its tables and sha256 on the page
    if card.is_file():
        (dirs["corrected"] / "README.md").write_text(card.read_text(encoding="utf-8"), encoding="utf-8")
    return dirs


# a photo pair's figures as the training side writes them (weights/<pair>/eval/figures.json); made-up numbers
DEMO_PHOTO_FIGURES = {
    "pair": "photos64", "input_size": 64,
    "data": {"name": "test photos", "licence": "CC0-1.0", "source": "made in the test suite"},
    "test": {"n": 12, "rows": {"corrected": {"mean": 25.0, "low": 24.0, "high": 26.0},
                               "simplified": {"mean": 20.0, "low": 19.5, "high": 20.5}}},
    "sr": {"x2": {"Set5": {"n": 5, "rows": {"bicubic": {"mean": 30.0, "low": 29.0, "high": 31.0},
                                            "corrected": {"mean": 28.0, "low": 27.0, "high": 29.0}}}}}}


def make_photo_pair(root, figures=None):
    """A tiny photo pair at 64×64 (freshly initialised, save_pretrained) in root/{simplified,corrected}, and
    root/eval/figures.json when `figures` is given → {"simplified": dir, "corrected": dir}."""
    import torch

    from lainr import CorrectedConfig, CorrectedGINR, SimplifiedConfig, SimplifiedGINR

    root = Path(root)
    torch.manual_seed(1)
    dirs = {"simplified": root / "simplified", "corrected": root / "corrected"}
    SimplifiedGINR(SimplifiedConfig(image_size=64, patch_size=4, dim=32, depth=1, ff_dim=64, num_lp=4,
                                    hidden=16)).save_pretrained(dirs["simplified"])
    CorrectedGINR(CorrectedConfig(image_size=64, patch_size=4, dim=32, depth=1, ff_dim=64, num_lp=16, hidden=32,
                                  head_dim=16, pos_freqs=16)).save_pretrained(dirs["corrected"])
    if figures is not None:
        (root / "eval").mkdir(parents=True, exist_ok=True)
        (root / "eval" / "figures.json").write_text(json.dumps(figures))
    return dirs


@pytest.fixture(scope="session")
def demo_photo_pair_dirs(tmp_path_factory):
    """{"simplified": dir, "corrected": dir} of a tiny 64×64 photo pair, with an eval/figures.json beside them."""
    return make_photo_pair(tmp_path_factory.mktemp("demo_photo_pair"), DEMO_PHOTO_FIGURES)


@pytest.fixture(scope="session")
def demo_server(demo_weight_dirs):
    """A live demo (tiny models) on a free local port → (url, blocks, engine)."""
    from demo.app import create
    from demo.ui import launch_kwargs, queue

    absent = demo_weight_dirs["simplified"].parent / "no-photo-pair"  # the photo pair not there: the page as before
    blocks, engine = create(str(demo_weight_dirs["simplified"]), str(demo_weight_dirs["corrected"]), env={},
                            photos64={"simplified": str(absent / "simplified"), "corrected": str(absent / "corrected")})
    port = demo_free_port()
    queue(blocks).launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True,
                         **launch_kwargs())
    yield f"http://127.0.0.1:{port}/", blocks, engine
    blocks.close()


@pytest.fixture(scope="session")
def demo_pairs_server(demo_weight_dirs, demo_photo_pair_dirs):
    """A live demo with two pairs (tiny CIFAR-10 models, and the tiny photo pair by environment variable) →
    (url, blocks, registry)."""
    from demo.app import create
    from demo.ui import launch_kwargs, queue

    env = {"GINR_PHOTOS64_SIMPLIFIED": str(demo_photo_pair_dirs["simplified"]),
           "GINR_PHOTOS64_CORRECTED": str(demo_photo_pair_dirs["corrected"])}
    blocks, _ = create(str(demo_weight_dirs["simplified"]), str(demo_weight_dirs["corrected"]), env=env)
    port = demo_free_port()
    queue(blocks).launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True,
                         **launch_kwargs())
    yield f"http://127.0.0.1:{port}/", blocks, blocks.registry
    blocks.close()


@pytest.fixture(scope="session")
def demo_client(demo_server):
    from gradio_client import Client

    return Client(demo_server[0], verbose=False)
