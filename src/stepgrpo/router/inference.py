"""The R1-Router inference loop (`stepgrpo router-answer`): route, retrieve, answer, repeat, then
answer the question, as the official `src/answer_generation.py` of https://github.com/OpenBMB/R1-Router does.

Per question, at most `max_retrievals` rounds of: a router step (sub-question and knowledge base,
or "none" to stop), real retrieval of the top-k passages from the chosen knowledge base, and a
sub-answer step on those passages; then the final-answer step on the question and the history.
All questions advance together, one step kind at a time, so the model generates in batches.

Failures end a step, never the run, and each is recorded with its reason:

- a router output that does not parse (or pairs a sub-question with "none", or "none" with a
  retriever) is resampled up to `retries` times (official: 5), then the question stops
  retrieving (official: falls back to none/none);
- a retrieval that fails (for example a knowledge base the index does not hold) ends that round
  without a sub-answer;
- a sub-answer or final answer without `<think>` and `<answer>` records the reason; a failed
  sub-answer is left out of the history, a failed final answer gives an empty prediction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from stepgrpo.data.io import read_rows
from stepgrpo.models.vision_tokens import vision_placeholder_ids  # also imported from here by `onpolicy`
from stepgrpo.router.format import (
    MAX_RETRIEVALS,
    NONE,
    PASSAGES_SHOWN,
    StepFormatError,
    answer_user_text,
    final_user_text,
    kb_from_label,
    parse_answer_step,
    parse_router_step,
    router_user_text,
)
from stepgrpo.router.prompts import ANSWER_SYSTEM_PROMPT, FINAL_SYSTEM_PROMPT, ROUTER_SYSTEM_PROMPT
from stepgrpo.router.rewards import answer_recall

Prompt = tuple[list[dict[str, str]], Path | None]
"""Chat messages (system, user) and the question's image, if any."""
Policy = Callable[[Sequence[Prompt]], list[str]]
"""Generates one completion per prompt (`ModelPolicy` for a model folder)."""


class QuestionsError(ValueError):
    """A questions file that cannot be run; the message names each bad line and field."""


class Question(BaseModel):
    """One line of the questions file. `trajectories.jsonl` from `router-world` is one: its `steps`
    give the reference routes that routing accuracy compares with."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)
    id: str = Field(min_length=1)
    question: str = Field(min_length=1)
    image: str | None = None
    answer: list[str] = Field(default_factory=list)
    steps: list[dict[str, Any]] = Field(default_factory=list)

    @field_validator("id", mode="before")
    @classmethod
    def _id_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) else value

    @field_validator("answer", mode="before")
    @classmethod
    def _answers(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value or []

    def reference_routes(self) -> list[str]:
        """The reference knowledge base of each step, then "none" (stop) if under the cap."""
        routes = [kb_from_label(str(step.get("kb", ""))) for step in self.steps]
        return [*routes, NONE] if len(routes) < MAX_RETRIEVALS else routes


def read_questions(path: str | Path, limit: int | None = None) -> list[tuple[Question, Path | None]]:
    """Validated questions with their image paths; every bad line is reported at once."""
    path = Path(path)
    rows, errors = read_rows(path)
    problems = [str(error) for error in errors]
    questions: list[tuple[Question, Path | None]] = []
    for row in rows[:limit]:
        data = {"id": row.where, **row.data}
        try:
            question = Question.model_validate(data)
            question.reference_routes()
        except ValidationError as error:
            problems += [f"{row.where}: field {'.'.join(str(p) for p in e['loc'])!r}: {e['msg']}"
                         for e in error.errors()]
            continue
        except ValueError as error:
            problems.append(f"{row.where}: field 'steps': {error}")
            continue
        image = path.parent / question.image if question.image else None
        if image is not None and not image.is_file():
            problems.append(f"{row.where}: field 'image': no such file {image}")
            continue
        questions.append((question, image))
    if problems:
        shown = "\n  ".join(problems[:20])
        more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise QuestionsError(f"{len(problems)} problem(s) in {path}:\n  {shown}{more}")
    if not questions:
        raise QuestionsError(f"{path}: no questions")
    return questions


class TurnPolicy(Protocol):
    """A policy that sees each question's whole conversation (`onpolicy.TranscriptPolicy`): it is
    asked for one turn per question, `Turn.key` naming the question, and keeps the transcript."""

    def turns(self, requests: Sequence[Turn]) -> list[str]: ...


@dataclass(frozen=True)
class Turn:
    """One model turn the loop asks for: which question (`key`), the step kind ("router",
    "sub_answer", "final"), the step's official system prompt and user text, and the image."""

    key: int
    kind: str
    system: str
    user: str
    image: Path | None = None


