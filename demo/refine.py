"""Test-time refinement for the page: both models' latents fitted to the current image, at once.

Calls the library's `model.fit_latents` (decoder frozen, gradient steps on the latents only) in one
thread per model, starting from the engine's cached one-pass latents, and keeps each model's best
step. The result is a `Refined` record that a page
session keeps in its own gr.State (never in a shared cache), so two visitors refining at once never
see each other's latents; its `tag` (unique per refinement) keeps the refined renders apart in the
engine's caches.
"""
import threading
import time
import uuid
from dataclasses import dataclass, field

import torch

from lainr import REFINE_DEFAULTS

from .images import to_tensor

MAX_STEPS = 1000
DEFAULT_STEPS = REFINE_DEFAULTS.steps  # the library's default (chosen on validation images)
NAMES = ("simplified", "corrected")


def no_progress(*args, **kwargs):
    """Progress reporting when nobody listens (a gr.Progress is falsy: never `progress or …`)."""


@dataclass
class Refined:
    """Refined latents of one image (both models) and how they were reached. Each model keeps the
    latents of its best step (highest PSNR at the pixel centres), not necessarily its last."""
    key: str  # content key of the image they belong to (Prepared.content_key)
    steps: int  # asked for
    latents: dict  # name → (1, m, d) tensor: the best step's
    psnr: dict  # name → [PSNR at the pixel centres per step done, step 0 = one pass]
    seconds: dict  # name → seconds
    cancelled: bool = False
    best: dict = None  # name → the step whose latents are kept (None: the last)
    earlier: tuple = ()  # names whose latents come from an earlier, better refinement of this image
    wall: float = None  # seconds the refinement took in all (the models run at once)
    tag: str = field(default_factory=lambda: "refined-" + uuid.uuid4().hex[:12])
    origins: dict = None  # name → Run: the run each model's latents come from (None: this record's own)
    input_size: int = None  # the side of the image refined (its pixel centres are what is fitted)

    def run_of(self, name):
        """The run `name`'s latents come from → Run (steps asked, cancelled, wall seconds)."""
        own = Run(self.steps, self.cancelled, self.wall if self.wall is not None else max(self.seconds.values()))
        return (self.origins or {}).get(name, own)

    def steps_done(self, name):
        return len(self.psnr[name]) - 1

    def best_step(self, name):
        return self.steps_done(name) if not self.best or self.best.get(name) is None else self.best[name]

    def best_psnr(self, name):
        return self.psnr[name][self.best_step(name)]

    def describe(self):
        """What the models decode, per model with its own run, e.g. "refined latents (simplified 246 of
        1000 steps, cancelled, kept step 240; corrected 200 of 200 steps in an earlier run, kept step 180)"."""
        parts = []
        for name in NAMES:
            run = self.run_of(name)
            part = f"{name} {self.steps_done(name)} of {run.steps} steps"
            part += ", cancelled" if run.cancelled else ""
            part += " in an earlier run" if name in self.earlier else ""
            parts.append(f"{part}, kept step {self.best_step(name)}")
        return "refined latents (" + "; ".join(parts) + ")"

    def applies_to(self, prepared):
        return prepared is not None and prepared.content_key == self.key

    def as_dict(self):
        return {"steps": self.steps, "cancelled": self.cancelled,
                "steps_done": {name: self.steps_done(name) for name in NAMES},
                "kept_step": {name: self.best_step(name) for name in NAMES},
                "kept_psnr": {name: round(self.best_psnr(name), 3) for name in NAMES},
                "kept_from_earlier": list(self.earlier),
                "psnr_history": {name: [round(v, 3) for v in self.psnr[name]] for name in NAMES},
                "seconds": {name: round(self.seconds[name], 3) for name in NAMES},
                "seconds_total": round(self.wall if self.wall is not None else max(self.seconds.values()), 3)}


@dataclass(frozen=True)
class Run:
    """One refinement run as the visitor started it: steps asked, whether it was cancelled, wall seconds."""
    steps: int
    cancelled: bool
    wall: float


