"""Model building and loading: tiny offline models and the loader real checkpoints share."""

from stepgrpo.models.tiny import ARCHES, build_tiny_model, build_tokenizer, load_model_and_processor

__all__ = ["ARCHES", "build_tiny_model", "build_tokenizer", "load_model_and_processor"]