@dataclass
class LoopState:
    """One question's progress through the loop; `ended` means no final answer is asked (a failure
    under `end_on_failure`)."""

    key: int
    question: Question
    image: Path | None
    history: list[tuple[str, str]] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)
    routes: list[str] = field(default_factory=list)
    stop_reason: str | None = None
    ended: bool = False
    final: dict[str, Any] | None = None

    def messages(self, system: str, user: str) -> Prompt:
        return [{"role": "system", "content": system}, {"role": "user", "content": user}], self.image

    def fail(self, reason: str, end: bool) -> None:
        self.stop_reason = reason
        self.ended = self.ended or end


def _ask(policy: Policy | TurnPolicy, states: Sequence[LoopState], kind: str, system: str,
         users: Sequence[str]) -> list[str]:
    """One completion per state: whole transcripts for a `TurnPolicy`, fresh prompts otherwise."""
    if not states:
        return []
    if hasattr(policy, "turns"):
        return policy.turns([Turn(state.key, kind, system, user, state.image)
                             for state, user in zip(states, users, strict=True)])
    return policy([state.messages(system, user) for state, user in zip(states, users, strict=True)])


def _router_round(states: list[LoopState], policy: Policy | TurnPolicy, retries: int, end_on_failure: bool) -> None:
    """One router step for every state; resample malformed outputs up to `retries` times."""
    outcome: dict[int, dict[str, Any]] = {}
    tries: dict[int, int] = {}
    pending = list(range(len(states)))
    for attempt in range(retries + 1):
        if not pending:
            break
        asked = [states[i] for i in pending]
        users = [router_user_text(state.question.question, state.history) for state in asked]
        still = []
        for i, completion in zip(pending, _ask(policy, asked, "router", ROUTER_SYSTEM_PROMPT, users), strict=True):
            tries[i] = attempt + 1
            try:
                step = parse_router_step(completion)
                if not step.consistent:
                    raise StepFormatError("the sub-question and <ret> disagree on 'none'")
            except StepFormatError as error:
                outcome[i] = {"completion": completion, "error": str(error)}
                still.append(i)
                continue
            outcome[i] = {"completion": completion, "sub_question": step.sub_question, "kb": step.kb}
        pending = still
    for i, state in enumerate(states):
        router = outcome[i]
        state.steps.append({"router": router, "attempts": tries[i]})
        if "error" in router:  # the official fallback: none / none
            state.routes.append("invalid")
            state.fail(f"malformed router step after {tries[i]} attempt(s)", end_on_failure)
        else:
            state.routes.append(router["kb"])
            if router["kb"] == NONE:
                state.stop_reason = "model stopped"


