"""ChartMath: a synthetic visual-reasoning task that needs no model or data hub.

Each row is a small bar chart rendered with Pillow (3-5 labelled bars whose heights are small
integers, readable only from the picture: gridlines at every unit, y tick labels and, by default,
the value printed on each bar) and a question that takes 2-3 steps: read two or more values, then
combine them. Every row carries a reference reasoning in the R1-VL/Mulberry format, the key steps
StepRAR matches (groups of equivalent phrasings), the answer and, for multiple-choice rows, the
choices. Generation is deterministic by seed, and no chart appears in both splits, so no
(chart, question) pair is shared between train and test.
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from stepgrpo.data.io import write_rows

OPERATIONS = ("sum", "difference", "range", "total", "product")
DEFAULT_OPERATIONS = ("sum", "difference", "range", "total")
CHOICE_LETTERS = ("A", "B", "C", "D")

# Three-letter animal names. No two share more than one letter (in order) and none contains
# another, so neither exact nor fuzzy key-step matching can take "bee = 4" for a sentence about a
# different bar; none clashes with the choice letters A-D.
LABELS = ("ant", "bee", "boa", "cod", "dog", "elk", "emu", "fox", "gnu", "hen", "jay", "koi",
          "owl", "pig", "ram", "yak")
# Saturated colours, far from the white background, grey gridlines and black text.
PALETTE = ((31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
           (140, 86, 75), (227, 119, 194), (23, 190, 207))
BACKGROUND = (255, 255, 255)
GRID = (210, 210, 210)
INK = (0, 0, 0)


@dataclass(frozen=True)
class ChartMathConfig:
    """Difficulty knobs. The defaults make 2-3 step problems over single-digit values."""

    min_bars: int = 3
    """Fewest bars in a chart."""
    max_bars: int = 5
    """Most bars in a chart (at most the number of colours, 8)."""
    min_value: int = 1
    """Smallest bar height."""
    max_value: int = 9
    """Largest bar height; also the top of the y-axis, so every chart shares one scale."""
    operations: tuple[str, ...] = DEFAULT_OPERATIONS
    """Question kinds drawn uniformly: sum, difference, range (largest minus smallest), total, product."""
    mcq_share: float = 0.5
    """Fraction of rows asked as multiple choice (A-D) instead of free form."""
    image_size: int = 168
    """Side of the square PNG in pixels (168 = 6 x 28, a whole number of Qwen2-VL patches)."""
    value_labels: bool = True
    """Print each bar's value above it (easier); without it the value is read from the gridlines."""
    chart_as_text: bool = False
    """Give the chart as a text table in the question instead of a picture (for text-only models):
    no images are written and rows have no `image_path`; the reasoning looks values up in the table."""

    def __post_init__(self) -> None:
        problems = []
        if not 2 <= self.min_bars <= self.max_bars <= len(PALETTE):
            problems.append(f"need 2 <= min_bars <= max_bars <= {len(PALETTE)}, "
                            f"got {self.min_bars}..{self.max_bars}")
        if not 0 <= self.min_value < self.max_value:
            problems.append(f"need 0 <= min_value < max_value, got {self.min_value}..{self.max_value}")
        elif self.max_value - self.min_value + 1 < self.max_bars:
            problems.append(f"values {self.min_value}..{self.max_value} cannot give "
                            f"{self.max_bars} bars distinct heights")
        unknown = [op for op in self.operations if op not in OPERATIONS]
        if unknown or not self.operations:
            problems.append(f"operations must be a non-empty subset of {list(OPERATIONS)}, "
                            f"got {list(self.operations)}")
        if not 0.0 <= self.mcq_share <= 1.0:
            problems.append(f"mcq_share must be in [0, 1], got {self.mcq_share}")
        if not 64 <= self.image_size <= 1024:
            problems.append(f"image_size must be in [64, 1024] pixels, got {self.image_size}")
        if problems:
            raise ValueError("invalid chartmath settings: " + "; ".join(problems))


@dataclass(frozen=True)
class Chart:
    labels: tuple[str, ...]
    values: tuple[int, ...]
    colours: tuple[tuple[int, int, int], ...]

    def value(self, label: str) -> int:
        return self.values[self.labels.index(label)]


@dataclass(frozen=True)
class Problem:
    """One row: the chart, the question and everything a reward needs to score an answer."""

    id: str
    chart: Chart
    question: str
    solution: str
    answer: str
    choices: dict[str, str] | None
    key_steps: list[list[str]]
    task_type: str
    split: str

    def row(self, image_path: str | None) -> dict[str, Any]:
        image = {"image_path": image_path} if image_path is not None else {}
        return {
            "id": self.id,
            "question": self.question,
            **image,
            "solution": self.solution,
            "answer": self.answer,
            "choices": self.choices,
            "key_steps": self.key_steps,
            "task_type": self.task_type,
            "values": [{"label": label, "value": value}
                       for label, value in zip(self.chart.labels, self.chart.values, strict=True)],
            "split": self.split,
        }


