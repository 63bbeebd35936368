"""Character spans of a decoded completion → token index ranges of the ids it was decoded from.

Exact for any tokenizer: token k "completes" the characters that `decode(ids[:k + 1])` adds to
the longest prefix of the text that `decode(ids[:k])` already agrees with. That handles byte-level
BPE tokens that end inside a multi-byte character (the partial prefix decodes to U+FFFD, which
disagrees with the text), special tokens that decode to nothing, and decoders that rewrite spaces.
Each lookup is a binary search over prefix lengths, so a completion of T tokens with S spans costs
about S·log2(T) decodes. Offsets from re-encoding the text would be wrong: sampled ids are not
always the tokenizer's canonical encoding of their text.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import pairwise

Decode = Callable[[Sequence[int]], str]


class _Prefixes:
    """How many characters of `text` the first k ids are known to produce, memoised per k."""

    def __init__(self, ids: Sequence[int], text: str, decode: Decode) -> None:
        self.ids, self.text, self.decode = list(ids), text, decode
        self.known: dict[int, int] = {0: 0, len(self.ids): len(text)}

    def agreed(self, count: int) -> int:
        if count not in self.known:
            prefix = self.decode(self.ids[:count])
            if self.text.startswith(prefix):
                self.known[count] = len(prefix)
            else:  # binary search for the longest agreeing prefix (usually all but a partial char)
                low, high = 0, min(len(prefix), len(self.text))
                while low < high:
                    middle = (low + high + 1) // 2
                    if self.text.startswith(prefix[:middle]):
                        low = middle
                    else:
                        high = middle - 1
                self.known[count] = low
        return self.known[count]

    def token_of(self, position: int) -> int:
        """The first token after which character `position` is produced; len(ids) past the end."""
        if position >= len(self.text):
            return len(self.ids)
        low, high = 0, len(self.ids) - 1
        while low < high:
            middle = (low + high) // 2
            if self.agreed(middle + 1) > position:
                high = middle
            else:
                low = middle + 1
        return low


def _prefixes(ids: Sequence[int], text: str, decode: Decode) -> _Prefixes:
    decoded = decode(list(ids))
    if decoded != text:
        raise ValueError(f"the ids decode to {decoded[:60]!r}..., not to the given text {text[:60]!r}...")
    return _Prefixes(ids, text, decode)


def token_of_chars(ids: Sequence[int], text: str, positions: Sequence[int], decode: Decode) -> list[int]:
    """For each character position of `text` (= `decode(ids)`), the index of the token producing it."""
    prefixes = _prefixes(ids, text, decode)
    return [prefixes.token_of(position) for position in positions]


def token_ranges(ids: Sequence[int], text: str, starts: Sequence[int], decode: Decode) -> list[tuple[int, int]]:
    """Token ranges `[lo, hi)` for spans that partition `text`, given their sorted char starts
    (the first is 0). The ranges partition `range(len(ids))`: a token that straddles a boundary
    belongs to the later span; trailing tokens that decode to nothing (EOS) to the last one."""
    if not starts or starts[0] != 0 or any(b < a for a, b in pairwise(starts)):
        raise ValueError(f"span starts must be sorted and begin at 0, got {list(starts)[:8]}")
    prefixes = _prefixes(ids, text, decode)
    bounds = [0, *(prefixes.token_of(start) for start in starts[1:]), len(prefixes.ids)]
    return list(pairwise(bounds))
