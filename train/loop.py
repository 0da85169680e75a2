"""The training loop: SPEC §5 protocol, budgeted schedules, checkpoints, exact resume, DDP."""
import copy
import dataclasses
import json
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

from . import collectives, hardware, splits
from .batches import loss_and_psnr, queries, step_generator
from .checkpoint import (CKPT, RUN_JSON, inspect_run_dir, load_checkpoint, rng_state, save_checkpoint, set_rng_state,
                         write_run_json)
from .config import TrainConfig
from .data import Split, check_source, load_split, to_float
from .publish.export import export_run
from .metrics_log import MetricsLog, truncate_metrics
from .model_factory import build_model, init_weights  # build_model: also importable as train.loop.build_model
from .publish.lineage import lineage_of
from .stop_request import StopRequest, TrainingStopped
from .schedule import (REWARMUP_REQUIRED_ABOVE, extension_segment, lr_for_step, new_plan, plan_total, protocol_plan,
                       recipe_description, schedule_description)
from .eval.validate import evaluate_sigmas, val_indices
from .photo_batches import crop_generator, photo_batch
from .photo_folder import describe_skipped
from .photo_run import export_photo_run, manifest_summary, photo_sets, sr_fields, write_manifest
from .photo_validation import evaluate_photos, validation_crops


# --time-budget → planned total steps: one untimed warm-up step (numba compile, allocator, caches), then
# up to PROBE_STEPS timed optimiser steps on a throw-away copy of the model and optimiser (the run's
# own first batches; RNG states restored afterwards, so the run itself is unchanged). Fewer timed
# steps (at least PROBE_MIN_STEPS) when they would take more than PROBE_BUDGET_SHARE of the budget.
PROBE_WARMUP_STEPS, PROBE_STEPS, PROBE_MIN_STEPS, PROBE_BUDGET_SHARE = 1, 10, 2, 0.02


class TrainingDiverged(RuntimeError):
    """The loss became NaN/inf; training stopped and the last good checkpoint was kept."""


