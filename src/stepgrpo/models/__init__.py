"""Model building and loading: tiny offline models (`tiny`), the loader every command shares
(`loading`), the image-only Qwen2-VL processor (`processor`) and the vision tokens (`vision_tokens`)."""

from stepgrpo.models.loading import load_model_and_processor
from stepgrpo.models.tiny import ARCHES, build_tiny_model, build_tokenizer

__all__ = ["ARCHES", "build_tiny_model", "build_tokenizer", "load_model_and_processor"]
