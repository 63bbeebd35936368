"""Rule-based step-wise rewards (StepRAR, StepRVR, outcome), pure functions with no torch import.

Usable alone from TRL (`stepgrpo.rewards.trl`), verl (`stepgrpo.rewards.verl`), EasyR1
(`stepgrpo.rewards.easyr1`) or a script.
"""

from stepgrpo.rewards.accuracy import ALPHA, AccuracyReport, accuracy_report, step_accuracy
from stepgrpo.rewards.answer import answers_match, check_answer, extract_answer
from stepgrpo.rewards.matching import FUZZY_THRESHOLD, key_step_groups, match_key_step, matched_key_steps
from stepgrpo.rewards.validity import ValidityReport, reasoning_validity, validity_report

__all__ = [
    "ALPHA",
    "FUZZY_THRESHOLD",
    "AccuracyReport",
    "ValidityReport",
    "accuracy_report",
    "answers_match",
    "check_answer",
    "extract_answer",
    "key_step_groups",
    "match_key_step",
    "matched_key_steps",
    "reasoning_validity",
    "step_accuracy",
    "validity_report",
]