def _dist_setup(cfg):
    """→ (rank, world, device). torchrun sets RANK / WORLD_SIZE / LOCAL_RANK."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    device = cfg.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda":  # set_device needs an index (torch ≥ 2.11 refuses a bare "cuda")
        device = f"cuda:{local}"
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ValueError(f"--device {cfg.device} asked for, but CUDA is not available")
        torch.cuda.set_device(torch.device(device))
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(collectives.backend(device))
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


def _budget(c):
    return ", ".join(f"{k} {v}" for k, v in (("--max-steps", c.max_steps), ("--time-budget", f"{c.time_budget:g}s"))
                     if v and v != "0s") or "no budget (protocol)"


def _resumed_plan(ckpt, cfg, extend_to, rewarmup_steps=None):
    """The step plan of a run resumed from `ckpt` → (plan or None, the new extension segment or None).
    Every refusal is raised here, before anything is written."""
    saved = TrainConfig.from_dict(ckpt["config"])
    done = ckpt["step"]
    plan = ckpt.get("plan")
    if plan is None and saved.max_steps and not saved.time_budget:  # old trainer, step budget: same rates
        plan = new_plan(saved.max_steps, "max_steps")
    given = (cfg.max_steps, cfg.time_budget)
    if given != (0, 0.0) and given != (saved.max_steps, saved.time_budget):
        if extend_to is None:
            total = f"its planned total of {plan_total(plan)} steps" if plan else "its schedule"
            raise ValueError(
                f"{cfg.out} was started with {_budget(saved)}; this command gives {_budget(cfg)}. A resumed run "
                f"keeps {total} (step {done} done): resume it with the same budget flags or none, or change "
                f"its length with --extend-to STEPS (the new total).")
        raise ValueError(f"--extend-to sets the new total by itself: give it alone or with the run's original "
                         f"budget flags ({_budget(saved)}), not {_budget(cfg)}")
    if extend_to is None:
        if rewarmup_steps is not None:
            raise ValueError("--rewarmup-steps belongs to an extension: give it with --extend-to STEPS")
        if saved.budgeted and plan is None:
            raise ValueError(f"{cfg.out} was written by the old trainer, whose schedule followed wall time "
                             f"(--time-budget); it cannot be replayed. Continue it on a step schedule with "
                             f"--extend-to STEPS (the new total; step {done} done).")
        return plan, None
    if extend_to < done:
        raise ValueError(f"--extend-to {extend_to} is below the {done} steps {cfg.out} has already done")
    if plan is None and not saved.budgeted:  # a protocol run: its epochs become the plan's first segment
        plan = protocol_plan(saved.epochs, ckpt["steps_per_epoch"])
    if plan is None:
        plan = [{"from_step": 0, "total_steps": None, "source": "old trainer: wall-time schedule",
                 "time_budget": saved.time_budget}]
    if plan_total(plan) == extend_to:
        return plan, None  # already planned to that total (e.g. the same --extend-to given again on resume)
    from_lr = ckpt.get("lr") if done else None
    if from_lr is None:
        from_lr = lr_for_step(cfg, max(done - 1, 0), ckpt.get("epoch", 0), plan) if plan[0]["total_steps"] else cfg.lr
    seg = dict(extension_segment(cfg, plan, done, extend_to, rewarmup_steps, from_lr),
               at=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    if rewarmup_steps is None and seg["to_lr"] > REWARMUP_REQUIRED_ABOVE * from_lr:
        raise ValueError(
            f"--extend-to {extend_to}: at step {done} the rate would jump from {from_lr:.3g} (where {cfg.out} "
            f"stands) to {seg['to_lr']:.3g} (the schedule over {extend_to} steps). Say how to get there: "
            f"--rewarmup-steps N ramps linearly over N steps (e.g. {max(1, (extend_to - done) // 8)}, an eighth of the "
            f"added steps), --rewarmup-steps 0 takes the jump.")
    return plan + [seg], seg


def _sync(device):
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


def _probe_seconds_per_step(model, cfg, make_batch, order, local_batch, device, autocast, rank):
    """Seconds per optimiser step, measured on a copy of the model (see PROBE_*). → (seconds, timed steps).
    make_batch(indices, step) → inputs, coords, targets (`_Run.batch`)."""
    twin = copy.deepcopy(model)
    twin.train()
    opt = torch.optim.AdamW(twin.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    saved = rng_state()
    n_batches = max(1, len(order) // local_batch)
    timed, n = 0.0, 0
    for i in range(PROBE_WARMUP_STEPS + PROBE_STEPS):
        b = i % n_batches
        _sync(device)
        t0 = time.perf_counter()
        x, coords, targets = make_batch(order[b * local_batch:(b + 1) * local_batch], i)
        with (autocast() if autocast else nullcontext()):
            pred = twin(x, coords)
        loss, _ = loss_and_psnr(cfg.model, pred, targets)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(twin.parameters(), cfg.grad_clip)
        opt.step()
        loss.item()
        _sync(device)
        if i >= PROBE_WARMUP_STEPS:
            timed, n = timed + time.perf_counter() - t0, n + 1
            if n >= PROBE_MIN_STEPS and timed >= PROBE_BUDGET_SHARE * cfg.time_budget:
                break
    set_rng_state(saved)
    del twin, opt
    return timed / n, n


def _autocast(cfg, device, is_main):
    """bf16 autocast for --bf16 (CUDA, or CPU: fastest where it has AVX-512 BF16 / AMX), else None. The
    library keeps the Fourier features, the spatial bias and the biased attention in float32 inside it."""
    if not cfg.bf16:
        return None
    kind = torch.device(device).type
    if kind == "cpu" and is_main and not hardware.cpu_has_bf16():
        print("warning: --bf16 on a CPU without AVX-512 BF16 / AMX: torch emulates bfloat16 there and training "
              "may run slower than in float32", file=sys.stderr)
    return lambda: torch.autocast(kind, dtype=torch.bfloat16)


def _keep_run_epochs(cfg):
    """A resume that does not give --epochs keeps the run's (epochs are part of its identity)."""
    run_json = Path(cfg.out) / RUN_JSON
    if cfg.epochs is not None or not run_json.is_file():
        return cfg
    saved = json.loads(run_json.read_text()).get("config", {}).get("epochs")
    return dataclasses.replace(cfg, epochs=saved) if saved else cfg


