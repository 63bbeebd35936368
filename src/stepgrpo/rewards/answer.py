"""The outcome check: is the completion's one final answer the ground truth?

A policy is paid for whatever this accepts, so it accepts one answer, stated once:

* the answer is the first non-empty line of the final-answer section (its single `\\boxed{}` when
  it has one); later lines ("Wait, actually 12.") do not count, and a completion with two
  final-answer sections is wrong;
* an answer offering several candidates is wrong: `or`/`and`/`either`, commas, semicolons,
  `~`, `\\lor`, `±`, "12 to 16", bounds (`≥ 12`, "at least 12"), several boxes, `=`/`\\approx`
  between different values, several option letters, a letter with another option's text or a
  negation ("B is wrong, it is C"), yes and no together ("Yes/No");
* equivalent forms of the one answer stay right: `(B)`, `B.`, `B: 12 cm`, the option text,
  `\\boxed{12}`, `12.0`, `24/2`, `$12$`, `three`, `3e5`, `3 \\times 10^5`, a matching unit
  (a different one is wrong), `12%` where the truth is a percentage or the proportion 0.12,
  articles, trailing punctuation and invisible characters.

Numbers are compared exactly by our own small grammar; anything else symbolic goes to
math-verify, screened and bounded in time (`limits.py`). A refused or timed-out check is not
correct and is logged once, never raised.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import unicodedata
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from functools import lru_cache

from math_verify import parse, verify

from stepgrpo.parsing import ParsedCompletion, ReasoningFormat, get_format
from stepgrpo.rewards.limits import MathTimeout, deadline, math_is_safe
from stepgrpo.rewards.normalize import INVISIBLE, normalize, superscripts_as_powers

MATH_SECONDS = 0.4
"""Wall-time budget for one math-verify comparison, in any thread."""
MATH_BUDGET_SECONDS = 0.6
"""Wall-time budget for all math-verify comparisons of one `answers_match` call (a multiple-choice
answer may be compared with several options)."""
MAX_ANSWER_CHARS = 2000

logger = logging.getLogger(__name__)

_LETTER = re.compile(
    r"^\s*+(?:(?:the\s++)?(?:correct\s++)?(?:answer|option|choice)\s*+(?:is\b)?\s*+[:：]?\s*+)?"
    r"(?:\(([A-Za-z])\)|\[([A-Za-z])\]|([A-Z])(?=$|[\s.:：)\],;])|([a-z])(?=$|[.:：)\]]))",
    re.IGNORECASE,
)
_LABELLED_OPTION = re.compile(r"\(?(?P<letter>[A-H])[).:]\s*+(?P<text>\S.*)", re.DOTALL)
_BOXED = re.compile(r"\\(?:boxed|fbox)\s*+\{")
_PREFIX = re.compile(r"^\s*+(?:(?:so|thus|therefore|hence),?\s++)?(?:the\s++)?(?:final\s++)?(?:correct\s++)?"
                     r"answer\s*+(?:is\b|:)\s*+", re.IGNORECASE)
_YES_NO = {"yes": "yes", "no": "no", "true": "yes", "false": "no"}
_NEGATION = re.compile(r"\b(?:not|wrong|incorrect|isn't|isnt|false|no)\b|n't\b", re.IGNORECASE)
# several candidates: connectives, list commas (not thousands separators), ranges, ±
_HEDGE = re.compile(r"\b(?:or|and|either|nor|to|vs)\b|,(?!\d{3}(?!\d))|;|~|\\(?:lor|vee|sim|pm|mp)(?![A-Za-z])|"
                    r"[∨±∓]|\+/-|(?<![A-Za-z])/(?=\s*[A-Za-z])", re.IGNORECASE)
_ALWAYS_HEDGES = frozenset({"or", "either", "nor", "\\lor", "\\vee", "∨", "\\pm", "\\mp", "±", "∓", "+/-"})
# a bound is not a value: "≥ 12", "x < 12", "at least 12", "12+" (a plus with nothing after it)
_RELATION = re.compile(r"\\(?:geq?|leq?|gt|lt|neq?|geqslant|leqslant)(?![A-Za-z])|[<>≤≥≠]|(?<=\d)\s*\+(?!\s*[\w(\\{.])|"
                       r"\b(?:at least|at most|more than|less than|greater than|fewer than|no more than)\b",
                       re.IGNORECASE)
_EQUALS = re.compile(r"=|\\approx(?![A-Za-z])|≈|\\simeq|≅|\\equiv|\\doteq")
_HAS_VALUE = re.compile(r"\d|\\(?:pi|sqrt|frac|infty)|[π√∞]|\b(?:zero|one|two|three|four|five|six|seven|eight|"
                        r"nine|ten|eleven|twelve|twenty|thirty|forty|fifty|hundred)\b", re.IGNORECASE)


class _DropTimeoutWarning(logging.Filter):
    """math-verify warns once that its own timeout is off; ours (`limits.py`) is on instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Timeout is disabled" not in record.getMessage()


