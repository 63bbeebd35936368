"""The one loader for model folders: tiny ones from `make-tiny-model`, and real local checkpoints.

Everything that loads a model (`train`, `sft`, `eval`, `router-answer`, the benchmarks) goes
through `load_model_and_processor`, so a folder that trains also evaluates. Why the Qwen2-VL family
gets its own processor class: docs/models.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

QWEN2_VL_MODEL_TYPES = ("qwen2_vl", "qwen2_5_vl")


def load_model_and_processor(path: str | Path, dtype: str | None = None, min_pixels: int | None = None,
                             max_pixels: int | None = None, **model_kwargs: Any):
    """Load a model folder (tiny or a real checkpoint such as a local Qwen2-VL-2B-Instruct) and its
    processing class through the ordinary `from_pretrained` path.

    Vision-language folders get a processor; Qwen2-VL family folders get the image-only one, so
    they load whether or not torchvision is installed. Text-only folders get their tokenizer.
    `dtype` is a torch dtype name ("float32", "bfloat16", "auto"); None keeps float32, as TRL does.
    `min_pixels` / `max_pixels` override the image processor's resize bounds (R1-VL: 3136 / 400000).
    A `path` that is not a local folder is passed on as a hub id.
    """
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForImageTextToText, AutoProcessor, AutoTokenizer

    local = Path(path).expanduser()
    if local.exists() and not (local / "config.json").is_file():
        raise FileNotFoundError(f"{local}: not a model folder (no config.json)")
    name = str(local) if local.exists() else str(path)
    config = AutoConfig.from_pretrained(name)
    torch_dtype: Any = dtype if dtype in (None, "auto") else getattr(torch, dtype)
    kwargs = {"dtype": torch_dtype or torch.float32, **model_kwargs}
    if not hasattr(config, "vision_config"):
        model = AutoModelForCausalLM.from_pretrained(name, **kwargs)
        return model, AutoTokenizer.from_pretrained(name, padding_side="left")
    model = AutoModelForImageTextToText.from_pretrained(name, **kwargs)
    pixels = {key: value for key, value in (("min_pixels", min_pixels), ("max_pixels", max_pixels)) if value}
    if config.model_type in QWEN2_VL_MODEL_TYPES:
        from stepgrpo.models.processor import Qwen2VLImageOnlyProcessor

        processor = Qwen2VLImageOnlyProcessor.from_pretrained(name, padding_side="left", **pixels)
    else:
        processor = AutoProcessor.from_pretrained(name, padding_side="left", **pixels)
    return model, processor