def train(cfg: TrainConfig, *, resume=False, export=True, progress=True, extend_to=None, rewarmup_steps=None):
    """Run (or resume) training into cfg.out. Returns a summary dict (rank 0) or None.

    extend_to: a new planned total of optimiser steps for a run being resumed, budgeted or protocol (see
    train.schedule for the shape); refused below the steps done and on a new run. rewarmup_steps: with
    extend_to, a linear ramp over that many steps from the current rate to the new schedule (0: jump).

    Set-up (`_Run.__init__`: every refusal before anything is written, then data and model), resume
    (`_Run.resume`), the plan and run.json (`_Run.start`), the steps and epochs (`_Run.loop`), the
    finish (`_Run.finish`: last validation, final checkpoint, export)."""
    run = _Run(cfg, resume, extend_to, rewarmup_steps)
    run.resume()
    run.start()
    run.loop(progress)
    return run.finish(export)


def _refuse_bad_extension_flags(extend_to, rewarmup_steps):
    if extend_to is not None and extend_to < 1:
        raise ValueError(f"--extend-to must be a positive number of steps, got {extend_to}")
    if rewarmup_steps is not None and (rewarmup_steps < 0 or (extend_to is not None and
                                                               rewarmup_steps > extend_to)):
        raise ValueError(f"--rewarmup-steps must be in 0..STEPS of --extend-to, got {rewarmup_steps}")


def _check_world_size(ckpt, out, world):
    """A run resumes on the number of processes it was trained with: the data order of an epoch, the batch
    position in it and each process's pixel draws depend on it, so another world size would not replay the
    run (refused, not rescaled). Checkpoints that did not record it (before DDP) are taken as 1 process."""
    segments = ckpt.get("segments") or [{}]
    trained = ckpt.get("world_size", segments[-1].get("world_size", 1))
    if trained != world:
        raise ValueError(
            f"{out} was trained by {trained} process(es) and this command runs {world}: a resume must use the same "
            f"number (`torchrun --nproc_per_node {trained}`, or plain `python -m train` for 1), since the data order "
            f"and batch position depend on it. To continue on {world}, export the run (python -m train.publish.export) "
            f"and start a new --out with --init-from that folder.")


