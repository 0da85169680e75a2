"""build_model: a TrainConfig → the untrained model (its own module, so that train.loop and
train.publish.export can both import it without importing each other); init_weights: the state a new run
starts from when --init-from names a weights folder."""
from dataclasses import asdict
from pathlib import Path

from lainr import CorrectedConfig, SimplifiedConfig, WeightsError, model_class


def build_model(cfg):
    conf_cls = SimplifiedConfig if cfg.model == "simplified" else CorrectedConfig
    return model_class(cfg.model)(conf_cls(**cfg.model_config))


def init_weights(cfg):
    """The state dict of cfg.init_from (a local Hub-format folder), loaded strictly and checked against
    the run's architecture → dict, or None without --init-from. ValueError on anything that does not fit."""
    if not cfg.init_from:
        return None
    folder = Path(cfg.init_from)
    if not (folder / "config.json").is_file():
        raise ValueError(f"--init-from {folder}: not a weights folder (config.json + model.safetensors)")
    try:
        start = model_class(cfg.model).from_pretrained(str(folder))
    except (WeightsError, ValueError, TypeError, OSError) as err:
        raise ValueError(f"--init-from {folder}: these weights are not a {cfg.model} model that loads "
                         f"strictly ({err})") from err
    wanted = asdict(build_model(cfg).config)
    if asdict(start.config) != wanted:
        diffs = [f"{k}: {v} in the folder, {wanted.get(k)} in this run" for k, v in asdict(start.config).items()
                 if wanted.get(k) != v]
        raise ValueError(f"--init-from {folder}: a different {cfg.model} configuration: " + "; ".join(diffs))
    return {k: v.float() if v.is_floating_point() else v for k, v in start.state_dict().items()}