# ---------------------------------------------------------------- sampling


def sample_chart(rng: random.Random, config: ChartMathConfig) -> Chart:
    """Distinct labels and distinct values, so "largest" and "smallest" are always unambiguous."""
    n = rng.randint(config.min_bars, config.max_bars)
    labels = tuple(rng.sample(LABELS, n))
    values = tuple(rng.sample(range(config.min_value, config.max_value + 1), n))
    colours = tuple(rng.sample(PALETTE, n))
    return Chart(labels, values, colours)


@dataclass
class _Plan:
    """The operation-specific part of a problem, before the multiple-choice wrapping."""

    question: str
    rationale: str
    steps: list[str]
    key_steps: list[list[str]]
    value: int
    near_misses: list[int] = field(default_factory=list)  # wrong answers a careless reader gives


def _read(label: str, value: int) -> list[str]:
    return [f"{label} = {value}", f"{label} is {value}"]


def _plan(rng: random.Random, chart: Chart, op: str, source: str = "on the y-axis") -> _Plan:
    """`source`: where the values are read ("on the y-axis" of the picture, or "in the table")."""
    labels, values = chart.labels, chart.values
    if op in {"sum", "difference", "product"}:
        first, second = rng.sample(labels, 2)
        if op == "difference" and chart.value(first) < chart.value(second):
            first, second = second, first
        a, b = chart.value(first), chart.value(second)
        reads = [f"The bar {first} reaches {a}, so {first} = {a}.",
                 f"The bar {second} reaches {b}, so {second} = {b}."]
        if op == "sum":
            result, sign, verb = a + b, "+", "add them"
            question = f"What is the sum of the values of {first} and {second}?"
            misses = [abs(a - b), a * b]
        elif op == "difference":
            result, sign, verb = a - b, "-", f"subtract {second} from {first}"
            question = f"How much larger is the value of {first} than the value of {second}?"
            misses = [a + b]
        else:
            result, sign, verb = a * b, "×", "multiply them"
            question = f"What is the product of the values of {first} and {second}?"
            misses = [a + b, a * (b + 1), (a + 1) * b]
        equation = [f"{a} {sign} {b} = {result}", f"{result} = {a} {sign} {b}"]
        if sign != "-":
            equation += [f"{b} {sign} {a} = {result}"]
        if sign == "×":
            equation += [f"{a} x {b} = {result}", f"{a} * {b} = {result}"]
        rationale = f"Read the heights of {first} and {second} {source}, then {verb}."
        keys = [_read(first, a), _read(second, b), equation]
        return _Plan(question, rationale, [*reads, f"{equation[0]}."], keys, result, misses)
    if op == "range":
        high, low = labels[values.index(max(values))], labels[values.index(min(values))]
        a, b = max(values), min(values)
        second_low = sorted(values)[1]
        return _Plan(
            "What is the difference between the tallest bar and the shortest bar?",
            f"Find the tallest and the shortest bars, read their heights {source}, then subtract.",
            [f"The tallest bar is {high}, so {high} = {a}.",
             f"The shortest bar is {low}, so {low} = {b}.",
             f"{a} - {b} = {a - b}."],
            [_read(high, a), _read(low, b), [f"{a} - {b} = {a - b}", f"{a - b} = {a} - {b}"]],
            a - b, [a + b, a - second_low])
    if op == "total":
        total = sum(values)
        terms = " + ".join(str(v) for v in values)
        reads = ", ".join(f"{label} = {value}" for label, value in zip(labels, values, strict=True))
        return _Plan(
            "What is the total of the values of all the bars?",
            f"Read the height of every bar {source}, then add them all.",
            [f"Reading the bars: {reads}.", f"{terms} = {total}."],
            [*[_read(label, value) for label, value in zip(labels, values, strict=True)],
             [f"{terms} = {total}", f"{total} = {terms}"]],
            total, [total - min(values), total - max(values)])
    raise ValueError(f"unknown chartmath operation {op!r}; allowed: {list(OPERATIONS)}")


def _choices(rng: random.Random, answer: int, near_misses: Sequence[int]) -> dict[str, str]:
    """The answer plus three distractors: careless-reading results first, then near numbers.

    The answer's rank among the four numbers is drawn uniformly (where enough smaller numbers
    exist), so "pick the middle value" is no shortcut.
    """
    def side(misses: list[int], step: int) -> list[int]:
        rng.shuffle(misses)
        nearby = (answer + step * distance for distance in range(1, 7))
        return list(dict.fromkeys([*misses, *(n for n in nearby if n >= 0)]))

    misses = [m for m in dict.fromkeys(near_misses) if m >= 0]
    below = side([m for m in misses if m < answer], -1)
    above = side([m for m in misses if m > answer], 1)
    rank = rng.choice([rank for rank in range(4) if rank <= len(below)])
    options = [answer, *below[:rank], *above[: 3 - rank]]
    rng.shuffle(options)
    return dict(zip(CHOICE_LETTERS, (str(option) for option in options), strict=True))


