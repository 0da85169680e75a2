"""Which weights the demo runs: resolve a source, load it strictly, fall back clearly.

A source is a local directory (config.json + model.safetensors [+ training_info.json, the facts the
banner shows, + README.md, the model card shown as text]) or a
Hugging Face Hub repo id. Order: CLI flag, then environment variable (GINR_SIMPLIFIED /
GINR_CORRECTED), then the bundled `weights/<name>`. An unreachable Hub id falls back to the
bundled weights after a short reachability probe (never huggingface_hub's long retries); missing
bundled weights fall back to an untrained model, and the page says so.
"""
import logging
import os
import re
import socket
import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import torch

from lainr import CorrectedGINR, SimplifiedGINR

from . import training_record

log = logging.getLogger("demo.weights")

REPO_ROOT = Path(__file__).resolve().parent.parent
BUNDLED = REPO_ROOT / "weights"
NAMES = ("simplified", "corrected")
CLASSES = {"simplified": SimplifiedGINR, "corrected": CorrectedGINR}
ENV_VARS = {"simplified": "GINR_SIMPLIFIED", "corrected": "GINR_CORRECTED"}
PROBE_TIMEOUT_S = 3.0  # is the Hub reachable at all?
DOWNLOAD_TIMEOUT_S = 120.0  # once it is: time allowed for config + weights + card
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


@dataclass
class LoadedModel:
    """A model ready to run plus what the page says about it."""
    name: str
    model: torch.nn.Module
    source: str  # the directory or repo id actually loaded ("" when untrained); never shown as is
    kind: str  # "local" | "hub" | "hub-cache" | "untrained"
    trained: bool
    info: dict = field(default_factory=dict)  # facts from training_info.json (demo.training_record.facts)
    messages: list = field(default_factory=list)  # fall-backs and warnings, for the banner
    card: str = ""  # the model card's Markdown (front matter removed), shown on the page

    def shown_source(self):
        """Where the weights came from, in words a visitor may see (no server path)."""
        if self.kind == "untrained":
            return "untrained"
        if self.kind == "hub-cache":
            return f"Hub {self.source} (local cache)"
        if self.kind == "hub":
            return f"Hub {self.source}"
        return f"{display_path(self.source)} ({'bundled' if is_bundled(self.source) else 'local folder'})"

    def summary(self):
        """One Markdown line: what is loaded, its size, its training in all and its test score."""
        params = f"{self.model.num_parameters() / 1e6:.2f} M parameters"
        if not self.trained:
            return f"**{self.name}**: ⚠️ UNTRAINED (random initialisation, {params}) — renders are noise"
        return f"**{self.name}** · {params} · {training_record.describe(self.info)} · {self.shown_source()}"

    def as_dict(self):
        """The JSON the API returns about this model (no server path)."""
        return {"source": self.shown_source(), "kind": self.kind, "trained": self.trained,
                "parameters": self.model.num_parameters(), "training": training_record.describe(self.info),
                **{k: v for k, v in self.info.items()}}


def is_bundled(source):
    try:
        return BUNDLED.resolve() in Path(source).resolve().parents  # weights/<name>, weights/<pair>/<name>
    except (OSError, ValueError):
        return False


def display_path(source):
    """A local folder as a visitor may see it: relative to the repository, else its last part only."""
    path = Path(source)
    try:
        return path.resolve().relative_to(REPO_ROOT).as_posix()
    except ValueError:
        return path.name or str(source)


def read_info(directory):
    """→ (facts from training_info.json, card Markdown)."""
    return training_record.read(directory), training_record.card_text(directory)


# ---- loading ----------------------------------------------------------------------------------
def resolve_source(name, cli_value=None, env=None, *, env_vars=None, bundled=None, flag=None):
    """CLI flag > environment variable > bundled directory. Returns (source, how).
    env_vars / bundled / flag: another pair's variables ({name: variable}), folder and flag prefix
    (default: the CIFAR-10 pair's GINR_<NAME>, weights/, --<name>)."""
    env = os.environ if env is None else env
    variable = (env_vars or ENV_VARS)[name]
    if cli_value:
        return str(cli_value), f"--{flag or ''}{'-' if flag else ''}{name}"
    if env.get(variable):
        return env[variable], variable
    return str(Path(bundled or BUNDLED) / name), "bundled"


def _hub_offline():
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def _endpoint():
    endpoint = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    return endpoint.hostname or "huggingface.co", endpoint.port or (443 if endpoint.scheme == "https" else 80)


def hub_reachable(timeout=PROBE_TIMEOUT_S):
    """Can we open a TCP connection to the Hub endpoint within `timeout` seconds (DNS included)?"""
    host, port = _endpoint()
    result = []

    def probe():
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            result.append(True)
        except OSError:
            result.append(False)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(result and result[0])


