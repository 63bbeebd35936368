"""StepRAR's soft key-step matching.

A key step is a group of equivalent surface forms; it is matched when any alternative occurs in
the completion's step text. Two tiers, both on normalised math-aware tokens (`normalize.py`):

1. Exact tier: the alternative's tokens occur contiguously in the text's tokens. Numbers compare
   by value at token boundaries, so "3" ≠ "13", "3" ≠ "3.5", and 0.5 = 1/2 = \\frac{1}{2}.
2. Fuzzy tier, for alternatives with wording (two or more content tokens, one a word of three or
   more letters): the alternative's content tokens (all but a few function words such as "a",
   "the", "is") occur in order within a short window of the text (`2n + 3` tokens for `n` content
   tokens). Words of five or more letters may differ slightly (rapidfuzz ratio at least
   `FUZZY_THRESHOLD`: "medians", "isoceles"); numbers, operators and short tokens such as a
   variable name `ab` must be equal; the window may not add or drop a negation. Wording may vary
   ("AE is half the length of AD" for "AE is half of AD"); values and variables may not ("0.75"
   vs "0.57", "AB = 5" vs "AC = 5"), and an operator stays next to its neighbours (`slope = 2`
   never matches `slope = -2` nor "slope of line 1 is 5 and y = 2").

Both tiers check a match's edges, so a number matches only the same value: a sign or operator
before it (`-2`, `2x`, `+ BC`), or a continuation after it (`6^2`, `6!`, `6π`, `6√2`, `6 + 1`, a
variable `6x`) makes it another value. And a quantity the steps state with several different
values ("AB = 0 … AB = 1 … AB = 6") matches none of its key steps: stuffing earns nothing.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from fractions import Fraction
from functools import lru_cache
from typing import Any

from rapidfuzz import fuzz, process

from stepgrpo.cells import key_steps_cell
from stepgrpo.rewards.normalize import Token, is_number, tokenize, tokenize_marked

FUZZY_THRESHOLD = 85.0
"""rapidfuzz `ratio` (0-100) at which two words of five or more letters count as the same word."""

_SOFT_WORDS = frozenset({"a", "an", "the", "of", "is", "are", "was", "be", "to", "in", "on", "as", "so", "by"})
_NEGATIONS = frozenset({"not", "no", "never", "cannot", "isn", "aren", "doesn", "don", "neither", "nor", "t"})
_FUZZY_WORD_LENGTH = 5
_OPERATORS = frozenset({"=", "+", "-", "*", "/", "^", "!", "<", ">", "<=", ">=", "!=", "%", "sqrt", "pi", "(", ")"})
_BINDS_BEFORE_NUMBER = frozenset({"-", "+", "*", "/", "^", "sqrt", "!"})
_BINDS_BEFORE_NAME = frozenset({"-", "+", "*", "/", "^"})
_CONTINUES_NUMBER = frozenset({"^", "!", "pi", "sqrt", "*", "/", "(", "e", "squared", "cubed", "factorial", "times",
                               "plus", "minus", "divided", "over"})
_VERBS = frozenset({"=", "is", "are", "was", "were", "equals"})
_HEDGES = frozenset({"or", "to", "pm", "±", "∓"})
_UNITS = frozenset({"cm", "mm", "km", "m", "in", "ft", "yd", "mi", "g", "kg", "mg", "s", "h", "min", "l", "ml", "deg",
                    "lb", "oz"})
_SHORT_WORDS = frozenset({"so", "is", "as", "at", "in", "on", "or", "of", "to", "if", "we", "by", "it", "an", "a",
                          "be", "no", "do", "up", "and", "i"})
MAX_KEY_TOKENS = 64
MAX_TEXT_CHARS = 60_000
"""Step text beyond this is ignored (a 4k-token completion has about 16k characters): it bounds
the work one degenerate completion can cause."""

KeyStepsInput = Sequence[Sequence[str] | str] | Mapping[str, Any] | None


def key_step_groups(key_steps: KeyStepsInput | Any) -> list[list[str]]:
    """Any key-step cell (`stepgrpo.cells`: R1-VL's `{"Steps": [...]}`, lists, mixed lists, JSON text,
    numpy arrays) as groups of alternatives; what cannot be read is skipped, never raised."""
    return key_steps_cell(key_steps, strict=False)


class StepText:
    """One completion's step text, normalised, tokenised and indexed once for many key steps."""

    def __init__(self, text: str) -> None:
        text = text if isinstance(text, str) else ""  # a reward never raises on what a caller passes
        self.tokens, self.juxtaposed, self.breaks = tokenize_marked(text[:MAX_TEXT_CHARS])
        # indexed by plain value (a written fraction `6/2` under 3): candidates, compared exactly later
        self.positions: dict[object, list[int]] = defaultdict(list)
        for position, token in enumerate(self.tokens):  # `_index`, inlined: this loop is the hot one
            self.positions[token if token.__class__ is str else (token.numerator, token.denominator)].append(position)
        self._long_words = [t for t in self.positions if isinstance(t, str) and len(t) >= _FUZZY_WORD_LENGTH]
        self._similar: dict[Token, frozenset[Token]] = {}

    def matches(self, alternatives: Iterable[str]) -> bool:
        return any(self._matches_one(alternative) for alternative in alternatives)

    def _matches_one(self, alternative: str) -> bool:
        if not isinstance(alternative, str):
            return False
        key = _key_tokens(alternative[:1000])
        if not key or len(key) > MAX_KEY_TOKENS:
            return False
        found = self._contains(key) or (_has_wording(key) and self._fuzzy(key))
        return found and not self._stated_twice(key)

    def _occurrences(self, key: list[Token]) -> Iterator[int]:
        size = len(key)
        for i in self.positions.get(_index(key[0]), ()):
            if self.tokens[i : i + size] == key and self._edges_ok(i, i + size - 1, key[0], key[-1]):
                yield i

    def _contains(self, key: list[Token]) -> bool:
        return next(self._occurrences(key), None) is not None

    def _edges_ok(self, first: int, last: int, key_first: Token, key_last: Token | None) -> bool:
        """A match is the key's own value only if nothing binds to its first or last token."""
        tokens = self.tokens
        if first > 0:
            before = tokens[first - 1]
            if is_number(key_first) and isinstance(before, str) and before in _BINDS_BEFORE_NUMBER:
                return False  # "-2", "5 - 2" for "2 ..."
            if _is_name(key_first) and (before in _BINDS_BEFORE_NAME or first in self.juxtaposed or (
                    is_number(before) and _is_variable(key_first) and first not in self.breaks)):
                return False  # "2x = 3", "-x = 3", "AB + BC = 10" for "x = 3" / "BC = 10"
        if last + 1 < len(tokens) and key_last is not None and is_number(key_last):
            after = tokens[last + 1]
            if after in _CONTINUES_NUMBER or last + 1 in self.juxtaposed:
                return False  # "6^2", "6!", "6π", "6√2", "6 * 2", "6x"
            if _is_variable(after) and last + 1 not in self.breaks:
                return False  # "1/2 AD" is a product, not the value 1/2 (but "AD = 6, AE = 3" is two)
            if after in _HEDGES and last + 2 < len(tokens) and is_number(tokens[last + 2]):
                return False  # "AB = 6 or 7", "6 ± 1": a hedge is not the value
            if after in {"+", "-"} and last + 2 < len(tokens) and (is_number(tokens[last + 2])
                                                                    or _is_name(tokens[last + 2])):
                return False  # "6 + 1"
        return True

    def _variants(self, wanted: Token) -> frozenset[Token]:
        """The text's tokens that count as `wanted`: itself, and near spellings of a long word."""
        if wanted not in self._similar:
            similar = {wanted}
            if isinstance(wanted, str) and len(wanted) >= _FUZZY_WORD_LENGTH:
                similar.update(choice for choice, _, _ in process.extract(
                    wanted, self._long_words, scorer=fuzz.ratio, score_cutoff=FUZZY_THRESHOLD, limit=None))
            self._similar[wanted] = frozenset(similar)
        return self._similar[wanted]

    def _fuzzy(self, key: list[Token]) -> bool:
        content = _content(key)
        wanted = [self._variants(token) for token in content]
        # an operator is glued to both its neighbours, as are two math tokens: "= 2" never matches
        # "= -2", and "slope = 2" never matches "slope of line 1 is 5 and y = 2"
        glued = [i > 0 and (_is_operator(token) or _is_operator(content[i - 1])
                            or (_is_math(token) and _is_math(content[i - 1]))) for i, token in enumerate(content)]
        span = 2 * len(content) + 3
        negated = _negations(key)
        where = [sorted({p for variant in variants for p in self.positions.get(_index(variant), ())})
                 for variants in wanted]
        if not all(where):
            return False  # a content token the text never has
        numeric = [is_number(token) for token in content]
        last = where[-1]
        for start in where[0]:
            if self.tokens[start] not in wanted[0]:
                continue
            if len(content) > 1 and bisect_right(last, start + span - 1) == bisect_right(last, start):
                continue  # no occurrence of the last token in this window: nothing to scan
            position, end = start, min(len(self.tokens), start + span)
            for token, variants, stuck, number in zip(content[1:], wanted[1:], glued[1:], numeric[1:], strict=True):
                if stuck:
                    position = position + 1 if position + 1 < end and self.tokens[position + 1] in variants else -1
                else:
                    position = next((i for i in range(position + 1, end) if self.tokens[i] in variants), -1)
                    if position >= 0 and number and not self._edges_ok(position, position, token, None):
                        position = -1  # "the slope is -2" for "slope is 2": the sign belongs to the number
                if position < 0:
                    break
            if (position >= 0 and _negations(self.tokens[start : position + 1]) == negated
                    and self._edges_ok(start, position, content[0], content[-1])):
                return True
        return False

    def _stated_twice(self, key: list[Token]) -> bool:
        """The key states `name = value` and the text gives that name several different values."""
        verb = next((i for i, token in enumerate(key) if isinstance(token, str) and token in _VERBS), None)
        if not verb or not is_number(key[-1]):
            return False
        name = key[:verb]
        values = set()
        for start in self._occurrences(name):
            after = start + len(name)
            if after < len(self.tokens) and self.tokens[after] in _VERBS:
                value = self._chain_value(after)
                if value is not None:
                    values.add(value)
                    if len(values) > 1:
                        return True
        return False

    def _chain_value(self, verb: int) -> Fraction | None:
        """The number a statement ends on: `= 3`, or `= 6/2 = 3` through a short chain of math."""
        tokens = self.tokens
        i = verb + 1
        for _ in range(4):
            end = next((j for j in range(i, min(len(tokens), i + 16)) if not _is_math(tokens[j])), len(tokens))
            end = min(end, i + 16)
            if i < len(tokens) and is_number(tokens[i]) and self._edges_ok(i, i, tokens[i], tokens[i]):
                return Fraction(tokens[i])
            nxt = next((j for j in range(i, end) if tokens[j] == "="), None)
            if nxt is None:
                return None
            i = nxt + 1
        return None


