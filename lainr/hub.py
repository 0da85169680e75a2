"""Hugging Face Hub format (config.json + model.safetensors), loaded strictly and without pickle."""
import os
from pathlib import Path

import torch
from huggingface_hub import PyTorchModelHubMixin
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

WEIGHTS_NAME = "model.safetensors"
_HUB_ARGS = {"model_id", "revision", "cache_dir", "force_download", "local_files_only", "token", "map_location",
             "proxies", "resume_download"}


class WeightsError(ValueError):
    """A weights file that is missing, corrupt, or does not match the model's architecture."""


def load_state_strict(model, path):
    """Load `path` (safetensors) into `model`; every key and shape must match, else WeightsError."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"no weights file at {path}")
    try:
        state = load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as err:
        raise WeightsError(f"{path} is not a readable safetensors file (truncated or corrupt?): {err}") from err
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    mismatched = sorted(f"{k}: file {tuple(state[k].shape)} vs model {tuple(v.shape)}"
                        for k, v in expected.items() if k in state and state[k].shape != v.shape)
    if missing or unexpected or mismatched:
        raise WeightsError(
            f"{path} does not match {type(model).__name__}:\n"
            + (f"  missing keys: {missing}\n" if missing else "")
            + (f"  unexpected keys: {unexpected}\n" if unexpected else "")
            + (f"  shape mismatches: {mismatched}\n" if mismatched else ""))
    model.load_state_dict(state, strict=True)  # casts e.g. float16 files to the model's dtype
    return model


class StrictHubMixin(PyTorchModelHubMixin):
    """PyTorchModelHubMixin that loads strictly, refuses pickle and can store weights in half precision."""

    _weights_dtype = None

    def save_pretrained(self, save_directory, *, weights_dtype=None, **kwargs):
        """Write config.json + model.safetensors (+ README.md model card).

        weights_dtype: e.g. torch.float16 stores floating *parameters* in that dtype; buffers (the
        fixed random Fourier matrices) always stay float32.
        """
        self._weights_dtype = weights_dtype
        try:
            return super().save_pretrained(save_directory, **kwargs)
        finally:
            self._weights_dtype = None

    def _save_pretrained(self, save_directory):
        params = {name for name, _ in self.named_parameters()}
        state = {}
        for key, value in self.state_dict().items():
            value = value.detach().cpu()
            if self._weights_dtype is not None and key in params and value.is_floating_point():
                value = value.to(self._weights_dtype)
            state[key] = value.contiguous()
        tmp = Path(save_directory) / (WEIGHTS_NAME + ".tmp")
        save_file(state, str(tmp), metadata={"format": "pt"})
        os.replace(tmp, Path(save_directory) / WEIGHTS_NAME)  # never leave a half-written file

    @classmethod
    def _from_pretrained(cls, *, strict=True, **kwargs):
        if not strict:
            raise ValueError("non-strict loading is not supported: weights must match the architecture")
        model_id = kwargs["model_id"]
        if os.path.isdir(model_id):  # a local folder: same checks, without the Hub client's chatter
            model_kwargs = {k: v for k, v in kwargs.items() if k not in _HUB_ARGS}
            model = cls(**model_kwargs)
            return cls._load_as_safetensor(model, os.path.join(model_id, WEIGHTS_NAME),
                                           kwargs.get("map_location", "cpu"), True)
        return super()._from_pretrained(strict=True, **kwargs)

    @classmethod
    def _load_as_safetensor(cls, model, model_file, map_location, strict):
        load_state_strict(model, model_file)
        return model.to(map_location).eval()

    @classmethod
    def _load_as_pickle(cls, model, model_file, map_location, strict):
        raise WeightsError(f"refusing to load pickled weights ({model_file}); expected {WEIGHTS_NAME}")
