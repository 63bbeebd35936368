"""ChartMath generator: determinism, rendered values, reference reasonings, key steps, splits, CLI."""

from __future__ import annotations

import itertools
import random
import re
from pathlib import Path

import pytest
from PIL import Image

from stepgrpo.data.chartmath import (
    GRID,
    INK,
    LABELS,
    PALETTE,
    Chart,
    ChartMathConfig,
    generate,
    make_problem,
    render_chart,
    sample_chart,
    write_dataset,
)
from stepgrpo.data.io import read_rows


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("chartmath")
    write_dataset(out, 40, 20, seed=3)
    return out


def _rows(path: Path) -> list[dict]:
    rows, errors = read_rows(path)
    assert not errors
    return [row.data for row in rows]


def read_bars(image: Image.Image) -> list[int]:
    """Bar heights in chart units, read from pixels alone: the x-axis is the longest black row,
    gridlines are the long grey rows above it (one per unit), a bar is a run of palette-coloured
    columns and its value is the gridline its top lies on."""
    width, height = image.size
    pixels = image.load()
    baseline = max(range(height), key=lambda y: sum(pixels[x, y] == INK for x in range(width)))
    gridlines = sorted((y for y in range(baseline)
                        if sum(pixels[x, y] == GRID for x in range(width)) >= width // 4), reverse=True)
    gaps = [upper - lower for upper, lower in itertools.pairwise(gridlines)]
    assert gaps and max(gaps) - min(gaps) <= 1  # an even scale
    palette = set(PALETTE)
    column_colour = [next((pixels[x, y] for y in range(baseline) if pixels[x, y] in palette), None)
                     for x in range(width)]
    values = []
    for x in range(width):
        colour = column_colour[x]
        if colour is None or (x and column_colour[x - 1] == colour):
            continue
        rows = [y for y in range(height) if pixels[x, y] == colour]
        assert rows == list(range(rows[0], baseline))  # solid, standing on the axis
        top = rows[0]
        values.append(gridlines.index(top) + 1)
    return values


def expected_answer(row: dict) -> int:
    """Re-derive the answer from `values` and the question text alone."""
    values = {item["label"]: item["value"] for item in row["values"]}
    question = row["question"].split("\nChoices:")[0]
    named = [values[word] for word in re.findall(r"\b[a-z]+\b", question) if word in values]
    kind = row["task_type"]
    if kind == "sum":
        return named[0] + named[1]
    if kind == "difference":
        return named[0] - named[1]
    if kind == "product":
        return named[0] * named[1]
    if kind == "range":
        return max(values.values()) - min(values.values())
    assert kind == "total"
    return sum(values.values())


def test_same_seed_same_data_and_train_independent_of_test_size() -> None:
    first = generate(30, 10, seed=11)
    assert first == generate(30, 10, seed=11)
    assert generate(30, 25, seed=11)["train"] == first["train"]
    assert generate(30, 10, seed=12)["train"] != first["train"]
    chart = first["train"][0].chart
    config = ChartMathConfig()
    assert render_chart(chart, config).tobytes() == render_chart(chart, config).tobytes()


def test_files_and_rows(dataset: Path) -> None:
    train, test = _rows(dataset / "train.jsonl"), _rows(dataset / "test.jsonl")
    assert len(train) == 40 and len(test) == 20
    assert {row["split"] for row in train} == {"train"} and {row["split"] for row in test} == {"test"}
    for row in train + test:
        assert set(row) == {"id", "question", "image_path", "solution", "answer", "choices", "key_steps",
                            "task_type", "values", "split"}
        assert (dataset / row["image_path"]).is_file()
    assert len({row["id"] for row in train + test}) == 60
    assert {row["task_type"] for row in train} == {"sum", "difference", "range", "total"}
    assert 0 < sum(row["choices"] is not None for row in train) < len(train)


def test_rendered_bars_match_values_and_answers_follow(dataset: Path) -> None:
    for row in _rows(dataset / "train.jsonl") + _rows(dataset / "test.jsonl"):
        with Image.open(dataset / row["image_path"]) as image:
            assert read_bars(image.convert("RGB")) == [item["value"] for item in row["values"]]
        expected = expected_answer(row)
        if row["choices"] is None:
            assert row["answer"] == str(expected)
        else:
            assert list(row["choices"]) == ["A", "B", "C", "D"]
            assert len(set(row["choices"].values())) == 4
            correct = [letter for letter, text in row["choices"].items() if text == str(expected)]
            assert correct == [row["answer"]]


def test_other_sizes_and_no_value_labels_still_readable() -> None:
    rng = random.Random(5)
    for config in (ChartMathConfig(image_size=112, value_labels=False), ChartMathConfig(image_size=224)):
        for _ in range(5):
            chart = sample_chart(rng, config)
            assert read_bars(render_chart(chart, config)) == list(chart.values)


def test_reference_reasoning_is_valid_correct_and_holds_every_key_step(dataset: Path) -> None:
    from stepgrpo.parsing import get_format
    from stepgrpo.rewards import check_answer, match_key_step, reasoning_validity

    fmt = get_format("r1vl")
    for row in _rows(dataset / "train.jsonl"):
        solution = row["solution"]
        assert reasoning_validity(solution) == 1.0
        assert check_answer(solution, row["answer"], choices=row["choices"])
        steps_text = fmt.parse(solution).steps_text
        assert len(row["key_steps"]) >= 3
        for group in row["key_steps"]:
            assert all(len(alt) >= 5 and re.search(r"[a-z=+x-]", alt) for alt in group)  # no bare numbers
            assert match_key_step(steps_text, group), (group, steps_text)


def test_key_steps_do_not_match_a_reasoning_about_other_values() -> None:
    from stepgrpo.parsing import get_format
    from stepgrpo.rewards import match_key_step

    fmt = get_format("r1vl")
    config = ChartMathConfig(operations=("sum", "difference", "range", "total", "product"))
    chart_rng = random.Random(0)
    for index in range(60):
        chart = sample_chart(chart_rng, config)
        # Every value changes, none becomes a prefix of the old one ("1" -> "20"), and the order flips.
        other = Chart(chart.labels, tuple(21 - value for value in chart.values), chart.colours)
        problem = make_problem(random.Random(index), chart, config, problem_id="p", split="train")
        twin = make_problem(random.Random(index), other, config, problem_id="q", split="train")
        assert problem.task_type == twin.task_type
        twin_steps = fmt.parse(twin.solution).steps_text
        for group in problem.key_steps:
            assert not match_key_step(twin_steps, group), (group, twin_steps)


def test_splits_never_share_a_chart_or_question() -> None:
    # A small space (3 bars, heights 1..3) where independent draws would collide hundreds of times.
    config = ChartMathConfig(min_bars=3, max_bars=3, min_value=1, max_value=3)
    splits = generate(2000, 2000, seed=0, config=config)

    def keys(split: str) -> set:
        return {(problem.chart.labels, problem.chart.values, problem.question) for problem in splits[split]}

    def charts(split: str) -> set:
        return {(problem.chart.labels, problem.chart.values) for problem in splits[split]}

    assert len(keys("train")) == len(charts("train")) == 2000
    assert len(charts("test")) == 2000
    assert not keys("train") & keys("test")
    assert not charts("train") & charts("test")


def test_dataset_files_splits_disjoint(dataset: Path) -> None:
    def pairs(name: str) -> set:
        return {(tuple((item["label"], item["value"]) for item in row["values"]), row["question"])
                for row in _rows(dataset / name)}

    assert not pairs("train.jsonl") & pairs("test.jsonl")


def test_labels_cannot_be_confused_by_key_step_matching() -> None:
    from rapidfuzz.distance import LCSseq

    assert not [(a, b) for a in LABELS for b in LABELS
                if a != b and (a in b or LCSseq.similarity(a, b) > 1)]


def test_bad_settings_are_named() -> None:
    with pytest.raises(ValueError, match="distinct heights"):
        ChartMathConfig(max_bars=5, min_value=1, max_value=4)
    with pytest.raises(ValueError, match="operations"):
        ChartMathConfig(operations=("sum", "divide"))
    with pytest.raises(ValueError, match="distinct charts"):
        generate(6000, 6000, config=ChartMathConfig(min_bars=3, max_bars=3, max_value=3))


def test_mcq_share_extremes() -> None:
    free = generate(20, 0, seed=1, config=ChartMathConfig(mcq_share=0.0))["train"]
    assert all(problem.choices is None and problem.answer.isdigit() for problem in free)
    mcq = generate(20, 0, seed=1, config=ChartMathConfig(mcq_share=1.0))["train"]
    assert all(problem.choices and problem.answer in "ABCD" and "\nChoices:\nA. " in problem.question
               for problem in mcq)


def test_cli_writes_deterministic_files_and_refuses_to_clobber(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from stepgrpo.cli import app

    runner = CliRunner()
    args = ["make-data", "chartmath", "--train", "6", "--test", "3", "--seed", "4", "--image-size", "112"]
    first = runner.invoke(app, [*args[:2], str(tmp_path / "a"), *args[2:]])
    assert first.exit_code == 0, first.output
    assert "wrote 6 train and 3 test rows" in first.output
    second = runner.invoke(app, [*args[:2], str(tmp_path / "b"), *args[2:]])
    assert second.exit_code == 0, second.output
    for name in ("train.jsonl", "test.jsonl", "images/chartmath-test-000002.png"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert len(list((tmp_path / "a" / "images").glob("*.png"))) == 9

    again = runner.invoke(app, [*args[:2], str(tmp_path / "a"), *args[2:]])
    assert again.exit_code != 0 and "--overwrite" in again.output
    smaller = runner.invoke(app, ["make-data", "chartmath", str(tmp_path / "a"), "--train", "2",
                                  "--test", "1", "--overwrite"])
    assert smaller.exit_code == 0, smaller.output
    assert len(list((tmp_path / "a" / "images").glob("*.png"))) == 3  # the old images are gone
    assert not [path for path in tmp_path.iterdir() if path.name.startswith(".")]  # no staging left

    bad = runner.invoke(app, ["make-data", "chartmath", str(tmp_path / "c"), "--operations", "sum,divide"])
    assert bad.exit_code != 0 and "divide" in bad.output
    assert not (tmp_path / "c" / "train.jsonl").exists()


def test_cli_chart_as_text_writes_tables_and_no_images(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from stepgrpo.cli import app
    from stepgrpo.rewards import reasoning_validity

    result = CliRunner().invoke(app, ["make-data", "chartmath", str(tmp_path / "t"), "--train", "4", "--test", "2",
                                      "--chart-as-text"])
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "t" / "images").exists()
    rows = _rows(tmp_path / "t" / "train.jsonl")
    assert len(rows) == 4
    for row in rows:
        assert "| bar | value |" in row["question"] and "image_path" not in row
        assert reasoning_validity(row["solution"]) == 1.0
