"""Every DDP collective gets a tensor on the training device (issue 25: NCCL has no CPU backend).

On a CUDA machine the training device is cuda:N while a tensor made without naming a device lands
on the CPU (the default device), which NCCL refuses. This box has no GPU, so the test makes that
difference observable on CPU: `DefaultDeviceTracer` marks every tensor a factory function
(torch.tensor, torch.zeros, …) creates without a `device` — a tensor that, on a CUDA machine, would
be on the CPU. Fake collectives (the process group's functions patched, one process standing for
rank 0 of 2) record each tensor's device, "default" for marked ones, and the test compares them with
the device of the model being trained.
"""
import weakref

import pytest
import torch
import torch.distributed as dist
from torch.overrides import TorchFunctionMode

import train.loop
from tests.test_train_helpers import make_image_folder, train_args


# the public factory functions that place a new tensor on the default device unless given `device=` (listed here
# rather than read from a private torch table, so the test does not depend on torch's internals)
FACTORIES = frozenset({torch.tensor, torch.as_tensor, torch.scalar_tensor, torch.zeros, torch.ones, torch.empty,
                       torch.full, torch.arange, torch.linspace, torch.logspace, torch.eye, torch.rand,
                       torch.randn, torch.randint, torch.randperm, torch.empty_strided})


class DefaultDeviceTracer(TorchFunctionMode):
    """Marks tensors made by a factory function without an explicit device (the default device)."""

    def __init__(self):
        super().__init__()
        self._marked = {}  # id → weak reference (tensors compare by value, so no WeakSet)

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        if func in FACTORIES and kwargs.get("device") is None and isinstance(out, torch.Tensor):
            self._marked[id(out)] = weakref.ref(out)
        return out

    def made_without_device(self, tensor):
        ref = self._marked.get(id(tensor))
        return ref is not None and ref() is tensor


class FakeProcessGroup:
    """rank 0 of 2 processes that see the same values: SUM doubles, MAX keeps; records every call."""

    def __init__(self, tracer, model_device):
        self.tracer, self.model_device, self.calls = tracer, model_device, []

    def all_reduce(self, tensor, op=dist.ReduceOp.SUM, **_):
        where = "default device (the CPU on a CUDA machine)" if self.tracer.made_without_device(tensor) else str(tensor.device)
        self.calls.append((f"all_reduce({op})", where, self.model_device()))
        if op == dist.ReduceOp.SUM:
            tensor.mul_(2)

    def install(self, monkeypatch):
        monkeypatch.setenv("WORLD_SIZE", "2")
        monkeypatch.setenv("RANK", "0")
        monkeypatch.setenv("LOCAL_RANK", "0")
        monkeypatch.setattr(dist, "is_initialized", lambda: True)
        monkeypatch.setattr(dist, "init_process_group", lambda *a, **k: None)
        monkeypatch.setattr(dist, "barrier", lambda *a, **k: None)
        monkeypatch.setattr(dist, "all_reduce", self.all_reduce)
        monkeypatch.setattr(torch.nn.parallel, "DistributedDataParallel", lambda module, **k: module)


def test_every_collective_gets_a_tensor_on_the_training_device(tmp_path, monkeypatch):
    data = make_image_folder(tmp_path / "data")
    built = []
    real_build = train.loop.build_model
    monkeypatch.setattr(train.loop, "build_model", lambda cfg: built.append(real_build(cfg)) or built[-1])
    tracer = DefaultDeviceTracer()
    group = FakeProcessGroup(tracer, lambda: str(next(built[-1].parameters()).device))
    group.install(monkeypatch)
    from train.cli import main
    args = train_args("simplified", data, tmp_path / "run", tmp_path / "cache", "--max-steps", "2",
                      "--time-budget", "60s", "--no-export")  # --time-budget: the probe's collective too
    with tracer:
        assert main(args) == 0
    assert len(group.calls) >= 3, group.calls  # the probe's MAX and one SUM per step
    wrong = [c for c in group.calls if c[1] != c[2]]
    assert not wrong, "collectives given a tensor off the training device:\n" + "\n".join(
        f"  {kind}: tensor on {where}, model on {model}" for kind, where, model in wrong)


def test_the_tracer_sees_a_tensor_made_without_a_device():
    tracer = DefaultDeviceTracer()
    with tracer:
        a, b = torch.tensor([1.0]), torch.tensor([1.0], device="cpu")
        c = torch.zeros(2) + 1  # derived from a marked tensor: a new tensor, not marked
    assert tracer.made_without_device(a)
    assert not tracer.made_without_device(b) and not tracer.made_without_device(c)
    with tracer:
        marked = [torch.zeros(1), torch.full((1,), 2.0), torch.arange(3), torch.randn(2), torch.empty(1)]
    assert all(tracer.made_without_device(t) for t in marked)


@pytest.mark.parametrize("device", ["cpu"])
def test_collective_helper_puts_values_on_the_given_device(device):
    from train.collectives import all_reduce_values
    calls = []
    tracer = DefaultDeviceTracer()
    group = FakeProcessGroup(tracer, lambda: device)
    group.calls = calls
    import unittest.mock as mock
    with tracer, mock.patch.object(dist, "all_reduce", group.all_reduce):
        assert all_reduce_values([1.0, 3.0], device, world=2) == [2.0, 6.0]
        assert all_reduce_values([5.0], device, world=2, op=dist.ReduceOp.MAX) == [5.0]
        assert all_reduce_values([5.0], device, world=1) == [5.0]  # one process: no collective
    assert [c[1:] for c in calls] == [(device, device)] * 2
