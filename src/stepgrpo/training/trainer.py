"""`StepGRPOTrainer`: TRL's `GRPOTrainer` with StepGRPO's rewards wired in and the official code's
faults closed. Generation, reward gathering across processes, group normalisation, the loss,
checkpointing and logging are TRL's, unchanged.

What this subclass adds, each at the narrowest hook:

- reward functions built by name from the config (`reward_funcs`, `alpha`, `reasoning_format`);
- a prompt-length check before training that refuses, never truncates (`lengths.py`);
- vision placeholder tokens that generation can never sample, even when the user passes their
  own `suppress_tokens` (TRL's `dict.update` would drop its own entry; a sampled placeholder
  breaks the loss pass, docs/training.md);
- `logprob_temperature`: the loss's log-probabilities at a temperature other than the sampling one
  (R1-VL's code scored at 1.0 what it sampled at 1.2; `_score_at_logprob_temperature`);
- a completions table every `completion_table_steps` steps (`log`);
- resume that really restores the weights (`_load_from_checkpoint`, see there);
- for `router_rollout: on_policy`, TRL's `rollout_func` running the R1-Router loop
  (`stepgrpo.router.onpolicy`), with per-turn advantages in `advantage_mode: step`.

Advantages: `advantage_mode="sequence"` is TRL's own computation (one group-normalised scalar per
completion). `advantage_mode="step"` replaces `output["advantages"]` in `_generate_and_score_completions`
with a `(B, T)` tensor (TRL's loss accepts (B, T) advantages; docs/algorithms.md). EGSW (`egsw`) multiplies the
advantages by entropy-guided weights, with entropies from a forward pass TRL runs anyway (see
`_egsw_source`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import torch
from accelerate.utils import gather_object, is_peft_model
from transformers import PreTrainedModel
from trl import GRPOTrainer
from trl.trainer.utils import add_fused_lm_head

from stepgrpo.advantages.token_advantages import step_advantages, token_advantages
from stepgrpo.training import credit
from stepgrpo.training.config import StepGRPOConfig
from stepgrpo.training.lengths import check_prompt_lengths

VISION_PLACEHOLDERS = ("<|image_pad|>", "<|video_pad|>", "<|vision_start|>", "<|vision_end|>", "<|vision_pad|>")


def build_reward_funcs(args: StepGRPOConfig) -> list[Callable[..., list[float]]]:
    """The configured reward functions with α and the reasoning format bound (TRL's contract:
    completions plus every dataset column as keyword arguments)."""
    from stepgrpo.rewards import trl as rewards
    from stepgrpo.router import rewards as router

    factories: dict[str, Callable[[], Callable[..., list[float]]]] = {
        "step_accuracy": lambda: rewards.make_step_accuracy_reward(args.alpha, args.reasoning_format),
        "step_validity": lambda: rewards.make_step_validity_reward(args.reasoning_format),
        "outcome": lambda: rewards.make_outcome_reward(args.reasoning_format),
        # R1-Router Step-GRPO (stepgrpo.router.rewards): each returns None on the other step type's rows.
        "router_step": lambda: router.make_router_step_reward(router.query_similarity(args.router_embedding_model)),
        "answer_step": lambda: router.answer_step,
    }
    if args.router_rollout == "on_policy":  # the same two rewards, summed over a whole trajectory's turns
        from stepgrpo.router.onpolicy import make_onpolicy_rewards

        on_policy = dict(zip(("router_step", "answer_step"), make_onpolicy_rewards(
            router.query_similarity(args.router_embedding_model)), strict=True))
        factories.update({name: lambda name=name: on_policy[name] for name in on_policy})
    return [factories[name]() for name in args.reward_funcs]


def build_rollout_func(args: StepGRPOConfig) -> Callable[..., Any] | None:
    """TRL's `rollout_func` for `router_rollout: on_policy` (`stepgrpo.router.onpolicy`), else None."""
    if args.router_rollout != "on_policy":
        return None
    from stepgrpo.router.kb import KnowledgeBases
    from stepgrpo.router.onpolicy import RouterRollout

    return RouterRollout(KnowledgeBases.load(args.router_kb))


