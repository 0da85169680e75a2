"""build_model: a TrainConfig → the untrained model (its own module, so that train.loop and
train.export can both import it without importing each other)."""
from lainr import CorrectedConfig, SimplifiedConfig, model_class


def build_model(cfg):
    conf_cls = SimplifiedConfig if cfg.model == "simplified" else CorrectedConfig
    return model_class(cfg.model)(conf_cls(**cfg.model_config))
