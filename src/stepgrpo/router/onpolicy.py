"""R1-Router Step-GRPO on the policy's own multi-turn rollouts (`router_rollout: on_policy`): our
extension, not the paper's training (the paper is teacher-forced: docs/router.md, "On-policy Step-GRPO").

Per question, the `router-answer` loop (`inference.run_loop`) runs with the current policy on one
growing token transcript: router turn, real retrieval, sub-answer turn, ..., then the forced final
answer. The first turn (router system prompt and question) is the prompt; everything after it is
one completion in which the model's own tokens have `env_mask` 1 and the inserted text (the end of
each turn, later user turns with the retrieved passages, the answer and final system prompts the
first time each is used) has `env_mask` 0, so TRL leaves it out of the loss. Each system prompt is
shown once: repeating the 900-token router prompt every round would pass the tiny models' context.

A malformed step or a failed retrieval ends that trajectory (no final answer) with its reason in
`stop_reason`; the run goes on. Rewards (`trajectory_step_rewards`): each router turn against the
reference step at its position (the reference knowledge bases, then "none"), the final answer
against the gold; sub-answer turns earn 0 themselves and get credit through the reward-to-go.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stepgrpo.router.format import MAX_RETRIEVALS, NONE, PASSAGES_SHOWN, kb_from_label, router_user_text
from stepgrpo.router.inference import Question, QuestionsError, Turn, read_questions, run_loop
from stepgrpo.router.prompts import ROUTER_SYSTEM_PROMPT
from stepgrpo.router.rewards import Similarity, answer_step_reward, lexical_similarity, router_step_reward

_ORIGIN = re.compile(r"Origin question: (.*)\n", re.DOTALL)


@dataclass
class Transcript:
    """One question's token transcript: `prompt_ids`, then `completion_ids` with their `env_mask`
    and the model `turns` ({kind, start, end, text}: token range [start, end) in the completion)."""

    prompt_ids: list[int] = field(default_factory=list)
    completion_ids: list[int] = field(default_factory=list)
    env_mask: list[int] = field(default_factory=list)
    turns: list[dict[str, Any]] = field(default_factory=list)
    systems: set[str] = field(default_factory=set)
    closed: bool = True
    """Whether the last model turn ended with an end-of-turn token (else the template's is inserted)."""

    def insert(self, ids: Sequence[int]) -> None:
        self.completion_ids += ids
        self.env_mask += [0] * len(ids)


class TranscriptPolicy:
    """A `inference.TurnPolicy`: generates each turn on the whole token transcript of its question,
    keeping the sampled ids exactly (no decode and re-encode), batched over questions."""

    def __init__(self, model: Any, processing_class: Any, generation_config: Any, **generate_kwargs: Any) -> None:
        self.model, self.template, self.generate_kwargs = model, processing_class, generate_kwargs
        self.tokenizer = getattr(processing_class, "tokenizer", processing_class)
        self.generation_config = generation_config
        eos = generation_config.eos_token_id
        self.eos_ids = set(eos if isinstance(eos, list) else [eos])
        self.pad_id = generation_config.pad_token_id if generation_config.pad_token_id is not None else min(
            self.eos_ids)
        self.transcripts: dict[int, Transcript] = {}
        rendered = self._render([{"role": "user", "content": "U"}, {"role": "assistant", "content": "A"}])
        self.turn_end = rendered[rendered.rindex("A") + 1:]  # what the template writes after an answer

    def _render(self, messages: list[dict[str, str]], prompt: bool = False) -> str:
        return self.template.apply_chat_template(messages, tokenize=False, add_generation_prompt=prompt)

    def _encode(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def _next_turn_text(self, transcript: Transcript, system: str, user: str) -> str:
        """The template's text for a user turn, after the turn's system prompt the first time it is used."""
        stub = [{"role": "system", "content": "S"}]
        text = self._render([*stub, {"role": "user", "content": user}], prompt=True)[len(self._render(stub)):]
        if system not in transcript.systems:
            transcript.systems.add(system)
            text = self._render([{"role": "system", "content": system}]) + text
        return text

    @classmethod
    def from_folder(cls, model_dir: str | Path, *, max_new_tokens: int = 256, temperature: float = 0.0,
                    top_k: int = 20) -> TranscriptPolicy:
        """For evaluation with `inference.answer_questions` (greedy by default; sampling as `ModelPolicy`)."""
        from transformers import GenerationConfig

        from stepgrpo.models import load_model_and_processor
        from stepgrpo.router.inference import vision_placeholder_ids

        model, processor = load_model_and_processor(model_dir)
        model.eval()
        tokenizer = getattr(processor, "tokenizer", processor)
        sampling = {"do_sample": True, "temperature": temperature, "top_k": top_k} if temperature > 0 else {
            "do_sample": False}
        config = GenerationConfig(max_new_tokens=max_new_tokens, eos_token_id=model.generation_config.eos_token_id,
                                  pad_token_id=tokenizer.pad_token_id,
                                  suppress_tokens=vision_placeholder_ids(tokenizer) or None, **sampling)
        return cls(model, processor, config)

    def turns(self, requests: Sequence[Turn]) -> list[str]:
        import torch

        for request in requests:
            if request.image is not None:
                raise ValueError("multi-turn transcripts are text-only; this question has an image")
            transcript = self.transcripts.setdefault(request.key, Transcript())
            text = self._next_turn_text(transcript, request.system, request.user)
            if not transcript.prompt_ids:
                transcript.prompt_ids = self._encode(text)
            else:
                close = self.turn_end
                if transcript.closed:  # the model wrote the end-of-turn token; insert only what follows it
                    close = close.split(self.tokenizer.decode(transcript.completion_ids[-1]), 1)[-1]
                transcript.insert(self._encode(close + text))
        sequences = [self.transcripts[r.key].prompt_ids + self.transcripts[r.key].completion_ids for r in requests]
        width = max(len(ids) for ids in sequences)
        input_ids = torch.tensor([[self.pad_id] * (width - len(ids)) + ids for ids in sequences])
        attention = torch.tensor([[0] * (width - len(ids)) + [1] * len(ids) for ids in sequences])
        device = next(self.model.parameters()).device
        with torch.no_grad():
            generated = self.model.generate(input_ids=input_ids.to(device), attention_mask=attention.to(device),
                                            generation_config=self.generation_config, **self.generate_kwargs)
        texts = []
        for request, row in zip(requests, generated[:, width:].tolist(), strict=True):
            end = next((i + 1 for i, token in enumerate(row) if token in self.eos_ids), len(row))
            new, transcript = row[:end], self.transcripts[request.key]
            text = self.tokenizer.decode(new, skip_special_tokens=True)
            start = len(transcript.completion_ids)
            transcript.completion_ids += new
            transcript.env_mask += [1] * len(new)
            transcript.turns.append({"kind": request.kind, "start": start, "end": start + len(new), "text": text})
            transcript.closed = bool(new) and new[-1] in self.eos_ids
            texts.append(text)
        return texts


def question_of(prompt: list[dict[str, Any]]) -> str:
    """The question in a first router turn's user text ("Origin question: {Q}\\n")."""
    content = prompt[-1]["content"]
    text = content if isinstance(content, str) else "".join(p.get("text", "") for p in content)
    match = _ORIGIN.fullmatch(text)
    if match is None:
        raise ValueError(f"not a first router turn (expected 'Origin question: ...'): {text[:80]!r}")
    return match.group(1)


class RouterRollout:
    """TRL's `rollout_func(prompts, trainer)`: one multi-turn trajectory per prompt (TRL passes each
    prompt `num_generations` times), sampled with the trainer's generation settings; each turn may
    write `max_completion_length` tokens. Retrieval uses `kbs` (a `kb.KnowledgeBases`);
    `generate_kwargs` go to `model.generate` (for example a `prefix_allowed_tokens_fn`)."""

    def __init__(self, kbs: Any, *, k: int = PASSAGES_SHOWN, max_retrievals: int = MAX_RETRIEVALS,
                 **generate_kwargs: Any) -> None:
        self.kbs, self.k, self.max_retrievals, self.generate_kwargs = kbs, k, max_retrievals, generate_kwargs

    def __call__(self, prompts: list[list[dict[str, Any]]], trainer: Any) -> dict[str, Any]:
        from trl.models import unwrap_model_for_generation

        questions = [(Question(id=str(i), question=question_of(prompt)), None) for i, prompt in enumerate(prompts)]
        with unwrap_model_for_generation(trainer.model_wrapped, trainer.accelerator,
                                         generation_kwargs=trainer.generation_kwargs,
                                         gradient_checkpointing_kwargs=trainer.args.gradient_checkpointing_kwargs
                                         ) as model:
            policy = TranscriptPolicy(model, trainer.processing_class, trainer.generation_config,
                                      **self.generate_kwargs)
            states = run_loop(questions, self.kbs, policy, k=self.k, max_retrievals=self.max_retrievals, retries=0,
                              end_on_failure=True)
        transcripts = [policy.transcripts[state.key] for state in states]
        return {
            "prompt_ids": [t.prompt_ids for t in transcripts],
            "completion_ids": [t.completion_ids for t in transcripts],
            "logprobs": None,
            "env_mask": [t.env_mask for t in transcripts],
            "turns": [t.turns for t in transcripts],
            "stop_reason": [state.stop_reason for state in states],
        }


def trajectory_step_rewards(turns: Sequence[dict[str, Any]], ref_queries: Sequence[str], ref_kbs: Sequence[str],
                            ref_answers: Sequence[str], similarity: Similarity = lexical_similarity) -> list[float]:
    """One reward per model turn: the j-th router turn against reference step j (past the reference
    steps: "none", the stop), sub-answers 0, the final answer against the gold (`rewards.py`)."""
    rewards, routed = [], 0
    for turn in turns:
        if turn["kind"] == "router":
            query, kb = (ref_queries[routed], ref_kbs[routed]) if routed < len(ref_queries) else (NONE, NONE)
            rewards.append(router_step_reward(turn["text"], query, kb, similarity))
            routed += 1
        elif turn["kind"] == "final":
            rewards.append(answer_step_reward(turn["text"], list(ref_answers)))
        else:
            rewards.append(0.0)
    return rewards


class TurnRewards:
    """Each trajectory's per-turn rewards (`trajectory_step_rewards`), computed once per batch.

    The two reward functions and the step credit all ask for the same batch's rewards; the last
    batch is kept and recognised by the identity of its `turns` rows (TRL hands every consumer the
    very row objects its rollout produced). `scored` counts the trajectories actually scored."""

    def __init__(self, similarity: Similarity = lexical_similarity) -> None:
        self.similarity = similarity
        self.scored = 0
        self._rows: list[Any] = []
        self._rewards: list[list[float]] = []

    def __call__(self, turns: Sequence[Sequence[dict[str, Any]]], ref_queries: Sequence[Sequence[str]],
                 ref_kbs: Sequence[Sequence[str]], ref_answers: Sequence[Sequence[str]]) -> list[list[float]]:
        if len(turns) == len(self._rows) and all(row is kept for row, kept in zip(turns, self._rows, strict=True)):
            return self._rewards
        rewards = [trajectory_step_rewards(row, queries, kbs, answers, self.similarity)
                   for row, queries, kbs, answers in zip(turns, ref_queries, ref_kbs, ref_answers, strict=True)]
        self._rows, self._rewards = list(turns), rewards
        self.scored += len(rewards)
        return rewards


def make_onpolicy_rewards(similarity: Similarity | TurnRewards = lexical_similarity
                          ) -> list[Callable[..., list[float]]]:
    """TRL reward functions over on-policy trajectories, named like the teacher-forced ones:
    `router_step` sums the router turns' rewards, `answer_step` is the final answer's (0 if none).
    Pass a `TurnRewards` to share one batch's turn rewards with the step credit."""
    turn_rewards = similarity if isinstance(similarity, TurnRewards) else TurnRewards(similarity)

    def turn_sum(kind: str) -> Callable[..., list[float]]:
        def reward(completions: list, turns: list, ref_queries: list, ref_kbs: list, ref_answers: list,
                   **_: Any) -> list[float]:
            return [sum(r for r, turn in zip(rewards, row, strict=True) if turn["kind"] == kind)
                    for rewards, row in zip(turn_rewards(turns, ref_queries, ref_kbs, ref_answers), turns,
                                            strict=True)]

        return reward

    router_step, answer_step = turn_sum("router"), turn_sum("final")
    router_step.__name__, answer_step.__name__ = "router_step", "answer_step"  # TRL logs rewards by name
    return [router_step, answer_step]


def build_question_dataset(source: str | Path, reasoning_format: str = "router", sft: bool = False,
                           limit: int | None = None):
    """Questions (`router-world`'s `trajectories.jsonl` format, `inference.read_questions`) → the
    prompts of on-policy training: the first router turn, plus the references the rewards read
    (`ref_queries`, `ref_kbs`, `ref_answers`). Same signature as `dataset.build_step_dataset`."""
    import datasets

    from stepgrpo.data.io import RowError
    from stepgrpo.data.training import TrainingDataError

    if sft:
        raise ValueError("on-policy question rows have no completions to fine-tune on; use the step rows")
    try:
        questions = read_questions(source, limit)
    except QuestionsError as error:
        raise TrainingDataError([RowError(str(source), str(error))], 0) from None
    errors = [RowError(f"{source} question {q.id}", "has an image; on-policy rollouts are text-only")
              for q, image in questions if image is not None]
    errors += [RowError(f"{source} question {q.id}", "no 'answer' to reward the final answer with")
               for q, _ in questions if not q.answer]
    if errors:
        raise TrainingDataError(errors, len(questions))
    rows = [{
        "prompt": [{"role": "system", "content": ROUTER_SYSTEM_PROMPT},
                   {"role": "user", "content": router_user_text(q.question)}],
        "question_id": q.id,
        "ref_queries": [str(step.get("sub_question", "")) for step in q.steps],
        "ref_kbs": [kb_from_label(str(step.get("kb", ""))) for step in q.steps],
        "ref_answers": q.answer,
    } for q, _ in questions]
    return datasets.Dataset.from_list(rows)
