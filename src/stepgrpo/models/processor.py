"""An image-only Qwen2-VL processor, so Qwen2-VL / Qwen2.5-VL load without torchvision.

transformers 5.23's `Qwen2VLProcessor` always builds a video processor, and that imports
torchvision, which the CPU environment cannot install (its wheels are CUDA builds). We never
feed videos, so this subclass declares only the image processor and the tokenizer;
`ProcessorMixin` derives the sub-processors from the `__init__` signature and the call path
skips videos when the attribute is absent. Importing this module registers the class with
`AutoProcessor` for both Qwen2-VL configs, so TRL's own loading path finds it too.

`min_pixels` / `max_pixels` given to `from_pretrained` become the image processor's `size` bounds
(where transformers 5.23 keeps them, saved with the folder): given as processor keyword arguments
they would be passed to every call, which transformers deprecates with a FutureWarning.
"""

from __future__ import annotations

from typing import Any

from transformers import AutoProcessor, Qwen2_5_VLConfig, Qwen2VLConfig, Qwen2VLProcessor
from transformers.processing_utils import ProcessorMixin

from stepgrpo.models.vision_tokens import IMAGE_TOKEN, VIDEO_TOKEN


class Qwen2VLImageOnlyProcessor(Qwen2VLProcessor):
    """`Qwen2VLProcessor` without the video processor (and so without torchvision)."""

    def __init__(self, image_processor=None, tokenizer=None, chat_template=None, **kwargs):
        self.image_token = getattr(tokenizer, "image_token", None) or IMAGE_TOKEN
        self.video_token = getattr(tokenizer, "video_token", None) or VIDEO_TOKEN
        self.image_token_id = tokenizer.convert_tokens_to_ids(self.image_token)
        self.video_token_id = tokenizer.convert_tokens_to_ids(self.video_token)
        ProcessorMixin.__init__(self, image_processor, tokenizer, chat_template=chat_template)

    @classmethod
    def from_pretrained(cls, *args: Any, min_pixels: int | None = None, max_pixels: int | None = None,
                        **kwargs: Any) -> Qwen2VLImageOnlyProcessor:
        """The saved processor, with the resize bounds that are given (pixels) set on its image processor."""
        processor = super().from_pretrained(*args, **kwargs)
        size = processor.image_processor.size
        for edge, pixels in (("shortest_edge", min_pixels), ("longest_edge", max_pixels)):
            if pixels is not None:
                size[edge] = pixels
        return processor


for _config in (Qwen2VLConfig, Qwen2_5_VLConfig):
    AutoProcessor.register(_config, Qwen2VLImageOnlyProcessor, exist_ok=True)