def _run_with_deadline(fn, timeout):
    box = {}

    def target():
        try:
            box["value"] = fn()
        except BaseException as err:  # noqa: BLE001 - reported to the caller
            box["error"] = err

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise TimeoutError(f"gave up after {timeout:.0f} s")
    if "error" in box:
        raise box["error"]
    return box["value"]


def _load_local(cls, directory):
    model = cls.from_pretrained(str(directory))
    return model.eval(), read_info(directory)


def _load_hub(cls, repo_id, timeout):
    from huggingface_hub import hf_hub_download

    def card_info(local_only):
        folder = None
        for fname in (training_record.INFO_FILE, training_record.CARD_FILE):
            try:  # both are optional
                folder = Path(hf_hub_download(repo_id, fname, local_files_only=local_only)).parent
            except Exception:  # noqa: BLE001
                continue
        return read_info(folder) if folder else ({}, "")

    offline = _hub_offline()
    if offline or not hub_reachable():
        try:
            model = cls.from_pretrained(repo_id, local_files_only=True)  # the local cache, if any
        except Exception as err:  # noqa: BLE001 - say why in the user's terms
            why = "HF_HUB_OFFLINE is set" if offline else (
                f"the Hub ({_endpoint()[0]}) could not be reached (probe timeout {PROBE_TIMEOUT_S:.0f} s)")
            raise ConnectionError(f"{why} and {repo_id} is not in the local cache "
                                  f"({type(err).__name__})") from None
        return model.eval(), card_info(True), "hub-cache"

    def fetch():
        return cls.from_pretrained(repo_id), card_info(False)

    model, info = _run_with_deadline(fetch, timeout)
    return model.eval(), info, "hub"


def _no_paths(text):
    """An error message with absolute paths cut to their last part (visitors see the banner)."""
    return re.sub(r"(?<![\w.])/(?:[^\s/'\"`]+/)+([^\s/'\"`]*)", r"…/\1", text)


class NotLoaded(RuntimeError):
    """No weights could be loaded for a model whose pair runs no untrained stand-in (the message says why)."""


def load_one(name, source, how="bundled", *, download_timeout=DOWNLOAD_TIMEOUT_S, bundled=None, untrained=True):
    """Load model `name` from `source`; on failure fall back (the bundled folder `bundled`/<name>, default
    weights/<name>; then an untrained model, or NotLoaded when `untrained` is False). → LoadedModel."""
    cls = CLASSES[name]
    messages = []
    bundled = Path(bundled or BUNDLED) / name
    candidates = [(source, how)]
    if Path(source).resolve() != bundled.resolve():
        candidates.append((str(bundled), "bundled"))
    for src, origin in candidates:
        path = Path(src).expanduser()
        try:
            if path.is_dir():
                model, (info, card) = _load_local(cls, path)
                return LoadedModel(name, model, str(src), "local", True, info, messages, card)
            if origin == "bundled" or not _REPO_ID.match(src):
                raise FileNotFoundError(f"no directory {src}" + ("" if origin == "bundled" else
                                                                  " (and it is not a Hub repo id)"))
            model, (info, card), kind = _load_hub(cls, src, download_timeout)
            return LoadedModel(name, model, src, kind, True, info, messages, card)
        except Exception as err:  # noqa: BLE001 - every failure is reported, then we fall back
            reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            if origin == "bundled" and isinstance(err, FileNotFoundError):
                msg = f"{name}: no bundled weights at `{display_path(src)}`"
            else:
                shown = src if _REPO_ID.match(src) and not path.is_dir() else display_path(src)
                msg = f"{name}: could not load `{shown}` ({origin}): {type(err).__name__}: {_no_paths(reason)}"
            log.warning(msg)
            messages.append(msg)
    if not untrained:
        raise NotLoaded("; ".join(messages) or f"{name}: no weights")
    log.warning("%s: running an UNTRAINED model (random initialisation)", name)
    torch.manual_seed(0)
    return LoadedModel(name, cls().eval(), "", "untrained", False, {}, messages)


def load_models(simplified=None, corrected=None, env=None, *, download_timeout=DOWNLOAD_TIMEOUT_S,
                env_vars=None, bundled=None, flag=None, untrained=True):
    """→ {"simplified": LoadedModel, "corrected": LoadedModel}. Never raises for a bad source, unless
    `untrained` is False (then NotLoaded). env_vars / bundled / flag: as resolve_source (another pair's)."""
    chosen = {"simplified": simplified, "corrected": corrected}
    loaded = {}
    for name in NAMES:
        source, how = resolve_source(name, chosen[name], env, env_vars=env_vars, bundled=bundled, flag=flag)
        log.info("loading %s from %s (%s)", name, source, how)
        loaded[name] = load_one(name, source, how, download_timeout=download_timeout, bundled=bundled,
                                untrained=untrained)
    return loaded
