"""Which weights the demo runs: resolve a source, load it strictly, fall back clearly.

A source is a local directory (config.json + model.safetensors [+ README.md model card]) or a
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
    source: str  # the directory or repo id actually loaded ("" when untrained)
    kind: str  # "local" | "hub" | "hub-cache" | "untrained"
    trained: bool
    info: dict = field(default_factory=dict)  # protocol, steps, test_psnr, ... from the model card
    messages: list = field(default_factory=list)  # fall-backs and warnings, for the banner

    def summary(self):
        """One Markdown line: what is loaded, from where, how it was trained."""
        params = f"{self.model.num_parameters() / 1e6:.2f} M params"
        if not self.trained:
            return f"**{self.name}**: ⚠️ UNTRAINED (random initialisation, {params}) — renders are noise"
        bits = [f"`{self.source}` ({self.kind})", params]
        said = str(self.info.get("protocol", "")).replace(",", "")  # the schedule line, already shown
        for key, label in (("protocol", None), ("steps", "steps"), ("epochs", "epochs"), ("in_all", None),
                           ("test_psnr", "test PSNR"), ("data", "data")):
            value = self.info.get(key)
            if value in (None, ""):
                continue
            if key == "steps" and re.search(rf"\b{value}\b", said) or \
                    key == "epochs" and f"({float(value):.2f} epochs)" in said:
                continue  # already said by the protocol line
            if key == "test_psnr":
                n = self.info.get("test_images")
                bits.append(f"test PSNR {float(value):.2f} dB" + (f" ({n:,} test images)" if n else ""))
            elif label:
                bits.append(f"{label} {value}")
            else:
                bits.append(str(value))
        return f"**{self.name}**: " + " · ".join(bits)

    def as_dict(self):
        return {"source": self.source, "kind": self.kind, "trained": self.trained,
                "parameters": self.model.num_parameters(), **{k: v for k, v in self.info.items()}}


# ---- model card -------------------------------------------------------------------------------
_NUM = r"([0-9]+(?:\.[0-9]+)?)"


def _find(patterns, text, cast=str):
    for pattern in patterns:
        m = re.search(pattern, text, flags=re.IGNORECASE)
        if m:
            try:
                value = m.group(1).strip()
                return value if cast is str else cast(value.replace(",", ""))
            except ValueError:
                continue
    return None


def _front_matter_psnr(text):
    """test PSNR from the card's YAML model-index (metrics: - type: psnr, value: …), if any."""
    if not text.startswith("---"):
        return None
    try:
        import yaml

        meta = yaml.safe_load(text.split("---", 2)[1]) or {}
        for entry in meta.get("model-index") or []:
            for result in entry.get("results") or []:
                for metric in result.get("metrics") or []:
                    if str(metric.get("type", "")).lower() == "psnr":
                        return float(metric["value"])
    except Exception:  # noqa: BLE001 - a malformed card is not fatal
        return None
    return None


def _training_in_all(text):
    """The card's totals over all training stages (train/lineage.py: a numbered "Training history"
    list, then "- In all: E epochs, H h of training.") → e.g. "in all 3.30 epochs, 9.30 h over 3 stages"."""
    total = re.search(r"In all:\s*([0-9.]+) epochs, ([0-9.]+) h of training", text)
    if not total:
        return None
    history = text.split("Training history", 1)[-1].split("\n- ", 1)[0]
    stages = len(re.findall(r"^\s+\d+\.\s", history, flags=re.MULTILINE))
    return f"in all {total.group(1)} epochs, {total.group(2)} h of training" + (
        f" over {stages} stages" if stages > 1 else "")


