"""DDP through torchrun: 2 CPU processes with the gloo backend on tiny data."""
import json
import socket

import torch

from tests.test_train_helpers import make_image_folder, run_module, train_args
from train.metrics_log import read_metrics


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_torchrun_two_processes_gloo(tmp_path):
    data = make_image_folder(tmp_path / "data")
    out = tmp_path / "ddp"
    r = run_module("torch.distributed.run",
                   ["--nproc_per_node", "2", "--master_port", str(_free_port()), "-m", "train",
                    *train_args("simplified", data, out, tmp_path / "cache", "--max-steps", "4")])
    assert r.returncode == 0, r.stderr[-3000:]
    recs = read_metrics(out)
    assert [x["step"] for x in recs if x["kind"] == "step"] == [1, 2, 3, 4]  # rank 0 logs once per step
    run = json.loads((out / "run.json").read_text())
    assert run["world_size"] == 2 and run["history"][-1]["world_size"] == 2
    ckpt = torch.load(out / "checkpoint.pt", weights_only=False)
    assert ckpt["step"] == 4 and ckpt["steps_per_epoch"] == 3  # 12 images: 6 per rank, 2 per rank per step
    assert ckpt["world_size"] == 2
    assert (out / "hf" / "model.safetensors").is_file()
    # a resume on another number of processes is refused (not rescaled), before anything is written
    before = (out / "checkpoint.pt").read_bytes()
    r = run_module("train", train_args("simplified", data, out, tmp_path / "cache", "--max-steps", "4"))
    assert r.returncode == 2 and "trained by 2 process(es)" in r.stderr and "--nproc_per_node 2" in r.stderr, r.stderr
    assert (out / "checkpoint.pt").read_bytes() == before
    # an odd global batch cannot be split over 2 processes
    r = run_module("torch.distributed.run",
                   ["--nproc_per_node", "2", "--master_port", str(_free_port()), "-m", "train",
                    *train_args("simplified", data, tmp_path / "odd", tmp_path / "cache", "--max-steps", "1",
                                "--batch-size", "3")])
    assert r.returncode != 0 and "divisible" in r.stderr


def test_world_size_check_of_a_resume():
    """The rule without processes: the checkpoint's world size (else its last segment's, else 1) must match."""
    import pytest

    from train.loop import _check_world_size
    _check_world_size({"world_size": 2}, "run", 2)
    _check_world_size({}, "run", 1)  # a checkpoint from before DDP: one process
    _check_world_size({"segments": [{"from_step": 0, "world_size": 4}]}, "run", 4)
    with pytest.raises(ValueError, match=r"trained by 4 process\(es\) and this command runs 1"):
        _check_world_size({"segments": [{"from_step": 0, "world_size": 4}]}, "run", 1)
    with pytest.raises(ValueError, match="plain `python -m train` for 1"):
        _check_world_size({"world_size": 1}, "run", 2)
