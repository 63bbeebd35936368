"""The outcome check: is the completion's final answer the ground truth?

Unlike the official R1-VL code, the answer is read only from the final-answer section, so a number
inside a step never counts as the answer. Then, in order:

1. multiple choice (when `choices` is given or the ground truth is a bare letter): the letter in
   its usual forms (`B`, `(B)`, `B.`, `B: 12 cm`, `Option B`) or the option's text;
2. yes/no questions: the first word;
3. numbers and LaTeX through math-verify (equivalent forms, trailing units), bounded in time;
4. otherwise normalised text equality.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from decimal import Decimal
from fractions import Fraction

from math_verify import parse, verify

from stepgrpo.parsing import ReasoningFormat, get_format
from stepgrpo.rewards.limits import MathTimeout, math_is_safe, time_limit
from stepgrpo.rewards.normalize import normalize

MATH_SECONDS = 0.5
"""Wall-time cap for one math-verify comparison (main thread; elsewhere screening bounds it)."""
MAX_ANSWER_CHARS = 2000

_LETTER = re.compile(
    r"^\s*(?:(?:the\s+)?(?:correct\s+)?(?:answer|option|choice)\s*(?:is)?\s*[:：]?\s*)?"
    r"(?:\(([A-Za-z])\)|\[([A-Za-z])\]|([A-Z])(?=$|[\s.:：)\],;])|([a-z])(?=$|[.:：)\]]))",
    re.IGNORECASE,
)
_BOXED = re.compile(r"\\boxed\s*\{(.*)\}", re.DOTALL)
_NUMBER = re.compile(r"-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?")
_YES_NO = {"yes": "yes", "no": "no", "true": "yes", "false": "no"}


class _DropTimeoutWarning(logging.Filter):
    """math-verify warns once that its own timeout is off; ours (`limits.py`) is on instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Timeout is disabled" not in record.getMessage()


for _name in ("math_verify.parser", "math_verify.grader"):
    logging.getLogger(_name).addFilter(_DropTimeoutWarning())


def extract_answer(completion: str, fmt: str | ReasoningFormat | None = None) -> str | None:
    """The final-answer section's text, cleaned of `\\boxed{}`, `$` and a trailing period; None if absent."""
    answer = get_format(fmt).parse(completion).answer
    return clean_answer(answer) if answer is not None else None


def clean_answer(answer: str) -> str | None:
    answer = answer.strip()[:MAX_ANSWER_CHARS]
    boxed = _BOXED.search(answer)
    if boxed:
        answer = boxed.group(1)
    answer = answer.strip().strip("$").strip()
    answer = answer.strip("*").strip()  # markdown bold around (or half-eaten by the header)
    answer = answer.rstrip(".。").strip()
    return answer or None


def ground_truth_answer(ground_truth: str, fmt: str | ReasoningFormat | None = None) -> str:
    """Accept a bare answer or a full reference reasoning ending in a final-answer section."""
    extracted = extract_answer(ground_truth, fmt)
    return extracted if extracted is not None else (clean_answer(ground_truth) or "")


def answer_letter(answer: str) -> str | None:
    match = _LETTER.match(answer)
    if not match:
        return None
    return next(group for group in match.groups() if group).upper()


def answers_match(predicted: str, ground_truth: str, choices: Mapping[str, str] | None = None) -> bool:
    """Compare a predicted answer with the ground truth (both bare answers, already extracted)."""
    predicted = clean_answer(predicted) or ""
    ground_truth = clean_answer(ground_truth) or ""
    if not predicted or not ground_truth:
        return False
    choices = {str(key).strip().upper(): str(value) for key, value in (choices or {}).items()}
    truth_letter = _truth_letter(ground_truth, choices)
    if truth_letter is not None:
        return _choice_matches(predicted, truth_letter, choices)
    truth_word = _yes_no(ground_truth)
    if truth_word is not None:
        return _yes_no(predicted) == truth_word
    if _text_equal(predicted, ground_truth):
        return True
    return _math_equal(predicted, ground_truth)


def check_answer(
    completion: str,
    ground_truth: str,
    choices: Mapping[str, str] | None = None,
    fmt: str | ReasoningFormat | None = None,
) -> bool:
    """Whether the completion's final answer (read from its final-answer section) is correct."""
    predicted = extract_answer(completion, fmt)
    if predicted is None:
        return False
    return answers_match(predicted, ground_truth_answer(ground_truth, fmt), choices)


def _truth_letter(ground_truth: str, choices: Mapping[str, str]) -> str | None:
    bare = re.fullmatch(r"\(?([A-Za-z])\)?", ground_truth)
    if bare and (choices or ground_truth.isupper() or ground_truth.startswith("(")):
        return bare.group(1).upper()
    if choices:
        letter = answer_letter(ground_truth)
        if letter in choices:
            return letter
        for key, text in choices.items():
            if _text_equal(ground_truth, text):
                return key
    return None


def _choice_matches(predicted: str, truth_letter: str, choices: Mapping[str, str]) -> bool:
    for key, text in choices.items():  # the option's text alone, e.g. "12 cm"
        if _text_equal(predicted, text):
            return key == truth_letter
    letter = answer_letter(predicted)
    if letter is not None and (not choices or letter in choices):
        return letter == truth_letter
    truth_text = choices.get(truth_letter)
    return truth_text is not None and _math_equal(predicted, truth_text)


def _yes_no(answer: str) -> str | None:
    first = re.match(r"\s*([A-Za-z]+)", answer)
    return _YES_NO.get(first.group(1).lower()) if first else None


def _text_equal(a: str, b: str) -> bool:
    return _plain(a) == _plain(b)


def _plain(text: str) -> str:
    return re.sub(r"[\s.,;:!?'\"`()\[\]{}]+", " ", normalize(text)).strip()


def _plain_number(text: str) -> Fraction | None:
    if not _NUMBER.fullmatch(text):
        return None
    return Fraction(Decimal(text.replace(",", "")))


def _parse_math(text: str) -> list[object]:
    return parse(f"${text}$", parsing_timeout=None) or parse(text, parsing_timeout=None)


def _math_equal(predicted: str, ground_truth: str) -> bool:
    plain = _plain_number(predicted), _plain_number(ground_truth)
    if None not in plain:  # two bare numbers: exact comparison, no symbolic parsing needed
        return plain[0] == plain[1]
    if not (math_is_safe(predicted) and math_is_safe(ground_truth)):
        return False
    try:
        with time_limit(MATH_SECONDS):
            gold = _parse_math(ground_truth)
            if not gold:
                return False
            return bool(verify(gold, _parse_math(predicted), timeout_seconds=None))
    except (MathTimeout, RecursionError, ValueError, TypeError, OverflowError, MemoryError):
        return False
