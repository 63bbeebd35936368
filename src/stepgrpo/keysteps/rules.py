"""Offline, rule-based key-step extraction: no model, no network, deterministic.

It follows R1-VL's three stages with rules instead of GPT-4:

1. **Extract** from each step body what StepRAR can verify in another solution: whole equations
   with their results (`AE = 6/2 = 3`, `angle 1 + angle 2 = 180°`), named quantities with a value
   (`January sales are 40`), value readings (`45 apples were sold`), the multiple-choice mapping
   (`3/8 corresponds to option B`) and named geometric facts (`AD is a median`). When that gives
   fewer than two, clause cores are added, so every reference with steps gives at least two.
2. **Refine** each to its core: one clause, the operand next to `=` rather than the sentence around
   it, trailing units and filler dropped. Every core is a verbatim piece of the reference, so it
   matches the reference itself.
3. **Augment** with equivalent forms the matcher does *not* already equate: operations in words
   (`6/3 = 2` → `6 divided by 3 equals 2`), halves (`AE = 1/2 AD` → `AE is half of AD`), readings
   (`45 apples` → `apples = 45`), swapped facts (`AD is a median` → `median is AD`). Spacing,
   `×`/`*`/`\\times`, `÷`/`/`, `\\frac{a}{b}`/`a/b`, `0.5`/`1/2`, `°`/`degrees` and `∥`/`parallel`
   are left out because `match_key_step` equates those already; `pipeline.check_key_steps` drops
   any other form the matcher turns out to equate.

What it cannot do: recognise a key idea stated only in words ("the triangles are similar because
..."), or an equation whose operands are long phrases. Use the LLM extractor for such data.
"""

from __future__ import annotations

import re

from stepgrpo.data.layouts import KeySteps

# Clause boundaries: sentence ends and commas not inside numbers, colons, line breaks, connectives.
_CLAUSE_END = re.compile(r"[.;!?](?!\d)|,(?!\d)|:(?!\d)|\n|\b(?:so|thus|therefore|hence|then|and|which "
                         r"gives|we get|gives)\b", re.IGNORECASE)
_MATH_DELIMITERS = re.compile(r"\$|\\[()\[\]]")
_EQUALS = re.compile(r"(?<![<>!=])=(?!=)")
_NUMBER = r"[-−]?\$?\d[\d,]*(?:\.\d+)?"
_LABEL = r"(?:[A-Z]{1,4}\d?|∠\s?[A-Z]{1,3}|△\s?[A-Z]{3})"
_OPERATOR = re.compile(r"[+\-−*/×÷^·]|\\(?:times|div|cdot|frac)")
# A token that can be part of a math operand: numbers, operators, labels, LaTeX, single letters.
_MATH_TOKEN = re.compile(rf"(?:\S*[\d+\-−*/×÷^·\\√π()°%]\S*|{_LABEL}|[a-z]|\$\S*)")
_STOP = frozenset({"so", "thus", "therefore", "hence", "then", "we", "get", "gets", "is", "are", "was",
                   "were", "has", "have", "had", "that", "which", "gives", "find", "found", "and", "from",
                   "in", "on", "at", "by", "with", "to", "since", "because", "if", "it", "its", "this",
                   "these", "there", "here", "now", "also", "be", "can", "will", "know", "known", "given",
                   "let"})
_ARTICLES = frozenset({"the", "a", "an"})
# nouns that name an object by a number or letter after them: "angle 1", "side a", "bar 3"
_LABELLED = frozenset({"angle", "side", "line", "segment", "triangle", "point", "arc", "edge", "vertex", "bar",
                       "row", "column", "circle", "sector", "group", "box", "term", "part"})
_VALUE = rf"(?:\\[dt]?frac\{{\d+\}}\{{\d+\}}|{_NUMBER}(?:\s?/\s?\d+)?(?:\s?(?:°|%))?)"
_QUANTITY = re.compile(rf"\s+(?P<verb>is|are|was|were|equals|measures|costs?|is equal to)\s+"
                       rf"(?:about\s+)?(?P<value>{_VALUE})(?![\d\w])")
