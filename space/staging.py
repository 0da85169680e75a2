"""The exact file set a Hugging Face Space needs, staged in a folder and checked before upload.

Used by `python -m space.deploy` (see its docstring) and `space/rehearse.sh`. Nothing here
touches the network except `check_weights` for Hub ids when `offline=False`.

What a Space gets (every path relative to the repository root):
  app.py                         the entry point (with --weights-from-hub: a generated one that
                                 sets GINR_SIMPLIFIED / GINR_CORRECTED to the Hub ids first)
  demo/**                        the Gradio app, without caches and without this deploy tooling
  lainr/**                       the model library, without caches
  weights/{simplified,corrected}/{config.json,model.safetensors,README.md[,training_info.json]}
                                 (not with --weights-from-hub; training curves stay behind)
  weights/eval/{claims,metrics,refine,sr_benchmarks}.json
                                 the CIFAR-10 pair's figures the page quotes, those that exist
  weights/photos64/{simplified,corrected}/{…the same four…}, weights/photos64/eval/figures.json
                                 the photo pair (demo/pairs.py), when its folder is there (not with
                                 --weights-from-hub: it has no Hub ids yet)
  requirements.txt               the repository's, less the test-only lines
  README.md                      the repository README's front matter (the one source of truth)
                                 and a short generated Space-specific body
  .gitattributes                 the repository's LFS rules, for anyone who pushes the Space with git
"""
import ast
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
NAMES = ("simplified", "corrected")
WEIGHT_FILES = ("config.json", "model.safetensors", "README.md")
OPTIONAL_WEIGHT_FILES = ("training_info.json",)  # the facts the banner shows ("no training record" without)
EVAL_FILES = ("claims.json", "metrics.json", "refine.json", "sr_benchmarks.json")  # weights/eval: what the page reads
PAIRS = ("photos64",)  # further pairs of models, staged from weights/<pair>/ when present (demo/pairs.py)
PAIR_EVAL_FILES = ("figures.json",)  # weights/<pair>/eval: the pair's measured figures the page quotes
PACKAGES = ("demo", "lainr")
# deploy tooling: builds the Space, is not part of it
TOOLING = frozenset()  # files under demo/ that are not the app (none: the Space tooling lives in space/)
SKIP_DIRS = {"__pycache__", ".pytest_cache", ".ipynb_checkpoints"}
SKIP_SUFFIXES = (".pyc", ".pyo", ".tmp", ".lock", ".swp", "~")
TEST_ONLY_REQUIREMENTS = {"pytest", "playwright"}  # the Space installs the app's packages only
IMPORT_CHECK_TIMEOUT_S = 300


class StagingError(Exception):
    """Bad input or an incomplete Space: said before anything is uploaded."""


# ---- input ------------------------------------------------------------------------------------
def check_space_id(space_id):
    """`owner/name` with the Hub's characters, else StagingError naming what is wrong."""
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    text = str(space_id or "").strip()
    parts = text.split("/")
    if len(parts) != 2 or not all(parts):
        raise StagingError(f"--space-id must be owner/name (e.g. alice/mamba-ginr), got {space_id!r}")
    try:
        validate_repo_id(text)
    except HFValidationError as err:
        raise StagingError(f"--space-id {space_id!r} is not a valid Hub repo id: {err}") from None
    return text


# ---- front matter -----------------------------------------------------------------------------
_FRONT = re.compile(r"\A---[ \t]*\n(.*?\n)---[ \t]*\n", re.DOTALL)


def read_front_matter(readme=REPO_ROOT / "README.md"):
    """→ (front matter text between the --- lines, parsed dict). The repository README is the source."""
    import yaml

    text = Path(readme).read_text(encoding="utf-8")
    match = _FRONT.match(text)
    if not match:
        raise StagingError(f"{readme} does not start with a --- YAML front matter block")
    block = match.group(1)
    meta = yaml.safe_load(block) or {}
    for key in ("sdk", "app_file"):
        if not meta.get(key):
            raise StagingError(f"{readme}'s front matter has no {key}")
    return block, meta