def _retrieve_and_answer(states: list[LoopState], kbs: Any, policy: Policy | TurnPolicy, k: int,
                         end_on_failure: bool) -> None:
    users, answering = [], []
    for state in states:
        step = state.steps[-1]
        query, kb = step["router"]["sub_question"], step["router"]["kb"]
        try:
            hits = kbs.search(query, kb, k)
        except Exception as error:  # any backend failure ends this step only, with its reason
            message = error.args[0] if isinstance(error, KeyError) and error.args else str(error)
            step["retrieval"] = {"error": f"{type(error).__name__}: {message}"}
            if end_on_failure:
                state.fail(f"retrieval failed: {step['retrieval']['error']}", True)
            continue
        step["retrieval"] = {"hits": [{"id": hit.id, "score": hit.score} for hit in hits]}
        users.append(answer_user_text(query, {kb: [hit.text for hit in hits[:PASSAGES_SHOWN]]}))
        answering.append(state)
    for state, completion in zip(answering, _ask(policy, answering, "sub_answer", ANSWER_SYSTEM_PROMPT, users),
                                 strict=True):
        step = state.steps[-1]
        try:
            answer = parse_answer_step(completion)
        except StepFormatError as error:
            step["answer"] = {"completion": completion, "error": str(error)}
            if end_on_failure:
                state.fail(f"malformed sub-answer: {error}", True)
            continue
        step["answer"] = {"completion": completion, "answer": answer}
        state.history.append((step["router"]["sub_question"], answer))


def run_loop(questions: Sequence[tuple[Question, Path | None]], kbs: Any, policy: Policy | TurnPolicy, *,
             k: int = PASSAGES_SHOWN, max_retrievals: int = MAX_RETRIEVALS, retries: int = 5,
             end_on_failure: bool = False, on_done: Callable[[int], None] | None = None) -> list[LoopState]:
    """The loop itself, shared by `answer_questions` and the on-policy training rollout.

    `end_on_failure=False` is the official recovery (module docstring); `True` (training) ends a
    question's trajectory at its first malformed step or failed retrieval, with no final answer.
    """
    states = [LoopState(key, question, image) for key, (question, image) in enumerate(questions)]
    for _ in range(max_retrievals):
        active = [state for state in states if state.stop_reason is None]
        if not active:
            break
        _router_round(active, policy, retries, end_on_failure)
        retrieving = [state for state in active if state.stop_reason is None]
        _retrieve_and_answer(retrieving, kbs, policy, k, end_on_failure)
        if on_done:
            on_done(len(active) - len([state for state in retrieving if state.stop_reason is None]))
    capped = [state for state in states if state.stop_reason is None]
    for state in capped:
        state.stop_reason = f"step cap ({max_retrievals} retrievals)"
    if on_done and capped:
        on_done(len(capped))
    finishing = [state for state in states if not state.ended]
    users = [final_user_text(state.question.question, state.history, "eval") for state in finishing]
    for state, completion in zip(finishing, _ask(policy, finishing, "final", FINAL_SYSTEM_PROMPT, users),
                                 strict=True):
        state.final = {"completion": completion}
        try:
            state.final["answer"] = parse_answer_step(completion)
        except StepFormatError as error:
            state.final["answer"], state.final["error"] = "", str(error)
    return states


def answer_questions(questions: Sequence[tuple[Question, Path | None]], kbs: Any, policy: Policy | TurnPolicy, *,
                     k: int = PASSAGES_SHOWN, max_retrievals: int = MAX_RETRIEVALS, retries: int = 5,
                     on_done: Callable[[int], None] | None = None) -> list[dict[str, Any]]:
    """Run the loop for every question; return one JSON-ready record per question, in order."""
    if hasattr(policy, "turns") and retries:
        raise ValueError("a multi-turn policy keeps its transcript: resampling a step needs retries=0")
    states = run_loop(questions, kbs, policy, k=k, max_retrievals=max_retrievals, retries=retries, on_done=on_done)
    return [_record(state) for state in states]


def _record(state: LoopState) -> dict[str, Any]:
    final = state.final or {"completion": "", "answer": "", "error": f"no final answer: {state.stop_reason}"}
    question = state.question
    record: dict[str, Any] = {
        "id": question.id, "question": question.question, "image": question.image,
        "answers": question.answer, "prediction": final["answer"],
        "recall": answer_recall(final["answer"], question.answer) if question.answer else None,
        "retrievals": sum(1 for step in state.steps if "retrieval" in step),
        "routes": state.routes, "reference_routes": question.reference_routes() if question.steps else None,
        "stop_reason": state.stop_reason, "steps": state.steps, "final": final,
    }
    return record


