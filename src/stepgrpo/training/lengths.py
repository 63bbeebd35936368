"""Prompt lengths, image tokens included, checked before training starts.

R1-VL's code cut prompts to their last 512 tokens; with an image of up to ~510 tokens in front of
the text, that cut image placeholders and crashed Qwen2-VL ("Image features and image tokens do not
match"), or silently moved prompt tokens into the completion (the official training script's left
truncation). We never truncate: a prompt over the limit stops the run with the rows named. Image
tokens are counted from the image size (the processor's own smart-resize arithmetic), so no pixels
are processed.
"""

from __future__ import annotations

from typing import Any


class PromptTooLongError(ValueError):
    """Prompts longer than the configured limit; truncating them would corrupt image prompts."""


def _image_tokens(processing_class: Any, image: Any) -> int:
    width, height = image.size
    data = processing_class._get_num_multimodal_tokens(image_sizes=[(height, width)])
    return int(data["num_image_tokens"][0])


def prompt_length(processing_class: Any, prompt: list[dict[str, Any]], images: list[Any] | None = None) -> int:
    """Tokens the trainer will feed for `prompt` (chat template and generation prompt included)."""
    from trl.data_utils import prepare_multimodal_messages

    images = [image for image in images or [] if image is not None]
    is_processor = hasattr(processing_class, "image_processor")
    tokenizer = processing_class.tokenizer if is_processor else processing_class
    if is_processor:
        prompt = prepare_multimodal_messages(prompt, images=images)
    text = processing_class.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True)
    count = len(tokenizer(text, add_special_tokens=False)["input_ids"])
    for image in images:
        count += _image_tokens(processing_class, image) - 1  # the template holds one placeholder each
    return count


def check_prompt_lengths(dataset: Any, processing_class: Any, max_prompt_length: int,
                         setting: str = "max_prompt_length") -> None:
    """Raise `PromptTooLongError` naming every row whose prompt exceeds `max_prompt_length`
    (`setting` is the config field to name in the message)."""
    columns = [name for name in ("prompt", "image", "images", "row") if name in dataset.column_names]
    too_long = []
    for index, example in enumerate(dataset.select_columns(columns)):
        images = example.get("images") or [example.get("image")]
        length = prompt_length(processing_class, example["prompt"], images)
        if length > max_prompt_length:
            too_long.append(f"  {example.get('row', f'row {index}')}: {length} tokens")
    if too_long:
        shown = "\n".join(too_long[:20]) + (f"\n  ... and {len(too_long) - 20} more" if len(too_long) > 20 else "")
        raise PromptTooLongError(
            f"{len(too_long)} prompts exceed {setting}={max_prompt_length} (image tokens included); "
            f"prompts are never truncated, because cutting image tokens breaks the model. Raise "
            f"{setting}, lower max_pixels, or drop these rows:\n{shown}")
