"""Learning-rate schedules (SPEC §5): the protocol's per-epoch rates and the compressed shape.

Protocol (no --max-steps / --time-budget): the rate is set once per epoch e (0-based) of E epochs.
  simplified: CosineAnnealingLR(T_max = 2.5·E)           → lr·½(1 + cos(π·e / T_max))
  corrected:  W = 5·E/40 warm-up epochs: lr·(e+1)/W; then 1e-8 + ½(lr − 1e-8)(1 + cos(π(e − W)/(E − W)))
  (W = round(E·warmup_frac); the protocol's warmup_frac is 5/40 for corrected, 0 for simplified.)

Budgeted: the run has a *plan*, a planned total of optimiser steps T fixed before the first step
(from --max-steps, or from --time-budget × the measured img/s; see train.loop). The rate is a pure
function of (step, T): the same shapes over the position p = (step + 1) / T ∈ (0, 1], set every step:
  simplified: lr·½(1 + cos(π·p / 2.5))                    (ends at ≈ 0.65·lr, as the protocol does)
  corrected:  p < w: lr·p/w; then 1e-8 + ½(lr − 1e-8)(1 + cos(π(p − w)/(1 − w)))  (1e-8 at the end)
with w = warmup_frac (1/8 in the protocol). A simplified run given a warm-up warms up the same way and
then follows its cosine over the remaining (1 − w) of the run.

Extensions (--extend-to N at step s₀, budgeted and protocol runs alike): the plan gets a segment
{from_step: s₀, total_steps: N}; from step s₀ on the rate is the compressed schedule *over the new
total*, at the same step: p = (step + 1) / N. Steps before s₀ keep the rates they had (a protocol
run's first segment keeps its per-epoch rates). Without more, the rate would jump at s₀ from the old
schedule's value r₀ to the value a run planned with N steps from the start has there (a finished
corrected run at 1e-8 extended to twice its length: the middle of the cosine, ≈ 0.5× peak). So the
extension says how to get there: --rewarmup-steps R > 0 ramps linearly from r₀ to the new schedule
over R steps, rate(s) = r₀ + (new(s) − r₀)·(s − s₀ + 1)/R for s₀ ≤ s < s₀ + R; --rewarmup-steps 0 takes
the jump as asked. A rise above REWARMUP_REQUIRED_ABOVE × r₀ with neither is refused (train.loop).
"""
import math

from .config import COSINE_TMAX_RATIO, LR_FLOOR, WARMUP_EPOCHS, WARMUP_OF
from .recipes import describe_warmup, recipe


REWARMUP_REQUIRED_ABOVE = 2.0  # an extension that raises the rate more than this factor must say how (see above)


def _protocol_warmup(model):
    return recipe("protocol", model)["warmup_frac"]


def warmup_epochs(epochs, warmup_frac=WARMUP_EPOCHS / WARMUP_OF):
    if not warmup_frac:
        return 0
    return max(1, round(epochs * warmup_frac))


def protocol_lr(model, lr, epoch, epochs, warmup_frac=None):
    """The rate for 0-based `epoch` of an `epochs`-long protocol run."""
    w = warmup_epochs(epochs, _protocol_warmup(model) if warmup_frac is None else warmup_frac)
    if epoch < w:
        return lr * (epoch + 1) / w
    if model == "simplified":
        return lr * 0.5 * (1 + math.cos(math.pi * (epoch - w) / (COSINE_TMAX_RATIO * (epochs - w))))
    return LR_FLOOR + 0.5 * (lr - LR_FLOOR) * (1 + math.cos(math.pi * (epoch - w) / max(1, epochs - w)))


def compressed_lr(model, lr, position, warmup_frac=None):
    """The rate at `position` ∈ [0, 1] of a budgeted run (compressed protocol shape)."""
    p = min(max(position, 0.0), 1.0)
    w = _protocol_warmup(model) if warmup_frac is None else warmup_frac
    if p < w:
        return lr * max(p, 1e-4) / w
    q = (p - w) / (1 - w)  # position in the decay, 0 → 1
    if model == "simplified":
        return lr * 0.5 * (1 + math.cos(math.pi * q / COSINE_TMAX_RATIO))
    return LR_FLOOR + 0.5 * (lr - LR_FLOOR) * (1 + math.cos(math.pi * q))


# ---- plans -------------------------------------------------------------------------------------
# A plan is a list of segments {"from_step": s, "total_steps": T}; the first starts at step 0. A
# checkpoint of the old trainer (wall-time schedule) has a first segment with total_steps None.

def new_plan(total_steps, source, **info):
    return [{"from_step": 0, "total_steps": int(total_steps), "source": source, **info}]


def protocol_plan(epochs, steps_per_epoch):
    """The plan of a protocol run once it is extended: its first segment keeps the per-epoch rates."""
    return new_plan(epochs * steps_per_epoch, "protocol", epochs=epochs)


def extension_segment(cfg, plan, step, total, rewarmup_steps, from_lr):
    """The segment --extend-to `total` adds at `step` (from_lr: the rate of the step before) → dict.
    Records the new schedule's rate at `step` (to_lr) and the re-warm-up (None: not asked for)."""
    seg = {"from_step": step, "total_steps": int(total), "source": "extend_to", "from_total": plan_total(plan),
           "from_lr": from_lr, "rewarmup_steps": rewarmup_steps}
    seg["to_lr"] = compressed_lr(cfg.model, cfg.lr, (step + 1) / total, cfg.warmup_frac)
    return seg


