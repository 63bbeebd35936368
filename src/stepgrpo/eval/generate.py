"""Batched generation for evaluation, and the per-sample cache that lets a run resume.

The HF backend runs `model.generate` on left-padded batches built by the model's own processor
and chat template: the image part first, then the prompt text, as R1-VL's harness sends them.
vLLM is optional (`pip install stepgrpo[vllm]`) and imported only when asked for. Decoding is
greedy unless a temperature is given (the paper's top_k=1 / temperature 0.01 is greedy).
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from stepgrpo.data.prompts import PROMPTS, build_prompt_text
from stepgrpo.eval.benchmarks.base import Item, open_image
from stepgrpo.outputs import dumps_json


@dataclass(frozen=True)
class GenerationSettings:
    """How completions are produced; every field except `batch_size` keys the prediction cache."""

    max_new_tokens: int = 2048
    """The paper's evaluation budget (docs/eval.md)."""
    temperature: float = 0.0
    """0 decodes greedily, as the paper does; above 0 samples."""
    top_p: float = 1.0
    """Nucleus sampling mass when sampling."""
    prompt_format: str = "r1vl"
    """Which reasoning prompt wraps each question: "r1vl" (the paper's REASONING_PROMPT) or "think"."""
    batch_size: int = 8
    """Questions per `generate` call."""

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1 or self.batch_size < 1:
            raise ValueError(f"max_new_tokens and batch_size must be >= 1, "
                             f"got {self.max_new_tokens}, {self.batch_size}")
        if self.temperature < 0 or not 0 < self.top_p <= 1:
            raise ValueError(f"need temperature >= 0 and 0 < top_p <= 1, got {self.temperature}, {self.top_p}")
        if self.prompt_format not in PROMPTS:
            raise ValueError(f"unknown prompt {self.prompt_format!r}; choose from {', '.join(PROMPTS)}")


@dataclass(frozen=True)
class Prompt:
    text: str
    image: Image.Image | None


def build_prompt(item: Item, prompt_format: str = "r1vl") -> Prompt:
    """The user turn for one item: the reasoning prompt around the question (and its Choices block)."""
    text = build_prompt_text(item.question, item.prompt_choices, prompt_format)
    return Prompt(text, open_image(item.image) if item.image is not None else None)


Generator = Callable[[list[Prompt]], list[str]]