def hub_ids(meta, simplified=None, corrected=None):
    """The Hub ids of both models: given ones, else the front matter's `models:` entry naming each."""
    chosen = {"simplified": simplified, "corrected": corrected}
    models = [str(m) for m in meta.get("models") or []]
    out = {}
    for name in NAMES:
        if chosen[name]:
            out[name] = chosen[name]
            continue
        found = [m for m in models if name in m.split("/")[-1]]
        if len(found) != 1:
            raise StagingError(f"--weights-from-hub: the README front matter's models: list names "
                               f"{len(found)} repos for {name} ({found}); pass --{name}-id")
        out[name] = found[0]
    for name, repo in out.items():
        if not re.fullmatch(r"[A-Za-z0-9][\w.-]*/[\w.-]+", repo):
            raise StagingError(f"{name} Hub id {repo!r} is not owner/name")
    return out


def space_front_matter(block, ids=None):
    """The Space's front matter: the README's, with `models:` set to `ids` when the Space loads from the Hub."""
    if not ids:
        return block
    lines = block.splitlines(keepends=True)
    out, i = [], 0
    while i < len(lines):
        if re.match(r"models:\s*$", lines[i]):
            out.append("models:\n")
            out += [f"  - {ids[name]}\n" for name in NAMES]
            i += 1
            while i < len(lines) and re.match(r"\s+-\s", lines[i]):
                i += 1
            continue
        out.append(lines[i])
        i += 1
    text = "".join(out)
    if "models:\n" not in text:
        text += "models:\n" + "".join(f"  - {ids[name]}\n" for name in NAMES)
    return text


def space_readme(block, space_id, ids=None):
    where = ("downloaded from the Hub at start: " + ", ".join(f"`{ids[n]}` ({n})" for n in NAMES)
             if ids else "bundled in `weights/simplified` and `weights/corrected`")
    return (f"---\n{space_front_matter(block, ids)}---\n\n"
            f"# Mamba-GINR on CIFAR-10 — simplified vs corrected, side by side\n\n"
            f"This Space (`{space_id}`) runs the project's Gradio demo on CPU. The weights are {where}; "
            f"the banner at the top of the page says what was loaded and from where.\n\n"
            f"API: four named endpoints, `/reconstruct`, `/zoom`, `/interpolate` and `/refine` (the project's "
            f"docs/demo.md gives each one's inputs and outputs); for example `/reconstruct(image, resolution "
            f"32–512, sigma 0–0.05)` → (simplified PNG, corrected PNG, metrics JSON):\n\n"
            f"```python\nfrom gradio_client import Client, handle_file\n\n"
            f"client = Client(\"{space_id}\")\n"
            f"simplified_png, corrected_png, metrics = client.predict(\n"
            f"    handle_file(\"cat.png\"), 128, 0.0, api_name=\"/reconstruct\")\n```\n\n"
            f"Staged by `python -m space.deploy` from the project repository; the front matter above is "
            f"the repository README's.\n")


HUB_APP = '''"""Entry point of the Space (generated by space.deploy --weights-from-hub): both models by Hub id."""
import os

# Space variables of the same names, if set, take precedence.
os.environ.setdefault("GINR_SIMPLIFIED", {simplified!r})
os.environ.setdefault("GINR_CORRECTED", {corrected!r})

from demo.app import main  # noqa: E402

if __name__ == "__main__":
    main()
'''


def space_requirements(path=REPO_ROOT / "requirements.txt"):
    """The repository's requirements less its leading comment and the test-only lines."""
    out = ["# The Space's install (generated by space.deploy): the repository's requirements.txt "
           "less " + ", ".join(sorted(TEST_ONLY_REQUIREMENTS))]
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    while lines and lines[0].lstrip().startswith("#"):
        lines.pop(0)
    for line in lines:
        name = re.split(r"[\s<>=!~\[;]", line.strip(), maxsplit=1)[0].lower()
        if name in TEST_ONLY_REQUIREMENTS:
            continue
        out.append(line)
    return "\n".join(out) + "\n"


