"""The pairs of models the page offers: names, labels, weights folders, environment variables, lazy loading.

A pair is the simplified and the corrected model trained on one collection at one input size:

  cifar10   "CIFAR-10 · 32×32"  weights/{simplified,corrected}            GINR_SIMPLIFIED, GINR_CORRECTED
  photos64  "Photos · 64×64"    weights/photos64/{simplified,corrected}   GINR_PHOTOS64_SIMPLIFIED, …_CORRECTED

Each model's source is, in this order, its CLI flag (--simplified, --photos64-corrected, …), its
environment variable, or the bundled folder (demo.weights.resolve_source). The first pair is loaded at
start and always offered (a missing folder falls back to an untrained model, as the banner says). Another
pair is offered only when both its sources exist (a local folder with config.json and model.safetensors,
or a Hub id given by flag or variable); it is loaded on its first selection, once, whichever thread asks
first (the others wait for that load), and never falls back to another pair's weights. A pair's size is
its models' config.image_size, never a constant of the page.
"""
import json
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import pair_figures
from .images import ASSETS, cifar_examples, photo_examples
from .weights import BUNDLED, NAMES, NotLoaded, _REPO_ID, display_path, load_one, resolve_source

log = logging.getLogger("demo")


@dataclass(frozen=True)
class Examples:
    """One gallery of example images: its label ({n}: the pair's input size), element id and files."""
    label: str
    elem_id: str
    files: tuple


@dataclass(frozen=True)
class PairSpec:
    """What the page knows of a pair before loading it."""
    key: str  # the value of the page's pair choice
    name: str  # e.g. "CIFAR-10"; the label adds the input size
    nominal_size: int  # the size the label names when no config.json can be read before loading
    folder: Path  # where the bundled weights are: <folder>/simplified, <folder>/corrected
    env_vars: dict  # model name → environment variable
    flag: str  # CLI flag prefix ("" → --simplified; "photos64" → --photos64-simplified)
    examples: tuple = ()  # Examples, under the input
    walk_examples: tuple = ()  # Examples, under Walk's image B
    default_example: str = ""  # the file name the page opens with (as image A), and image B's
    default_b: str = ""
    untrained_fallback: bool = False  # run untrained models when no weights load (the first pair, as before)
    licence: bool = False  # state the data licence (from the figures file) under the pair choice
    random_label: str = "Random example"
    trained_on: str = ""  # what the models were trained on, in words


def _photo_files():
    """The 256² sample photos, and any further photos shipped for the photo pair (demo/assets/photos64)."""
    return tuple(photo_examples()) + tuple(sorted(str(p) for p in (ASSETS / "photos64").glob("*.png")))


CIFAR10 = PairSpec(
    "cifar10", "CIFAR-10", 32, BUNDLED, {"simplified": "GINR_SIMPLIFIED", "corrected": "GINR_CORRECTED"}, "",
    examples=(Examples("CIFAR-10 test images", "cifar-examples", tuple(cifar_examples())),
              Examples("High-resolution photos (area-downsampled to {n}×{n} for the models; the photo is the "
                       "reference)", "photo-examples", tuple(photo_examples()))),
    walk_examples=(Examples("Image B examples", "walk-examples", tuple(cifar_examples() + photo_examples())),),
    default_example="cat_0000", default_b="dog_0000", untrained_fallback=True, random_label="Random test image",
    trained_on="CIFAR-10 (the project's lossy JPEG copy)")
PHOTOS64 = PairSpec(
    "photos64", "Photos", 64, BUNDLED / "photos64",
    {"simplified": "GINR_PHOTOS64_SIMPLIFIED", "corrected": "GINR_PHOTOS64_CORRECTED"}, "photos64",
    examples=(Examples("Photos (area-downsampled to {n}×{n} for the models; the photo is the reference)",
                       "photos64-examples", _photo_files()),),
    walk_examples=(Examples("Image B examples", "photos64-walk-examples", _photo_files()),),
    default_example="astronaut", default_b="chelsea", licence=True, random_label="Random example photo",
    trained_on="real photos")
SPECS = (CIFAR10, PHOTOS64)


def _config_size(source):
    """image_size from a local folder's config.json (read without loading the model) → int or None."""
    try:
        size = json.loads((Path(source) / "config.json").read_text(encoding="utf-8")).get("image_size")
    except (OSError, ValueError, AttributeError):
        return None
    return size if isinstance(size, int) and size > 0 else None


def _has_weights(source):
    return (Path(source) / "config.json").is_file() and (Path(source) / "model.safetensors").is_file()


class PairUnavailable(RuntimeError):
    """A pair that is not offered, or whose weights could not be loaded (the message says why, in words)."""