for _name in ("math_verify.parser", "math_verify.grader"):
    logging.getLogger(_name).addFilter(_DropTimeoutWarning())


# ---------------------------------------------------------------- reading the answer


def answer_line(parsed: ParsedCompletion) -> str | None:
    """The first non-empty line of the last final-answer section, or None without one."""
    body = parsed.answer
    if body is None:
        return None
    for line in body.splitlines():
        if line.strip():
            return line
    return None


def extract_answer(completion: str, fmt: str | ReasoningFormat | None = None) -> str | None:
    """The final answer's line, cleaned of `\\boxed{}`, `$`, bold and a trailing period; None if absent."""
    line = answer_line(get_format(fmt).parse(completion if isinstance(completion, str) else ""))
    return clean_answer(line) if line is not None else None


def _boxed_contents(text: str) -> list[str]:
    """The contents of every `\\boxed{...}`, braces balanced (linear scan)."""
    contents = []
    for match in _BOXED.finditer(text):
        depth, start = 1, match.end()
        for index in range(start, len(text)):
            if text[index] == "{":
                depth += 1
            elif text[index] == "}":
                depth -= 1
                if depth == 0:
                    contents.append(text[start:index])
                    break
        else:
            contents.append(text[start:])
    return contents


def clean_answer(answer: str) -> str | None:
    answer = INVISIBLE.sub("", answer).strip()[:MAX_ANSWER_CHARS + 1]  # still too long for `answers_match`
    boxes = _boxed_contents(answer)
    if len(boxes) == 1:
        answer = boxes[0]
    answer = answer.strip().strip("$").strip()
    answer = answer.strip("*").strip()  # markdown bold around (or half-eaten by the header)
    answer = _PREFIX.sub("", answer, count=1).strip().strip("*").strip()  # "**Answer:** 12"
    answer = answer.rstrip(".。").strip().strip("$").strip()
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


# ---------------------------------------------------------------- comparing


def answers_match(predicted: str, ground_truth: str, choices: Mapping[str, str] | None = None) -> bool:
    """Compare a predicted answer with the ground truth (both bare answers, already extracted)."""
    if getattr(_BUDGET, "until", None) is not None:
        return _answers_match(predicted, ground_truth, choices)
    _BUDGET.until = time.monotonic() + MATH_BUDGET_SECONDS  # all symbolic checks of this call together
    try:
        return _answers_match(predicted, ground_truth, choices)
    finally:
        _BUDGET.until = None


def _answers_match(predicted: str, ground_truth: str, choices: Mapping[str, str] | None) -> bool:
    if len(str(predicted)) > MAX_ANSWER_CHARS:
        return False  # no real answer is this long; never compare a prefix
    predicted = clean_answer(str(predicted)) or ""
    ground_truth = clean_answer(str(ground_truth)) or ""
    if not predicted or not ground_truth or len(_BOXED.findall(predicted)) > 1:
        return False
    choices = {str(key).strip().upper(): str(value) for key, value in (choices or {}).items()}
    if not choices and (labelled := _LABELLED_OPTION.fullmatch(ground_truth)):  # a truth "(B) 12 cm"
        choices, ground_truth = {labelled["letter"]: labelled["text"]}, labelled["letter"]
    truth_letter = _truth_letter(ground_truth, choices)
    if truth_letter is not None:
        return _choice_matches(predicted, truth_letter, choices)
    truth_word = _yes_no(ground_truth)
    if truth_word is not None:
        return _yes_no(predicted) == truth_word
    return _value_matches(predicted, ground_truth)