class _Run:
    """One start of a run: what `train` sets up, and its step / epoch / checkpoint / finish."""

    def __init__(self, cfg, resume, extend_to, rewarmup_steps):
        cfg = _keep_run_epochs(cfg).resolved()
        _refuse_bad_extension_flags(extend_to, rewarmup_steps)
        check_source(cfg.data, cfg.image_size)  # bad data → DataError before anything is written
        self.start_state = init_weights(cfg)  # --init-from that does not fit → ValueError, nothing written
        self.rank, self.world, self.device = _dist_setup(cfg)
        if cfg.batch_size % self.world:
            raise ValueError(f"--batch-size {cfg.batch_size} must be divisible by the {self.world} DDP processes")
        self.out = out = Path(cfg.out)
        ckpt_path = inspect_run_dir(out, cfg, resume)  # different run / foreign dir → RunDirError, nothing written
        self.ckpt, self.plan, self.extension = None, None, None
        if ckpt_path is not None:
            self.ckpt = load_checkpoint(ckpt_path)
            _check_world_size(self.ckpt, out, self.world)
            self.plan, self.extension = _resumed_plan(self.ckpt, cfg, extend_to, rewarmup_steps)  # → ValueError
            saved = TrainConfig.from_dict(self.ckpt["config"])  # the run keeps the budget flags it started with
            cfg = dataclasses.replace(cfg, max_steps=saved.max_steps, time_budget=saved.time_budget)
        elif extend_to is not None or rewarmup_steps is not None:
            raise ValueError(f"--extend-to continues an existing run, and {out} holds none (no {CKPT}); "
                             f"start a new run with --max-steps or --time-budget")
        if cfg.threads:
            hardware.set_threads(cfg.threads)
        self.cfg, self.is_main = cfg, self.rank == 0
        self._build()

    def _build(self):
        """Data (rank 0 builds the cache first; the others then read it), model, optimiser, fresh state."""
        cfg = self.cfg
        if not self.is_main:
            _barrier(self.world)
        self.manifest = None
        if cfg.image_size:  # a folder of any images: decoded and split by file (train/photo_folder.py)
            self.train_set, self.val_set, self.val_info, self.manifest = photo_sets(cfg)
            if self.is_main and self.manifest["skipped"]:
                print(describe_skipped(self.manifest), file=sys.stderr)
        else:
            self.train_set, self.val_set, self.val_info = train_and_validation_sets(cfg)
        if self.is_main:
            _barrier(self.world)
        self.val_idx = val_indices(len(self.val_set), cfg.val_limit)
        if cfg.image_size:  # the validated photos' crops, made once
            self.val_crops, self.val_sr = validation_crops(self.val_set, cfg.image_size, self.val_idx)
        torch.manual_seed(cfg.seed)
        self.model = build_model(cfg).to(self.device)
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)  # all params
        self.state = dict(step=0, epoch=0, batch_in_epoch=0, elapsed=0.0, epoch_sums=[0.0, 0.0, 0], finished=False,
                          last_val=None, lineage=lineage_of(cfg.init_from),  # the --init-from history
                          segments=[])  # one entry per start: from_step and the settings that may change
        if self.ckpt is None and self.start_state is not None:  # a new run from --init-from; a fresh optimiser
            self.model.load_state_dict(self.start_state)

    def resume(self):
        """Model, optimiser, RNG states and position from the checkpoint (nothing for a new run)."""
        ckpt, state = self.ckpt, self.state
        if ckpt is None:
            return
        self.model.load_state_dict(ckpt["model"])
        self.opt.load_state_dict(ckpt["optimizer"])
        set_rng_state(ckpt["rng"])
        state.update({k: ckpt[k] for k in state if k in ckpt})
        if self.is_main:
            truncate_metrics(self.out, state["step"])
            print(f"resuming {self.out} at step {state['step']} (epoch {state['epoch']}, "
                  f"{state['elapsed'] / 60:.1f} min trained)", file=sys.stderr)

    def start(self):
        """This start's segment, the sampler, the plan of a new budgeted run, run.json; the DDP wrapper."""
        cfg, state, world = self.cfg, self.state, self.world
        self.hw = hardware.describe(self.device)
        state["segments"] = record_segment(state["segments"], state["step"], cfg, self.hw, world)
        self.autocast = _autocast(cfg, self.device, self.is_main)
        self.sampler = DistributedSampler(range(len(self.train_set)), num_replicas=world, rank=self.rank,
                                          shuffle=True, seed=cfg.seed, drop_last=False)
        self.local_batch = cfg.batch_size // world
        self.steps_per_epoch = math.ceil(len(self.sampler) / self.local_batch)
        if self.ckpt is None and cfg.budgeted:  # a new budgeted run: fix its total number of steps now
            self.plan = _plan_new_run(cfg, self.model, self.batch, self.sampler, self.local_batch,
                                      self.steps_per_epoch, self.device, self.autocast, self.rank, world, self.is_main)
        if self.is_main:
            self._write_run_json()
        _barrier(world)
        on_cuda = str(self.device).startswith("cuda")
        self.net = self.model if world == 1 else torch.nn.parallel.DistributedDataParallel(
            self.model, device_ids=[torch.device(self.device).index] if on_cuda else None)
        self.log = MetricsLog(self.out, enabled=self.is_main)
        self.clock = _Clock(state["elapsed"])
        self.steps_at_start = state["step"]
        self.last_ckpt = self.last_val = time.time()
        self.current_lr, self.synced_elapsed, self.img_s = cfg.lr, self.clock(), 0.0

    def _write_run_json(self):
        cfg, ext = self.cfg, self.extension
        write_run_json(self.out, cfg, {
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "from_step": self.state["step"], "hardware": self.hw,
            "world_size": self.world, "data_source": self.train_set.source, "max_steps": cfg.max_steps,
            "time_budget": cfg.time_budget, "recipe": cfg.recipe, "lr": cfg.lr, "batch_size": cfg.batch_size,
            "warmup_frac": cfg.warmup_frac, "total_steps": plan_total(self.plan), "validation": self.val_info,
            "n_train": len(self.train_set), "bf16": cfg.bf16, "threads": self.state["segments"][-1]["threads"],
            **({"extension": ext} if ext else {}),
            **({"data_manifest": manifest_summary(self.manifest, cfg)} if self.manifest else {})},
            plan=self.plan, world_size=self.world)
        if self.manifest:
            write_manifest(self.out, self.manifest, self.state["step"])
        if ext:
            print(f"{self.out}: schedule extended at step {ext['from_step']} from {ext['from_total']} to "
                  f"{ext['total_steps']} steps", file=sys.stderr)

    # ---- during the run ---------------------------------------------------------------------------
    def batch(self, idx, step):
        """→ inputs (b, 3, N, N), coords (b, Q, 2), targets (b, Q, 3) of the training images `idx` at `step`
        (CIFAR: N = 32, the pixel draws and jitter of train.batches; a photo run: train/photo_batches.py)."""
        cfg, device = self.cfg, self.device
        pixel_gen = step_generator(cfg.seed, step, self.rank, device)
        if cfg.image_size:
            return photo_batch(self.train_set.photos, idx, cfg.image_size, cfg.scale_range, cfg.pixels,
                               cfg.train_sigma, crop_generator(cfg.seed, step, self.rank), pixel_gen, device)
        x = to_float(self.train_set.images[idx], device)  # (b, 3, 32, 32)
        return (x, *queries(x, cfg.pixels, cfg.train_sigma, pixel_gen))

    def checkpoint(self, finished=False):
        state = self.state
        state["elapsed"], state["finished"] = self.clock(), finished
        self.last_ckpt = time.time()
        if self.is_main:
            save_checkpoint(self.out / CKPT, {
                **state, "model": self.model.state_dict(), "optimizer": self.opt.state_dict(), "rng": rng_state(),
                "config": asdict(self.cfg), "lr": self.current_lr, "plan": self.plan,
                "total_steps": plan_total(self.plan), "steps_per_epoch": self.steps_per_epoch, "hardware": self.hw,
                "world_size": self.world, "data_source": self.train_set.source, "n_train": len(self.train_set)})

    def validate(self, kind="val"):
        """Rank 0: score the validation images, log a `kind` record unless kind is "epoch" (logged with the
        epoch's training figures) → the figures (other ranks: None)."""
        if not self.is_main:
            return None
        jittered = {}
        if self.cfg.image_size:
            m = evaluate_photos(self.model, self.val_crops, self.val_sr, device=self.device, autocast=self.autocast)
        else:
            sigmas = (0.0, self.cfg.val_jitter) if self.cfg.val_jitter else (0.0,)
            by_sigma = evaluate_sigmas(self.model, self.val_set.images, self.val_idx, sigmas, device=self.device,
                                       autocast=self.autocast)
            m = by_sigma[0.0]
            jittered = {"val_psnr_jitter": by_sigma[self.cfg.val_jitter]["psnr"]} if self.cfg.val_jitter else {}
        self.state["last_val"] = {"step": self.state["step"], **m}
        if kind != "epoch":
            self.log.write("val", step=self.state["step"], epoch=self.state["epoch"], val_loss=m["loss"],
                           val_psnr=m["psnr"], val_ssim=m["ssim"], n=m["n"], elapsed=self.clock(), **jittered,
                           **sr_fields(m))
        return m

    def done(self):
        if self.plan is not None:  # a budgeted run stops at its planned total (never at a wall time)
            return self.state["step"] >= plan_total(self.plan)
        return self.state["epoch"] >= self.cfg.epochs

    def loop(self, progress):
        """Epochs of steps until the plan (or the protocol's epochs) is done, or a stop request."""
        cfg, state = self.cfg, self.state
        self.total = plan_total(self.plan) if self.plan is not None else cfg.epochs * self.steps_per_epoch
        self.curve_steps = curve_steps(self.total, cfg.val_points)
        self.bar = tqdm(total=self.total, initial=state["step"], disable=not (self.is_main and progress),
                        dynamic_ncols=True, mininterval=1.0 if sys.stderr.isatty() else 30.0, desc=f"{cfg.model}")
        self.net.train()
        with StopRequest(enabled=self.world == 1) as stop:
            while not self.done():
                self.sampler.set_epoch(state["epoch"])
                order = torch.tensor(list(self.sampler))
                for b in range(state["batch_in_epoch"], self.steps_per_epoch):
                    if self.done():
                        break
                    self.step(order, b)
                    self.between_steps(stop)
                if state["batch_in_epoch"] == self.steps_per_epoch:
                    self.end_epoch()
                _barrier(self.world)
            self.bar.close()

    def step(self, order, b):
        """One optimiser step on batch b of this epoch's `order`; the step's record and progress bar."""
        cfg, state, device, world = self.cfg, self.state, self.device, self.world
        t0 = time.time()
        if os.environ.get("LAINR_TRAIN_STEP_SLEEP"):  # test hook: slow steps so a test can kill mid-run
            time.sleep(float(os.environ["LAINR_TRAIN_STEP_SLEEP"]))
        self.current_lr = lr = lr_for_step(cfg, state["step"], state["epoch"], self.plan)
        for group in self.opt.param_groups:
            group["lr"] = lr
        x, coords, targets = self.batch(order[b * self.local_batch:(b + 1) * self.local_batch], state["step"])
        with (self.autocast() if self.autocast else nullcontext()):
            pred = self.net(x, coords)  # (b, Q, 3)
        loss, psnr = loss_and_psnr(cfg.model, pred, targets)
        if os.environ.get("LAINR_TRAIN_NAN_AT_STEP") == str(state["step"]):  # test hook: simulate divergence
            loss = loss * float("nan")
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        # mean loss and PSNR over the processes; rank 0's clock (the others add 0)
        loss_v, psnr_v, self.synced_elapsed = collectives.all_reduce_values(
            [loss.item(), psnr, self.clock() if self.is_main else 0.0], device, world)
        loss_v, psnr_v = loss_v / world, psnr_v / world
        if not math.isfinite(loss_v):
            self.bar.close()
            raise TrainingDiverged(
                f"loss became {loss_v} at step {state['step']} (epoch {state['epoch']}, lr {lr:.3g}); training "
                f"stopped. The last good checkpoint is kept in {self.out / CKPT}"
                + ("" if (self.out / CKPT).is_file() else " (none was written yet)") + ".")
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
        self.opt.step()
        state["step"] += 1
        state["batch_in_epoch"] = b + 1
        s = state["epoch_sums"]
        s[0], s[1], s[2] = s[0] + loss_v, s[1] + psnr_v, s[2] + 1
        dt = time.time() - t0
        self.img_s = cfg.batch_size / dt if self.img_s == 0 else 0.9 * self.img_s + 0.1 * cfg.batch_size / dt
        if state["step"] % cfg.log_every == 0:
            self.log.write("step", step=state["step"], epoch=state["epoch"], loss=loss_v, psnr=psnr_v, lr=lr,
                           img_s=cfg.batch_size / dt, elapsed=self.synced_elapsed)
        self.bar.update(1)
        self.bar.set_postfix(loss=f"{loss_v:.4f}", psnr=f"{psnr_v:.2f}", img_s=f"{self.img_s:.1f}", lr=f"{lr:.2e}",
                             refresh=False)

    def between_steps(self, stop):
        """Timed validation and checkpoint (not at an epoch's end: `end_epoch` does both); a stop request."""
        cfg, state = self.cfg, self.state
        end_of_epoch = state["batch_in_epoch"] == self.steps_per_epoch
        if state["step"] in self.curve_steps and state["step"] < self.total:  # the last step validates at the end
            self.validate("curve")
        if cfg.val_minutes and time.time() - self.last_val >= cfg.val_minutes * 60 and not end_of_epoch:
            self.validate("val")
            self.last_val = time.time()
            _plot(self.out, self.is_main)
        if time.time() - self.last_ckpt >= cfg.ckpt_minutes * 60 and not end_of_epoch:
            self.checkpoint()
        if stop:  # Ctrl-C / SIGTERM: this step is done; save it and leave (the same command resumes)
            self.checkpoint()
            self.bar.close()
            raise TrainingStopped(
                f"stopped on request at step {state['step']} of {self.total}; checkpoint saved in {self.out / CKPT}. "
                f"Run the same command again to resume from there.", state["step"], stop.signum)

    def end_epoch(self):
        """The epoch is complete: validate, log its means, checkpoint, plot."""
        state = self.state
        s = state["epoch_sums"]
        m = self.validate("epoch")
        if self.is_main:
            self.log.write("epoch", step=state["step"], epoch=state["epoch"], train_loss=s[0] / max(s[2], 1),
                           train_psnr=s[1] / max(s[2], 1), val_loss=m["loss"], val_psnr=m["psnr"],
                           val_ssim=m["ssim"], n=m["n"], lr=self.current_lr, elapsed=self.clock(), **sr_fields(m))
        state["epoch"] += 1
        state["batch_in_epoch"] = 0
        state["epoch_sums"] = [0.0, 0.0, 0]
        self.checkpoint()
        _plot(self.out, self.is_main)

    # ---- the end ------------------------------------------------------------------------------------
    def finish(self, export):
        """Last validation (unless this step has one), the final checkpoint, the summary, the export."""
        cfg, state, out, is_main = self.cfg, self.state, self.out, self.is_main
        def summary():
            return _summary(cfg, state, self.steps_per_epoch, self.hw, self.train_set.source, self.plan)

        if state["step"] == self.steps_at_start and state["finished"]:
            if is_main:
                print(f"{out}: the run is already finished at step {state['step']}; nothing to do (give --extend-to "
                      f"STEPS, a new total, to continue it)", file=sys.stderr)
            return summary() if is_main else None
        lv = state["last_val"]
        if is_main and (lv is None or lv["step"] != state["step"]):
            self.validate("end")
        self.checkpoint(finished=True)
        result = None
        if is_main:
            result = summary()
            self.log.write("end", **{k: v for k, v in result.items() if k != "config"})
            _plot(out, is_main)
            if export and cfg.image_size:
                export_photo_run(self.model, out / "hf", result, self.manifest)
            elif export:
                export_run(out, out / "hf", eval_limit=cfg.val_limit, device=self.device)
        _barrier(self.world)
        return result


