"""R1-VL step reasoning (StepGRPO): user rows of question, solution and key steps
(`data.training`), completions in a sectioned reasoning format (`parsing.FORMATS`: `r1vl`, `think`
and any format added with `parsing.register_format`), StepRAR / StepRVR / outcome rewards, and
step credit over the completion's sections (`advantages.step_rewards`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from stepgrpo.tasks.base import DatasetBuilder, RewardFunc, StepCredit, StepSplit


class StepReasoningTask:
    name = "r1vl"
    settings: tuple[str, ...] = ()

    def formats(self) -> Sequence[str]:
        from stepgrpo.parsing import FORMATS

        return tuple(FORMATS)

    def reward_factories(self, args: Any) -> Mapping[str, Callable[[], RewardFunc]]:
        from stepgrpo.rewards import trl as rewards

        return {
            "step_accuracy": lambda: rewards.make_step_accuracy_reward(args.alpha, args.reasoning_format),
            "step_validity": lambda: rewards.make_step_validity_reward(args.reasoning_format),
            "outcome": lambda: rewards.make_outcome_reward(args.reasoning_format),
        }

    def validate(self, args: Any) -> None:
        return None

    def dataset_builder(self, args: Any) -> DatasetBuilder:
        from stepgrpo.data.training import build_dataset

        return build_dataset

    def rollout_func(self, args: Any) -> Callable[..., Any] | None:
        return None

    def step_credit(self, args: Any) -> StepCredit | None:
        return SectionCredit(args)


class SectionCredit:
    """Steps are the completion's sections; their rewards are the configured rewards split over
    them (`advantages.step_rewards`), weighted like the scalar rewards (`reward_weights`)."""

    def __init__(self, args: Any) -> None:
        self.fmt, self.alpha = args.reasoning_format, args.alpha
        self.weights: dict[str, float] = {}
        for name, weight in zip(args.reward_funcs, args.reward_weights or [1.0] * len(args.reward_funcs),
                                strict=True):
            self.weights[name] = self.weights.get(name, 0.0) + float(weight)

    def __call__(self, output: dict[str, Any], inputs: Sequence[dict[str, Any]], tokenizer: Any,
                 with_rewards: bool) -> StepSplit:
        from stepgrpo.advantages.spans import token_ranges
        from stepgrpo.advantages.step_rewards import step_rewards
        from stepgrpo.advantages.token_advantages import token_step_index
        from stepgrpo.rewards.trl import as_choices

        ids = output["completion_ids"]
        texts = tokenizer.batch_decode(ids, skip_special_tokens=True)  # what the rewards read
        weights = self.weights if with_rewards else {}
        results = [step_rewards(text, row.get("solution") or "", row.get("key_steps"), as_choices(row.get("choices")),
                                self.fmt, self.alpha, weights)
                   for text, row in zip(texts, inputs, strict=True)]

        def decode(row: Sequence[int]) -> str:
            return tokenizer.decode(row, skip_special_tokens=True)

        ranges = [token_ranges(row, text, result.starts, decode)
                  for row, text, result in zip(ids.tolist(), texts, results, strict=True)]
        step_index = token_step_index(ranges, ids.size(1)).to(ids.device)
        return StepSplit(step_index, [list(result.rewards) for result in results] if with_rewards else None)


TASK = StepReasoningTask()
