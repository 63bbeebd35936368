"""`StepGRPOTrainer`: TRL's `GRPOTrainer` with StepGRPO's rewards wired in and the official code's
faults closed. Generation, reward gathering across processes, group normalisation, the loss,
checkpointing and logging are TRL's, unchanged.

What this subclass adds, each at the narrowest hook:

- reward functions built by name from the config (`reward_funcs`, `alpha`, `reasoning_format`);
- a prompt-length check before training that refuses, never truncates (`lengths.py`);
- vision placeholder tokens that generation can never sample, even when the user passes their
  own `suppress_tokens` (TRL's `dict.update` would drop its own entry, trl-on-cpu.md §4.8);
- a completions table every `completion_table_steps` steps (`log`);
- resume that really restores the weights (`_load_from_checkpoint`, see there).

Advantages: `advantage_mode="sequence"` is TRL's own computation (one group-normalised scalar per
completion). Other modes extend `_generate_and_score_completions`, which may replace
`output["advantages"]` with a `(B, T)` tensor (trl-on-cpu.md §5).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from transformers import PreTrainedModel
from trl import GRPOTrainer

from stepgrpo.training.config import StepGRPOConfig
from stepgrpo.training.lengths import check_prompt_lengths

VISION_PLACEHOLDERS = ("<|image_pad|>", "<|video_pad|>", "<|vision_start|>", "<|vision_end|>", "<|vision_pad|>")


def build_reward_funcs(args: StepGRPOConfig) -> list[Callable[..., list[float]]]:
    """The configured reward functions with α and the reasoning format bound (TRL's contract:
    completions plus every dataset column as keyword arguments)."""
    from stepgrpo.rewards import trl as rewards

    factories: dict[str, Callable[[], Callable[..., list[float]]]] = {
        "step_accuracy": lambda: rewards.make_step_accuracy_reward(args.alpha, args.reasoning_format),
        "step_validity": lambda: rewards.make_step_validity_reward(args.reasoning_format),
        "outcome": lambda: rewards.make_outcome_reward(args.reasoning_format),
    }
    return [factories[name]() for name in args.reward_funcs]


class StepGRPOTrainer(GRPOTrainer):
    """GRPO with step-wise rule-based rewards (R1-VL's StepGRPO) on TRL."""

    def __init__(self, model: Any, args: StepGRPOConfig, train_dataset: Any = None,
                 processing_class: Any = None, reward_funcs: list[Callable[..., Any]] | None = None, **kwargs: Any):
        if not isinstance(args, StepGRPOConfig):
            raise TypeError(f"args must be a StepGRPOConfig, got {type(args).__name__}")
        checkable = processing_class is not None and hasattr(train_dataset, "select_columns")
        if args.max_prompt_length is not None and checkable:
            check_prompt_lengths(train_dataset, processing_class, args.max_prompt_length)
        super().__init__(model=model, reward_funcs=reward_funcs or build_reward_funcs(args), args=args,
                         train_dataset=train_dataset, processing_class=processing_class, **kwargs)
        if self._is_vlm and not self.use_vllm:
            self._suppress_vision_placeholders()
        if args.completion_table_steps and self.accelerator.is_main_process:
            os.makedirs(os.path.join(args.output_dir, "completions"), exist_ok=True)

    def _suppress_vision_placeholders(self) -> None:
        vocab = self._tokenizer.get_vocab()
        ids = {vocab[token] for token in VISION_PLACEHOLDERS if token in vocab}
        image_token_id = getattr(self.model.config, "image_token_id", None)
        if image_token_id is not None:
            ids.add(image_token_id)
        suppressed = sorted(ids | set(self.generation_config.suppress_tokens or []))
        self.generation_config.suppress_tokens = suppressed
        self.generation_kwargs["suppress_tokens"] = suppressed

    def _load_from_checkpoint(self, resume_from_checkpoint: str, model: Any = None) -> None:
        # transformers 5.23 saves Qwen2-VL weights under the original checkpoint names
        # ("visual.*", "model.layers.*") but `Trainer._load_from_checkpoint` loads them with a
        # plain `load_state_dict(strict=False)` that skips the renaming: every key misses and the
        # resumed run silently continues from the *initial* weights. Loading the checkpoint through
        # `from_pretrained` applies the renaming; strict loading then proves every weight arrived.
        model = model if model is not None else self.model
        plain = isinstance(model, PreTrainedModel) and not (self.is_deepspeed_enabled or self.is_fsdp_enabled)
        if not plain or not os.path.isfile(os.path.join(resume_from_checkpoint, "config.json")):
            super()._load_from_checkpoint(resume_from_checkpoint, model)
            return
        restored = type(model).from_pretrained(resume_from_checkpoint, dtype=model.dtype)
        model.load_state_dict(restored.state_dict(), strict=True)

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        every = self.args.completion_table_steps
        if every and self.model.training:
            # TRL prints and saves its completions table when `log_completions` is set; turn it on
            # only on the steps the user asked for.
            self.log_completions = self.state.global_step % every == 0
        super().log(logs, start_time)