# ---- the file set -----------------------------------------------------------------------------
@dataclass
class Plan:
    """What goes into the Space: copied files (dest → source) and generated ones (dest → text)."""
    space_id: str
    copies: dict = field(default_factory=dict)
    generated: dict = field(default_factory=dict)
    hub_ids: dict = field(default_factory=dict)  # empty: weights bundled
    pairs: list = field(default_factory=list)  # further pairs staged (weights/<pair>/…)

    def paths(self):
        return sorted(set(self.copies) | set(self.generated))

    def size(self, rel):
        if rel in self.generated:
            return len(self.generated[rel].encode("utf-8"))
        return Path(self.copies[rel]).stat().st_size

    def listing(self):
        """Lines `size  path` (bytes) and a total."""
        rows = [(self.size(p), p) for p in self.paths()]
        width = max(len(f"{s:,}") for s, _ in rows)
        lines = [f"{s:>{width},}  {p}" + ("  (generated)" if p in self.generated else "") for s, p in rows]
        total = sum(s for s, _ in rows)
        lines.append(f"{len(rows)} files, {total:,} bytes ({total / 2**20:.1f} MiB)")
        return lines


def _package_files(root, package):
    base = Path(root) / package
    if not (base / "__init__.py").is_file():
        raise StagingError(f"{base} is not a Python package (no __init__.py)")
    for path in sorted(base.rglob("*")):
        rel = path.relative_to(root)
        if not path.is_file() or any(part in SKIP_DIRS or part.startswith(".") for part in rel.parts):
            continue
        if path.name.endswith(SKIP_SUFFIXES) or rel.as_posix() in TOOLING:
            continue
        yield rel.as_posix(), path


def plan(space_id, *, weights_from_hub=False, simplified_id=None, corrected_id=None,
         weights_dir=None, root=REPO_ROOT):
    """→ Plan for `space_id`. Raises StagingError for bad input or a missing piece."""
    root = Path(root)
    space_id = check_space_id(space_id)
    block, meta = read_front_matter(root / "README.md")
    p = Plan(space_id)
    app_file = meta["app_file"]
    if weights_from_hub:
        p.hub_ids = hub_ids(meta, simplified_id, corrected_id)
        p.generated[app_file] = HUB_APP.format(**p.hub_ids)
    else:
        if simplified_id or corrected_id:
            raise StagingError("--simplified-id / --corrected-id need --weights-from-hub")
        p.copies[app_file] = root / app_file
        weights_dir = Path(weights_dir) if weights_dir else root / "weights"
        _stage_pair(p, weights_dir, "weights", "")
        _stage_optional(p, weights_dir / "eval", "weights/eval", EVAL_FILES)
        for pair in PAIRS:
            if any((weights_dir / pair / name).exists() for name in NAMES):
                _stage_pair(p, weights_dir / pair, f"weights/{pair}", f"the {pair} pair's ")
                _stage_optional(p, weights_dir / pair / "eval", f"weights/{pair}/eval", PAIR_EVAL_FILES)
                p.pairs.append(pair)
    for package in PACKAGES:
        p.copies.update(_package_files(root, package))
    if (root / ".gitattributes").is_file():
        p.copies[".gitattributes"] = root / ".gitattributes"
    p.generated["requirements.txt"] = space_requirements(root / "requirements.txt")
    p.generated["README.md"] = space_readme(block, space_id, p.hub_ids)
    return p


def _stage_pair(p, folder, dest, what):
    """Both models' files of one pair: folder/<name>/… → dest/<name>/…"""
    for name in NAMES:
        for fname in WEIGHT_FILES:
            src = folder / name / fname
            if not src.is_file():
                raise StagingError(f"{what}bundled weights incomplete: no {src} "
                                   f"(export them with python -m train.publish.export, or use --weights-from-hub)")
            p.copies[f"{dest}/{name}/{fname}"] = src
        _stage_optional(p, folder / name, f"{dest}/{name}", OPTIONAL_WEIGHT_FILES)


