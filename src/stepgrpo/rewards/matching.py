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
   vs "0.57", "AB = 5" vs "AC = 5").
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from fractions import Fraction
from functools import lru_cache
from typing import Any

from rapidfuzz import fuzz, process

from stepgrpo.rewards.normalize import Token, tokenize

FUZZY_THRESHOLD = 85.0
"""rapidfuzz `ratio` (0-100) at which two words of five or more letters count as the same word."""

_SOFT_WORDS = frozenset({"a", "an", "the", "of", "is", "are", "was", "be", "to", "in", "on", "as", "so", "by"})
_NEGATIONS = frozenset({"not", "no", "never", "cannot", "isn", "aren", "doesn", "don", "neither", "nor", "t"})
_FUZZY_WORD_LENGTH = 5
MAX_TEXT_CHARS = 200_000
"""Step text beyond this is ignored: it bounds the work one degenerate completion can cause."""

KeyStepsInput = Sequence[Sequence[str] | str] | Mapping[str, Any] | None


def key_step_groups(key_steps: KeyStepsInput) -> list[list[str]]:
    """Accept R1-VL's `{"Steps": [...]}` layout, a list of groups, or a list of single strings."""
    if key_steps is None:
        return []
    if isinstance(key_steps, Mapping):
        key_steps = key_steps.get("Steps") or key_steps.get("steps") or []
    groups: list[list[str]] = []
    for group in key_steps:
        alternatives = [group] if isinstance(group, str) else [alt for alt in group if isinstance(alt, str)]
        alternatives = [alt for alt in alternatives if alt.strip()]
        if alternatives:
            groups.append(alternatives)
    return groups


class StepText:
    """One completion's step text, normalised, tokenised and indexed once for many key steps."""

    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text[:MAX_TEXT_CHARS])
        # indexed by plain value (a written fraction `6/2` under 3): candidates, compared exactly later
        self.positions: dict[Token, list[int]] = defaultdict(list)
        for position, token in enumerate(self.tokens):
            self.positions[_plain(token)].append(position)
        self._long_words = [t for t in self.positions if isinstance(t, str) and len(t) >= _FUZZY_WORD_LENGTH]
        self._similar: dict[Token, frozenset[Token]] = {}

    def matches(self, alternatives: Iterable[str]) -> bool:
        return any(self._matches_one(alternative) for alternative in alternatives)

    def _matches_one(self, alternative: str) -> bool:
        key = _key_tokens(alternative[:1000])
        if not key:
            return False
        if self._contains(key):
            return True
        return _has_wording(key) and self._fuzzy(key)

    def _contains(self, key: list[Token]) -> bool:
        size = len(key)
        return any(self.tokens[i : i + size] == key for i in self.positions.get(_plain(key[0]), ()))

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
        content = [token for token in key if not (isinstance(token, str) and token in _SOFT_WORDS)]
        wanted = [self._variants(token) for token in content]
        span = 2 * len(content) + 3
        negated = _negations(key)
        starts = {position for variant in wanted[0] for position in self.positions.get(_plain(variant), ())}
        for start in sorted(starts):
            if self.tokens[start] not in wanted[0]:
                continue
            position, end = start, min(len(self.tokens), start + span)
            for variants in wanted[1:]:
                position = next((i for i in range(position + 1, end) if self.tokens[i] in variants), -1)
                if position < 0:
                    break
            if position >= 0 and _negations(self.tokens[start : position + 1]) == negated:
                return True
        return False


def match_key_step(steps_text: str, alternatives: Sequence[str] | str) -> bool:
    """True when any alternative of one key step occurs in `steps_text` (see module docstring)."""
    if isinstance(alternatives, str):
        alternatives = [alternatives]
    return StepText(steps_text).matches(alternatives)


def matched_key_steps(steps_text: str, key_steps: KeyStepsInput) -> list[bool]:
    """For each key step (group of alternatives), whether it is matched in `steps_text`."""
    text = StepText(steps_text)
    return [text.matches(group) for group in key_step_groups(key_steps)]


def _plain(token: Token) -> Token:
    return Fraction(token) if isinstance(token, Fraction) else token


@lru_cache(maxsize=8192)
def _key_tokens(alternative: str) -> list[Token]:
    """Key steps repeat across the G completions of a group and across epochs: tokenise each once."""
    return tokenize(alternative)


def _has_wording(key: list[Token]) -> bool:
    content = [token for token in key if not (isinstance(token, str) and token in _SOFT_WORDS)]
    return len(content) >= 2 and any(isinstance(t, str) and t.isalpha() and len(t) >= 3 for t in content)


def _negations(tokens: list[Token]) -> set[str]:
    return {token for token in tokens if isinstance(token, str) and token in _NEGATIONS}