def keep_better(new, old):
    """A cancelled refinement never discards an earlier one of the same image (finished, or itself kept
    this way): per model, the earlier record's latents (and curve) stay where they reached a higher
    PSNR → Refined. A finished refinement is the visitor's choice and replaces the earlier one."""
    if old is None or not new.cancelled or old.key != new.key:
        return new
    better = tuple(name for name in NAMES if old.best_psnr(name) > new.best_psnr(name))
    if not better:
        return new
    pick = {name: (old if name in better else new) for name in NAMES}
    return Refined(new.key, new.steps, {n: pick[n].latents[n] for n in NAMES}, {n: pick[n].psnr[n] for n in NAMES},
                   {n: pick[n].seconds[n] for n in NAMES}, True, {n: pick[n].best_step(n) for n in NAMES}, better,
                   wall=new.wall, origins={n: pick[n].run_of(n) for n in NAMES}, input_size=new.input_size)


class CancelFlags:
    """One cancel flag per page session (gr.Request.session_hash): Cancel sets it, the running
    refinement's callback sees it at its next step and stops."""

    def __init__(self):
        self._flags, self._lock = {}, threading.Lock()

    def start(self, session):
        with self._lock:
            self._flags[session] = threading.Event()
            self._flags[session].superseded = False
            return self._flags[session]

    def cancel(self, session, superseded=False):
        """Stop the session's running refinement at its next step → whether one was running. `superseded`:
        another image was chosen, so its result is to be dropped (`flag.superseded`)."""
        with self._lock:
            flag = self._flags.get(session)
        if flag is not None:
            flag.superseded = flag.superseded or superseded
            flag.set()
        return flag is not None

    def finish(self, session, flag):
        with self._lock:
            if self._flags.get(session) is flag:
                del self._flags[session]


class _OneThreadEach:
    """While refinements run, torch uses one thread per refining thread (its count is process-wide, so
    it is lowered once for all of them and restored when the last one ends)."""

    def __init__(self):
        self._lock, self._users, self._saved = threading.Lock(), 0, None

    def __enter__(self):
        with self._lock:
            if self._users == 0:
                self._saved = torch.get_num_threads()
                torch.set_num_threads(1)
            self._users += 1

    def __exit__(self, *exc):
        with self._lock:
            self._users -= 1
            if self._users == 0:
                torch.set_num_threads(self._saved)


ONE_THREAD_EACH = _OneThreadEach()


def _fit(model, images, steps, start, stop, live, name):
    """One model's refinement (run in its own thread) → the library's RefineResult, or the exception."""
    def callback(step, values):
        live[name] = (step, float(values[0]))
        return bool(stop())

    try:
        return model.fit_latents(images, steps=steps, latents=start, callback=callback)
    except Exception as err:  # noqa: BLE001 - handed to the caller's thread
        return err


def progress_text(live, steps):
    return " · ".join(f"{name} step {live[name][0]}/{steps}, {live[name][1]:.2f} dB" for name in NAMES if name in live)


def run(engine, prepared, steps, progress=None, stop=None):
    """Refine both models' latents of `prepared` for `steps` steps, both at once (one thread each) →
    Refined. `progress(fraction, text)` is called from the calling thread only, a few times a second.
    `stop()` → True cancels both (each keeps its best step so far). Raises the library's RefineDiverged
    (a ValueError) when a refinement diverges."""
    progress = no_progress if progress is None else progress
    stop = (lambda: False) if stop is None else stop
    images = to_tensor(prepared.model_input)
    starts = {name: engine.latents(name, prepared) for name in NAMES}  # the one-pass latents (cached)
    live, results, began = {}, {}, time.perf_counter()

    def work(name):
        results[name] = _fit(engine.model(name), images, steps, starts[name], stop, live, name)

    with ONE_THREAD_EACH:
        threads = [threading.Thread(target=work, args=(name,), name=f"refine-{name}") for name in NAMES]
        for thread in threads:
            thread.start()
        while any(thread.is_alive() for thread in threads):
            alive = [thread for thread in threads if thread.is_alive()]
            if alive:
                alive[0].join(timeout=0.25)
            done = sum(step for step, _ in live.values())
            progress(done / max(1, len(NAMES) * steps), "refining: " + progress_text(live, steps))
    for result in results.values():
        if isinstance(result, Exception):
            raise result
    return Refined(prepared.content_key, steps, {n: results[n].best_latents for n in NAMES},
                   {n: [float(v) for v in results[n].psnr[:, 0]] for n in NAMES},
                   {n: results[n].seconds for n in NAMES}, any(results[n].stopped == "callback" for n in NAMES),
                   {n: int(results[n].best_step[0]) for n in NAMES}, wall=time.perf_counter() - began,
                   input_size=prepared.size)