def _stage_optional(p, folder, dest, names):
    for fname in names:
        if (folder / fname).is_file():
            p.copies[f"{dest}/{fname}"] = folder / fname


STAGED_TOP = {"app.py", "README.md", "requirements.txt", ".gitattributes", "demo", "lainr", "weights", "__pycache__"}


def stage(p, dest):
    """Write the plan into `dest` → dest. An existing `dest` must be empty or an earlier staging
    (only the names a staging has at its top); it is then emptied first."""
    dest = Path(dest)
    if dest.exists():
        if not dest.is_dir():
            raise StagingError(f"--staging {dest} exists and is not a folder")
        top = {entry.name for entry in dest.iterdir()}
        if top and not (top <= STAGED_TOP and "app.py" in top):
            raise StagingError(f"--staging {dest} is not empty and not an earlier staging "
                               f"({', '.join(sorted(top - STAGED_TOP)[:5]) or 'no app.py'}); "
                               f"give a new or empty folder")
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    for rel, src in p.copies.items():
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest / rel)
    for rel, text in p.generated.items():
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        (dest / rel).write_text(text, encoding="utf-8")
    return dest


def prune(p, staged):
    """Remove from `staged` whatever is not in the plan (e.g. caches a check wrote) → removed paths."""
    staged = Path(staged)
    keep = set(p.paths())
    removed = []
    for path in sorted(staged.rglob("*"), reverse=True):
        rel = path.relative_to(staged).as_posix()
        if path.is_file() or path.is_symlink():
            if rel not in keep:
                path.unlink()
                removed.append(rel)
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    missing = [rel for rel in keep if not (staged / rel).is_file()]
    if missing:
        raise StagingError(f"staged folder {staged} lost {', '.join(sorted(missing))}")
    return removed


# ---- checks -----------------------------------------------------------------------------------
def check_weights(p, staged, *, offline=False):
    """Load both models strictly (lainr's from_pretrained) from what the Space will load.

    Bundled: the staged weights/<name>. Hub ids: from the Hub, or only the local HF cache when
    `offline` (→ returns a note instead of failing when an id is not cached). → list of notes.
    """
    from lainr import CorrectedGINR, SimplifiedGINR

    classes = {"simplified": SimplifiedGINR, "corrected": CorrectedGINR}
    notes = []
    staged_pairs = [(name, str(Path(staged) / "weights" / pair / name)) for pair in p.pairs for name in NAMES]
    for name, source in [(name, p.hub_ids.get(name) or str(Path(staged) / "weights" / name)) for name in NAMES] \
            + staged_pairs:
        try:
            kwargs = {"local_files_only": True} if (p.hub_ids and offline) else {}
            model = classes[name].from_pretrained(source, **kwargs)
        except Exception as err:  # noqa: BLE001 - reported in the user's terms
            if p.hub_ids and offline and _not_cached(err):
                notes.append(f"{name}: {source} not checked (not in the local HF cache; --dry-run "
                             f"touches no network)")
                continue
            reason = str(err).strip().splitlines()[0] if str(err).strip() else ""
            raise StagingError(f"{name} weights at {source} do not load: {type(err).__name__}: {reason}") from None
        notes.append(f"{name}: {source} loads strictly ({model.num_parameters():,} parameters)")
    return notes


def _not_cached(err):
    from huggingface_hub.errors import LocalEntryNotFoundError

    seen = err
    while seen is not None:
        if isinstance(seen, (LocalEntryNotFoundError, FileNotFoundError)) or "local_files_only" in str(seen) \
                or "offline" in str(seen).lower() or "cannot find" in str(seen).lower():
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def local_imports(staged):
    """Static check: every `demo`/`lainr` module a staged .py file imports (even inside a
    function) is in the staged folder → list of problems."""
    staged = Path(staged)
    problems = []
    for path in sorted(staged.rglob("*.py")):
        rel = path.relative_to(staged)
        package = list(rel.parent.parts)
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(rel))
        except SyntaxError as err:
            problems.append(f"{rel}: syntax error: {err}")
            continue
        for node in ast.walk(tree):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package[: len(package) - node.level + 1]
                    mod = ".".join(base + ([node.module] if node.module else []))
                    targets = [mod] + [f"{mod}.{a.name}" for a in node.names]
                else:
                    targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            for target in targets:
                if target.split(".")[0] not in PACKAGES:
                    continue
                if not _resolves(staged, target):
                    problems.append(f"{rel}:{node.lineno} imports {target}, which is not in the Space")
    return sorted(set(problems))