def check_answer(
    completion: str,
    ground_truth: str,
    choices: Mapping[str, str] | None = None,
    fmt: str | ReasoningFormat | None = None,
) -> bool:
    """Whether the completion's one final answer (read from its final-answer section) is correct."""
    if not isinstance(completion, str):
        return False
    parsed = get_format(fmt).parse(completion)
    line = answer_line(parsed)
    if line is None or len(parsed.answers) > 1:
        return False
    predicted = clean_answer(line)
    return predicted is not None and answers_match(predicted, ground_truth_answer(str(ground_truth), fmt), choices)


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


def _letters_named(answer: str, choices: Mapping[str, str]) -> list[tuple[str, int, int]]:
    """Every option letter the answer names: `(B)`, `[B]`, a standalone capital `B`, or a lone `b`."""
    allowed = set(choices) if choices else set("ABCDEFGH")
    found = [(m.group(1).upper(), m.start(), m.end()) for m in re.finditer(r"[(\[]([A-Za-z])[)\]]", answer)]
    taken = [(start, end) for _, start, end in found]
    for match in re.finditer(r"(?<![A-Za-z0-9'’\\_^])([A-Z])(?![A-Za-z0-9'’_])", answer):
        if not any(start <= match.start() < end for start, end in taken):
            found.append((match.group(1), match.start(), match.end()))
    lead = answer_letter(answer)
    if lead is not None and not any(letter == lead for letter, _, _ in found):
        match = _LETTER.match(answer)
        assert match is not None
        found.append((lead, match.end() - 1, match.end()))
    return [item for item in found if item[0] in allowed]


def _choice_matches(predicted: str, truth_letter: str, choices: Mapping[str, str]) -> bool:
    for key, text in choices.items():  # the option's text alone, e.g. "12 cm"
        if _text_equal(predicted, text):
            return key == truth_letter
    own = choices.get(truth_letter, "")
    scrubbed = predicted
    if len(own.strip()) > 1:  # its own option text may hold a capital: "B: angle B" names B once
        scrubbed = re.sub(re.escape(own.strip()), lambda match: "\x01" * len(match.group()), predicted,
                          flags=re.IGNORECASE)
    named = _letters_named(scrubbed, choices)
    letters = {letter for letter, _, _ in named}
    if len(named) > 1:
        return False  # "B or C", "B, C", "B is wrong, it is C", and "B. B": the answer appears twice
    if letters:
        if letters != {truth_letter}:
            return False
        rest = predicted
        for _, start, end in sorted(named, key=lambda item: -item[1]):
            rest = rest[:start] + " " + rest[end:]
        rest = re.sub(r"^[\s.:：)\],;-]+|[\s.:：)\],;-]+$", "", _PREFIX.sub("", rest))
        rest = re.sub(r"^(?:option|choice)\b\s*", "", rest, flags=re.IGNORECASE).strip()
        return not rest or _rest_agrees(rest, truth_letter, choices)
    truth_text = choices.get(truth_letter)
    if truth_text is None or not _value_matches(predicted, truth_text):
        return False
    return not any(_value_matches(predicted, text) for key, text in choices.items() if key != truth_letter)


def _rest_agrees(rest: str, letter: str, choices: Mapping[str, str]) -> bool:
    """What follows the letter ("B: 12 cm") may restate its option, never another one or a negation."""
    if _NEGATION.search(rest):
        return False
    others = [text for key, text in choices.items() if key != letter]
    if any(_text_equal(rest, text) or _value_matches(rest, text) for text in others):
        return False
    own = choices.get(letter)
    if own is None or _text_equal(rest, own) or _value_matches(rest, own):
        return True
    return not (_HAS_VALUE.search(rest) and _HAS_VALUE.search(own))  # another value than its option's