# a value read off a figure: "45 apples were sold", "there are 30 pears"
_READING = re.compile(rf"(?:(?<![\w.])(?P<value>{_NUMBER})\s+(?P<noun>[A-Za-z]{{3,}}(?:\s+[A-Za-z]{{3,}})?)\s+"
                      rf"(?:were|was|are|is|have been|has been)\b|\bthere\s+(?:are|were|is)\s+(?P<value2>{_NUMBER})\s+"
                      rf"(?P<noun2>[A-Za-z]{{3,}}))")
# the multiple-choice mapping: "3/8 corresponds to option B", "which is option B", "Option C is 70°"
_CHOICE = re.compile(rf"(?P<value>{_VALUE}|[A-Za-z][\w ]{{0,30}}?)\s+(?:corresponds to|matches|is|equals|which is)"
                     rf"\s+(?:the\s+)?(?:option|choice)\s+\(?(?P<letter>[A-H])\)?(?![\w])", re.IGNORECASE)
_FACT_WORDS = (r"median|midpoint|bisector|altitude|diameter|radius|chord|tangent|hypotenuse|diagonal|"
               r"cent(?:er|re)|parallelogram|rectangle|square|rhombus|trapezoid|isosceles|equilateral|"
               r"parallel|perpendicular|congruent|similar")
_FACT = re.compile(rf"(?P<subject>(?:(?i:triangle|angle|line|segment|side|point)\s+)?{_LABEL})\s+(?:is|are)\s+"
                   rf"(?P<predicate>(?:(?:a|an|the)\s+)?(?:[a-z]+\s+)?(?:{_FACT_WORDS})\b"
                   rf"(?:\s+(?:of|to|with)\s+{_LABEL}\b)?)")
_WORDS = {"+": "plus", "-": "minus", "−": "minus", "*": "times", "×": "times", "·": "times",
          "\\times": "times", "/": "divided by", "÷": "divided by", "\\div": "divided by"}
_FRAC = re.compile(r"\\?[dt]?frac\{([^{}]+)\}\{([^{}]+)\}")
_HALF = re.compile(rf"^(?:1/2|\\?frac\{{1\}}\{{2\}}|0\.5)\s*\*?\s*(?P<whole>{_LABEL})$")


def _clauses(body: str) -> list[str]:
    body = _MATH_DELIMITERS.sub(" ", body)  # the matcher ignores them too
    pieces, start = [], 0
    for match in _CLAUSE_END.finditer(body):
        pieces.append(body[start:match.start()])
        start = match.end()
    pieces.append(body[start:])
    return [" ".join(piece.split()) for piece in pieces if piece.strip()]


def _name_before(words: list[str], allow_math: bool) -> list[str]:
    """The operand or name that ends right before an `=` or a verb: math tokens, or up to 3 words."""
    taken: list[str] = []
    content = 0
    for word in reversed(words):
        lower = word.lower()
        if lower in _STOP:
            break
        if lower in _ARTICLES:
            taken.append(word)
            continue
        if allow_math and _MATH_TOKEN.fullmatch(word):
            taken.append(word)
            continue
        if allow_math and lower in _LABELLED and taken and re.fullmatch(r"\d+|[A-Za-z]", taken[-1]):
            taken.append(word)  # "angle 1 + angle 2": the whole left side, not just "2"
            continue
        computed = any(_OPERATOR.search(t) or re.search(r"\d", t) for t in taken)
        if not allow_math and taken and not computed and re.fullmatch(r"\d{1,4}", word):
            taken.append(word)  # "2019 sales were 300", "at 6 am": a number that qualifies the name
            break
        if content == 3 or computed or not re.fullmatch(r"[A-Za-z][\w']*", word):
            break  # "4 pens cost 4 × 3": the operand is "4 × 3"; "Angle C": a name may take words
        taken.append(word)
        content += 1
    taken.reverse()
    while taken and taken[0].lower() in _ARTICLES:
        taken.pop(0)
    return taken