def read_card(directory):
    """What a model card (README.md) says about training: a dict, possibly empty.

    Understands the project's cards (train/card.py: YAML model-index + "Schedule: **…**",
    "Steps: N optimiser steps (E epochs …)", "Training data: …") and plain-text variants.
    """
    directory = Path(directory)
    info = {}
    card = directory / "README.md"
    if card.is_file():
        text = card.read_text(encoding="utf-8", errors="replace")
        info["test_psnr"] = _front_matter_psnr(text)
        if info["test_psnr"] is None:
            info["test_psnr"] = _find([r"test[ _-]*psnr[^0-9\n|]*(?:\|\s*)?" + _NUM,
                                       r"psnr[^0-9\n]*\(test[^)]*\)[^0-9\n]*" + _NUM], text, float)
        info["protocol"] = _find([r"Schedule:\s*\*\*(.+?)\*\*",
                                  r"(protocol schedule compressed to [^\n|]*?steps(?:\s*\([^)]*\))?)",
                                  r"(protocol,\s*\d+\s*epochs)"], text)
        info["steps"] = _find([r"Steps:\s*([0-9][0-9,]*)",  # the steps done (the schedule may aim further)
                               r"([0-9][0-9,]*)\s+(?:optimi[sz]er\s+|training\s+)?steps",
                               r"steps[^0-9\n]*([0-9][0-9,]*)"], text, int)
        info["epochs"] = _find([r"Steps:[^\n(]*\(([0-9]+(?:\.[0-9]+)?)\s+epochs",
                                r"([0-9]+(?:\.[0-9]+)?)\s+epochs"], text)
        info["test_images"] = _find([r"on \*\*([0-9][0-9,]*) test images"], text, int)
        info["in_all"] = _training_in_all(text)
        data = _find([r"Training data:\s*([^\n]+)", r"(lossless[^\n.|]*)", r"(JPEG copy[^\n.|]*)"], text)
        if data:
            info["data"] = data.strip().rstrip(".")
    return {k: v for k, v in info.items() if v is not None}


# ---- loading ----------------------------------------------------------------------------------
def resolve_source(name, cli_value=None, env=None):
    """CLI flag > environment variable > bundled directory. Returns (source, how)."""
    env = os.environ if env is None else env
    if cli_value:
        return str(cli_value), "--" + name
    if env.get(ENV_VARS[name]):
        return env[ENV_VARS[name]], ENV_VARS[name]
    return str(BUNDLED / name), "bundled"


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
    return model.eval(), read_card(directory)


def _load_hub(cls, repo_id, timeout):
    from huggingface_hub import hf_hub_download

    def card_info(local_only):
        try:
            return read_card(Path(hf_hub_download(repo_id, "README.md", local_files_only=local_only)).parent)
        except Exception:  # noqa: BLE001 - a card is optional
            return {}

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


def load_one(name, source, how="bundled", *, download_timeout=DOWNLOAD_TIMEOUT_S):
    """Load model `name` from `source`; on failure fall back (bundled, then untrained). → LoadedModel."""
    cls = CLASSES[name]
    messages = []
    bundled = BUNDLED / name
    candidates = [(source, how)]
    if Path(source).resolve() != bundled.resolve():
        candidates.append((str(bundled), "bundled"))
    for src, origin in candidates:
        path = Path(src).expanduser()
        try:
            if path.is_dir():
                model, info = _load_local(cls, path)
                return LoadedModel(name, model, str(src), "local", True, info, messages)
            if origin == "bundled" or not _REPO_ID.match(src):
                raise FileNotFoundError(f"no directory {src}" + ("" if origin == "bundled" else
                                                                  " (and it is not a Hub repo id)"))
            model, info, kind = _load_hub(cls, src, download_timeout)
            return LoadedModel(name, model, src, kind, True, info, messages)
        except Exception as err:  # noqa: BLE001 - every failure is reported, then we fall back
            reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            if origin == "bundled" and isinstance(err, FileNotFoundError):
                msg = (f"{name}: no bundled weights at `{src}` (they are committed once training finishes)")
            else:
                msg = f"{name}: could not load `{src}` ({origin}): {type(err).__name__}: {reason}"
            log.warning(msg)
            messages.append(msg)
    log.warning("%s: running an UNTRAINED model (random initialisation)", name)
    torch.manual_seed(0)
    return LoadedModel(name, cls().eval(), "", "untrained", False, {}, messages)


def load_models(simplified=None, corrected=None, env=None, *, download_timeout=DOWNLOAD_TIMEOUT_S):
    """→ {"simplified": LoadedModel, "corrected": LoadedModel}. Never raises for a bad source."""
    chosen = {"simplified": simplified, "corrected": corrected}
    loaded = {}
    for name in NAMES:
        source, how = resolve_source(name, chosen[name], env)
        log.info("loading %s from %s (%s)", name, source, how)
        loaded[name] = load_one(name, source, how, download_timeout=download_timeout)
    return loaded
