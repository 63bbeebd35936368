"""R1-Router Step-GRPO (`reasoning_format: router`, `stepgrpo.router`, docs/router.md).

Two ways to train, chosen by `router_rollout`: `teacher` (the paper) trains on teacher-forced step
rows (`router.dataset`), one step per row, so there are no steps to split (sequence-level credit
only); `on_policy` (our extension) rolls out the whole router-answer loop with the policy
(`router.onpolicy`) and credits each model turn (`advantage_mode: step`). Its settings:
`router_rollout`, `router_kb`, `router_embedding_model`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from stepgrpo.tasks.base import DatasetBuilder, RewardFunc, StepCredit, StepSplit, TaskConfigError

ROLLOUTS = ("teacher", "on_policy")


def _on_policy(args: Any) -> bool:
    return getattr(args, "router_rollout", "teacher") == "on_policy"


@functools.cache
def shared_turn_rewards(embedding_model: str | None) -> Any:
    """One `onpolicy.TurnRewards` per similarity: the reward functions and the step credit of a run
    share it, so each batch's turn rewards are computed once."""
    from stepgrpo.router.onpolicy import TurnRewards
    from stepgrpo.router.rewards import query_similarity

    return TurnRewards(query_similarity(embedding_model))


class RouterTask:
    name = "router"
    settings = ("router_rollout", "router_kb", "router_embedding_model")

    def formats(self) -> Sequence[str]:
        return ("router",)

    def reward_factories(self, args: Any) -> Mapping[str, Callable[[], RewardFunc]]:
        from stepgrpo.router import rewards  # light: no model loads until a factory is called

        if _on_policy(args):  # the same two rewards, summed over a whole trajectory's turns

            def on_policy(index: int) -> RewardFunc:
                from stepgrpo.router.onpolicy import make_onpolicy_rewards

                return make_onpolicy_rewards(shared_turn_rewards(args.router_embedding_model))[index]

            return {"router_step": lambda: on_policy(0), "answer_step": lambda: on_policy(1)}
        # teacher-forced step rows: each returns None on the other step type's rows
        return {"router_step": lambda: rewards.make_router_step_reward(
                    rewards.query_similarity(args.router_embedding_model)),
                "answer_step": lambda: rewards.answer_step}

    def validate(self, args: Any) -> None:
        if args.router_rollout not in ROLLOUTS:
            raise TaskConfigError(f"router_rollout: {args.router_rollout!r} is not allowed; "
                                  f"choose one of {', '.join(ROLLOUTS)}")
        if args.router_rollout == "teacher" and args.router_kb is not None:
            raise TaskConfigError("router_kb: only used with router_rollout on_policy (teacher rows carry their "
                                  "retrieved passages)")
        if args.router_rollout == "on_policy":
            if not args.router_kb:
                raise TaskConfigError("router_kb: router_rollout on_policy retrieves during rollouts; give the index "
                                      "folder written by `stepgrpo kb build` or `stepgrpo router-world`")
            if not (Path(args.router_kb) / "manifest.json").is_file():
                raise TaskConfigError(f"router_kb: {args.router_kb} is not a knowledge-base index folder "
                                      "(no manifest.json)")
            if args.egsw:
                raise TaskConfigError("egsw: not wired to router_rollout on_policy (its entropies would include the "
                                      "masked retrieved text); set egsw to null")
        step_level = args.advantage_mode == "step" or (args.egsw or {}).get("level") == "step"
        if step_level and not (_on_policy(args) and args.advantage_mode == "step"):
            raise TaskConfigError("advantage_mode: step-level credit needs sections to split; reasoning_format router "
                                  "(one R1-Router step per row) takes advantage_mode sequence and egsw level "
                                  "sequence, unless router_rollout is on_policy (then advantage_mode step, without "
                                  "egsw)")

    def dataset_builder(self, args: Any) -> DatasetBuilder:
        if _on_policy(args):  # questions, rolled out by the policy
            from stepgrpo.router.onpolicy import build_question_dataset

            return build_question_dataset
        from stepgrpo.router.dataset import build_step_dataset

        return build_step_dataset

    def rollout_func(self, args: Any) -> Callable[..., Any] | None:
        if not _on_policy(args):
            return None
        from stepgrpo.router.kb import KnowledgeBases
        from stepgrpo.router.onpolicy import RouterRollout

        return RouterRollout(KnowledgeBases.load(args.router_kb))

    def step_credit(self, args: Any) -> StepCredit | None:
        return TurnCredit(args.router_embedding_model) if _on_policy(args) else None


class TurnCredit:
    """Steps are a trajectory's model turns (`turns` from the rollout), rewarded by
    `onpolicy.trajectory_step_rewards` (shared with the reward functions: computed once per batch);
    inserted text (`tool_mask` 0) carries no advantage."""

    def __init__(self, embedding_model: str | None) -> None:
        self.embedding_model = embedding_model  # the similarity loads on the first batch, not at config time

    def __call__(self, output: dict[str, Any], inputs: Sequence[dict[str, Any]], tokenizer: Any,
                 with_rewards: bool) -> StepSplit:
        from stepgrpo.advantages.token_advantages import token_step_index

        completion_ids = output["completion_ids"]
        ranges = [[(turn["start"], turn["end"]) for turn in row["turns"]] for row in inputs]
        step_index = token_step_index(ranges, completion_ids.size(1)).to(completion_ids.device)
        rewards = shared_turn_rewards(self.embedding_model)(*([row[key] for row in inputs]
                                      for key in ("turns", "ref_queries", "ref_kbs", "ref_answers"))
                                    ) if with_rewards else None
        mask = output["completion_mask"] * output["tool_mask"] if "tool_mask" in output else None
        return StepSplit(step_index, rewards, mask)


TASK = RouterTask()
