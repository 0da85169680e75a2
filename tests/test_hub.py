"""Hub-format weights: round trips through a folder and an offline HF cache; strict, pickle-free loading."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from lainr import CorrectedGINR, SimplifiedGINR, WeightsError
from train.tiny import tiny_corrected, tiny_simplified

ROOT = Path(__file__).resolve().parents[1]
MODELS = [(SimplifiedGINR, tiny_simplified), (CorrectedGINR, tiny_corrected)]


@pytest.fixture(params=MODELS, ids=["simplified", "corrected"])
def saved(request, tmp_path):
    cls, cfg = request.param
    torch.manual_seed(0)
    model = cls(cfg()).eval()
    model.save_pretrained(tmp_path / "w")
    return cls, model, tmp_path / "w"


def test_save_writes_hub_format(saved):
    cls, model, path = saved
    assert {p.name for p in path.iterdir()} == {"config.json", "model.safetensors", "README.md"}
    config = json.loads((path / "config.json").read_text())
    assert config["architecture"] == model.config.architecture and config["depth"] == 1


def test_round_trip_local_dir(saved):
    cls, model, path = saved
    loaded = cls.from_pretrained(path)
    assert loaded.config == model.config
    x = torch.rand(2, 3, 32, 32)
    assert torch.equal(loaded.render(x, 48, sigma=0.01, generator=torch.Generator().manual_seed(1)),
                       model.render(x, 48, sigma=0.01, generator=torch.Generator().manual_seed(1)))


def test_round_trip_offline_hf_cache(saved, tmp_path):
    """Pre-populate an HF cache and load by repo id with HF_HUB_OFFLINE=1 (the real mixin path)."""
    cls, model, path = saved
    cache = tmp_path / "hub"
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = cache / "models--someone--tiny-ginr"
    shutil.copytree(path, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    x = torch.rand(1, 3, 32, 32)
    torch.save(x, tmp_path / "x.pt")
    script = (
        "import sys, torch, lainr\n"
        f"m = lainr.{cls.__name__}.from_pretrained('someone/tiny-ginr', cache_dir=sys.argv[1])\n"
        "torch.save(m.render(torch.load(sys.argv[2]), 32), sys.argv[3])\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-c", script, str(cache), str(tmp_path / "x.pt"), str(tmp_path / "y.pt")],
                   check=True, env=env, timeout=120)
    assert torch.equal(torch.load(tmp_path / "y.pt"), model.render(x, 32))


def test_half_precision_parameters_keep_float32_buffers(tmp_path):
    model = SimplifiedGINR(tiny_simplified())
    model.save_pretrained(tmp_path, weights_dtype=torch.float16)
    state = load_file(str(tmp_path / "model.safetensors"))
    assert state["decoder.hyponet.0.weight"].dtype == torch.float16
    assert state["decoder.B_mod"].dtype == torch.float32  # the random Fourier matrix keeps its precision
    loaded = SimplifiedGINR.from_pretrained(tmp_path)
    assert torch.equal(loaded.decoder.B_mod, model.decoder.B_mod)
    assert loaded.decoder.hyponet[0].weight.dtype == torch.float32


def _edit_weights(path, edit):
    state = load_file(str(path / "model.safetensors"))
    edit(state)
    save_file(state, str(path / "model.safetensors"))


def test_missing_key_is_named(saved):
    cls, _, path = saved
    _edit_weights(path, lambda s: s.pop("encoder.patch_embed.bias"))
    with pytest.raises(WeightsError, match=r"missing keys: \['encoder.patch_embed.bias'\]"):
        cls.from_pretrained(path)


def test_unexpected_key_is_named(saved):
    cls, _, path = saved
    _edit_weights(path, lambda s: s.update(extra=torch.zeros(1)))
    with pytest.raises(WeightsError, match=r"unexpected keys: \['extra'\]"):
        cls.from_pretrained(path)


def test_shape_mismatch_is_named(saved):
    cls, _, path = saved
    _edit_weights(path, lambda s: s.update({"encoder.patch_embed.bias": torch.zeros(7)}))
    with pytest.raises(WeightsError, match=r"encoder.patch_embed.bias: file \(7,\) vs model \(32,\)"):
        cls.from_pretrained(path)


def test_other_architecture_is_refused(saved):
    cls, _, path = saved
    other = CorrectedGINR if cls is SimplifiedGINR else SimplifiedGINR
    with pytest.raises(ValueError):
        other.from_pretrained(path)


@pytest.mark.parametrize("damage", ["truncate", "garbage", "delete"])
def test_corrupt_or_missing_file_gives_clear_error(saved, damage):
    cls, _, path = saved
    weights = path / "model.safetensors"
    if damage == "truncate":
        weights.write_bytes(weights.read_bytes()[:-100])
    elif damage == "garbage":
        weights.write_bytes(b"not a safetensors file at all")
    else:
        weights.unlink()
    with pytest.raises(WeightsError, match="truncated or corrupt|no weights file"):
        cls.from_pretrained(path)


def test_non_strict_loading_is_refused(saved):
    cls, _, path = saved
    with pytest.raises(ValueError, match="strict"):
        cls.from_pretrained(path, strict=False)


def test_pickle_weights_are_refused(saved):
    """A folder holding pickled weights (pytorch_model.bin) instead of model.safetensors is refused by name."""
    cls, model, path = saved
    torch.save(model.state_dict(), path / "pytorch_model.bin")
    (path / "model.safetensors").unlink()
    with pytest.raises(WeightsError, match="pickle"):
        cls.from_pretrained(path)


def test_only_the_mixins_documented_hooks_are_overridden():
    """lainr/hub.py subclasses huggingface_hub's ModelHubMixin through its documented hooks only."""
    from huggingface_hub import ModelHubMixin
    from lainr.hub import StrictHubMixin
    methods = {name for name, v in vars(StrictHubMixin).items() if isinstance(v, (classmethod, staticmethod))
               or callable(v) and getattr(v, "__module__", None) == "lainr.hub"}
    assert StrictHubMixin.__bases__ == (ModelHubMixin,)
    assert {m for m in methods if m.startswith("_") and not m.startswith("__")} == {"_save_pretrained",
                                                                                    "_from_pretrained"}


def test_save_is_atomic_and_leaves_no_temp_file(saved):
    _, model, path = saved
    model.save_pretrained(path)  # overwrite in place
    assert not list(path.glob("*.tmp"))


def test_save_pretrained_writes_the_weights_durably_and_atomically(tmp_path, monkeypatch):
    """model.safetensors goes through lainr.atomic.replacing (the trainer's write too): fsync'd before it
    replaces the old file; a save that fails leaves the old file whole and no temporary file behind."""
    import lainr.atomic
    import lainr.hub
    from lainr import CorrectedConfig, CorrectedGINR
    from train.tiny import TINY
    model = CorrectedGINR(CorrectedConfig(**TINY["corrected"]))
    synced = []
    real_fsync = lainr.atomic.os.fsync
    monkeypatch.setattr(lainr.atomic.os, "fsync", lambda fd: synced.append(fd) or real_fsync(fd))
    model.save_pretrained(tmp_path)
    assert synced, "model.safetensors was not fsync'd"
    before = (tmp_path / "model.safetensors").read_bytes()

    def broken(state, path, metadata=None):
        open(path, "wb").write(b"half")
        raise OSError("disk full")
    monkeypatch.setattr(lainr.hub, "save_file", broken)
    with pytest.raises(OSError, match="disk full"):
        model.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
