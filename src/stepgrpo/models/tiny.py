"""Tiny randomly initialised Qwen2-VL / Qwen2.5-VL / Qwen2 models, built offline for tests, demos
and CPU smoke runs; they load with `stepgrpo.models.load_model_and_processor` like real checkpoints.

The tokenizer is a real byte-level BPE trained here on text of the kind the project trains on
(R1-VL section headers, `<think>` tags, numbers, equations, plain English), with Qwen's 14 special
tokens at Qwen's relative positions, its pre-tokenizer and the official Qwen2-VL-Instruct chat
template, so every code path (chat template, image-token expansion, decoding) is the real one.
Why each choice: docs/models.md.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any, Literal

from stepgrpo.data.prompts import CHOICES_INSTRUCTION, REASONING_PROMPT, THINK_PROMPT
from stepgrpo.models.vision_tokens import IMAGE_TOKEN, VIDEO_TOKEN, VISION_END, VISION_PAD, VISION_START
from stepgrpo.outputs import atomic_folder

Arch = Literal["qwen2-vl", "qwen2.5-vl", "qwen2"]
ARCHES: tuple[str, ...] = ("qwen2-vl", "qwen2.5-vl", "qwen2")

SPECIAL_TOKENS = [  # Qwen2-VL's 14, in its order
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>",
    "<|box_start|>", "<|box_end|>", "<|quad_start|>", "<|quad_end|>", VISION_START, VISION_END, VISION_PAD,
    IMAGE_TOKEN, VIDEO_TOKEN,
]

# The official Qwen2-VL-Instruct template: default system prompt, one vision block per image part.
CHAT_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}"
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}"
    "{% set image_count.value = image_count.value + 1 %}"
    "{% if add_vision_id %}Picture {{ image_count.value }}: {% endif %}"
    "<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'video' or 'video' in content %}"
    "{% set video_count.value = video_count.value + 1 %}"
    "{% if add_vision_id %}Video {{ video_count.value }}: {% endif %}"
    "<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n"
    "{% endif %}{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

_WORDS = (
    "the a an of to in is are was be and or not it this that with for on as at by from which what how many "
    "much find value total sum difference product ratio number numbers count area perimeter angle triangle "
    "circle square rectangle line point side length width height radius diameter median midpoint half double "
    "bar chart plot graph axis label legend year month value values highest lowest largest smallest more less "
    "than equal equals therefore so because since then next first second third last final answer question "
    "image description rationale step steps think reasoning show shows shown given we need compute calculate "
    "add subtract multiply divide divided times plus minus over per percent percentage average mean red blue "
    "green yellow black white gray orange purple left right top bottom above below between each all both "
    "object objects cube sphere cylinder small large big color shape option options choice choices correct "
    "yes no true false"
)


def _training_corpus(seed: int, lines: int = 3000) -> list[str]:
    """Synthetic text covering the prompts, both reasoning formats, arithmetic and plain English."""
    rng = random.Random(seed)
    corpus = [REASONING_PROMPT, THINK_PROMPT, CHOICES_INSTRUCTION, *SPECIAL_TOKENS]
    vocabulary = _WORDS.split()
    for _ in range(lines):
        a, b = rng.randint(0, 999), rng.randint(1, 99)
        words = " ".join(rng.choice(vocabulary) for _ in range(rng.randint(4, 14)))
        op = rng.choice(["+", "-", "*", "/", "=", "^"])
        corpus += [
            f"Question: {words.capitalize()}? {a} {op} {b}",
            f"### Image Description:\nThe image shows {words}.\n### Rationales:\n{words}.\n"
            f"### Let's think step by step.\n### Step 1:\n{a} {op} {b} = {a + b}\n### Step 2:\n{words}.\n"
            f"### The final answer is: {rng.choice([str(a), 'A', 'B', 'C', 'D', f'{a / b:.2f}'])}",
            f"<think>\nStep 1: {words}.\nStep 2: {a} + {b} = {a + b}\n</think>\n<answer>{a + b}</answer>",
            f"\\frac{{{a}}}{{{b}}} = {a / b:.3f}, {a}% of {b} is {a * b / 100:g}, x^2 + {b}x - {a} = 0, "
            f"√{b} ≈ {b ** 0.5:.2f}, {rng.randint(0, 180)}° ({rng.choice('ABCDE')}: {words})",
        ]
    return corpus + _chart_reasoning(seed)


def _chart_reasoning(seed: int, count: int = 300) -> list[str]:
    """Questions and reference reasoning of the embedded ChartMath task, so that its phrases are
    single tokens: the demo's sequences get about a third shorter, hence faster to train on a CPU."""
    from stepgrpo.data.chartmath import generate

    return [f"{problem.question}\n{problem.solution}"
            for problem in generate(count, 0, seed=seed + 10_000)["train"]]


