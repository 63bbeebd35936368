"""StepRAR: r_auc = 1 + α·k for a correct answer, α·k for a wrong one, 0 with no answer.

k is the fraction of ground-truth key steps matched in the completion's step sections. The
official code adds α·k even when there is no final answer; the paper (Eq. 2) gives 0, as here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from stepgrpo.parsing import ReasoningFormat, get_format
from stepgrpo.rewards.answer import answer_line, answers_match, clean_answer, ground_truth_answer
from stepgrpo.rewards.matching import KeyStepsInput, matched_key_steps

ALPHA = 0.1
"""The paper's weight of the key-step fraction (R1-VL §3, hard-coded in the official code)."""


@dataclass(frozen=True)
class AccuracyReport:
    answer: str | None  # the final answer read from the completion, None when absent
    correct: bool
    matched: tuple[bool, ...]  # one per key step

    @property
    def key_step_fraction(self) -> float:
        return sum(self.matched) / len(self.matched) if self.matched else 0.0

    def reward(self, alpha: float = ALPHA) -> float:
        if self.answer is None:
            return 0.0
        return float(self.correct) + alpha * self.key_step_fraction


def accuracy_report(
    completion: str,
    ground_truth: str,
    key_steps: KeyStepsInput,
    choices: Mapping[str, str] | None = None,
    fmt: str | ReasoningFormat | None = None,
) -> AccuracyReport:
    fmt = get_format(fmt)
    parsed = fmt.parse(completion if isinstance(completion, str) else "")
    line = answer_line(parsed)
    answer = clean_answer(line) if line is not None else None
    # two final-answer sections are two answers: the completion is answered, and wrong
    correct = (answer is not None and len(parsed.answers) == 1
               and answers_match(answer, ground_truth_answer(str(ground_truth), fmt), choices))
    return AccuracyReport(answer, correct, tuple(matched_key_steps(parsed.steps_text, key_steps)))


def step_accuracy(
    completion: str,
    ground_truth: str,
    key_steps: KeyStepsInput,
    choices: Mapping[str, str] | None = None,
    alpha: float = ALPHA,
    fmt: str | ReasoningFormat | None = None,
) -> float:
    """The paper's r_auc (StepRAR): outcome plus α times the fraction of key steps matched."""
    return accuracy_report(completion, ground_truth, key_steps, choices, fmt).reward(alpha)