def _resolves(staged, dotted):
    """True if `dotted` is a staged module/package, or a name a staged module defines (a.b.NAME)."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        base = Path(staged, *parts[:cut])
        source = base.with_suffix(".py") if base.with_suffix(".py").is_file() else base / "__init__.py"
        if source.is_file():
            if cut == len(parts):
                return True
            return cut == len(parts) - 1 and parts[-1] in _top_level_names(source)
    return False


def _top_level_names(path):
    """Names a module defines or imports at its top level (and '*' if it star-imports)."""
    names = set()
    for node in ast.parse(Path(path).read_text(encoding="utf-8")).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            for target in (node.targets if isinstance(node, ast.Assign) else [node.target]):
                names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
        elif isinstance(node, (ast.If, ast.Try)):
            names.update(_names_in(node))
    return names


def _names_in(node):
    out = set()
    for sub in ast.walk(node):
        if isinstance(sub, (ast.FunctionDef, ast.ClassDef)):
            out.add(sub.name)
        elif isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
            out.add(sub.id)
        elif isinstance(sub, ast.alias):
            out.add((sub.asname or sub.name).split(".")[0])
    return out


IMPORT_CHECK = r"""
import importlib, json, os, pathlib, sys
staged = pathlib.Path(sys.argv[1]).resolve()
sys.path.insert(0, str(staged))
for name in json.loads(sys.argv[2]):
    importlib.import_module(name)
import app, demo, lainr
from demo.app import create
for mod in (app, demo, lainr):
    where = pathlib.Path(mod.__file__).resolve()
    if staged not in where.parents:
        raise SystemExit(f"{mod.__name__} was imported from {where}, outside the staged folder")
blocks, engine = create()  # loads the weights the Space loads and builds the page
print(json.dumps({name: [lm.kind, lm.source] for name, lm in engine.models.items()}))
"""


def check_imports(staged, *, env_extra=None, python=sys.executable, timeout=IMPORT_CHECK_TIMEOUT_S):
    """Import the staged app and every staged module in a fresh interpreter whose cwd and
    sys.path[0] are the staged folder (isolated mode: no PYTHONPATH, no checkout), then build the
    page as the Space would. → {name: [kind, source]} of the loaded models."""
    problems = local_imports(staged)
    if problems:
        raise StagingError("the Space would miss files the app imports:\n  " + "\n  ".join(problems))
    return import_staged(staged, env_extra=env_extra, python=python, timeout=timeout)


def import_staged(staged, *, env_extra=None, python=sys.executable, timeout=IMPORT_CHECK_TIMEOUT_S):
    """The subprocess half of check_imports (no static check first)."""
    import json

    staged = Path(staged).resolve()
    modules = []
    for path in sorted(staged.rglob("*.py")):
        rel = path.relative_to(staged).with_suffix("")
        if rel.parts[0] not in PACKAGES:
            continue
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        modules.append(".".join(parts))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP")}
    # never downloads: bundled weights are local; Hub ids were fetched (or found cached) by check_weights
    env.update({"HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"})
    env.update(env_extra or {})
    proc = subprocess.run([python, "-I", "-B", "-c", IMPORT_CHECK, str(staged), json.dumps(modules)],
                          cwd=staged, env=env, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-8:])
        raise StagingError(f"the staged app does not import from the staged folder alone:\n{tail}")
    return json.loads(proc.stdout.strip().splitlines()[-1])
