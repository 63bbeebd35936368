"""`stepgrpo keysteps` with the offline extractor: layouts, file formats, bad input, exit status."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from stepgrpo.cli import app
from stepgrpo.data.io import read_rows
from stepgrpo.rewards import step_accuracy

FIXTURES = Path(__file__).parent / "fixtures" / "keysteps"
REFERENCES = FIXTURES / "references.jsonl"


def _invoke(*args: object) -> Result:
    return CliRunner().invoke(app, ["keysteps", *map(str, args)])


def test_keep_layout_adds_checked_key_steps(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    result = _invoke(REFERENCES, out)
    assert result.exit_code == 0, result.output
    assert "rows done" in result.output and "key steps per row" in result.output
    rows, errors = read_rows(out)
    assert not errors and [row.data["id"] for row in rows] == ["geo", "chart", "word", "mc"]
    source = [json.loads(line) for line in REFERENCES.read_text(encoding="utf-8").splitlines()]
    for row, original in zip(rows, source, strict=True):
        assert {k: v for k, v in row.data.items() if k != "key_steps"} == original  # the row is kept as it was
    assert ["40 + 55 + 25 = 120", "40 plus 55 plus 25 equals 120"] in rows[1].data["key_steps"]
    assert not list(tmp_path.glob(".out*"))  # no temporary file left behind


@pytest.mark.parametrize("suffix", [".parquet", ""])
def test_parquet_and_datasets_folder_output(tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"out{suffix}"
    assert _invoke(REFERENCES, out, "--layout", "trl").exit_code == 0
    rows, errors = read_rows(out)
    assert not errors and len(rows) == 4
    assert ["6 × 12 = 72", "6 times 12 equals 72"] in [list(group) for group in rows[2].data["key_steps"]]


def test_trl_layout_feeds_the_reward(tmp_path: Path) -> None:
    out = tmp_path / "trl.jsonl"
    assert _invoke(REFERENCES, out, "--layout", "trl").exit_code == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    word = rows[2]
    assert word["prompt"][0]["role"] == "user" and word["prompt"][0]["content"].startswith("Tom has 6 boxes")
    assert word["solution"] == "18" and "image" not in word
    assert rows[0]["image"] == "images/geo.png"  # one image: TRL's `image` column
    completion = ("### Image Description:\nApples.\n### Rationales:\nArithmetic.\n### Let's think step by step.\n"
                  "### Step 1:\n6 times 12 equals 72.\n### Step 2:\n72 minus 18 equals 54.\n"
                  "### Step 3:\n54 divided by 3 equals 18.\n### The final answer is: 18")
    # paraphrased steps match through the augmentations: 1 + 0.1 * (3/3)
    assert step_accuracy(completion, word["solution"], word["key_steps"]) == pytest.approx(1.1)


def test_r1vl_layout(tmp_path: Path) -> None:
    out = tmp_path / "r1vl.json"
    assert _invoke(REFERENCES, out, "--layout", "r1vl").exit_code == 0
    rows = json.loads(out.read_text(encoding="utf-8"))
    assert set(rows[1]) == {"image_path", "problem", "solution", "key_steps"}
    assert rows[1]["image_path"] == "images/chart.png"
    assert ["January sales are 40"] in rows[1]["key_steps"]["Steps"]


def test_bad_rows_are_named_skipped_and_the_rest_written(tmp_path: Path) -> None:
    data = tmp_path / "in.jsonl"
    good = REFERENCES.read_text(encoding="utf-8").splitlines()
    data.write_text("\n".join([good[0], '{"id": "broken", ', json.dumps({"id": "empty", "problem": "Q?"}),
                               json.dumps({"id": "nothing", "solution": "### Step 1:\nLook at it.\n"}),
                               good[1]]) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    result = _invoke(data, out)
    assert result.exit_code == 1
    text = " ".join(result.output.split())
    assert f"skipped {data}:2: not valid JSON" in text
    assert f"skipped {data}:3: no reference reasoning" in text
    assert f"skipped {data}:4: no usable key step" in text
    assert "skipped: bad row" in text and "skipped: no reasoning" in text and "skipped: no key steps" in text
    last = result.output.strip().splitlines()[-1]  # the last line says how many rows were skipped and why
    assert last.startswith("3 of 5 rows skipped") and "no key steps" in last and "bad row" in last, last
    assert [json.loads(line)["id"] for line in out.read_text(encoding="utf-8").splitlines()] == ["geo", "chart"]


def test_unreadable_file_exits_2_and_writes_nothing(tmp_path: Path) -> None:
    data = tmp_path / "in.json"
    data.write_text('[{"solution": "x"},\n {"solution": ', encoding="utf-8")
    out = tmp_path / "out.jsonl"
    result = _invoke(data, out)
    assert result.exit_code == 2
    assert f"{data}:2:" in " ".join(result.output.split()) and not out.exists()
    assert _invoke(tmp_path / "missing.jsonl", out).exit_code == 2


def test_every_row_skipped_writes_nothing(tmp_path: Path) -> None:
    data = tmp_path / "in.jsonl"
    data.write_text(json.dumps({"problem": "Q?"}) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    result = _invoke(data, out)
    assert result.exit_code == 1 and not out.exists() and "nothing written" in result.output


@pytest.mark.parametrize(("args", "message"), [
    (["--extractor", "llm"], "--llm-base-url"),
    (["--format", "xml"], "unknown reasoning format"),
])
def test_bad_options(tmp_path: Path, args: list[str], message: str) -> None:
    result = _invoke(REFERENCES, tmp_path / "out.jsonl", *args)
    assert result.exit_code == 2 and message in " ".join(result.output.split())


def test_custom_reasoning_field(tmp_path: Path) -> None:
    data = tmp_path / "in.jsonl"
    data.write_text(json.dumps({"q": "Total?", "cot": "### Step 1:\nTotal = 40 + 55 = 95\n"}) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    assert _invoke(data, out, "--reasoning-field", "cot", "--question-field", "q", "--layout", "trl").exit_code == 0
    row = json.loads(out.read_text(encoding="utf-8"))
    assert row["prompt"] == [{"role": "user", "content": "Total?"}]
    assert ["40 + 55 = 95", "40 plus 55 equals 95"] in row["key_steps"]