def _describe(chart: Chart, config: ChartMathConfig) -> str:
    names = ", ".join(chart.labels[:-1]) + f" and {chart.labels[-1]}"
    if config.chart_as_text:
        return f"A table of the values of {len(chart.labels)} bars labelled {names}."
    return (f"A bar chart with {len(chart.labels)} bars labelled {names}. "
            f"The y-axis runs from 0 to {config.max_value} with a gridline every {_grid_words(config)}.")


def _grid_words(config: ChartMathConfig) -> str:
    step = Layout.of(config).grid_step
    return "unit" if step == 1 else f"{step} units"


def chart_table(chart: Chart) -> str:
    """The chart as the text table `chart_as_text` rows carry in their question."""
    rows = "\n".join(f"| {label} | {value} |" for label, value in zip(chart.labels, chart.values, strict=True))
    return f"The bar chart as a table:\n| bar | value |\n| --- | --- |\n{rows}\n"


def make_problem(rng: random.Random, chart: Chart, config: ChartMathConfig, *, problem_id: str,
                 split: str) -> Problem:
    """Draw an operation and a format (free form or multiple choice) and write the reference reasoning."""
    op = rng.choice(config.operations)
    plan = _plan(rng, chart, op, "in the table" if config.chart_as_text else "on the y-axis")
    steps = list(plan.steps)
    question, answer, choices = plan.question, str(plan.value), None
    if config.chart_as_text:
        question = chart_table(chart) + question
    if rng.random() < config.mcq_share:
        choices = _choices(rng, plan.value, plan.near_misses)
        answer = next(letter for letter, text in choices.items() if text == str(plan.value))
        question += "\nChoices:\n" + "\n".join(f"{letter}. {text}" for letter, text in choices.items())
        steps[-1] += f" {plan.value} is option {answer}."
    body = "\n".join(f"### Step {number}:\n{text}" for number, text in enumerate(steps, start=1))
    solution = (f"### Image Description:\n{_describe(chart, config)}\n"
                f"### Rationales:\n{plan.rationale}\n"
                f"### Let's think step by step.\n{body}\n"
                f"### The final answer is: {answer}")
    return Problem(problem_id, chart, question, solution, answer, choices, plan.key_steps, op, split)


# ---------------------------------------------------------------- rendering