def _yes_no(answer: str) -> str | None:
    words = {_YES_NO[word] for word in re.findall(r"[a-z]+", answer.lower()) if word in _YES_NO}
    return words.pop() if len(words) == 1 else None


def _text_equal(a: str, b: str) -> bool:
    return _plain(a) == _plain(b)


@lru_cache(maxsize=4096)
def _plain(text: str) -> str:
    text = re.sub(r"[\s.,;:!?'\"`()\[\]{}]+", " ", normalize(text)).strip()
    return re.sub(r"^(?:the|a|an) ", "", text)


def _value_matches(predicted: str, ground_truth: str) -> bool:
    """One value against another: text, then exact numbers with units and percent, then math-verify."""
    if _text_equal(predicted, ground_truth):
        return True
    candidate = _single_value(predicted, ground_truth)
    truth = _single_value(ground_truth, "") or ground_truth
    if candidate is None:
        return False
    if _text_equal(candidate, truth):
        return True
    ours, theirs = quantity(candidate), quantity(truth)
    if ours is not None and theirs is not None:
        return _quantities_equal(ours, theirs)
    return _math_equal(candidate, truth)


def _single_value(answer: str, truth: str) -> str | None:
    """The one value an answer states, or None when it offers several (see the module docstring)."""
    if _RELATION.search(answer) and not _RELATION.search(truth):
        return None
    hedges = {match.group().lower().strip() for match in _HEDGE.finditer(answer)}
    hedges -= {match.group().lower().strip() for match in _HEDGE.finditer(truth)}
    if hedges:
        if hedges & _ALWAYS_HEDGES:
            return None  # "12 or so", "either 12", "12 \\pm 2"
        if len([part for part in _HEDGE.split(answer) if _HAS_VALUE.search(part)]) > 1:
            return None  # "12, 16", "12 and 16", "12~16", "12 to 16"
    if _EQUALS.search(truth):
        return answer
    parts = [part.strip() for part in _EQUALS.split(answer)]
    if len(parts) == 1:
        return answer
    values = [quantity(part) for part in parts]
    known = [value for value in values if value is not None]
    if any(not _quantities_equal(known[0], value) for value in known[1:]):
        return None  # "12 \approx 16", "x = 12 = 16"
    valued = [part for part in parts if _HAS_VALUE.search(part)]
    return (valued or parts)[-1] or None  # "x = 12" and "12 = x" both state 12


# ---------------------------------------------------------------- exact quantities

_ONES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
         "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen")