def _operand_after(text: str) -> str:
    """The right side of an `=` up to the first plain word (a unit such as `apples` or `cm`)."""
    kept = []
    for word in text.split():
        if not _MATH_TOKEN.fullmatch(word) and kept:
            break
        if not _MATH_TOKEN.fullmatch(word):
            return ""
        kept.append(word)
    return " ".join(kept)


def _equations(clause: str) -> list[str]:
    """`p0 = p1 = ... = pn` gives `p0 = p1` when p0 is a name, and the last computation `p(n-1) = pn`."""
    cuts = [match.start() for match in _EQUALS.finditer(clause)]
    if not cuts:
        return []
    left = " ".join(_name_before(clause[:cuts[0]].split(), allow_math=True))
    parts = [clause[a + 1:b].strip() for a, b in zip(cuts, [*cuts[1:], len(clause)], strict=True)]
    parts[-1] = _operand_after(parts[-1])
    if not left or not all(parts):
        return []
    chain = [left, *parts]
    keys = []
    if len(chain) == 2 or not _OPERATOR.search(left):
        keys.append(f"{chain[0]} = {chain[1]}")
    if len(chain) > 2 and _OPERATOR.search(chain[-2]):
        keys.append(f"{chain[-2]} = {chain[-1]}")
    return [_verbatim(key, clause) for key in keys]


def _verbatim(key: str, clause: str) -> str:
    """The key as the clause spells it (its spacing around `=`), so it is a piece of the reference."""
    pattern = r"\s*=\s*".join(re.escape(part.strip()) for part in key.split(" = "))
    match = re.search(pattern, clause)
    return match.group() if match else key


def _quantities(clause: str) -> list[str]:
    keys = []
    for match in _QUANTITY.finditer(clause):
        name = _name_before(clause[:match.start()].split(), allow_math=False)
        if name:
            start = clause.rindex(name[0], 0, match.start())
            keys.append(clause[start:match.end()])
    return keys


def _facts(clause: str) -> list[str]:
    return [match.group() for match in _FACT.finditer(clause)]


def _readings(clause: str) -> list[str]:
    """`45 apples were sold` → `45 apples` (verbatim); `augment` adds `apples = 45`."""
    keys = []
    for match in _READING.finditer(clause):
        noun = match["noun"] if match["value"] else match["noun2"]
        if noun.split()[-1].lower() not in _STOP:
            start = match.start("value") if match["value"] else match.start("value2")
            keys.append(clause[start:(match.end("noun") if match["value"] else match.end("noun2"))])
    return keys


def _choices(clause: str) -> list[str]:
    keys = []
    for match in _CHOICE.finditer(clause):
        value = match["value"].strip()
        words = value.split()
        if not re.search(r"\d", value):  # a named value: keep its last words ("the fraction" → "fraction")
            words = [w for w in words if w.lower() not in _STOP and w.lower() not in _ARTICLES][-3:]
            if not words:
                continue
        start = clause.find(words[0], match.start())
        keys.append(clause[start:match.end()])
    return keys


def refine(step: str) -> list[str]:
    """Stages 1-2 for one step body: its verifiable pieces, each cut down to a verbatim core."""
    keys = []
    for clause in _clauses(step):
        choices = _choices(clause)
        found = _equations(clause)
        if not found and not choices:
            found = _quantities(clause)
        if not found:
            found = _readings(clause)
        keys += found + choices + _facts(clause)
    return keys