def match_key_step(steps_text: str, alternatives: Sequence[str] | str) -> bool:
    """True when any alternative of one key step occurs in `steps_text` (see module docstring)."""
    if isinstance(alternatives, str):
        alternatives = [alternatives]
    return StepText(steps_text).matches(alternatives)


def matched_key_steps(steps_text: str, key_steps: KeyStepsInput) -> list[bool]:
    """For each key step (group of alternatives), whether it is matched in `steps_text`."""
    text = StepText(steps_text)
    return [text.matches(group) for group in key_step_groups(key_steps)]


def _index(token: Token) -> object:
    """A cheap hash key that equal tokens share: a number's value as (numerator, denominator)."""
    return token if isinstance(token, str) else (token.numerator, token.denominator)


@lru_cache(maxsize=8192)
def _key_tokens(alternative: str) -> list[Token]:
    """Key steps repeat across the G completions of a group and across epochs: tokenise each once."""
    return tokenize(alternative)


def _is_math(token: Token) -> bool:
    return is_number(token) or (isinstance(token, str) and token in _OPERATORS)


def _is_variable(token: Token) -> bool:
    """A one- or two-letter name such as `x` or `AD` (not a unit or a short word)."""
    return (isinstance(token, str) and len(token) <= 2 and token.isalpha() and token not in _UNITS
            and token not in _SHORT_WORDS)


def _is_name(token: Token) -> bool:
    return isinstance(token, str) and token.isalpha() and token not in _SOFT_WORDS


def _is_operator(token: Token) -> bool:
    return isinstance(token, str) and token in _OPERATORS


def _content(key: list[Token]) -> list[Token]:
    """The key's tokens but soft words, except a soft word next to an operator: the `A` of `angle A = 45`."""
    return [token for i, token in enumerate(key)
            if not (isinstance(token, str) and token in _SOFT_WORDS)
            or (i + 1 < len(key) and _is_operator(key[i + 1])) or (i > 0 and _is_operator(key[i - 1]))]


def _has_wording(key: list[Token]) -> bool:
    content = _content(key)
    return len(content) >= 2 and any(isinstance(t, str) and t.isalpha() and len(t) >= 3 for t in content)


def _negations(tokens: list[Token]) -> set[str]:
    return {token for token in tokens if isinstance(token, str) and token in _NEGATIONS}


