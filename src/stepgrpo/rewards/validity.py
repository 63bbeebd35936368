"""StepRVR: the reasoning is complete and logically ordered.

Complete: every analysis section of the format (R1-VL: image description, rationale), at least one
step and a final answer, none of them empty. Ordered: the analysis sections appear once each, in
the format's order, before the first step; steps are numbered 1..n with no gap or repeat; exactly
one final answer, after the last step. The official code checks neither that the analysis comes
first nor that sections are non-empty (its `grpo.py` validity reward); this does.
"""

from __future__ import annotations

from dataclasses import dataclass

from stepgrpo.parsing import ParsedCompletion, ReasoningFormat, get_format


@dataclass(frozen=True)
class ValidityReport:
    ok: bool
    check: str  # "ok", "completeness" or "logic"
    reason: str
    section: int | None = None
    """Index into the parsed sections where the check fails: the offending section, or for a missing
    one the first section that should have come after it (the last section when none does). None
    when the reasoning is valid or has no section at all. Step-level credit charges it there."""


_OK = ValidityReport(True, "ok", "complete and ordered")


def validity_report(completion: str, fmt: str | ReasoningFormat | None = None) -> ValidityReport:
    """Which StepRVR check fails first (completeness before logic), why, and where."""
    fmt = get_format(fmt)
    parsed = fmt.parse(completion if isinstance(completion, str) else "")
    return _completeness(parsed, fmt) or _logic(parsed, fmt) or _OK


def reasoning_validity(completion: str, fmt: str | ReasoningFormat | None = None) -> float:
    """The paper's r_val: 1.0 when the reasoning is complete and logically ordered, else 0.0."""
    return 1.0 if validity_report(completion, fmt).ok else 0.0


def _positions(parsed: ParsedCompletion, kind: str) -> list[int]:
    return [i for i, section in enumerate(parsed.sections) if section.kind == kind]


def _completeness(parsed: ParsedCompletion, fmt: ReasoningFormat) -> ValidityReport | None:
    sections = parsed.sections
    last = len(sections) - 1 if sections else None
    order = [*fmt.analysis, "preamble", "step", "answer"]

    def missing(kind: str) -> ValidityReport:
        later = set(order[order.index(kind) + 1:])
        where = next((i for i, section in enumerate(sections) if section.kind in later), last)
        return ValidityReport(False, "completeness", f"missing {kind} section" if kind in fmt.analysis
                              else {"step": "no reasoning steps", "answer": "no final answer"}[kind], where)

    for kind in fmt.analysis:
        positions = _positions(parsed, kind)
        if not positions:
            return missing(kind)
        if not sections[positions[0]].body:
            return ValidityReport(False, "completeness", f"empty {kind} section", positions[0])
    steps = _positions(parsed, "step")
    if not steps:
        return missing("step")
    for i in steps:
        if not sections[i].body:
            return ValidityReport(False, "completeness", f"empty step {sections[i].number}", i)
    answers = _positions(parsed, "answer")
    if not answers:
        return missing("answer")
    if parsed.answer is None:
        return ValidityReport(False, "completeness", "empty final answer", answers[-1])
    return None


def _logic(parsed: ParsedCompletion, fmt: ReasoningFormat) -> ValidityReport | None:
    def illogical(reason: str, where: int) -> ValidityReport:
        return ValidityReport(False, "logic", reason, where)

    steps = _positions(parsed, "step")
    first_step = steps[0]
    previous = -1
    for order, kind in enumerate(fmt.analysis):
        positions = _positions(parsed, kind)
        if len(positions) > 1:
            return illogical(f"{kind} section appears {len(positions)} times", positions[1])
        if positions[0] > first_step:
            return illogical(f"{kind} section comes after the first step", positions[0])
        if positions[0] < previous:
            return illogical(f"{kind} section comes before {fmt.analysis[order - 1]}", positions[0])
        previous = positions[0]
    late_marker = next((i for i in _positions(parsed, "preamble") if i > first_step), None)
    if late_marker is not None:
        return illogical("step-by-step marker comes after the first step", late_marker)
    for expected, i in enumerate(steps, start=1):
        if parsed.sections[i].number != expected:
            return illogical(f"steps out of order: expected step {expected}, found step {parsed.sections[i].number}", i)
    answers = _positions(parsed, "answer")
    if len(answers) > 1:
        return illogical(f"{len(answers)} final answers (expected exactly one)", answers[1])
    if answers[0] < steps[-1]:
        return illogical("final answer comes before the last step", next(i for i in steps if i > answers[0]))
    return None