def _in_words(equation: str) -> str | None:
    """`40 + 55 + 25 = 120` → `40 plus 55 plus 25 equals 120`, for one kind of operation on numbers."""
    left, _, right = equation.partition("=")
    left = _FRAC.sub(r"\1/\2", left)
    number = rf"{_NUMBER}\s?[°%]?"
    operator = r"\\times|\\div|[+\-−*/×÷·]"
    match = re.fullmatch(rf"\s*({number})((?:\s*(?:{operator})\s*{number})+)\s*", left)
    if not match or not re.fullmatch(rf"\s*{number}\s*", right):
        return None
    operators = set(re.findall(rf"(?<=[\d°%\s])(?:{operator})", left))
    words = {_WORDS[op] for op in operators}
    if len(words) != 1:
        return None
    first, *rest = (n.strip() for n in re.findall(number, left))
    return f" {words.pop()} ".join([first, *(n.lstrip("-−") for n in rest)]) + f" equals {right.strip()}"


def augment(key: str) -> list[str]:
    """Stage 3: equivalent forms of one core that the matcher would not equate by itself."""
    forms = []
    if "=" in key:
        name, _, value = (part.strip() for part in key.partition("="))
        if "=" not in value:
            words = _in_words(key)
            if words:
                forms.append(words)
            half = _HALF.fullmatch(value)
            if half and not _OPERATOR.search(name):
                forms += [f"{name} is half of {half['whole']}", f"{name} = {half['whole']}/2"]
            if re.fullmatch(rf"{_NUMBER}\s?[°%]?", value) and not _OPERATOR.search(name):
                forms.append(f"{name} is {value}")
    elif reading := re.fullmatch(rf"({_NUMBER})\s+([A-Za-z]{{3,}}(?:\s+[A-Za-z]{{3,}})?)", key):
        forms.append(f"{reading[2]} = {reading[1]}")  # "45 apples" → "apples = 45"
    else:
        quantity = _QUANTITY.search(key)
        if quantity:
            forms.append(f"{key[:quantity.start()]} = {quantity['value']}")
        fact = _FACT.fullmatch(key)
        if fact:
            predicate = re.sub(r"^(?:a|an|the)\s+", "", fact["predicate"])
            forms.append(f"{predicate} is {fact['subject']}")
    return forms


MAX_FORMS = 4
"""Forms kept per key step (the core and its first augmentations)."""


MIN_KEY_STEPS = 2
"""Below this many, clause cores (`_clause_core`) are added so every reference yields a usable set."""
_CORE_WORDS = 8


def _clause_core(clause: str) -> str | None:
    """A clause's verbatim core: its first words after connectives and articles, if it says something."""
    words = clause.split()
    while words and (words[0].lower() in _STOP or words[0].lower() in _ARTICLES):
        words.pop(0)
    core = " ".join(words[:_CORE_WORDS])
    content = [word for word in words[:_CORE_WORDS] if len(word) >= 3 and word.lower() not in _STOP]
    has_math = re.search(r"[\d=<>]", core) is not None
    return core if content and (has_math or len(content) >= 2) else None  # never "Look at it"


def extract_rule_based(steps: list[str], question: str | None = None) -> KeySteps:
    """Key-step groups for a reference's step bodies: each core followed by its augmentations.

    When the rules find fewer than `MIN_KEY_STEPS`, the cores of the remaining clauses (those with a
    number first) are added, so a reference with steps always gives at least two checkable keys.
    `question` is accepted for the extractor interface and not used: the rules read steps only.
    """
    groups = [[key, *augment(key)][:MAX_FORMS] for step in steps for key in refine(step)]
    if len({group[0] for group in groups}) < MIN_KEY_STEPS:
        taken = " ".join(group[0] for group in groups)
        clauses = [clause for step in steps for clause in _clauses(step)]
        clauses.sort(key=lambda clause: not re.search(r"\d", clause))
        for clause in clauses:
            core = _clause_core(clause)
            if core and core not in taken and clause not in taken:
                groups.append([core])
                taken += " " + core
            if len(groups) >= MIN_KEY_STEPS + 1:  # one spare: the pipeline may drop a duplicate
                break
    return groups
