"""The training loop: SPEC §5 protocol, budgeted schedules, checkpoints, exact resume, DDP."""
import math
import os
import sys
import time
from contextlib import nullcontext
from dataclasses import asdict
from pathlib import Path

import torch
import torch.distributed as dist
from torch.utils.data import DistributedSampler
from tqdm import tqdm

from . import hardware
from .batches import loss_and_psnr, queries, step_generator
from .checkpoint import (CKPT, inspect_run_dir, load_checkpoint, rng_state, save_checkpoint, set_rng_state,
                         truncate_metrics, write_run_json)
from .config import TrainConfig
from .data import check_source, load_split, to_float
from .export import export_run
from .metrics_log import MetricsLog
from .model_factory import build_model  # noqa: F401 — also importable as train.loop.build_model
from .schedule import lr_for_step, schedule_description
from .validate import evaluate_split, val_indices


class TrainingDiverged(RuntimeError):
    """The loss became NaN/inf; training stopped and the last good checkpoint was kept."""


def _dist_setup(cfg):
    """→ (rank, world, device). torchrun sets RANK / WORLD_SIZE / LOCAL_RANK."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    device = cfg.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and world > 1:
        device = f"cuda:{local}"
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ValueError(f"--device {cfg.device} asked for, but CUDA is not available")
        torch.cuda.set_device(torch.device(device))
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
    return rank, world, device


def _barrier(world):
    if world > 1:
        dist.barrier()


class _Clock:
    """Training wall time, accumulated over resumes."""

    def __init__(self, base):
        self.base, self.start = base, time.time()

    def __call__(self):
        return self.base + time.time() - self.start


def train(cfg: TrainConfig, *, resume=False, export=True, progress=True):
    """Run (or resume) training into cfg.out. Returns a summary dict (rank 0) or None."""
    cfg = cfg.resolved()
    check_source(cfg.data)  # bad data → DataError before anything is written
    rank, world, device = _dist_setup(cfg)
    if cfg.batch_size % world:
        raise ValueError(f"--batch-size {cfg.batch_size} must be divisible by the {world} DDP processes")
    out = Path(cfg.out)
    ckpt_path = inspect_run_dir(out, cfg, resume)  # different run / foreign dir → RunDirError, nothing written
    if cfg.threads:
        hardware.set_threads(cfg.threads)
    is_main = rank == 0

    # data (rank 0 builds the cache first; the others then read it)
    if not is_main:
        _barrier(world)
    train_set = load_split(cfg.data, "train", data_root=cfg.data_root, cache_dir=cfg.cache_dir, workers=cfg.workers)
    test_set = load_split(cfg.data, "test", data_root=cfg.data_root, cache_dir=cfg.cache_dir, workers=cfg.workers)
    if is_main:
        _barrier(world)
    val_idx = val_indices(len(test_set), cfg.val_limit)

    torch.manual_seed(cfg.seed)
    model = build_model(cfg).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)  # decay on all params
    state = dict(step=0, epoch=0, batch_in_epoch=0, elapsed=0.0, epoch_sums=[0.0, 0.0, 0], finished=False,
                 last_val=None)
    if ckpt_path is not None:
        ckpt = load_checkpoint(ckpt_path)
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        set_rng_state(ckpt["rng"])
        state.update({k: ckpt[k] for k in state if k in ckpt})
        if is_main:
            truncate_metrics(out, state["step"])
            print(f"resuming {out} at step {state['step']} (epoch {state['epoch']}, "
                  f"{state['elapsed'] / 60:.1f} min trained)", file=sys.stderr)
    hw = hardware.describe(device)
    if is_main:
        write_run_json(out, cfg, {"started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "from_step": state["step"],
                                  "hardware": hw, "world_size": world, "data_source": train_set.source,
                                  "max_steps": cfg.max_steps, "time_budget": cfg.time_budget})
    _barrier(world)

    net = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model
    autocast = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if cfg.bf16 and device.startswith("cuda") \
        else None
    log = MetricsLog(out, enabled=is_main)
    sampler = DistributedSampler(range(len(train_set)), num_replicas=world, rank=rank, shuffle=True,
                                 seed=cfg.seed, drop_last=False)
    local_batch = cfg.batch_size // world
    steps_per_epoch = math.ceil(len(sampler) / local_batch)
    clock = _Clock(state["elapsed"])
    steps_at_start = state["step"]
    last_ckpt = last_val = time.time()

    def checkpoint(finished=False):
        state["elapsed"], state["finished"] = clock(), finished
        if is_main:
            save_checkpoint(out / CKPT, {**state, "model": model.state_dict(), "optimizer": opt.state_dict(),
                                         "rng": rng_state(), "config": asdict(cfg), "lr": current_lr,
                                         "steps_per_epoch": steps_per_epoch, "hardware": hw,
                                         "data_source": train_set.source, "n_train": len(train_set)})

    def validate(kind):
        if is_main:
            m = evaluate_split(model, test_set.images, val_idx, device=device, autocast=autocast)
            state["last_val"] = {"step": state["step"], **m}
            return m
        return None

    def done():
        if state["epoch"] >= cfg.epochs:
            return True
        if cfg.max_steps and state["step"] >= cfg.max_steps:
            return True
        return bool(cfg.time_budget and synced_elapsed >= cfg.time_budget)

    total = min(cfg.max_steps or 10 ** 12, cfg.epochs * steps_per_epoch)
    bar = tqdm(total=total, initial=state["step"], disable=not (is_main and progress), dynamic_ncols=True,
               mininterval=1.0 if sys.stderr.isatty() else 30.0, desc=f"{cfg.model}")
    current_lr, synced_elapsed, img_s = cfg.lr, clock(), 0.0
    net.train()
    while not done():
        sampler.set_epoch(state["epoch"])
        order = torch.tensor(list(sampler))
        for b in range(state["batch_in_epoch"], steps_per_epoch):
            if done():
                break
            t0 = time.time()
            if os.environ.get("LAINR_TRAIN_STEP_SLEEP"):  # test hook: slow steps so a test can kill mid-run
                time.sleep(float(os.environ["LAINR_TRAIN_STEP_SLEEP"]))
            current_lr = lr_for_step(cfg, state["step"], state["epoch"], synced_elapsed)
            for group in opt.param_groups:
                group["lr"] = current_lr
            idx = order[b * local_batch:(b + 1) * local_batch]
            x = to_float(train_set.images[idx], device)  # (b, 3, 32, 32)
            coords, targets = queries(x, cfg.pixels, cfg.train_sigma,
                                      step_generator(cfg.seed, state["step"], rank, device))
            with (autocast() if autocast else nullcontext()):
                pred = net(x, coords)  # (b, Q, 3)
            loss, psnr = loss_and_psnr(cfg.model, pred, targets)
            if os.environ.get("LAINR_TRAIN_NAN_AT_STEP") == str(state["step"]):  # test hook: simulate divergence
                loss = loss * float("nan")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            stats = torch.tensor([loss.item(), psnr, clock() if is_main else 0.0], dtype=torch.float64)
            if world > 1:
                dist.all_reduce(stats)
                stats[:2] /= world
            loss_v, psnr_v, synced_elapsed = stats.tolist()
            if not math.isfinite(loss_v):
                bar.close()
                raise TrainingDiverged(
                    f"loss became {loss_v} at step {state['step']} (epoch {state['epoch']}, lr {current_lr:.3g}); "
                    f"training stopped. The last good checkpoint is kept in {out / CKPT}"
                    + ("" if (out / CKPT).is_file() else " (none was written yet)") + ".")
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            opt.step()
            state["step"] += 1
            state["batch_in_epoch"] = b + 1
            s = state["epoch_sums"]
            s[0], s[1], s[2] = s[0] + loss_v, s[1] + psnr_v, s[2] + 1
            dt = time.time() - t0
            img_s = cfg.batch_size / dt if img_s == 0 else 0.9 * img_s + 0.1 * cfg.batch_size / dt
            if state["step"] % cfg.log_every == 0:
                log.write("step", step=state["step"], epoch=state["epoch"], loss=loss_v, psnr=psnr_v,
                          lr=current_lr, img_s=cfg.batch_size / dt, elapsed=synced_elapsed)
            bar.update(1)
            bar.set_postfix(loss=f"{loss_v:.4f}", psnr=f"{psnr_v:.2f}", img_s=f"{img_s:.1f}", lr=f"{current_lr:.2e}",
                            refresh=False)
            end_of_epoch = state["batch_in_epoch"] == steps_per_epoch
            if cfg.val_minutes and time.time() - last_val >= cfg.val_minutes * 60 and not end_of_epoch:
                m = validate("val")
                if m:
                    log.write("val", step=state["step"], epoch=state["epoch"], val_loss=m["loss"],
                              val_psnr=m["psnr"], val_ssim=m["ssim"], n=m["n"], elapsed=clock())
                last_val = time.time()
                _plot(out, is_main)
            if time.time() - last_ckpt >= cfg.ckpt_minutes * 60 and not end_of_epoch:
                checkpoint()
                last_ckpt = time.time()
        if state["batch_in_epoch"] == steps_per_epoch:  # the epoch is complete
            s = state["epoch_sums"]
            m = validate("epoch")
            if is_main:
                log.write("epoch", step=state["step"], epoch=state["epoch"], train_loss=s[0] / max(s[2], 1),
                          train_psnr=s[1] / max(s[2], 1), val_loss=m["loss"], val_psnr=m["psnr"],
                          val_ssim=m["ssim"], n=m["n"], lr=current_lr, elapsed=clock())
            state["epoch"] += 1
            state["batch_in_epoch"] = 0
            state["epoch_sums"] = [0.0, 0.0, 0]
            checkpoint()
            last_ckpt = time.time()
            _plot(out, is_main)
        _barrier(world)
    bar.close()

    ran = state["step"] - steps_at_start
    if ran == 0 and state["finished"]:
        if is_main:
            print(f"{out}: the run is already finished at step {state['step']}; nothing to do "
                  f"(give a larger --time-budget / --max-steps / --epochs to continue it)", file=sys.stderr)
        return _summary(cfg, state, steps_per_epoch, hw, train_set.source) if is_main else None
    lv = state["last_val"]
    if is_main and (lv is None or lv["step"] != state["step"]):
        m = validate("end")
        log.write("val", step=state["step"], epoch=state["epoch"], val_loss=m["loss"], val_psnr=m["psnr"],
                  val_ssim=m["ssim"], n=m["n"], elapsed=clock())
    checkpoint(finished=True)
    summary = None
    if is_main:
        summary = _summary(cfg, state, steps_per_epoch, hw, train_set.source)
        log.write("end", **{k: v for k, v in summary.items() if k != "config"})
        _plot(out, is_main)
        if export:
            export_run(out, out / "hf", eval_limit=cfg.val_limit, device=device)
    _barrier(world)
    return summary


def _summary(cfg, state, steps_per_epoch, hw, source):
    epochs_done = state["step"] / steps_per_epoch
    lv = state["last_val"] or {}
    return {"step": state["step"], "epochs": epochs_done, "elapsed": state["elapsed"],
            "schedule": schedule_description(cfg, state["step"], epochs_done), "hardware": hw,
            "data_source": source, "val_psnr": lv.get("psnr"), "val_ssim": lv.get("ssim"), "val_n": lv.get("n"),
            "config": asdict(cfg)}


def _plot(out, is_main):
    if not is_main:
        return
    try:
        from .plot import plot_run
        plot_run(out)
    except Exception as err:  # noqa: BLE001 — a plotting problem must never stop training
        print(f"warning: could not plot training curves: {err}", file=sys.stderr)