def train_and_validation_sets(cfg):
    """→ (images trained on, validation images, what run.json records about them).

    --val-from train (default): the held-out tenth of the training split (train/splits.py) validates
    and is never trained on; --val-from test: every training image trains, the test split validates.
    """
    if cfg.image_size:  # a folder of any images: split by file
        return photo_sets(cfg)[:3]
    train_set = load_split(cfg.data, "train", data_root=cfg.data_root, cache_dir=cfg.cache_dir, workers=cfg.workers)
    if cfg.val_from == "test":
        test_set = load_split(cfg.data, "test", data_root=cfg.data_root, cache_dir=cfg.cache_dir, workers=cfg.workers)
        return train_set, test_set, splits.describe("test", None)
    held_out = splits.validation_indices(train_set.labels, cfg.val_list or None)
    if len(held_out) == 0:
        raise ValueError("the training split is too small to hold out validation images; use --val-from test")
    keep = splits.train_indices(len(train_set), held_out)
    part = lambda idx: Split(train_set.images[idx], train_set.labels[idx], train_set.classes, train_set.source)  # noqa: E731
    return part(keep), part(held_out), splits.describe("train", held_out, cfg.val_list or None)


def _plan_new_run(cfg, model, make_batch, sampler, local_batch, steps_per_epoch, device, autocast, rank, world,
                  is_main):
    """The step plan of a new budgeted run: --max-steps, or --time-budget × the measured speed (the
    smaller of the two when both are given), at most the protocol's --epochs."""
    info, total, source = {}, cfg.max_steps, "max_steps"
    if cfg.time_budget:
        sampler.set_epoch(0)
        sec, n = _probe_seconds_per_step(model, cfg, make_batch, torch.tensor(list(sampler)), local_batch,
                                         device, autocast, rank)
        # every process plans with the slowest one's speed
        (sec,) = collectives.all_reduce_values([sec], device, world, op=dist.ReduceOp.MAX)
        by_time = max(1, int(cfg.time_budget / sec))
        info = {"probe_img_s": cfg.batch_size / sec, "probe_steps": n, "steps_for_time_budget": by_time}
        if not cfg.max_steps or by_time < cfg.max_steps:
            total, source = by_time, "time_budget"
    cap = cfg.epochs * steps_per_epoch
    if total > cap:
        total, info["capped_at_epochs"] = cap, cfg.epochs
    if is_main:
        how = (f"--time-budget {cfg.time_budget:g}s at {info['probe_img_s']:.2f} img/s (measured over "
               f"{info['probe_steps']} steps)" if source == "time_budget" else f"--max-steps {cfg.max_steps}")
        cap_note = f", capped at {cfg.epochs} epochs" if "capped_at_epochs" in info else ""
        print(f"planned {total} optimiser steps from {how}{cap_note}", file=sys.stderr)
    return new_plan(total, source, **info)