@dataclass(eq=False)  # a pair is itself: compared by identity
class Pair:
    """One pair at run time: its sources, and its Service once loaded (`load`, thread-safe, once)."""
    spec: PairSpec
    sources: dict  # model name → (source, how) (demo.weights.resolve_source)
    download_timeout: float = None
    warm: bool = False  # warm the pair up as part of its load (a pair loaded on the page's first selection)
    loads: int = 0  # how many times the weights were loaded (once at most)
    seconds: float = None  # how long the load took
    _service: object = field(default=None, repr=False)
    _error: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def key(self):
        return self.spec.key

    @property
    def size(self):
        """The input side: the loaded models' config, else the corrected folder's config.json, else nominal."""
        if self._service is not None:
            return self._service.size
        sizes = [_config_size(src) for src, _ in self.sources.values()]
        return next((s for s in sizes if s), self.spec.nominal_size)

    @property
    def label(self):
        return f"{self.spec.name} · {self.size}×{self.size}"

    @property
    def loaded(self):
        return self._service is not None

    @property
    def error(self):
        return self._error

    def unavailable(self):
        """Why the pair is not offered ("" when it is)."""
        if self.spec.untrained_fallback:
            return ""
        missing = []
        for name in NAMES:
            source, how = self.sources[name]
            if _has_weights(source) or (how != "bundled" and _REPO_ID.match(source) and not Path(source).exists()):
                continue
            shown = display_path(source) if how == "bundled" else f"{display_path(source)} ({how})"
            missing.append(f"`{shown}`")
        return f"no weights at {' and '.join(missing)}" if missing else ""

    def eval_folder(self):
        """The eval folder beside the corrected weights (weights/eval, weights/photos64/eval), if local."""
        source = Path(self.sources["corrected"][0])
        return source.parent / "eval" if source.is_dir() else None

    def load(self):
        """The pair's Service, loading its weights on the first call (callers at the same time wait for that
        one load) → demo.service.Service. Raises PairUnavailable (also on every later call) when it failed."""
        if self._service is not None:
            return self._service
        with self._lock:
            if self._service is None and not self._error:
                self.loads += 1
                began = time.perf_counter()
                try:
                    self._service = self._build()
                except (NotLoaded, ValueError, OSError) as err:
                    self._error = str(err)
                    log.warning("pair %s: could not be loaded: %s", self.key, err)
                self.seconds = time.perf_counter() - began
            if self._error:
                raise PairUnavailable(f"{self.label}: could not be loaded: {self._error}")
            return self._service

    def _build(self):
        from .engine import Engine
        from .service import Service

        kwargs = {} if self.download_timeout is None else {"download_timeout": self.download_timeout}
        models = {}
        for name in NAMES:
            source, how = self.sources[name]
            log.info("%s pair: loading %s from %s (%s)", self.key, name, source, how)
            models[name] = load_one(name, source, how, bundled=self.spec.folder,
                                    untrained=self.spec.untrained_fallback, **kwargs)
        engine = Engine(models)
        folder = self.eval_folder()
        figures = pair_figures.load(folder, engine.size, display_path(folder) if folder else None)
        for lm in models.values():
            log.info("%s pair: %s", self.key, lm.summary())
        if self.warm:  # the first render at a new size pays seconds of set-up: inside the "loading…" time
            from .engine import warm_up

            warm_up(engine, example=self.default_example())
        return Service(engine, pair=f"{self.spec.name} · {engine.size}×{engine.size}", figures=figures, key=self.key)

    def example(self, stem):
        """The shipped example whose file name starts with `stem` (None when there is none)."""
        files = [f for group in self.spec.examples + self.spec.walk_examples for f in group.files]
        return next((f for f in files if Path(f).stem.startswith(stem)), None) if stem else None

    def default_example(self):
        return self.example(self.spec.default_example) or next(
            (f for group in self.spec.examples for f in group.files), None)

    def default_b(self):
        return self.example(self.spec.default_b) or self.default_example()

    def example_files(self):
        """The examples under the input."""
        return [f for group in self.spec.examples for f in group.files]

    def all_example_files(self):
        """The examples under the input and under Walk's image B."""
        return [f for group in self.spec.examples + self.spec.walk_examples for f in group.files]

    def figures(self):
        """The pair's measured figures (read without loading its weights when it is not loaded yet)."""
        if self._service is not None:
            return self._service.figures
        folder = self.eval_folder()
        return pair_figures.load(folder, self.size, display_path(folder) if folder else None)


class Registry:
    """The pairs the page knows, in order; the first is the default (loaded at start)."""

    def __init__(self, pairs):
        self.pairs = {pair.key: pair for pair in pairs}
        if not self.pairs:
            raise ValueError("a page needs at least one pair of models")

    @classmethod
    def from_sources(cls, chosen=None, env=None, specs=None, download_timeout=None):
        """chosen: {pair key: {model name: CLI value or None}}; env: the environment (default os.environ);
        specs: the pairs (default SPECS)."""
        pairs = []
        for spec in specs or SPECS:
            given = (chosen or {}).get(spec.key) or {}
            sources = {name: resolve_source(name, given.get(name), env, env_vars=spec.env_vars, bundled=spec.folder,
                                            flag=spec.flag) for name in NAMES}
            pairs.append(Pair(spec, sources, download_timeout, warm=bool(pairs)))  # all but the first: lazily
        return cls(pairs)

    @classmethod
    def of_engine(cls, engine, spec=CIFAR10):
        """A registry of one pair already loaded (an Engine made elsewhere, e.g. by a test)."""
        from .service import Service

        pair = Pair(spec, {name: ("", "engine") for name in NAMES})
        pair._service = Service(engine, pair=f"{spec.name} · {engine.size}×{engine.size}",
                                figures=pair_figures.Figures(engine.size), key=spec.key)
        return cls([pair])

    @property
    def default(self):
        return next(iter(self.pairs.values()))

    def offered(self):
        """The pairs the page offers: the default, and every other whose weights are there."""
        return [p for p in self.pairs.values() if p is self.default or not p.unavailable()]

    def not_offered(self):
        """[(pair, why)] of the pairs left out."""
        return [(p, p.unavailable()) for p in self.pairs.values() if p not in self.offered()]

    def get(self, key):
        """The offered pair of that key (the default for None / unknown keys of no offered pair → PairUnavailable)."""
        if key is None:
            return self.default
        pair = self.pairs.get(key)
        if pair is None or pair not in self.offered():
            raise PairUnavailable(f"No pair of models {key!r} on this page.")
        return pair

    def service(self, key=None):
        """The Service of pair `key` (default: the first), loaded on first use."""
        return self.get(key).load()

    def choices(self):
        """The page's pair choice: [(label, key)] of the offered pairs."""
        return [(p.label, p.key) for p in self.offered()]
