"""Training, evaluation, export and publishing for the lainr models (SPEC §5, §6)."""
from .config import TrainConfig, parse_duration

__all__ = ["TrainConfig", "parse_duration"]
