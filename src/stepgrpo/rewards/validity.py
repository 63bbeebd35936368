"""StepRVR: the reasoning is complete and logically ordered.

Complete: every analysis section of the format (R1-VL: image description, rationale), at least one
step and a final answer, none of them empty. Ordered: the analysis sections appear once each, in
the format's order, before the first step; steps are numbered 1..n with no gap or repeat; exactly
one final answer, after the last step. The official code checks neither that the analysis comes
first nor that sections are non-empty (`../shared/reference/r1vl.md` §4.3); this does.
"""

from __future__ import annotations

from dataclasses import dataclass

from stepgrpo.parsing import ParsedCompletion, ReasoningFormat, get_format


@dataclass(frozen=True)
class ValidityReport:
    ok: bool
    check: str  # "ok", "completeness" or "logic"
    reason: str


_OK = ValidityReport(True, "ok", "complete and ordered")


def validity_report(completion: str, fmt: str | ReasoningFormat | None = None) -> ValidityReport:
    """Which StepRVR check fails first (completeness before logic), and why."""
    fmt = get_format(fmt)
    parsed = fmt.parse(completion)
    return _completeness(parsed, fmt) or _logic(parsed, fmt) or _OK


def reasoning_validity(completion: str, fmt: str | ReasoningFormat | None = None) -> float:
    """The paper's r_val: 1.0 when the reasoning is complete and logically ordered, else 0.0."""
    return 1.0 if validity_report(completion, fmt).ok else 0.0


def _incomplete(reason: str) -> ValidityReport:
    return ValidityReport(False, "completeness", reason)


def _illogical(reason: str) -> ValidityReport:
    return ValidityReport(False, "logic", reason)


def _completeness(parsed: ParsedCompletion, fmt: ReasoningFormat) -> ValidityReport | None:
    for kind in fmt.analysis:
        sections = parsed.of_kind(kind)
        if not sections:
            return _incomplete(f"missing {kind} section")
        if not sections[0].body:
            return _incomplete(f"empty {kind} section")
    if not parsed.steps:
        return _incomplete("no reasoning steps")
    for step in parsed.steps:
        if not step.body:
            return _incomplete(f"empty step {step.number}")
    if not parsed.answers:
        return _incomplete("no final answer")
    if parsed.answer is None:
        return _incomplete("empty final answer")
    return None


def _logic(parsed: ParsedCompletion, fmt: ReasoningFormat) -> ValidityReport | None:
    sections = parsed.sections
    first_step = next(i for i, section in enumerate(sections) if section.kind == "step")
    last_step = max(i for i, section in enumerate(sections) if section.kind == "step")
    previous = -1
    for kind in fmt.analysis:
        positions = [i for i, section in enumerate(sections) if section.kind == kind]
        if len(positions) > 1:
            return _illogical(f"{kind} section appears {len(positions)} times")
        if positions[0] > first_step:
            return _illogical(f"{kind} section comes after the first step")
        if positions[0] < previous:
            return _illogical(f"{kind} section comes before {fmt.analysis[fmt.analysis.index(kind) - 1]}")
        previous = positions[0]
    preambles = [i for i, section in enumerate(sections) if section.kind == "preamble"]
    if any(i > first_step for i in preambles):
        return _illogical("step-by-step marker comes after the first step")
    for expected, step in enumerate(parsed.steps, start=1):
        if step.number != expected:
            return _illogical(f"steps out of order: expected step {expected}, found step {step.number}")
    answers = [i for i, section in enumerate(sections) if section.kind == "answer"]
    if len(answers) > 1:
        return _illogical(f"{len(answers)} final answers (expected exactly one)")
    if answers[0] < last_step:
        return _illogical("final answer comes before the last step")
    return None
