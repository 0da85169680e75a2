"""Learning-rate schedules (SPEC §5): the protocol's per-epoch rates and the compressed shape.

Protocol: the rate is set once per epoch e (0-based) of E epochs.
  simplified: CosineAnnealingLR(T_max = 2.5·E)           → lr·½(1 + cos(π·e / T_max))
  corrected:  W = 5·E/40 warm-up epochs: lr·(e+1)/W; then 1e-8 + ½(lr − 1e-8)(1 + cos(π(e − W)/(E − W)))
Budgeted (any run shorter than the protocol): the same shapes over the run's position p ∈ [0, 1]
(fraction of steps or of the time budget done at the end of the step), set every step:
  simplified: lr·½(1 + cos(π·p / 2.5))                    (ends at ≈ 0.65·lr, as the protocol does)
  corrected:  p < 1/8: lr·p·8; then 1e-8 + ½(lr − 1e-8)(1 + cos(π(p − 1/8)/(7/8)))  (1e-8 at the end)
"""
import math

from .config import COSINE_TMAX_RATIO, LR_FLOOR, WARMUP_EPOCHS, WARMUP_OF


def warmup_epochs(epochs):
    return max(1, round(epochs * WARMUP_EPOCHS / WARMUP_OF))


def protocol_lr(model, lr, epoch, epochs):
    """The rate for 0-based `epoch` of an `epochs`-long protocol run."""
    if model == "simplified":
        return lr * 0.5 * (1 + math.cos(math.pi * epoch / (COSINE_TMAX_RATIO * epochs)))
    w = warmup_epochs(epochs)
    if epoch < w:
        return lr * (epoch + 1) / w
    return LR_FLOOR + 0.5 * (lr - LR_FLOOR) * (1 + math.cos(math.pi * (epoch - w) / max(1, epochs - w)))


def compressed_lr(model, lr, position):
    """The rate at `position` ∈ [0, 1] of a budgeted run (compressed protocol shape)."""
    p = min(max(position, 0.0), 1.0)
    if model == "simplified":
        return lr * 0.5 * (1 + math.cos(math.pi * p / COSINE_TMAX_RATIO))
    w = WARMUP_EPOCHS / WARMUP_OF
    if p < w:
        return lr * max(p, 1e-4) / w
    return LR_FLOOR + 0.5 * (lr - LR_FLOOR) * (1 + math.cos(math.pi * (p - w) / (1 - w)))


def run_position(step, elapsed, max_steps, time_budget):
    """Position of a budgeted run at the end of 0-based `step` (after `elapsed` s of training)."""
    p = 0.0
    if max_steps:
        p = max(p, (step + 1) / max_steps)
    if time_budget:
        p = max(p, elapsed / time_budget)
    return min(p, 1.0)


def lr_for_step(cfg, step, epoch, elapsed):
    """The rate the trainer uses for this step. cfg: a resolved TrainConfig."""
    if cfg.budgeted:
        return compressed_lr(cfg.model, cfg.lr, run_position(step, elapsed, cfg.max_steps, cfg.time_budget))
    return protocol_lr(cfg.model, cfg.lr, epoch, cfg.epochs)


def schedule_description(cfg, steps, epochs_done):
    """The model-card sentence: which schedule the run followed."""
    if cfg.budgeted:
        return f"protocol schedule compressed to {steps} steps ({epochs_done:.2f} epochs)"
    return f"protocol, {cfg.epochs} epochs"