def routing_accuracy(predicted: Sequence[str], reference: Sequence[str]) -> float:
    """Share of reference router decisions (each step's knowledge base, then "none") that the
    policy's decision at the same position matched; a missing decision counts as wrong."""
    if not reference:
        return 0.0
    return sum(p == r for p, r in zip(predicted, reference, strict=False)) / len(reference)


def summarize(records: Sequence[dict[str, Any]]) -> dict[str, float | int | None]:
    """Answer recall (the paper's "F1-Recall"), routing accuracy, retrievals per question and the
    share of well-formed final answers, over the records that have the needed references."""
    scored = [r["recall"] for r in records if r["recall"] is not None]
    routed = [routing_accuracy(r["routes"], r["reference_routes"]) for r in records if r["reference_routes"]]
    return {
        "questions": len(records),
        "answer_recall": sum(scored) / len(scored) if scored else None,
        "routing_accuracy": sum(routed) / len(routed) if routed else None,
        "retrievals_per_question": sum(r["retrievals"] for r in records) / len(records) if records else 0.0,
        "well_formed_final": sum("error" not in r["final"] for r in records) / len(records) if records else 0.0,
    }


class ModelPolicy:
    """Batched generation with a local model folder (VLM or text-only), decoding only new tokens.

    Sampling defaults follow the official loop (temperature 1.0, top-k 20); temperature 0 is greedy.
    """

    def __init__(self, model: str | Path, *, max_new_tokens: int = 256, temperature: float = 1.0,
                 top_k: int = 20, batch_size: int = 8, max_pixels: int | None = None) -> None:
        from stepgrpo.models import load_model_and_processor

        self.model, self.processor = load_model_and_processor(model, max_pixels=max_pixels)
        self.model.eval()
        self.is_vlm = hasattr(self.processor, "image_processor")
        self.tokenizer = self.processor.tokenizer if self.is_vlm else self.processor
        self.batch_size = batch_size
        sampling = {"do_sample": True, "temperature": temperature, "top_k": top_k} if temperature > 0 else {
            "do_sample": False}
        self.generate_kwargs = {"max_new_tokens": max_new_tokens, **sampling}
        # a sampled vision placeholder would break the next turn (docs/training.md: placeholders are never sampled)
        if self.is_vlm:
            self.generate_kwargs["suppress_tokens"] = vision_placeholder_ids(self.tokenizer)

    def __call__(self, prompts: Sequence[Prompt]) -> list[str]:
        outputs: list[str] = []
        for start in range(0, len(prompts), self.batch_size):
            outputs += self._generate(prompts[start:start + self.batch_size])
        return outputs

    def _generate(self, prompts: Sequence[Prompt]) -> list[str]:
        import torch
        from PIL import Image
        from trl.data_utils import prepare_multimodal_messages

        if not self.is_vlm:
            if any(image is not None for _, image in prompts):
                raise ValueError("a question has an image but the model is text-only")
            texts = [self.tokenizer.apply_chat_template(m, tokenize=False, add_generation_prompt=True)
                     for m, _ in prompts]
            inputs = self.tokenizer(texts, padding=True, return_tensors="pt", add_special_tokens=False)
        else:
            images = [Image.open(image).convert("RGB") if image else None for _, image in prompts]
            texts = [self.processor.apply_chat_template(
                prepare_multimodal_messages(m, images=[image] if image else []), tokenize=False,
                add_generation_prompt=True) for (m, _), image in zip(prompts, images, strict=True)]
            present = [image for image in images if image is not None]
            inputs = self.processor(text=texts, images=present or None, padding=True, return_tensors="pt")
        with torch.no_grad():
            generated = self.model.generate(**inputs, **self.generate_kwargs)
        new = generated[:, inputs["input_ids"].shape[1]:]
        return self.tokenizer.batch_decode(new, skip_special_tokens=True)
