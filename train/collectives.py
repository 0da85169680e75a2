"""The trainer's only collective: all-reduce a few numbers across the DDP processes.

The values travel in a tensor on the *training device*: NCCL (the CUDA backend) has no CPU
transport, so a CPU tensor there fails on the first step; gloo (CPU runs) takes CPU tensors. One
backend per run and one device per collective keeps that simple — a `cuda:nccl,cpu:gloo` group
would also work, but would add a second backend to set up and to test for a handful of scalars a
step (the step already waits for `loss.item()`, so the device copy costs no extra sync).
"""
import os

import torch
import torch.distributed as dist


def all_reduce_values(values, device, world, op=dist.ReduceOp.SUM):
    """values (floats) reduced over `world` processes (SUM or MAX) → list of floats. world 1: unchanged."""
    if world == 1:
        return list(values)
    t = torch.tensor(values, dtype=torch.float64, device=device)  # (n,) on the training device
    dist.all_reduce(t, op=op)
    return t.tolist()


def backend(device):
    """The process-group backend for a run on `device`: nccl on CUDA, gloo on CPU; LAINR_DDP_BACKEND overrides
    it (the GPU call's smoke runs gloo on one GPU, where NCCL refuses two ranks on one device)."""
    return os.environ.get("LAINR_DDP_BACKEND") or ("nccl" if str(device).startswith("cuda") else "gloo")