_NUMBER_WORDS = {word: index for index, word in enumerate(_ONES)}
_TENS = {word: 10 * index for index, word in enumerate(
    ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")) if word}
_UNIT_WORDS = {
    "centimeter": "cm", "centimetre": "cm", "millimeter": "mm", "millimetre": "mm", "meter": "m", "metre": "m",
    "kilometer": "km", "kilometre": "km", "inch": "in", "inche": "in", "foot": "ft", "feet": "ft", "yard": "yd",
    "mile": "mi", "gram": "g", "kilogram": "kg", "milligram": "mg", "second": "s", "sec": "s", "minute": "min",
    "hour": "h", "hr": "h", "degree": "deg", "liter": "l", "litre": "l", "milliliter": "ml", "millilitre": "ml",
    "dollar": "usd", "cent": "cent", "unit": "unit", "pound": "lb", "ounce": "oz", "kilograms": "kg",
}
_NUMERAL = r"\d{1,3}(?:,\d{3})++(?:\.\d++)?|\d{1,300}+(?:\.\d*+)?|\.\d{1,300}+"
_QUANTITY = re.compile(
    rf"(?P<sign>[-+]?)\s*+(?:"
    rf"\\[dt]?frac\s*+\{{\s*+(?P<ftop>{_NUMERAL})\s*+\}}\s*+\{{\s*+(?P<fbot>{_NUMERAL})\s*+\}}|"
    rf"\\[dt]?frac\s*+(?P<stop>\d)(?P<sbot>\d)|"
    rf"(?P<top>{_NUMERAL})\s*+/\s*+(?P<bot>{_NUMERAL})|"
    rf"(?P<mant>{_NUMERAL})?(?:\s*+e\s*+(?P<e1>[-+]?\d{{1,3}})|"
    rf"\s*+(?:\\times|\\cdot|[*×·x])?\s*+10\s*+(?:\^|\*\*)\s*+\{{?\s*+(?P<e2>[-+]?\d{{1,3}})\s*+\}}?)?"
    rf")\s*+(?P<percent>%|percent\b|per\s*cent\b)?\s*+(?P<unit>.*)",
    re.IGNORECASE | re.DOTALL,
)


def _canonical_unit(unit: str) -> str | None:
    """`centimeters` → `cm`, `square cm` / `cm^2` → `cm^2`, `^\\circ` → `deg`; None if not unit-like."""
    unit = normalize(unit).replace("deg", " deg ")
    unit = re.sub(r"\\?(?:text|mathrm|mbox|rm)\b|[{}\\]", " ", unit)
    power = ""
    square = re.match(r"\s*(square|sq|cubic)\b\.?\s*", unit)
    if square:
        power, unit = ("^3" if square.group(1) == "cubic" else "^2"), unit[square.end():]
    tail = re.search(r"\s*\^\s*([23])\s*$", unit)
    if tail:
        power, unit = "^" + tail.group(1), unit[:tail.start()]
    words = unit.split()
    if not words or len(words) > 3 or not all(re.fullmatch(r"[a-z]+", word) for word in words):
        return None
    canonical = []
    for word in words:
        stem = word[:-1] if len(word) > 3 and word.endswith("s") else word
        canonical.append(_UNIT_WORDS.get(word, _UNIT_WORDS.get(stem, stem)))
    return " ".join(canonical) + power


@lru_cache(maxsize=8192)
def quantity(text: str) -> tuple[Fraction, bool, str | None] | None:
    """(value, written as a percent, canonical unit or None) for a number-like answer, else None."""
    text = unicodedata.normalize("NFKC", superscripts_as_powers(INVISIBLE.sub("", text)))
    text = text.strip().strip("$").strip().replace("−", "-").replace("\\%", "%")
    text = re.sub(r"\\[,;:! ]|\\q?quad", " ", text)
    value, rest = _number_words(text.lower())
    percent = False
    if value is None:
        match = _QUANTITY.fullmatch(text)
        if not match:
            return None
        value = _quantity_value(match)
        if value is None:
            return None
        percent, rest = bool(match["percent"]), match["unit"]
    if re.match(r"\s*(?:%|percent\b)", rest, re.IGNORECASE):
        percent, rest = True, re.sub(r"^\s*(?:%|percent)", "", rest, flags=re.IGNORECASE)
    rest = rest.strip().rstrip(".")
    if not rest:
        return value, percent, None
    unit = _canonical_unit(rest)
    return (value, percent, unit) if unit is not None else None


def _number_words(text: str) -> tuple[Fraction | None, str]:
    """`three`, `twenty-one`, `minus four`, `two hundred` (and what follows, a unit) → value, rest."""
    words = re.fullmatch(r"(?P<sign>(?:minus|negative)\s+)?(?P<first>[a-z]+)(?:[-\s]+(?P<second>[a-z]+))?(?P<rest>.*)",
                         text, re.DOTALL)
    if not words:
        return None, ""
    first, second, rest = words["first"], words["second"], words["rest"]
    value: int | None = None
    if first in _TENS and second in _NUMBER_WORDS and 0 < _NUMBER_WORDS[second] < 10:
        value = _TENS[first] + _NUMBER_WORDS[second]
    elif first in _NUMBER_WORDS and second in ("hundred", "thousand"):
        value = _NUMBER_WORDS[first] * (100 if second == "hundred" else 1000)
    elif first in _NUMBER_WORDS or first in _TENS:
        value = _NUMBER_WORDS.get(first, _TENS.get(first))
        rest = (f" {second}" if second else "") + rest
    if value is None:
        return None, ""
    return Fraction(-value if words["sign"] else value), rest


def _decimal(text: str) -> Fraction | None:
    try:
        return Fraction(Decimal(text.replace(",", "")))
    except (InvalidOperation, ValueError):
        return None


def _quantity_value(match: re.Match[str]) -> Fraction | None:
    sign = -1 if match["sign"] == "-" else 1
    if match["ftop"] or match["top"] or match["stop"]:
        top = _decimal(match["ftop"] or match["top"] or match["stop"])
        bottom = _decimal(match["fbot"] or match["bot"] or match["sbot"])
        if top is None or not bottom:
            return None
        return sign * top / bottom
    mantissa, exponent = match["mant"], match["e1"] or match["e2"]
    if mantissa is None and (exponent is None or match["e1"]):
        return None
    value = _decimal(mantissa) if mantissa is not None else Fraction(1)
    if value is None:
        return None
    if exponent is not None:
        value *= Fraction(10) ** int(exponent)
    return sign * value


def _quantities_equal(a: tuple[Fraction, bool, str | None], b: tuple[Fraction, bool, str | None]) -> bool:
    (value_a, percent_a, unit_a), (value_b, percent_b, unit_b) = a, b
    if unit_a and unit_b and unit_a != unit_b:
        return False  # "12 m" is not "12 cm"
    if percent_a == percent_b:
        return value_a == value_b
    if percent_a:  # "12%" for the proportion 0.12, never for 12 (nor "1200%")
        return abs(value_b) < 1 and value_a / 100 == value_b
    return value_b == value_a or (abs(value_a) < 1 and value_b / 100 == value_a)


# ---------------------------------------------------------------- symbolic, bounded


def _parse_math(text: str) -> list[object]:
    return parse(f"${text}$", parsing_timeout=None) or parse(text, parsing_timeout=None)


def _math_equal(predicted: str, ground_truth: str) -> bool:
    if not (math_is_safe(predicted) and math_is_safe(ground_truth)):
        _log_once("refused", predicted, ground_truth)
        return False
    key = (predicted, ground_truth)
    if key in _VERIFIED:  # timeouts included: a policy repeating a slow answer pays for it once
        return _VERIFIED[key]
    until = getattr(_BUDGET, "until", None)
    seconds = MATH_SECONDS if until is None else min(MATH_SECONDS, until - time.monotonic())
    if seconds < 0.05:
        _log_once("skipped (this answer's time budget is spent)", predicted, ground_truth)
        return False
    if len(_VERIFIED) > 4096:
        _VERIFIED.clear()
    _VERIFIED[key] = result = _verify(predicted, ground_truth, seconds)
    return result


def _verify(predicted: str, ground_truth: str, seconds: float) -> bool:
    try:
        with deadline(seconds):
            gold = _parse_math(ground_truth)
            if not gold:
                return False
            return bool(verify(gold, _parse_math(predicted), timeout_seconds=None))
    except MathTimeout:
        _log_once("timed out", predicted, ground_truth)
        return False
    except (RecursionError, ValueError, TypeError, OverflowError, MemoryError, ArithmeticError):
        return False


_VERIFIED: dict[tuple[str, str], bool] = {}
_BUDGET = threading.local()


def _log_once(what: str, predicted: str, ground_truth: str) -> None:
    """One log line per distinct answer pair (a policy repeats its answers across a batch)."""
    key = (what, predicted[:200], ground_truth[:200])
    if key in _LOGGED:
        return
    if len(_LOGGED) > 10_000:
        _LOGGED.clear()
    _LOGGED.add(key)
    logger.warning("math check %s (counted as not correct): %r vs %r", what, predicted[:200], ground_truth[:200])


_LOGGED: set[tuple[str, str, str]] = set()
