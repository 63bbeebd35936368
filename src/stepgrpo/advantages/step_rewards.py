"""Per-step rewards: the scalar StepGRPO reward, split over the completion's sections.

The same rule-based signals as `stepgrpo.rewards`, placed where they were earned:

- StepRAR (`step_accuracy`, weight w_acc): the outcome bit sits on the final-answer section; each
  matched key step adds w_acc·α/K on the step section where it is *first* matched (the shortest
  prefix of step bodies that matches it). As in the scalar reward, no final answer means no credit.
- StepRVR (`step_validity`, weight w_val): a failure costs −w_val on the section where the order
  breaks, or where a missing section should have been (`ValidityReport.section`).
- outcome (`outcome`, weight w_out): the outcome bit on the final-answer section.

So a completion's step rewards sum to its scalar reward minus w_val (a constant shared by every
completion: validity is written as a penalty so that it can sit where the reasoning breaks), and
group-normalising those sums gives GRPO's advantage back.

Spans partition the completion: one per section, from its header to the next header; text before
the first header (if any) is a span of its own; a completion with no section is one span.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from itertools import pairwise

from stepgrpo.parsing import ParsedCompletion, ReasoningFormat, Section, get_format
from stepgrpo.rewards.accuracy import ALPHA, accuracy_report
from stepgrpo.rewards.matching import KeyStepsInput, StepText, key_step_groups
from stepgrpo.rewards.validity import validity_report

DEFAULT_WEIGHTS: Mapping[str, float] = {"step_accuracy": 1.0, "step_validity": 1.0}
"""R1-VL's reward: r = r_auc + r_val (the trainer passes its own `reward_funcs` and weights)."""


@dataclass(frozen=True)
class StepRewards:
    """One completion's spans (char ranges that partition it), their labels and rewards."""

    spans: tuple[tuple[int, int], ...]
    labels: tuple[str, ...]  # "lead", "description", "rationale", "preamble", "step 3", "answer"
    rewards: tuple[float, ...]

    @property
    def starts(self) -> list[int]:
        return [start for start, _ in self.spans]


def step_rewards(
    completion: str,
    ground_truth: str,
    key_steps: KeyStepsInput,
    choices: Mapping[str, str] | None = None,
    fmt: str | ReasoningFormat | None = None,
    alpha: float = ALPHA,
    weights: Mapping[str, float] = DEFAULT_WEIGHTS,
) -> StepRewards:
    """Split the configured rewards (`weights`: reward-function name → weight) over the spans."""
    unknown = set(weights) - {"step_accuracy", "step_validity", "outcome"}
    if unknown:
        raise ValueError(f"step rewards: unknown reward functions {sorted(unknown)}")
    fmt = get_format(fmt)
    parsed = fmt.parse(completion)
    sections = list(parsed.sections)
    lead = 1 if not sections or sections[0].start > 0 else 0
    bounds = ([0] if lead else []) + [section.start for section in sections] + [len(completion)]
    spans = tuple(pairwise(bounds))
    labels = (("lead",) if lead else ()) + tuple(_label(section) for section in sections)
    rewards = [0.0] * len(spans)
    answer_span = lead + max(i for i, s in enumerate(sections) if s.kind == "answer") if parsed.answers else None

    w_acc, w_out = weights.get("step_accuracy", 0.0), weights.get("outcome", 0.0)
    if w_acc or w_out:
        report = accuracy_report(completion, ground_truth, key_steps, choices, fmt)
        if report.answer is not None and answer_span is not None:
            rewards[answer_span] += (w_acc + w_out) * float(report.correct)
            if w_acc and report.matched:
                step_spans = [lead + i for i, section in enumerate(sections) if section.kind == "step"]
                credit = w_acc * alpha / len(report.matched)
                for group, matched in zip(key_step_groups(key_steps), report.matched, strict=True):
                    if matched:
                        rewards[step_spans[_first_matching_step(parsed, tuple(group))]] += credit
    w_val = weights.get("step_validity", 0.0)
    validity = validity_report(completion, fmt) if w_val else None
    if validity is not None and not validity.ok:
        rewards[lead + validity.section if validity.section is not None else 0] -= w_val
    return StepRewards(spans, labels, tuple(rewards))


def _label(section: Section) -> str:
    return f"step {section.number}" if section.kind == "step" else section.kind


def _first_matching_step(parsed: ParsedCompletion, alternatives: tuple[str, ...]) -> int:
    """Index of the step whose body completes the shortest prefix of step text that matches
    (binary search: a match in a prefix stays a match in every longer prefix)."""
    steps = parsed.steps

    @cache
    def matches(count: int) -> bool:
        return StepText("\n".join(step.body for step in steps[:count])).matches(alternatives)

    low, high = 1, len(steps)
    while low < high:
        middle = (low + high) // 2
        if matches(middle):
            high = middle
        else:
            low = middle + 1
    return low - 1
