"""Hugging Face Hub format (config.json + model.safetensors), loaded strictly and without pickle.

Built on huggingface_hub's ModelHubMixin through the two hooks its integration guide documents for a subclass,
`_save_pretrained` and `_from_pretrained`; the files are fetched with the public `hf_hub_download`. (Not on
PyTorchModelHubMixin, whose loading goes through its private `_load_as_safetensor` / `_load_as_pickle`.)
The one private name still used is the `_hub_mixin_config` attribute in models.py (config.json = the config
dataclass); requirements.txt bounds huggingface-hub to the major version tested for it.
"""
import os
from pathlib import Path

from huggingface_hub import ModelHubMixin, hf_hub_download
from huggingface_hub.utils import EntryNotFoundError
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .atomic import replacing

WEIGHTS_NAME = "model.safetensors"
PICKLE_NAME = "pytorch_model.bin"
_DOWNLOAD_ARGS = ("revision", "cache_dir", "force_download", "local_files_only", "token")
_OLDER_HUB_ARGS = ("proxies", "resume_download")  # passed by huggingface_hub < 1.0; unused here


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


def _weights_file(model_id, download):
    """The local path of model_id's model.safetensors (a folder, or a Hub repo through the HF cache)."""
    if os.path.isdir(model_id):
        path = Path(model_id) / WEIGHTS_NAME
        if not path.is_file() and (Path(model_id) / PICKLE_NAME).is_file():
            raise WeightsError(f"refusing to load pickled weights ({Path(model_id) / PICKLE_NAME}); "
                               f"expected {WEIGHTS_NAME}")
        return path
    try:
        return hf_hub_download(repo_id=model_id, filename=WEIGHTS_NAME, **download)
    except EntryNotFoundError as err:
        raise WeightsError(f"{model_id} has no {WEIGHTS_NAME} (pickled weights are refused)") from err


class StrictHubMixin(ModelHubMixin):
    """ModelHubMixin for torch models: safetensors only, loaded strictly, weights optionally in half precision."""

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
        with replacing(Path(save_directory) / WEIGHTS_NAME) as tmp:  # synced, then replaces: never half a file
            save_file(state, str(tmp), metadata={"format": "pt"})

    @classmethod
    def _from_pretrained(cls, *, model_id, map_location="cpu", strict=True, **kwargs):
        if not strict:
            raise ValueError("non-strict loading is not supported: weights must match the architecture")
        download = {k: kwargs.pop(k) for k in _DOWNLOAD_ARGS if k in kwargs}
        for k in _OLDER_HUB_ARGS:
            kwargs.pop(k, None)
        model = cls(**kwargs)  # what is left: the constructor's arguments (the config from config.json)
        load_state_strict(model, _weights_file(model_id, download))
        return model.to(map_location).eval()