@dataclass(frozen=True)
class Layout:
    """Pixel geometry shared by every chart of one config: one y scale, so heights are comparable."""

    size: int
    font_size: int
    plot_left: int  # x of the y-axis line
    plot_right: int
    plot_top: int
    baseline: int  # y of the x-axis line (value 0)
    max_value: int
    grid_step: int  # units between gridlines (1 unless the scale is too dense to draw every unit)

    @classmethod
    def of(cls, config: ChartMathConfig) -> Layout:
        size = config.image_size
        font_size = max(8, round(size / 16))
        top = font_size + 6  # room for the value printed above the tallest bar
        bottom = font_size + 6  # room for the bar labels
        left = round(font_size * 0.6 * len(str(config.max_value))) + 8  # room for the tick labels
        baseline = size - bottom
        unit = (baseline - top) / config.max_value
        grid_step = next(step for step in _nice_steps() if step * unit >= 4)
        right = size - max(4, size // 40)
        return cls(size, font_size, left, right, top, baseline, config.max_value, grid_step)

    def y(self, value: float) -> int:
        """The pixel row of a value: gridlines and bar tops use it, so a bar top lies on its gridline."""
        return round(self.baseline - value * (self.baseline - self.plot_top) / self.max_value)

    def bar_span(self, index: int, count: int) -> tuple[int, int]:
        slot = (self.plot_right - self.plot_left - 1) / count
        centre = self.plot_left + 1 + slot * (index + 0.5)
        half = slot * 0.3
        return round(centre - half), round(centre + half) - 1


def _nice_steps() -> Iterator[int]:
    scale = 1
    while True:
        yield from (scale, 2 * scale, 5 * scale)
        scale *= 10


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def render_chart(chart: Chart, config: ChartMathConfig) -> Image.Image:
    """Draw the chart: gridlines and tick labels, one coloured bar per value, labels underneath."""
    layout = Layout.of(config)
    font = _font(layout.font_size)
    image = Image.new("RGB", (layout.size, layout.size), BACKGROUND)
    draw = ImageDraw.Draw(image)
    # Tick labels on every gridline that leaves room for the text.
    tick_every = next(step for step in _nice_steps() if step % layout.grid_step == 0
                      and layout.baseline - layout.y(step) >= layout.font_size)
    for value in range(0, config.max_value + 1, layout.grid_step):
        row = layout.y(value)
        if value:
            draw.line([(layout.plot_left + 1, row), (layout.plot_right, row)], fill=GRID)
        if value % tick_every == 0:
            draw.text((layout.plot_left - 3, row), str(value), fill=INK, font=font, anchor="rm")
    draw.line([(layout.plot_left, layout.plot_top - 2), (layout.plot_left, layout.baseline)], fill=INK)
    draw.line([(layout.plot_left, layout.baseline), (layout.plot_right, layout.baseline)], fill=INK)
    count = len(chart.values)
    bars = zip(chart.labels, chart.values, chart.colours, strict=True)
    for index, (label, value, colour) in enumerate(bars):
        x0, x1 = layout.bar_span(index, count)
        top = layout.y(value)
        if value:
            draw.rectangle([x0, top, x1, layout.baseline - 1], fill=colour)
        centre = (x0 + x1 + 1) / 2
        if config.value_labels:
            draw.text((centre, top - 2), str(value), fill=INK, font=font, anchor="mb")
        draw.text((centre, layout.baseline + 3), label, fill=INK, font=font, anchor="mt")
    return image


# ---------------------------------------------------------------- datasets


def chart_capacity(config: ChartMathConfig) -> int:
    """How many distinct charts the config allows (label order and values; colours do not count)."""
    from math import perm

    span = config.max_value - config.min_value + 1
    return sum(perm(len(LABELS), n) * perm(span, n) for n in range(config.min_bars, config.max_bars + 1))


def generate(n_train: int, n_test: int, *, seed: int = 0,
             config: ChartMathConfig | None = None) -> dict[str, list[Problem]]:
    """Problems for both splits. Each split has its own seeded stream, so the train rows do not
    depend on `n_test`; no chart (labels and values) is used twice, within a split or across them."""
    config = config or ChartMathConfig()
    if n_train < 0 or n_test < 0:
        raise ValueError(f"split sizes must be >= 0, got train={n_train}, test={n_test}")
    capacity = chart_capacity(config)
    if n_train + n_test > capacity // 2:  # rejection sampling slows down as the space fills
        raise ValueError(f"chartmath settings allow only {capacity} distinct charts; asked for "
                         f"{n_train + n_test} (at most half the space): widen the value range or bar counts")
    seen: set[tuple[tuple[str, ...], tuple[int, ...]]] = set()
    splits: dict[str, list[Problem]] = {}
    for split, n in (("train", n_train), ("test", n_test)):
        rng = random.Random(f"chartmath:{seed}:{split}")
        problems: list[Problem] = []
        while len(problems) < n:
            chart = sample_chart(rng, config)
            if (chart.labels, chart.values) in seen:
                continue
            seen.add((chart.labels, chart.values))
            row_id = f"chartmath-{split}-{len(problems):06d}"
            problems.append(make_problem(rng, chart, config, problem_id=row_id, split=split))
        splits[split] = problems
    return splits


OUTPUT_NAMES = ("images", "train.jsonl", "test.jsonl")


def write_dataset(out: str | Path, n_train: int, n_test: int, *, seed: int = 0,
                  config: ChartMathConfig | None = None, overwrite: bool = False,
                  progress: bool = False) -> dict[str, int]:
    """Render and write `OUT/train.jsonl`, `OUT/test.jsonl` and `OUT/images/*.png` (no images with
    `chart_as_text`).

    Everything is built in a temporary folder next to `out` and moved in at the end, so a failure
    leaves no half-written dataset; an existing dataset is replaced only with `overwrite`.
    Returns the number of rows per split.
    """
    from rich.progress import track

    config = config or ChartMathConfig()
    out = Path(out)
    existing = [name for name in OUTPUT_NAMES if (out / name).exists()]
    if existing and not overwrite:
        raise FileExistsError(f"{out} already holds {', '.join(existing)}; pass --overwrite to replace them")
    splits = generate(n_train, n_test, seed=seed, config=config)
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        if not config.chart_as_text:
            (staging / "images").mkdir()
        for split, problems in splits.items():
            rows = []
            for problem in track(problems, description=f"chartmath {split}", disable=not progress):
                if config.chart_as_text:
                    rows.append(problem.row(None))
                    continue
                image_path = f"images/{problem.id}.png"
                render_chart(problem.chart, config).save(staging / image_path)
                rows.append(problem.row(image_path))
            write_rows(staging / f"{split}.jsonl", rows)
        for name in OUTPUT_NAMES:
            target = out / name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
            if (staging / name).exists():  # a text-table dataset has no images/
                os.replace(staging / name, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return {split: len(problems) for split, problems in splits.items()}