class StepGRPOTrainer(GRPOTrainer):
    """GRPO with step-wise rule-based rewards (R1-VL's StepGRPO) on TRL."""

    def __init__(self, model: Any, args: StepGRPOConfig, train_dataset: Any = None,
                 processing_class: Any = None, reward_funcs: list[Callable[..., Any]] | None = None, **kwargs: Any):
        if not isinstance(args, StepGRPOConfig):
            raise TypeError(f"args must be a StepGRPOConfig, got {type(args).__name__}")
        checkable = processing_class is not None and hasattr(train_dataset, "select_columns")
        if args.max_prompt_length is not None and checkable:
            check_prompt_lengths(train_dataset, processing_class, args.max_prompt_length)
        if args.router_rollout == "on_policy":
            kwargs.setdefault("rollout_func", build_rollout_func(args))
        super().__init__(model=model, reward_funcs=reward_funcs or build_reward_funcs(args), args=args,
                         train_dataset=train_dataset, processing_class=processing_class, **kwargs)
        if self._is_vlm and not self.use_vllm:
            self._suppress_vision_placeholders()
        if args.logprob_temperature is not None and args.logprob_temperature != args.temperature:
            self._score_at_logprob_temperature(args.logprob_temperature)
        if args.completion_table_steps and self.accelerator.is_main_process:
            os.makedirs(os.path.join(args.output_dir, "completions"), exist_ok=True)
        self._egsw_source = self._choose_egsw_source() if args.egsw else None
        self._capture_entropy = False
        self._rollout_entropies: torch.Tensor | None = None
        self._egsw_pending: dict[str, Any] | None = None

    def _choose_egsw_source(self) -> str:
        """Where EGSW's entropies come from, without a forward pass of our own where possible:

        - "rollout": TRL already scores the rollout with the policy (`old_per_token_logps`, when
          `num_iterations > 1` or generation and accumulation are misaligned); that pass also
          returns entropies.
        - "loss": one micro-batch per generation (`steps_per_generation == 1`, one iteration): the
          loss pass's entropies come from the rollout policy and every group is in the batch
          (gathered across processes).
        - "extra": otherwise (gradient accumulation over one generation): an extra no-grad pass at
          rollout, the only way to see a group whole before its first micro-batch's loss.
        """
        args = self.args
        scored = args.gradient_accumulation_steps % (args.steps_per_generation * self.num_iterations) != 0
        if scored or (self.use_vllm and self.vllm_importance_sampling_correction):
            return "rollout"
        return "loss" if args.steps_per_generation == 1 and self.num_iterations == 1 else "extra"

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
        training = self.model.training
        egsw_rollout = training and self._egsw_source in ("rollout", "extra")
        self._capture_entropy, self._rollout_entropies = egsw_rollout and self._egsw_source == "rollout", None
        try:
            output = super()._generate_and_score_completions(inputs)
        finally:
            self._capture_entropy = False
        step_mode = self.args.advantage_mode == "step"
        step_egsw = bool(self.args.egsw) and self.args.egsw["level"] == "step"
        if not (step_mode or (training and self.args.egsw)):
            return output
        group_size = self.num_generations if training else self.num_generations_eval
        count = len(inputs)
        first = self.accelerator.process_index * count
        if self.args.egsw:
            output["egsw_row"] = torch.arange(first, first + count, device=output["completion_ids"].device)
        if step_mode and self.args.router_rollout == "on_policy":  # step spans are the trajectory's model turns
            output["advantages"] = credit.router_token_advantages(output, inputs, self.args, group_size, first)
            return output
        if step_mode or step_egsw:
            ids = output["completion_ids"]
            texts = self._tokenizer.batch_decode(ids, skip_special_tokens=True)  # what the rewards read

            def decode(row: list[int]) -> str:
                return self._tokenizer.decode(row, skip_special_tokens=True)

            results = credit.batch_step_rewards(texts, inputs, self.args, with_rewards=step_mode)
            output["step_index"] = credit.batch_step_index(ids, texts, results, decode)
        if step_mode:  # normalised over whole groups: gather every process's step rewards first
            everyone = gather_object([list(result.rewards) for result in results])
            advantages, _ = step_advantages(everyone, group_size)
            output["advantages"] = token_advantages(output["advantages"], advantages[first:first + count],
                                                    output["step_index"], output["completion_mask"],
                                                    self.args.step_advantage_coef)
        if egsw_rollout:
            entropies = self._rollout_entropies
            if entropies is None:
                entropies = self._policy_entropies(output)
            self._log_egsw(credit.apply_egsw(output, entropies, self.args.egsw, group_size, self.accelerator))
        self._rollout_entropies = None
        return output

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
        if self._egsw_source != "loss" or not self.model.training:
            return super()._compute_loss(model, inputs)
        inputs = dict(inputs)  # weighted once, in this copy: the buffered batch stays as generated
        self._egsw_pending = inputs
        try:
            return super()._compute_loss(model, inputs)
        finally:
            self._egsw_pending = None

    def _get_per_token_logps_and_entropies(self, model: Any, *args: Any, **kwargs: Any):
        if self._capture_entropy and model is self.model:  # TRL's rollout scoring pass (old_per_token_logps)
            self._capture_entropy = False
            kwargs["compute_entropy"] = True
            logps, self._rollout_entropies, aux_loss = super()._get_per_token_logps_and_entropies(model, *args,
                                                                                                 **kwargs)
            return logps, None, aux_loss
        logps, entropies, aux_loss = super()._get_per_token_logps_and_entropies(model, *args, **kwargs)
        pending, self._egsw_pending = self._egsw_pending, None
        if pending is not None and entropies is not None:
            # `_compute_loss` reads `inputs["advantages"]` only after this call (docs/algorithms.md §3)
            self._log_egsw(credit.apply_egsw(pending, entropies, self.args.egsw, self.num_generations,
                                             self.accelerator))
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
            self.log_completions = self.state.global_step % every == 0
        super().log(logs, start_time)
