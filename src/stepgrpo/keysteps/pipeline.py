"""From dataset rows to checked key steps: reference steps → extractor → checks → output rows.

Whatever an extractor proposes (rules or an LLM) goes through the same checks before it becomes
training data, because a bad key step silently corrupts StepRAR:

* trivial forms (a bare number, fewer than three letters or digits) are dropped: they would match
  almost any completion (R1-VL's `"3"` matches `"13 apples"`);
* an alternative that the matcher already reads as an earlier one is dropped as redundant;
* the group's first form must match the reference's own steps under `match_key_step`; if it does
  not but another form does, that one is moved first (repaired), otherwise the group is dropped;
* a group whose first form the matcher cannot tell apart from an earlier group's is a duplicate.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any, Protocol

from stepgrpo.data.io import Row, RowError
from stepgrpo.data.layouts import DEFAULT_FIELDS, Fields, KeySteps, LayoutError, with_key_steps
from stepgrpo.parsing import ReasoningFormat
from stepgrpo.rewards import match_key_step
from stepgrpo.rewards.answer import answer_line


class Extractor(Protocol):
    def __call__(self, steps: list[str], question: str | None = None) -> KeySteps: ...


_BARE_NUMBER = re.compile(r"[\s$€£%°+\-−.,:/\d]*")
_TRAILING = " \t\n.,;:"


def is_trivial(text: str) -> bool:
    """True for a key that would match nearly any completion: a bare number, or under 3 letters/digits."""
    return len(re.sub(r"[\W_]+", "", text)) < 3 or _BARE_NUMBER.fullmatch(text) is not None


def _clean(text: str) -> str:
    return " ".join(text.split()).strip(_TRAILING)


@dataclass
class Checked:
    groups: KeySteps
    dropped: Counter[str] = field(default_factory=Counter)
    repaired: int = 0


def check_key_steps(groups: Iterable[list[str]], reference: str) -> Checked:
    """Apply the checks in the module docstring; `reference` is the reference's joined step text."""
    checked = Checked([])
    for group in groups:
        alternatives: list[str] = []
        for raw in group:
            alternative = _clean(raw)
            if not alternative or is_trivial(alternative):
                continue
            if any(match_key_step(alternative, [kept]) for kept in alternatives):
                continue  # any text containing it already matches a kept form
            alternatives.append(alternative)
        if not alternatives:
            checked.dropped["trivial"] += 1
            continue
        if not match_key_step(reference, [alternatives[0]]):
            found = next((alt for alt in alternatives[1:] if match_key_step(reference, [alt])), None)
            if found is None:
                checked.dropped["not in reference"] += 1
                continue
            alternatives.remove(found)
            alternatives.insert(0, found)
            checked.repaired += 1
        primary = alternatives[0]
        if any(match_key_step(primary, [kept[0]]) or match_key_step(kept[0], [primary])
               for kept in checked.groups):
            checked.dropped["duplicate"] += 1
            continue
        checked.groups.append(alternatives)
    return checked


def reference_steps(reasoning: str, fmt: ReasoningFormat) -> tuple[list[str], str | None]:
    """The reference's step bodies and final answer; without step headers, each line is a step."""
    parsed = fmt.parse(reasoning)
    steps = [step.body for step in parsed.steps if step.body]
    if not steps:
        cut = parsed.answers[0].start if parsed.answers else len(reasoning)
        steps = [line.strip() for line in reasoning[:cut].splitlines() if line.strip()]
    line = answer_line(parsed)  # the answer the reward reads: the answer section's first line
    return steps, line.strip() if line is not None else None


@dataclass
class Outcome:
    where: str
    row: dict[str, Any] | None = None
    key_steps: KeySteps = field(default_factory=list)
    skip_reason: str | None = None  # a short category for the summary
    message: str = ""  # the full explanation, naming the field
    dropped: Counter[str] = field(default_factory=Counter)
    repaired: int = 0


def process_row(row: Row, extract: Extractor, fmt: ReasoningFormat, fields: Fields = DEFAULT_FIELDS,
                layout: str = "keep") -> Outcome:
    try:
        reasoning = fields.reasoning_of(row.data)
    except LayoutError as error:
        return Outcome(row.where, skip_reason="no reasoning", message=str(error))
    steps, answer = reference_steps(reasoning, fmt)
    if not steps:
        return Outcome(row.where, skip_reason="no reasoning", message="the reference reasoning has no text")
    try:
        proposed = extract(steps, fields.question_of(row.data))
    except Exception as error:  # an extractor failure must cost one row, not the run
        return Outcome(row.where, skip_reason="extractor failed", message=f"{type(error).__name__}: {error}")
    checked = check_key_steps(proposed, "\n".join(steps))
    if not checked.groups:
        detail = ", ".join(f"{n} {why}" for why, n in checked.dropped.items()) or "nothing proposed"
        return Outcome(row.where, skip_reason="no key steps", message=f"no usable key step ({detail})",
                       dropped=checked.dropped, repaired=checked.repaired)
    try:
        out = with_key_steps(row.data, checked.groups, layout, fields, answer)
    except LayoutError as error:
        return Outcome(row.where, skip_reason="bad row", message=str(error))
    return Outcome(row.where, out, checked.groups, dropped=checked.dropped, repaired=checked.repaired)


@dataclass
class Summary:
    outcomes: list[Outcome]

    @property
    def done(self) -> list[Outcome]:
        return [outcome for outcome in self.outcomes if outcome.skip_reason is None]

    @property
    def skipped(self) -> list[Outcome]:
        return [outcome for outcome in self.outcomes if outcome.skip_reason is not None]

    def skip_counts(self) -> Counter[str]:
        return Counter(outcome.skip_reason for outcome in self.skipped if outcome.skip_reason)

    def dropped(self) -> Counter[str]:
        return sum((outcome.dropped for outcome in self.outcomes), Counter())

    def repaired(self) -> int:
        return sum(outcome.repaired for outcome in self.outcomes)

    def skip_line(self) -> str:
        """One line saying how many rows were skipped and why: what the CLI prints last."""
        reasons = ", ".join(f"{count} {reason}" for reason, count in self.skip_counts().most_common())
        return (f"{len(self.skipped)} of {len(self.outcomes)} rows skipped ({reasons}); each is named above "
                f"with its position")

    def key_steps_per_row(self) -> Counter[int]:
        return Counter(len(outcome.key_steps) for outcome in self.done)


def run(items: Iterable[Row | RowError], extract: Extractor, fmt: ReasoningFormat, fields: Fields = DEFAULT_FIELDS,
        layout: str = "keep", concurrency: int = 1,
        on_row: Callable[[Outcome], None] | None = None) -> Summary:
    """Process every row (in parallel when the extractor waits on the network); keep the input order."""
    items = list(items)
    outcomes: list[Outcome | None] = [None] * len(items)

    def one(item: Row | RowError) -> Outcome:
        if isinstance(item, RowError):
            return Outcome(item.where, skip_reason="bad row", message=item.message)
        return process_row(item, extract, fmt, fields, layout)

    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        futures = {pool.submit(one, item): index for index, item in enumerate(items)}
        for future in as_completed(futures):
            outcome = future.result()
            outcomes[futures[future]] = outcome
            if on_row is not None:
                on_row(outcome)
    return Summary([outcome for outcome in outcomes if outcome is not None])
