"""Test-time refinement for the page: both models' latents fitted to the current image.

Calls the library's `model.fit_latents` (decoder frozen, gradient steps on the latents only),
starting from the engine's cached one-pass latents. The result is a `Refined` record that a page
session keeps in its own gr.State (never in a shared cache), so two visitors refining at once never
see each other's latents; its `tag` (unique per refinement) keeps the refined renders apart in the
engine's caches.
"""
import threading
import time
import uuid
from dataclasses import dataclass, field

from lainr import REFINE_DEFAULTS

from .images import to_tensor

MAX_STEPS = 1000
DEFAULT_STEPS = REFINE_DEFAULTS.steps  # the library's default (chosen on validation images)
NAMES = ("simplified", "corrected")


def no_progress(*args, **kwargs):
    """Progress reporting when nobody listens (a gr.Progress is falsy: never `progress or …`)."""


@dataclass
class Refined:
    """Refined latents of one image (both models) and how they were reached."""
    key: str  # content key of the image they belong to (Prepared.content_key)
    steps: int  # asked for
    latents: dict  # name → (1, m, d) tensor
    psnr: dict  # name → [PSNR at the pixel centres per step done, step 0 = one pass]
    seconds: dict  # name → seconds
    cancelled: bool = False
    tag: str = field(default_factory=lambda: "refined-" + uuid.uuid4().hex[:12])

    def steps_done(self, name):
        return len(self.psnr[name]) - 1

    def describe(self):
        done = ", ".join(f"{name} {self.steps_done(name)}" for name in NAMES)
        text = f"refined latents ({done} steps of {self.steps})"
        return text + (", cancelled" if self.cancelled else "")

    def applies_to(self, prepared):
        return prepared is not None and prepared.content_key == self.key

    def as_dict(self):
        return {"steps": self.steps, "cancelled": self.cancelled,
                "steps_done": {name: self.steps_done(name) for name in NAMES},
                "psnr_history": {name: [round(v, 3) for v in self.psnr[name]] for name in NAMES},
                "seconds": {name: round(self.seconds[name], 3) for name in NAMES},
                "seconds_total": round(sum(self.seconds.values()), 3)}


class CancelFlags:
    """One cancel flag per page session (gr.Request.session_hash): Cancel sets it, the running
    refinement's callback sees it at its next step and stops."""

    def __init__(self):
        self._flags, self._lock = {}, threading.Lock()

    def start(self, session):
        with self._lock:
            self._flags[session] = threading.Event()
            return self._flags[session]

    def cancel(self, session):
        with self._lock:
            flag = self._flags.get(session)
        if flag is not None:
            flag.set()
        return flag is not None

    def finish(self, session, flag):
        with self._lock:
            if self._flags.get(session) is flag:
                del self._flags[session]


def run(engine, prepared, steps, progress=None, stop=None):
    """Refine both models' latents of `prepared` for `steps` steps → Refined. `stop()` → True cancels
    (what is done so far is kept; a model not started keeps its one-pass latents). Raises the
    library's RefineDiverged (a ValueError) when a refinement diverges."""
    progress = no_progress if progress is None else progress
    stop = (lambda: False) if stop is None else stop
    images = to_tensor(prepared.model_input)
    latents, psnr, seconds, cancelled = {}, {}, {}, False
    for i, name in enumerate(NAMES):
        start = engine.latents(name, prepared)  # the one-pass latents (cached)
        if cancelled:
            latents[name], seconds[name] = start, 0.0
            psnr[name] = [engine.psnr_vs_sigma(name, prepared, (0.0,))[0]]
            continue

        every = max(1, steps // 100)  # at most ~100 progress messages per model

        def callback(step, values, i=i, name=name, every=every):
            if step % every == 0 or step == steps:
                progress((i * steps + step) / max(1, 2 * steps),
                         f"refining {name}: step {step}/{steps}, {float(values[0]):.2f} dB")
            return bool(stop())

        began = time.perf_counter()
        result = engine.model(name).fit_latents(images, steps=steps, latents=start, callback=callback)
        latents[name], seconds[name] = result.latents, time.perf_counter() - began
        psnr[name] = [float(v) for v in result.psnr[:, 0]]
        cancelled = result.stopped == "callback"
    return Refined(prepared.content_key, steps, latents, psnr, seconds, cancelled)