def plan_total(plan):
    return plan[-1]["total_steps"] if plan else None


def extensions(plan):
    """The segments after the first: one per --extend-to that changed the total."""
    return plan[1:] if plan else []


def segment(plan, step):
    """The plan segment that sets the rate of 0-based `step`."""
    seg = plan[0]
    for s in plan:
        if s["from_step"] <= step:
            seg = s
    return seg


def lr_for_step(cfg, step, epoch, plan=None):
    """The rate the trainer uses for 0-based `step` (in 0-based `epoch`). cfg: a resolved TrainConfig.
    plan: the run's step plan (budgeted runs); None with --max-steps alone means [0 → max_steps]."""
    if plan is None and cfg.max_steps and not cfg.time_budget:
        plan = new_plan(cfg.max_steps, "max_steps")
    if plan is None:
        if cfg.budgeted:
            raise ValueError("a --time-budget run needs its step plan (the measured total steps)")
        return protocol_lr(cfg.model, cfg.lr, epoch, cfg.epochs, cfg.warmup_frac)
    seg = segment(plan, step)
    if seg["total_steps"] is None:
        raise ValueError(f"step {step} lies in the old trainer's wall-time schedule; it cannot be replayed")
    if seg.get("source") == "protocol":  # a protocol run's own epochs (before any extension)
        return protocol_lr(cfg.model, cfg.lr, epoch, seg["epochs"], cfg.warmup_frac)
    rate = compressed_lr(cfg.model, cfg.lr, (step + 1) / seg["total_steps"], cfg.warmup_frac)
    ramp = seg.get("rewarmup_steps") or 0
    if step < seg["from_step"] + ramp:  # linear from the rate before the extension to the new schedule
        return seg["from_lr"] + (rate - seg["from_lr"]) * (step - seg["from_step"] + 1) / ramp
    return rate


def schedule_description(cfg, steps, epochs_done, plan=None):
    """The model-card sentence: which schedule the run followed (and its extensions)."""
    if not cfg.budgeted and not plan:
        return f"protocol, {cfg.epochs} epochs"
    if not cfg.budgeted and plan[0].get("source") == "protocol" and len(plan) == 1:
        return f"protocol, {plan[0]['epochs']} epochs"
    if plan is None and cfg.max_steps and not cfg.time_budget:
        plan = new_plan(cfg.max_steps, "max_steps")
    if plan is None:  # a checkpoint of the old trainer, positioned by wall time
        return (f"protocol schedule compressed by wall time over a {cfg.time_budget / 3600:.2f} h budget "
                f"(old trainer; {steps} steps, {epochs_done:.2f} epochs)")
    per_step = epochs_done / steps if steps else None
    parts = []
    first = plan[0]
    if first["total_steps"] is None:
        parts.append("protocol schedule compressed by wall time (old trainer)")
    elif first.get("source") == "protocol":
        parts.append(f"protocol, {first['epochs']} epochs ({first['total_steps']} steps)")
    else:
        ep = f" ({first['total_steps'] * per_step:.2f} epochs)" if per_step else ""
        parts.append(f"protocol schedule compressed to {first['total_steps']} steps{ep}")
    for seg in plan[1:]:
        ep = f" ({seg['total_steps'] * per_step:.2f} epochs)" if per_step else ""
        parts.append(f"extended at step {seg['from_step']} to {seg['total_steps']} steps{ep}{rewarmup_text(seg)}")
    total = plan[-1]["total_steps"]
    if total is not None and steps < total:  # an unfinished run: say where it stopped, not only where it aimed
        parts.append(f"stopped at step {steps} ({epochs_done:.2f} epochs), before the schedule's end")
    return ", ".join(parts)


def rewarmup_text(seg):
    """How an extension reached its new schedule: ' with a re-warm-up …', ' (rate jump …)' or ''."""
    ramp, r0, r1 = seg.get("rewarmup_steps"), seg.get("from_lr"), seg.get("to_lr")
    if r0 is None or r1 is None:  # an extension recorded before re-warm-ups existed
        return ""
    if ramp:
        return f" with a {ramp}-step linear re-warm-up from lr {r0:.3g} to the new schedule"
    return f" (lr {r0:.3g} → {r1:.3g} at once{', as asked' if ramp == 0 else ''})"


def recipe_description(cfg):
    """The model-card line: the recipe, its numbers, any overrides, and the protocol's numbers."""
    rec, proto = recipe(cfg.recipe, cfg.model), recipe("protocol", cfg.model)
    used = {"lr": cfg.lr, "batch_size": cfg.batch_size, "warmup_frac": cfg.warmup_frac}

    def nums(d):
        return f"peak lr {d['lr']:g}, batch {d['batch_size']}, {describe_warmup(d['warmup_frac'])}"

    text = f"recipe **{cfg.recipe}**: {nums(rec)}"
    over = [k for k in used if used[k] != rec[k]]
    if over:
        text += f"; overridden here: {nums(used)}"
    if cfg.recipe != "protocol":
        text += f" (SPEC §5 protocol: {nums(proto)})"
    return text

