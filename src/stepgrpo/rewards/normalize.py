"""Text normalisation and math-aware tokens, shared by key-step matching and answer checking.

Key steps and completions write the same mathematics in many surface forms: `×`, `\\times` and
`*`; `\\frac{1}{2}`, `\\frac12`, `½`, `1/2` and `0.5`; `50%` and `0.5`; `3 × 10^5`, `3e5` and
`300000`; `x²` and `x^2`; `∥`, `\\parallel` and `parallel`; `°`, `^\\circ` and `degrees`; `cm²`,
`cm^2` and `square centimeters`; `θ` and `\\theta`; `1,234` and `1234`. Both sides go through the
same `normalize` and `tokenize`, and numbers become exact `Fraction` values, so comparison is by
value at token boundaries: "3" never matches inside "13" or "3.5". Signs, powers, factorials and
other continuations stay separate tokens, which `matching.py` checks at a match's edges.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from functools import lru_cache

Token = str | Fraction

INVISIBLE = re.compile("[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b-\u200f\u202a-\u202e"
                       "\u2060-\u2064\u206a-\u206f\ufeff]")
"""Zero-width and direction characters: invisible, so they never change what a text says."""
_SUPERSCRIPTS = re.compile("[⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻]+")
_SUPERSCRIPT_PLAIN = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻", "0123456789+-")
_VULGAR = re.compile("[½⅓⅔¼¾⅕⅖⅗⅘⅙⅚⅛⅜⅝⅞]")
_GREEK = {"α": "alpha", "β": "beta", "γ": "gamma", "δ": "delta", "ε": "epsilon", "θ": "theta", "ϑ": "theta",
          "λ": "lambda", "μ": "mu", "ρ": "rho", "σ": "sigma", "τ": "tau", "φ": "phi", "ϕ": "phi", "ω": "omega",
          "Ω": "omega", "Φ": "phi", "Θ": "theta", "Σ": "sigma", "Λ": "lambda", "η": "eta", "ψ": "psi"}
_UNICODE = str.maketrans({
    "∥": " parallel ", "⊥": " perpendicular ", "≅": " congruent ", "∴": " therefore ",
    **{letter: f" {name} " for letter, name in _GREEK.items()},
    "×": "*", "⋅": "*", "·": "*", "∙": "*", "÷": "/", "∕": "/", "−": "-", "–": "-", "—": "-", "‐": "-", "‑": "-",
    "‒": "-", "﹣": "-",
    "√": " sqrt ", "π": " pi ", "°": " deg ", "≤": "<=", "≥": ">=", "≠": "!=", "＝": "=",
    "∠": " angle ", "△": " triangle ", "∆": " triangle ", "’": "'", "‘": "'", "“": '"', "”": '"',
})
_FRAC = re.compile(r"\\?[dt]?frac\s*+(?:\{([^{}]*+)\}|(\d))\s*+(?:\{([^{}]*+)\}|(\d))")
_SQRT = re.compile(r"\\sqrt\s*\{([^{}]*)\}")
# (a substring without which the pattern cannot match, pattern, replacement)
_SIMPLE_LATEX = [
    ("\\", re.compile(r"\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|\\circ|\\degree"), " deg "),
    ("\\", re.compile(r"\\(?:times|cdot|ast)(?![a-zA-Z])"), "*"),
    ("\\", re.compile(r"\\div(?![a-zA-Z])"), "/"),
    ("\\", re.compile(r"\\(?:left|right|big|Big|bigg|Bigg)(?![a-zA-Z])"), ""),
    ("\\", re.compile(r"\\%"), "%"),
    ("\\", re.compile(r"\\(?:le|leq)(?![a-zA-Z])"), "<="),
    ("\\", re.compile(r"\\(?:ge|geq)(?![a-zA-Z])"), ">="),
    ("\\", re.compile(r"\\(?:ne|neq)(?![a-zA-Z])"), "!="),
    ("\\", re.compile(r"\\(?:text|mathrm|mathbf|operatorname)\s*\{([^{}]*)\}"), r" \1 "),
    ("\\", re.compile(r"\\[,;:! ]|\\quad|\\qquad"), " "),
    ("~", re.compile(r"~"), " "),
    ("\\", re.compile(r"\\[()\[\]]"), " "),
    ("$", re.compile(r"\$"), " "),
    ("**", re.compile(r"\*\*"), " "),  # markdown emphasis, not exponentiation
    ("__", re.compile(r"__"), " "),
    ("perp", re.compile(r"\\perp(?![a-zA-Z])|\bperp\b"), " perpendicular "),
    ("\\", re.compile(r"\\(?:parallel|\|)(?![a-zA-Z])"), " parallel "),
    ("||", re.compile(r"\|\|"), " parallel "),
]
# unit spellings, applied to lower-case text: one canonical form per unit
_UNIT_CANONICAL = {
    **{word: "deg" for word in ("degree", "degrees")}, "percent": "%", "per cent": "%",
    **{f"{prefix}met{end}{plural}": short for prefix, short in (("centi", "cm"), ("milli", "mm"), ("kilo", "km"),
                                                                   ("", "m"))
       for end in ("er", "re") for plural in ("", "s")},
    "kilogram": "kg", "kilograms": "kg", "gram": "g", "grams": "g", "inch": "in", "inches": "in", "feet": "ft",
    "foot": "ft",
}
_UNIT_WORD = re.compile(r"\b(?:" + "|".join(sorted(map(re.escape, _UNIT_CANONICAL), key=len, reverse=True))
                        + r")\b")
_UNIT_HINTS = ("degree", "per", "met", "gram", "inch", "feet", "foot")
_SQUARE_UNITS = re.compile(r"\b(square|sq\.?|cubic) (cm|mm|km|m|in|ft|units?)\b")
JUXTAPOSED = "\u2062"
"""Invisible times, written between a number and the variable it multiplies (`2x`)."""
_JUXTAPOSED = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)([a-z]{1,2})(?![a-z\d])")
_NOT_VARIABLES = frozenset({"cm", "mm", "km", "m", "g", "kg", "mg", "s", "ms", "h", "hr", "l", "ml", "in", "ft",
                            "yd", "mi", "lb", "oz", "st", "nd", "rd", "th", "am", "pm", "k"})
_DECIMAL_COMMA = re.compile(r"(?<=\d),(?=\d)")
_THOUSANDS_HINT = re.compile(r"\d,\d{3}")
_JUXTAPOSED_HINT = re.compile(r"\d[a-z]")
_THOUSANDS = re.compile(r"(?<![\d.,])\d{1,3}(?:,\d{3})+(?![\d]|,\d)")
_TOKEN = re.compile(r"\d+(?:\.\d+)?(?:e[-+]?\d{1,3}(?!\d))?|\.\d+|[^\W\d_]+|<=|>=|!=|[^\s\w]")
_DROP = frozenset(".,;:?\"'`{}\\")  # "!" stays: `6!` is not `6`
_BREAKS = frozenset(".,;:")
_BREAK = "\x00"


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
    if not text.isascii():  # the unicode rewrites: most completions are plain ASCII and skip them
        text = INVISIBLE.sub("", text)
        text = superscripts_as_powers(text)
        text = _VULGAR.sub(lambda m: " " + unicodedata.normalize("NFKC", m.group()).replace("⁄", "/") + " ", text)
        text = unicodedata.normalize("NFKC", text).translate(_UNICODE).replace("⁄", "/")
    if "frac" in text or "\\sqrt" in text:
        for _ in range(8):  # innermost \frac / \sqrt first; nesting deeper than this stays as is
            replaced = _SQRT.sub(r" sqrt(\1)", _FRAC.sub(_frac, text))
            if replaced == text:
                break
            text = replaced
    for trigger, pattern, replacement in _SIMPLE_LATEX:
        if trigger in text:
            text = pattern.sub(replacement, text)
    # each rewrite below first checks, at C speed, that it can apply at all
    if "," in text and _THOUSANDS_HINT.search(text):
        text = _THOUSANDS.sub(lambda match: match.group().replace(",", ""), text)
    if "," in text:  # "6,5" (a decimal comma) continues the 6; "6, 5" is a list
        text = _DECIMAL_COMMA.sub(f" {JUXTAPOSED} ", text)
    text = text.replace("\\", " ").lower()
    if any(hint in text for hint in _UNIT_HINTS):
        text = _UNIT_WORD.sub(lambda match: _UNIT_CANONICAL[match.group()], text)
    if "square" in text or "sq" in text or "cubic" in text:
        text = _SQUARE_UNITS.sub(lambda match: f"{match.group(2)} ^ {3 if match.group(1) == 'cubic' else 2}", text)
    if _JUXTAPOSED_HINT.search(text):
        text = _JUXTAPOSED.sub(_times, text)
    text = text.strip().replace("\n", " . ")  # a line end separates like a full stop
    return " ".join(text.split())


def superscripts_as_powers(text: str) -> str:
    """`x²` → `x^{2}`, `10⁴` → `10^{4}` (NFKC alone would turn `10⁴` into `104`)."""
    return _SUPERSCRIPTS.sub(lambda m: "^{" + m.group().translate(_SUPERSCRIPT_PLAIN) + "}", text)


def _times(match: re.Match[str]) -> str:
    """Mark `2x` (a number juxtaposed to a variable) so `2x = 3` never contains `x = 3`; `6cm`, `3rd` stay."""
    letters = match.group(2)
    return match.group() if letters in _NOT_VARIABLES else f"{match.group(1)} {JUXTAPOSED} {letters}"


def _frac(match: re.Match[str]) -> str:
    top, bottom = (match.group(1) or match.group(2)).strip(), (match.group(3) or match.group(4)).strip()
    plain = re.fullmatch(r"-?\d+(?:\.\d+)?", top) and re.fullmatch(r"\d+(?:\.\d+)?", bottom)
    return f" {top}/{bottom} " if plain else f" ({top})/({bottom}) "


@lru_cache(maxsize=4096)
def _ratio(top: str, bottom: str) -> Ratio | None:
    """One shared object per written fraction: cheap to build again, and compared by identity first."""
    top_value, bottom_value = _number(top), _number(bottom)
    return Ratio(top_value, bottom_value) if top_value is not None and bottom_value else None


@lru_cache(maxsize=4096)
def _number(text: str) -> Fraction | None:
    if len(text) > 40:
        return None  # a run of digits this long is not a value anyone reasons with; keep it a word
    try:
        return Fraction(Decimal(text))
    except (InvalidOperation, ValueError):
        return None


def tokenize(text: str, *, normalized: bool = False) -> list[Token]:
    """Math-aware tokens: numbers as exact Fractions (`a/b` of two literals folded into one value,
    `50%` into 0.5, `3 * 10^5` and `10^5` into their value), words lower-cased, punctuation that
    carries no math dropped."""
    return tokenize_marked(text, normalized=normalized)[0]


def tokenize_marked(text: str, *, normalized: bool = False) -> tuple[list[Token], frozenset[int], frozenset[int]]:
    """`tokenize`, plus the indices of tokens juxtaposed to the number before them (the `x` of `2x`)
    and of tokens right after a punctuation break (`,` `;` `:` `.`), which the tokens themselves drop."""
    if not normalized:
        text = normalize(text)
    raw = [_BREAK if token in _BREAKS else token for token in _TOKEN.findall(text)
           if token not in _DROP or token in _BREAKS]
    if "(" in raw:
        raw = _unwrap_single_parens(raw)
    tokens: list[Token] = []
    juxtaposed: set[int] = set()
    breaks: set[int] = set()
    append = tokens.append
    i, size = 0, len(raw)
    while i < size:
        token = raw[i]
        first = token[0]
        if not (first.isdigit() or first == "."):
            if token == _BREAK:
                breaks.add(len(tokens))
            elif token == JUXTAPOSED:
                juxtaposed.add(len(tokens))
            else:
                append(token)
            i += 1
            continue
        value: Fraction | None = _number(token)
        if value is None:
            append(token)
            i += 1
            continue
        after = raw[i - 1] if i else ""
        power = _power_of_ten(raw, i + 2) if raw[i + 1 : i + 2] == ["*"] else None
        if power is not None and after != "^":  # "3 * 10^5"
            value, i = value * power[0], power[1]
        elif token == "10" and after not in {"^", "*"} and (power := _power_of_ten(raw, i)) is not None:
            value, i = power  # "10^5"
        elif (i + 2 < len(raw) and raw[i + 1] == "/" and raw[i + 2][0].isdigit()
                and after not in {"/", "^"}
                and (i + 3 >= len(raw) or raw[i + 3] not in {"/", "^"})):
            # fold "a / b" of two number literals into one value, unless part of a longer chain or a power
            ratio = _ratio(token, raw[i + 2])
            if ratio is not None:
                value, i = ratio, i + 3
            else:
                i += 1
        else:
            i += 1
        if i < len(raw) and raw[i] == "%":
            value, i = Fraction(value) / 100, i + 1
        tokens.append(value)
    return tokens, frozenset(juxtaposed), frozenset(breaks)


def _power_of_ten(raw: list[str], i: int) -> tuple[Fraction, int] | None:
    """`10 ^ k` (k an integer of at most three digits, not itself raised) at raw[i:], with the index after it."""
    if raw[i : i + 2] != ["10", "^"]:
        return None
    j = i + 2
    sign = 1
    if j < len(raw) and raw[j] in {"-", "+"}:
        sign, j = (-1 if raw[j] == "-" else 1), j + 1
    if j >= len(raw) or not raw[j].isdigit() or len(raw[j]) > 3 or raw[j + 1 : j + 2] == ["^"]:
        return None
    return Fraction(10) ** (sign * int(raw[j])), j + 1


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