def build_tokenizer(seed: int = 0, vocab_size: int = 1024):
    """A fresh Qwen-style BPE tokenizer (a new object each call: a text-only model must not inherit
    the processor's `processor_class`, docs/models.md)."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast
    from transformers.models.qwen2.tokenization_qwen2 import PRETOKENIZE_REGEX

    bpe = Tokenizer(models.BPE(unk_token=None))
    # Qwen's own normaliser and pre-tokeniser, so AutoTokenizer's Qwen2Tokenizer rebuild (which
    # re-applies them) tokenises identically to tokenizer.json (docs/models.md).
    bpe.normalizer = normalizers.NFC()
    bpe.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    bpe.train_from_iterator(_training_corpus(seed), trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe, bos_token=None, eos_token="<|im_end|>", pad_token="<|endoftext|>",
        padding_side="left", clean_up_tokenization_spaces=False,
        extra_special_tokens={"image_token": IMAGE_TOKEN, "video_token": VIDEO_TOKEN},
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def _text_config(tokenizer, hidden_size: int, num_layers: int, num_heads: int, mrope: bool) -> dict[str, Any]:
    head_dim = hidden_size // num_heads
    rope: dict[str, Any] = {"rope_type": "default", "rope_theta": 10000.0}
    if mrope:
        # mrope sections must sum to head_dim // 2 (t, h, w), docs/models.md.
        half = head_dim // 2
        rope["mrope_section"] = [half - 2 * (3 * half // 8), 3 * half // 8, 3 * half // 8]
    ids = tokenizer.convert_tokens_to_ids
    return dict(
        vocab_size=len(tokenizer), hidden_size=hidden_size, intermediate_size=2 * hidden_size,
        num_hidden_layers=num_layers, num_attention_heads=num_heads, num_key_value_heads=max(1, num_heads // 2),
        max_position_embeddings=4096, rope_parameters=rope, bos_token_id=ids("<|endoftext|>"),
        eos_token_id=ids("<|im_end|>"), pad_token_id=ids("<|endoftext|>"), tie_word_embeddings=True,
    )


def _build_model(arch: str, tokenizer, hidden_size: int, num_layers: int, num_heads: int, vision_depth: int):
    from transformers import (
        Qwen2_5_VLConfig,
        Qwen2_5_VLForConditionalGeneration,
        Qwen2Config,
        Qwen2ForCausalLM,
        Qwen2VLConfig,
        Qwen2VLForConditionalGeneration,
    )

    ids = tokenizer.convert_tokens_to_ids
    if arch == "qwen2":
        return Qwen2ForCausalLM(Qwen2Config(**_text_config(tokenizer, hidden_size, num_layers, num_heads, False)))
    vision_tokens = dict(image_token_id=ids(IMAGE_TOKEN), video_token_id=ids(VIDEO_TOKEN),
                         vision_start_token_id=ids(VISION_START), vision_end_token_id=ids(VISION_END))
    text = _text_config(tokenizer, hidden_size, num_layers, num_heads, True)
    common = dict(depth=vision_depth, num_heads=2, patch_size=14, spatial_merge_size=2, temporal_patch_size=2)
    if arch == "qwen2-vl":
        # The merger's output (`hidden_size`) feeds the text model, so it must match (docs/models.md).
        vision = dict(embed_dim=32, hidden_size=hidden_size, mlp_ratio=2, **common)
        config = Qwen2VLConfig(text_config=text, vision_config=vision, tie_word_embeddings=True, **vision_tokens)
        return Qwen2VLForConditionalGeneration(config)
    vision = dict(hidden_size=32, intermediate_size=64, out_hidden_size=hidden_size, window_size=56,
                  fullatt_block_indexes=[vision_depth - 1], **common)
    config = Qwen2_5_VLConfig(text_config=text, vision_config=vision, tie_word_embeddings=True, **vision_tokens)
    return Qwen2_5_VLForConditionalGeneration(config)


def build_tiny_model(out_dir: str | Path, arch: Arch = "qwen2-vl", seed: int = 0, hidden_size: int = 64,
                     num_layers: int = 2, num_heads: int = 4, vision_depth: int = 2, vocab_size: int = 1024,
                     min_pixels: int = 3136, max_pixels: int = 12544) -> Path:
    """Build, save and return a tiny random model folder loadable with `load_model_and_processor`.

    The folder is written next to `out_dir` and renamed into place, so a crash or a concurrent
    builder never leaves a half-written model. Small `max_pixels` keeps image prompts to a few
    tokens (a 56×56 image becomes 4 image tokens).
    """
    import torch
    from transformers import GenerationConfig

    if arch not in ARCHES:
        raise ValueError(f"unknown arch {arch!r}; allowed: {', '.join(ARCHES)}")
    if hidden_size % num_heads or (hidden_size // num_heads) % 4:
        raise ValueError(f"hidden_size {hidden_size} must split into {num_heads} heads of a size divisible by 4")
    out_dir = Path(out_dir)
    torch.manual_seed(seed)
    tokenizer = build_tokenizer(seed=seed, vocab_size=vocab_size)
    model = _build_model(arch, tokenizer, hidden_size, num_layers, num_heads, vision_depth)
    ids = tokenizer.convert_tokens_to_ids
    model.generation_config = GenerationConfig(eos_token_id=[ids("<|im_end|>"), ids("<|endoftext|>")],
                                               pad_token_id=ids("<|endoftext|>"), bos_token_id=ids("<|endoftext|>"))
    with atomic_folder(out_dir) as staging:
        model.save_pretrained(staging)
        if arch == "qwen2":
            tokenizer.save_pretrained(staging)
        else:
            from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

            from stepgrpo.models.processor import Qwen2VLImageOnlyProcessor

            image_processor = Qwen2VLImageProcessorPil(min_pixels=min_pixels, max_pixels=max_pixels)
            Qwen2VLImageOnlyProcessor(image_processor, tokenizer, chat_template=CHAT_TEMPLATE).save_pretrained(staging)
    return out_dir
