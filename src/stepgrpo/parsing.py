"""Split a completion into its reasoning sections and numbered steps.

Rewards, key-step extraction, evaluation and step-level credit assignment all read a completion
through one `ReasoningFormat`, so they agree on where a step starts and ends. Every section keeps
character offsets into the *original* text (CRLF included), which is what maps a step to its
tokens later.

A format is a set of header patterns, one per section kind; a section's body runs from its header
to the next header (or a terminator such as `</think>`). Headers are matched at the start of a
line (or right after an inline tag such as `<think>`) and tolerate the variants models produce:
`#`/`##`/`###` or none, bold or italic markdown, `Step 1 :`, `Step 1.`, extra blank lines and CRLF
line ends. Tags (`<answer>`) are matched anywhere. Trying headers only at line starts keeps parsing
linear and fast on long completions.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from itertools import islice, repeat

SECTION_KINDS = ("description", "rationale", "preamble", "step", "answer")
MAX_HEADERS = 1000
"""Headers read per completion; the body of the last one runs to the end. A real completion has a
few dozen; a degenerate one with a million costs no more than one with a thousand."""

# Optional indentation, list marker, markdown heading and emphasis: "### ", "**", "### **", "- " ...
# Every run of blanks is possessive (`*+`): a regex that could split one run between two `[ \t]*`
# tries every split, which made one long line of spaces cost quadratic time.
_LEAD = r"[ \t]*+(?:[-*>][ \t]++)?(?:#{1,6}+[ \t]*+)?(?:\*\*|__|\*|_)?[ \t]*+"
# Closing emphasis and the separator after a header word: ":", "：", "." or nothing before line end.
_SEP = r"[ \t]*+(?:\*\*|__|\*|_)?[ \t]*+(?:[:：.](?:[ \t]*+(?:\*\*|__|\*|_))?|(?=[ \t]*+\r?\n|[ \t]*+\Z))"


def header(words: str, *, separator: bool = True) -> str:
    """A header pattern for `words` (a regex), tolerant of markdown and spacing, tried at line starts."""
    return _LEAD + words + (_SEP if separator else "")


@dataclass(frozen=True)
class Section:
    kind: str
    start: int  # header start, in the original text
    body_start: int
    body_end: int
    text: str = field(repr=False)  # the whole completion, for slicing
    number: int | None = None  # steps only

    @property
    def end(self) -> int:
        return self.body_end

    @property
    def body(self) -> str:
        return self.text[self.body_start : self.body_end].strip()


@dataclass(frozen=True)
class ParsedCompletion:
    text: str
    sections: tuple[Section, ...]

    def of_kind(self, kind: str) -> list[Section]:
        return [section for section in self.sections if section.kind == kind]

    @cached_property
    def steps(self) -> list[Section]:
        return self.of_kind("step")

    @cached_property
    def answers(self) -> list[Section]:
        return self.of_kind("answer")

    @property
    def answer(self) -> str | None:
        """The body of the last final-answer section, or None when there is none (or it is empty)."""
        if not self.answers:
            return None
        return self.answers[-1].body or None

    @cached_property
    def steps_text(self) -> str:
        """The bodies of all step sections, joined: what StepRAR matches key steps against."""
        return "\n".join(step.body for step in self.steps)


@dataclass(frozen=True, eq=False)
class ReasoningFormat:
    """Header patterns for each section kind, plus which analysis sections must precede the steps.

    `patterns` maps a kind from `SECTION_KINDS` to a regex tried at each line start; the `step`
    pattern must capture the step number in group `n`. `inline` maps kinds to regexes found anywhere
    (tags such as `<answer>`); line-start patterns are also tried right after each inline match.
    `terminators` (found anywhere) end the current body without starting a section (`</think>`).
    `analysis` lists the kinds a valid completion must have, non-empty, before its first step
    (StepRVR's completeness and logic checks).
    """

    name: str
    patterns: Mapping[str, str]
    inline: Mapping[str, str] = field(default_factory=dict)
    analysis: Sequence[str] = ()
    terminators: Sequence[str] = ()
    flags: int = re.IGNORECASE

    def __post_init__(self) -> None:
        kinds = {**self.patterns, **self.inline}
        unknown = set(kinds) - set(SECTION_KINDS)
        if unknown:
            raise ValueError(f"ReasoningFormat {self.name!r}: unknown section kinds {sorted(unknown)}; "
                             f"allowed: {list(SECTION_KINDS)}")
        for kind in ("step", "answer"):
            if kind not in kinds:
                raise ValueError(f"ReasoningFormat {self.name!r}: a {kind!r} pattern is required")
        if "(?P<n>" not in kinds["step"]:
            raise ValueError(f"ReasoningFormat {self.name!r}: the step pattern must capture its number as (?P<n>...)")
        missing = [kind for kind in self.analysis if kind not in kinds]
        if missing:
            raise ValueError(f"ReasoningFormat {self.name!r}: analysis kinds {missing} have no pattern")

    @staticmethod
    def _combine(patterns: Mapping[str, str], terminators: Sequence[str], flags: int) -> re.Pattern[str] | None:
        parts = [f"(?P<{kind}>{pattern.replace('(?P<n>', f'(?P<{kind}_n>')})" for kind, pattern in patterns.items()]
        parts += [f"(?P<end{i}>{pattern})" for i, pattern in enumerate(terminators)]
        return re.compile("|".join(parts), flags) if parts else None

    @cached_property
    def _line_regex(self) -> re.Pattern[str] | None:
        return self._combine(self.patterns, (), self.flags)

    @cached_property
    def _line_start_regex(self) -> re.Pattern[str] | None:
        if not self.patterns:
            return None
        if all(pattern.startswith(_LEAD) for pattern in self.patterns.values()):
            # `header()` patterns share one possessive lead: match it once per line, not once per kind
            rest = {kind: pattern[len(_LEAD):] for kind, pattern in self.patterns.items()}
            body = f"{_LEAD}(?:{self._combine(rest, (), self.flags).pattern})"  # type: ignore[union-attr]
        else:
            body = f"(?:{self._line_regex.pattern})"  # type: ignore[union-attr]
        # the lookahead rejects blank and symbol-only lines before any header pattern is tried
        return re.compile(f"^(?=[ \\t*#>_-]*+\\w){body}", self.flags | re.MULTILINE)

    @cached_property
    def _inline_regex(self) -> re.Pattern[str] | None:
        return self._combine(self.inline, self.terminators, self.flags)

    def _headers(self, text: str) -> list[re.Match[str]]:
        limit = MAX_HEADERS + 1  # the first headers of each kind suffice for the first MAX_HEADERS overall
        found = list(islice(self._inline_regex.finditer(text), limit)) if self._inline_regex else []
        if self._line_regex is not None and self._line_start_regex is not None:
            # one C-level scan for headers at line starts, then the few positions right after a tag
            at_lines = list(islice((m for m in self._line_start_regex.finditer(text) if m.end() > m.start()), limit))
            after_tags = sorted({m.end() for m in found} - {m.start() for m in at_lines})
            line_match = self._line_regex.match
            found += at_lines + [m for m in map(line_match, repeat(text), after_tags) if m and m.end() > m.start()]
        found.sort(key=lambda m: (m.start(), -m.end()))
        headers: list[re.Match[str]] = []
        for match in found:  # drop a match that starts inside the previous one
            if not headers or match.start() >= headers[-1].end():
                headers.append(match)
        return headers[:MAX_HEADERS]

    def parse(self, text: str) -> ParsedCompletion:
        return _parse(self, text)

    def _parse(self, text: str) -> ParsedCompletion:
        sections: list[Section] = []
        open_kind: str | None = None
        open_start = open_body = 0
        open_number: int | None = None
        for match in self._headers(text):
            kind = match.lastgroup or ""
            if kind.endswith("_n"):  # lastgroup can be the inner number group
                kind = kind[:-2]
            if open_kind is not None:
                sections.append(Section(open_kind, open_start, open_body, match.start(), text, open_number))
            if kind.startswith("end"):
                open_kind = None
                continue
            open_kind, open_start, open_body, open_number = kind, match.start(), match.end(), None
            if kind == "step":
                digits = match.group("step_n")
                open_number = int(digits) if len(digits) <= 6 else None
        if open_kind is not None:
            sections.append(Section(open_kind, open_start, open_body, len(text), text, open_number))
        return ParsedCompletion(text, tuple(sections))


@lru_cache(maxsize=1024)
def _parse(fmt: ReasoningFormat, text: str) -> ParsedCompletion:
    """Cached: TRL calls each reward function on the same completions, so each is parsed once."""
    return fmt._parse(text)


R1VL = ReasoningFormat(
    name="r1vl",
    patterns={
        "description": header(r"image[ \t]++description"),
        "rationale": header(r"rationales?"),
        "preamble": header(r"let(?:'|’)?s[ \t]++think[ \t]++step[ \t]++by[ \t]++step[ \t]*+[.!]?", separator=False),
        "step": header(r"step[ \t]*+(?P<n>\d++)"),
        "answer": header(r"the[ \t]++final[ \t]++answer[ \t]++is"),
    },
    analysis=("description", "rationale"),
)
"""R1-VL / Mulberry: `### Image Description:` … `### Step N:` … `### The final answer is: X`."""

THINK = ReasoningFormat(
    name="think",
    patterns={"step": header(r"step[ \t]*+(?P<n>\d++)")},
    inline={"preamble": r"<think>", "answer": r"<answer>"},
    terminators=(r"</think>", r"</answer>"),
)
"""`<think> Step 1: … Step N: … </think><answer>X</answer>`."""

FORMATS: dict[str, ReasoningFormat] = {fmt.name: fmt for fmt in (R1VL, THINK)}


def get_format(fmt: str | ReasoningFormat | None = None) -> ReasoningFormat:
    """Resolve a format name (or pass a format through); None means the paper's default, `r1vl`."""
    if isinstance(fmt, ReasoningFormat):
        return fmt
    name = fmt or "r1vl"
    try:
        return FORMATS[name]
    except KeyError:
        raise ValueError(f"unknown reasoning format {name!r}; allowed: {sorted(FORMATS)}") from None


def register_format(fmt: ReasoningFormat) -> ReasoningFormat:
    """Make a user-defined format available by name (configs and the CLI refer to formats by name)."""
    FORMATS[fmt.name] = fmt
    return fmt
