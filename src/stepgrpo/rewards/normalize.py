"""Text normalisation and math-aware tokens, shared by key-step matching and answer checking.

Key steps and completions write the same mathematics in many surface forms: `×`, `\\times` and
`*`; `\\frac{1}{2}`, `1/2` and `0.5`; `1,234` and `1234`. Both sides go through the same
`normalize` and `tokenize`, and numbers become exact `Fraction` values, so comparison is by value
at token boundaries: "3" never matches inside "13" or "3.5".
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from functools import lru_cache

Token = str | Fraction

_UNICODE = str.maketrans({
    "×": "*", "⋅": "*", "·": "*", "∙": "*", "÷": "/", "∕": "/", "−": "-", "–": "-", "—": "-",
    "√": " sqrt ", "π": " pi ", "°": " deg ", "≤": "<=", "≥": ">=", "≠": "!=", "＝": "=",
    "∠": " angle ", "△": " triangle ", "∆": " triangle ", "’": "'", "‘": "'", "“": '"', "”": '"',
})
_FRAC = re.compile(r"\\?[dt]?frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}")
_SQRT = re.compile(r"\\sqrt\s*\{([^{}]*)\}")
_SIMPLE_LATEX = [
    (re.compile(r"\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|\\circ|\\degree"), " deg "),
    (re.compile(r"\\(?:times|cdot|ast)(?![a-zA-Z])"), "*"),
    (re.compile(r"\\div(?![a-zA-Z])"), "/"),
    (re.compile(r"\\(?:left|right|big|Big|bigg|Bigg)(?![a-zA-Z])"), ""),
    (re.compile(r"\\%"), "%"),
    (re.compile(r"\\(?:le|leq)(?![a-zA-Z])"), "<="),
    (re.compile(r"\\(?:ge|geq)(?![a-zA-Z])"), ">="),
    (re.compile(r"\\(?:ne|neq)(?![a-zA-Z])"), "!="),
    (re.compile(r"\\(?:text|mathrm|mathbf|operatorname)\s*\{([^{}]*)\}"), r" \1 "),
    (re.compile(r"\\[,;:! ]|\\quad|\\qquad|~"), " "),
    (re.compile(r"\\[()\[\]]|\$"), " "),
    (re.compile(r"\*\*|__"), " "),  # markdown emphasis, not exponentiation
]
_THOUSANDS = re.compile(r"(?<![\d.,])\d{1,3}(?:,\d{3})+(?![\d]|,\d)")
_TOKEN = re.compile(r"\d+(?:\.\d+)?|\.\d+|[^\W\d_]+|<=|>=|!=|[^\s\w]")
_DROP = frozenset(".,;:!?\"'`{}\\")


class Ratio(Fraction):
    """A fraction written as two literals, `a/b`: equal to a plain number of the same value
    (`1/2` = `0.5`) and to the same written fraction, but not to another written fraction of the same
    value, so the key step `6/2 = 3` is not matched by `9/3 = 3`."""

    __slots__ = ("written",)

    def __new__(cls, top: Fraction, bottom: Fraction) -> Ratio:
        self = super().__new__(cls, top / bottom)
        self.written = (top, bottom)
        return self

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Ratio):
            return self.written == other.written
        return Fraction.__eq__(self, other)

    __hash__ = Fraction.__hash__


def normalize(text: str) -> str:
    """Lower-case text with unicode and LaTeX math rewritten to one plain form."""
    text = unicodedata.normalize("NFKC", text).translate(_UNICODE)
    for _ in range(8):  # innermost \frac / \sqrt first; nesting deeper than this stays as is
        replaced = _SQRT.sub(r" sqrt(\1)", _FRAC.sub(_frac, text))
        if replaced == text:
            break
        text = replaced
    for pattern, replacement in _SIMPLE_LATEX:
        text = pattern.sub(replacement, text)
    text = _THOUSANDS.sub(lambda match: match.group().replace(",", ""), text)
    text = text.replace("\\", " ")
    return " ".join(text.lower().split())


def _frac(match: re.Match[str]) -> str:
    top, bottom = match.group(1).strip(), match.group(2).strip()
    plain = re.fullmatch(r"-?\d+(?:\.\d+)?", top) and re.fullmatch(r"\d+(?:\.\d+)?", bottom)
    return f" {top}/{bottom} " if plain else f" ({top})/({bottom}) "


@lru_cache(maxsize=4096)
def _number(text: str) -> Fraction | None:
    try:
        return Fraction(Decimal(text))
    except (InvalidOperation, ValueError):
        return None


def tokenize(text: str, *, normalized: bool = False) -> list[Token]:
    """Math-aware tokens: numbers as exact Fractions (`a/b` of two literals folded into one value),
    words lower-cased, punctuation that carries no math dropped."""
    if not normalized:
        text = normalize(text)
    raw = _unwrap_single_parens([token for token in _TOKEN.findall(text) if token not in _DROP])
    tokens: list[Token] = []
    i = 0
    while i < len(raw):
        token = raw[i]
        value = _number(token) if token[0].isdigit() or token[0] == "." else None
        if value is None:
            tokens.append(token)
            i += 1
            continue
        # fold "a / b" of two number literals into one value, unless part of a longer chain or a power
        if (i + 2 < len(raw) and raw[i + 1] == "/" and raw[i + 2][0].isdigit()
                and (i == 0 or raw[i - 1] not in {"/", "^"})
                and (i + 3 >= len(raw) or raw[i + 3] not in {"/", "^"})):
            bottom = _number(raw[i + 2])
            if bottom:
                tokens.append(Ratio(value, bottom))
                i += 3
                continue
        tokens.append(value)
        i += 1
    return tokens


def _unwrap_single_parens(raw: list[str]) -> list[str]:
    """"(16)" -> "16": `\\sqrt{16}`, `√16` and `\\frac{a}{b}` then tokenise alike."""
    out: list[str] = []
    i = 0
    while i < len(raw):
        if raw[i] == "(" and i + 2 < len(raw) and raw[i + 2] == ")" and raw[i + 1] not in "()":
            out.append(raw[i + 1])
            i += 3
        else:
            out.append(raw[i])
            i += 1
    return out


def is_number(token: Token) -> bool:
    return isinstance(token, Fraction)