class HFGenerator:
    """`transformers` generation with the model folder's processor (or tokenizer, for text-only models)."""

    def __init__(self, model_dir: str | Path, settings: GenerationSettings, dtype: str | None = None) -> None:
        import torch

        from stepgrpo.models import load_model_and_processor

        self.settings = settings
        self.model, self.processor = load_model_and_processor(model_dir, dtype=dtype)
        self.model.eval()
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.model.to(self.device)
        self.vision = hasattr(self.processor, "image_processor")
        self.tokenizer = getattr(self.processor, "tokenizer", self.processor)
        self._warned = False

    def _messages(self, prompt: Prompt) -> list[dict[str, Any]]:
        if self.vision and prompt.image is not None:
            return [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": prompt.text}]}]
        if prompt.image is not None and not self._warned:
            warnings.warn("the model has no image processor: images are left out of the prompts", stacklevel=2)
            self._warned = True
        return [{"role": "user", "content": prompt.text}]

    def __call__(self, prompts: list[Prompt]) -> list[str]:
        import torch

        texts = [self.processor.apply_chat_template(self._messages(p), tokenize=False, add_generation_prompt=True)
                 for p in prompts]
        images = [p.image for p in prompts if p.image is not None] if self.vision else []
        if self.vision:
            inputs = self.processor(text=texts, images=images or None, padding=True, return_tensors="pt")
        else:
            inputs = self.processor(texts, padding=True, return_tensors="pt", add_special_tokens=False)
        inputs = inputs.to(self.device)
        sampling: dict[str, Any] = (
            {"do_sample": True, "temperature": self.settings.temperature, "top_p": self.settings.top_p}
            if self.settings.temperature > 0 else {"do_sample": False, "temperature": None, "top_p": None,
                                                   "top_k": None})
        with torch.inference_mode():
            output = self.model.generate(**inputs, max_new_tokens=self.settings.max_new_tokens,
                                         pad_token_id=self.tokenizer.pad_token_id, **sampling)
        new_tokens = output[:, inputs["input_ids"].shape[1]:]
        return self.tokenizer.batch_decode(new_tokens, skip_special_tokens=True)


class VLLMGenerator:
    """vLLM generation: the HF chat template renders the prompt, vLLM runs the model."""

    def __init__(self, model_dir: str | Path, settings: GenerationSettings, dtype: str | None = None) -> None:
        try:
            from vllm import LLM, SamplingParams
        except ImportError:
            raise RuntimeError("the vllm backend needs vLLM: pip install 'stepgrpo[vllm]' (GPU only)") from None
        from transformers import AutoProcessor

        self.processor = AutoProcessor.from_pretrained(str(model_dir))
        self.llm = LLM(model=str(model_dir), dtype=dtype or "auto", limit_mm_per_prompt={"image": 1})
        self.params = SamplingParams(max_tokens=settings.max_new_tokens, temperature=settings.temperature,
                                     top_p=settings.top_p if settings.temperature > 0 else 1.0)

    def __call__(self, prompts: list[Prompt]) -> list[str]:
        requests = []
        for prompt in prompts:
            content: Any = prompt.text
            if prompt.image is not None:
                content = [{"type": "image"}, {"type": "text", "text": prompt.text}]
            text = self.processor.apply_chat_template([{"role": "user", "content": content}], tokenize=False,
                                                      add_generation_prompt=True)
            request: dict[str, Any] = {"prompt": text}
            if prompt.image is not None:
                request["multi_modal_data"] = {"image": prompt.image}
            requests.append(request)
        outputs = self.llm.generate(requests, self.params, use_tqdm=False)
        return [output.outputs[0].text for output in outputs]


BACKENDS: dict[str, type[HFGenerator] | type[VLLMGenerator]] = {"hf": HFGenerator, "vllm": VLLMGenerator}


def make_generator(backend: str, model_dir: str | Path, settings: GenerationSettings,
                   dtype: str | None = None) -> Generator:
    try:
        cls = BACKENDS[backend]
    except KeyError:
        raise ValueError(f"unknown backend {backend!r}; choose from {', '.join(BACKENDS)}") from None
    return cls(model_dir, settings, dtype)


def batches(items: list[Item], size: int) -> Iterator[list[Item]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


class PredictionCache:
    """Completions already generated, one JSON line per item, appended and fsync'ed one at a time,
    so a crash loses at most the line being written (a torn last line is dropped on reopening)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.records: dict[str, dict[str, Any]] = {}
        if self.path.exists():
            self._load()

    def _load(self) -> None:
        raw = self.path.read_bytes()
        good = raw.rfind(b"\n") + 1  # a torn final line (no newline) is cut off
        if good < len(raw):
            with self.path.open("r+b") as handle:
                handle.truncate(good)
        for number, line in enumerate(raw[:good].decode("utf-8").splitlines(), start=1):
            try:
                record = json.loads(line)
                self.records[str(record["id"])] = record
            except (json.JSONDecodeError, KeyError, TypeError):
                warnings.warn(f"{self.path}:{number}: unreadable cache line skipped", stacklevel=2)

    def __contains__(self, item_id: str) -> bool:
        return item_id in self.records

    def __len__(self) -> int:
        return len(self.records)

    def get(self, item_id: str) -> dict[str, Any]:
        return self.records[item_id]

    def append(self, record: dict[str, Any]) -> None:
        line = dumps_json(record) + "\n"
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())
        self.records[str(record["id"])] = record
