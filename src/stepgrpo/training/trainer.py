"""`StepGRPOTrainer`: TRL's `GRPOTrainer` with StepGRPO's rewards wired in and the official code's
faults closed. Generation, reward gathering across processes, group normalisation, the loss,
checkpointing and logging are TRL's, unchanged.

What this subclass adds, each at the narrowest hook:

- the task that `reasoning_format` selects (`stepgrpo.tasks`): its reward functions by name
  (`reward_funcs`), its rollout function if it has one, its step split for step-level credit;
- a prompt-length check before training that refuses, never truncates (`lengths.py`);
- vision placeholder tokens that generation can never sample, even when the user passes their
  own `suppress_tokens` (TRL's `dict.update` would drop its own entry; a sampled placeholder
  breaks the loss pass, docs/training.md);
- `logprob_temperature`: the loss's log-probabilities at a temperature other than the sampling one
  (R1-VL's code scored at 1.0 what it sampled at 1.2; `_score_at_logprob_temperature`);
- a completions table every `completion_table_steps` steps, prompts shortened (`log`);
- one progress bar with a compact metrics line per log instead of raw dicts (`console.py`);
- resume that really restores the weights (`_load_from_checkpoint`, see there).

Rollout post-processing (`_generate_and_score_completions`), in named steps after TRL's own
generation, rewards and group normalisation: the task's step split (`_split_steps`), step credit
(`advantage_mode: step`: `output["advantages"]` becomes a (B, T) tensor, which TRL's loss accepts;
docs/algorithms.md), then EGSW (`egsw`, all of it in `stepgrpo.advantages.egsw.EntropyWeighting`),
which multiplies the advantages by entropy-guided weights from a forward pass TRL runs anyway.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import torch
from accelerate.utils import is_peft_model
from transformers import PreTrainedModel
from trl import GRPOTrainer
from trl.trainer.utils import add_fused_lm_head

from stepgrpo.advantages.egsw import EntropyWeighting
from stepgrpo.models.vision_tokens import VISION_PLACEHOLDERS
from stepgrpo.tasks import StepSplit
from stepgrpo.training import credit
from stepgrpo.training.config import StepGRPOConfig
from stepgrpo.training.console import print_completion_table, use_console
from stepgrpo.training.lengths import check_prompt_lengths


def build_reward_funcs(args: StepGRPOConfig) -> list[Callable[..., list[float]]]:
    """The configured reward functions, built by the task of `reasoning_format` (TRL's contract:
    completions plus every dataset column as keyword arguments)."""
    factories = args.task().reward_factories(args)
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
        task = args.task()
        rollout_func = task.rollout_func(args) if "rollout_func" not in kwargs else None
        if rollout_func is not None:
            kwargs["rollout_func"] = rollout_func
        self._step_credit = task.step_credit(args)
        super().__init__(model=model, reward_funcs=reward_funcs or build_reward_funcs(args), args=args,
                         train_dataset=train_dataset, processing_class=processing_class, **kwargs)
        use_console(self)  # one progress bar and a compact metrics line per log (console.py)
        if self._is_vlm and not self.use_vllm:
            self._suppress_vision_placeholders()
        if args.logprob_temperature is not None and args.logprob_temperature != args.temperature:
            self._score_at_logprob_temperature(args.logprob_temperature)
        if args.completion_table_steps and self.accelerator.is_main_process:
            os.makedirs(os.path.join(args.output_dir, "completions"), exist_ok=True)
        self._egsw = None
        if args.egsw:
            source = EntropyWeighting.choose_source(
                args.gradient_accumulation_steps, args.steps_per_generation, self.num_iterations,
                scores_rollout=self.use_vllm and self.vllm_importance_sampling_correction)
            self._egsw = EntropyWeighting(args.egsw, source, self.accelerator, self._log_egsw)

    @property
    def _egsw_source(self) -> str | None:
        """Where EGSW's entropies come from (`EntropyWeighting`): "rollout", "loss", "extra"; None: off."""
        return self._egsw.source if self._egsw is not None else None

    def _score_at_logprob_temperature(self, temperature: float) -> None:
        """Log-probabilities of the loss (policy and reference) at `temperature`, sampling unchanged.

        TRL scores completions with a fused LM head (`add_fused_lm_head`, no full logits) that divides
        the logits by the sampling temperature; generation never goes through it. A second head at
        `temperature` wraps TRL's: scoring calls (`fused_lm_head=True`) stop at ours, every other call
        passes through TRL's to the model's own forward."""
        for model, outputs in ((self.model, ("log_probs", "entropy")), (self.ref_model, ("log_probs",))):
            if model is None:
                continue
            model = self.accelerator.unwrap_model(model)
            add_fused_lm_head(model.get_base_model() if is_peft_model(model) else model, temperature=temperature,
                              cast_lm_head_to_fp32=self.args.cast_lm_head_to_fp32, outputs=outputs)

    def _suppress_vision_placeholders(self) -> None:
        vocab = self._tokenizer.get_vocab()
        ids = {vocab[token] for token in VISION_PLACEHOLDERS if token in vocab}
        image_token_id = getattr(self.model.config, "image_token_id", None)
        if image_token_id is not None:
            ids.add(image_token_id)
        suppressed = sorted(ids | set(self.generation_config.suppress_tokens or []))
        self.generation_config.suppress_tokens = suppressed
        self.generation_kwargs["suppress_tokens"] = suppressed

    def _generate_and_score_completions(self, inputs: list[dict[str, Any]]) -> dict[str, Any]:
        """TRL's rollout (generation, rewards, GRPO advantages), then our post-processing in order:
        the step split, step credit, EGSW weights."""
        training = self.model.training
        if self._egsw is None:
            output = super()._generate_and_score_completions(inputs)
        else:
            with self._egsw.rollout(training):
                output = super()._generate_and_score_completions(inputs)
        step_mode = self.args.advantage_mode == "step"
        weighting = training and self._egsw is not None
        if not (step_mode or weighting):
            return output
        group_size = self.num_generations if training else self.num_generations_eval
        first = self.accelerator.process_index * len(inputs)  # this process's first row in the global batch
        if self._egsw is not None:
            output["egsw_row"] = torch.arange(first, first + len(inputs), device=output["completion_ids"].device)
        if step_mode or (self._egsw is not None and self._egsw.by_step):
            split = self._split_steps(output, inputs, with_rewards=step_mode)
            output["step_index"] = split.step_index
            if step_mode:
                output["advantages"] = credit.step_credit_advantages(output, split, group_size, first,
                                                                     self.args.step_advantage_coef)
        if weighting:
            self._egsw.weight_rollout(output, group_size, lambda: self._policy_entropies(output))
        return output

    def _split_steps(self, output: dict[str, Any], inputs: list[dict[str, Any]], with_rewards: bool) -> StepSplit:
        """The task's steps (and, `with_rewards`, their rewards) of this process's completions."""
        if self._step_credit is None:  # the config refuses step-level settings for such a task
            raise ValueError(f"the {self.args.task().name} task has no step credit")
        return self._step_credit(output, inputs, self._tokenizer, with_rewards)

    @torch.no_grad()
    def _policy_entropies(self, batch: dict[str, Any]) -> torch.Tensor:
        """The extra no-grad pass of EGSW's "extra" source: the same call as TRL's loss pass."""
        completion_ids = batch["completion_ids"]
        _, entropies, _ = self._get_per_token_logps_and_entropies(
            self.model, torch.cat([batch["prompt_ids"], completion_ids], 1),
            torch.cat([batch["prompt_mask"], batch["completion_mask"]], 1), completion_ids.size(1),
            batch_size=self.args.per_device_train_batch_size, compute_entropy=True,
            **{key: batch.get(key) for key in self._FORWARD_KEYS})
        return entropies

    _FORWARD_KEYS = ("pixel_values", "image_grid_thw", "num_images", "pixel_attention_mask", "spatial_shapes",
                     "num_tiles", "image_sizes", "token_type_ids", "mm_token_type_ids", "image_position_ids")

    def _compute_loss(self, model: Any, inputs: dict[str, Any]) -> torch.Tensor:
        if self._egsw is None:
            return super()._compute_loss(model, inputs)
        with self._egsw.loss_batch(inputs, self.model.training) as batch:
            return super()._compute_loss(model, batch)

    def _get_per_token_logps_and_entropies(self, model: Any, *args: Any, **kwargs: Any):
        egsw = self._egsw
        if egsw is None:
            return super()._get_per_token_logps_and_entropies(model, *args, **kwargs)
        if egsw.claims_scoring_pass(model is self.model):  # TRL's rollout scoring pass (old_per_token_logps)
            kwargs["compute_entropy"] = True
            logps, entropies, aux_loss = super()._get_per_token_logps_and_entropies(model, *args, **kwargs)
            egsw.keep_scoring_entropies(entropies)
            return logps, None, aux_loss
        logps, entropies, aux_loss = super()._get_per_token_logps_and_entropies(model, *args, **kwargs)
        egsw.weight_loss_batch(entropies, self.num_generations)  # TRL reads the advantages after this call
        return logps, entropies, aux_loss

    def _log_egsw(self, stats: dict[str, float]) -> None:
        for name, value in stats.items():
            self._metrics["train"][name].append(value)

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
            self.log_completions = self.state.global_step % every == 0 and "train_runtime" not in logs
        # TRL's table repeats each whole prompt in every row; it saves the full table, and with
        # nothing to print (0 samples) the console gets ours, with shortened prompts.
        shown, self.num_completions_to_print = self.num_completions_to_print, 0
        try:
            super().log(logs, start_time)
        finally:
            self.num_completions_to_print = shown
        if self.log_completions and self.accelerator.is_main_process and self._logs["prompt"]:
            print_completion_table(self._logs, self.state.global_step, shown)
