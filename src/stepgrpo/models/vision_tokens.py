"""The Qwen2-VL family's vision tokens, named once for every place that needs them.

A vision placeholder stands for image or video features that the processor inserts; the model
must never *sample* one: a completion holding a sampled `<|image_pad|>` has more image tokens than
there are image features, and the next forward pass (the loss, or the next turn) fails
(docs/models.md). Generation therefore suppresses all five.
"""

from __future__ import annotations

from typing import Any

IMAGE_TOKEN = "<|image_pad|>"
VIDEO_TOKEN = "<|video_pad|>"
VISION_START = "<|vision_start|>"
VISION_END = "<|vision_end|>"
VISION_PAD = "<|vision_pad|>"
VISION_PLACEHOLDERS: tuple[str, ...] = (IMAGE_TOKEN, VIDEO_TOKEN, VISION_START, VISION_END, VISION_PAD)


def vision_placeholder_ids(tokenizer: Any) -> list[int]:
    """The ids of the vision placeholder tokens the tokenizer has (none for a text-only one), sorted."""
    vocab = tokenizer.get_vocab()
    return sorted({vocab[token] for token in VISION_PLACEHOLDERS if token in vocab})