def record_segment(segments, step, cfg, hw, world):
    """segments + this start's entry (replacing a start at the same step that trained nothing)."""
    entry = {"from_step": step, "bf16": cfg.bf16, "threads": cfg.threads or torch.get_num_threads(),
             "hardware": hw, "world_size": world}
    if not segments and step > 0:  # a checkpoint of a trainer that did not record them
        segments = [{"from_step": 0, "recorded": False}]
    return [s for s in segments if s["from_step"] < step] + [entry]


def curve_steps(total, points):
    """The steps a learning curve validates at: `points` log-spaced from total/128 to total (distinct, ≥ 1)."""
    if points <= 0 or total <= 0:
        return frozenset()
    if points == 1:
        return frozenset({total})
    lo = max(1.0, total / 128)
    return frozenset(min(total, max(1, round(lo * (total / lo) ** (i / (points - 1))))) for i in range(points))


def _summary(cfg, state, steps_per_epoch, hw, source, plan=None):
    epochs_done = state["step"] / steps_per_epoch
    lv = state["last_val"] or {}
    return {"step": state["step"], "epochs": epochs_done, "elapsed": state["elapsed"],
            "total_steps": plan_total(plan), "recipe": recipe_description(cfg),
            "schedule": schedule_description(cfg, state["step"], epochs_done, plan), "hardware": hw,
            "data_source": source, "val_psnr": lv.get("psnr"), "val_ssim": lv.get("ssim"), "val_n": lv.get("n"),
            "val_from": "held-out folder" if cfg.image_size else cfg.val_from, "segments": state["segments"],
            "config": asdict(cfg)}


def _plot(out, is_main):
    if not is_main:
        return
    try:
        from .study.plot import plot_run
        plot_run(out)
    except Exception as err:  # noqa: BLE001 — a plotting problem must never stop training
        print(f"warning: could not plot training curves: {err}", file=sys.stderr)
