"""`stepgrpo eval` under the project's output policy: every image opened before the model loads
(`--skip-bad-rows` leaves bad items out, listed, the run partial), a results folder that is only
ever eval's own (an earlier benchmark run needs `--overwrite`, a stopped run resumes from its cache
without it), file modes from the umask, and no NaN in any JSON it writes."""

from __future__ import annotations

import json
import math
import os
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from stepgrpo.cli import app
from stepgrpo.eval import get_benchmark, score_predictions
from stepgrpo.eval.report import write_json

TOKENS = ("--max-new-tokens", "2", "--batch-size", "3", "--quiet")


def invoke(*args: str):
    return CliRunner().invoke(app, ["eval", *args])


def one_error_line(outcome) -> str:
    errors = [line for line in outcome.output.splitlines() if line.startswith("error:")]
    assert outcome.exit_code == 2 and len(errors) == 1 and "Traceback" not in outcome.output, outcome.output
    return errors[0]


@pytest.fixture
def chartmath(tmp_path: Path) -> Path:
    from stepgrpo.data.chartmath import write_dataset

    write_dataset(tmp_path / "cm", 0, 3)
    return tmp_path / "cm" / "test.jsonl"


def corrupt_second_image(data: Path) -> str:
    row = json.loads(data.read_text().splitlines()[1])
    image = data.parent / row["image_path"]
    image.write_bytes(image.read_bytes()[:80])  # a truncated PNG: its header still reads
    return row["id"]


def test_corrupt_image_is_one_line_before_any_model_loads(tmp_path, chartmath):
    corrupt_second_image(chartmath)
    model = tmp_path / "broken-model"
    model.mkdir()
    (model / "config.json").write_text("{}")  # loading it would fail with another message
    out = tmp_path / "out"
    line = one_error_line(invoke("--benchmark", "chartmath", "--data", str(chartmath), "--model", str(model),
                                 "--out", str(out), *TOKENS))
    assert f"{chartmath}:2 (item 'chartmath-test-000001'): field 'image_path': " in line
    assert "chartmath-test-000001.png is not a readable image" in line and "--skip-bad-rows" in line
    assert not out.exists()  # nothing written, no cache opened


def test_skip_bad_rows_scores_the_rest_marked_partial(tmp_path, chartmath, tiny_vlm_dir):
    bad = corrupt_second_image(chartmath)
    out = tmp_path / "out"
    outcome = invoke("--benchmark", "chartmath", "--data", str(chartmath), "--model", str(tiny_vlm_dir),
                     "--out", str(out), "--skip-bad-rows", *TOKENS)
    assert outcome.exit_code == 0, outcome.output
    assert f"skipped: {chartmath}:2 (item '{bad}'): field 'image_path'" in outcome.output
    result = json.loads((out / "chartmath" / "result.json").read_text())
    assert result["n_items"] == 2 and result["partial"] is True
    assert result["partial_reasons"] == ["--skip-bad-rows: 1 item(s) with unreadable images left out"]
    assert len(result["skipped"]) == 1 and bad in result["skipped"][0]
    predicted = [json.loads(line)["id"] for line in (out / "chartmath" / "predictions.jsonl").read_text().splitlines()]
    assert bad not in predicted and len(predicted) == 2
    assert json.loads((out / "summary.json").read_text())["partial"] == ["chartmath"]


def test_results_folder_is_only_ever_evals_own(tmp_path, chartmath, tiny_vlm_dir):
    args = ("--benchmark", "chartmath", "--data", str(chartmath), "--model", str(tiny_vlm_dir), *TOKENS)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("my notes")
    for extra in ((), ("--overwrite",)):
        line = one_error_line(invoke(*args, "--out", str(mine), *extra))
        assert f"{mine}: is a folder stepgrpo eval did not write (it holds notes.txt)" in line
    assert [p.name for p in mine.iterdir()] == ["notes.txt"] and (mine / "notes.txt").read_text() == "my notes"
    (tmp_path / "a-file").write_text("x")
    assert "exists and is not a folder" in one_error_line(invoke(*args, "--out", str(tmp_path / "a-file")))
    folder = ("--benchmark", "chartmath", "--data", str(chartmath.parent), "--model", str(tiny_vlm_dir))
    inside = one_error_line(invoke(*folder, "--out", str(chartmath.parent / "results"), *TOKENS))
    assert "lies inside the input folder" in inside and not (chartmath.parent / "results").exists()
    assert "holds the input" in one_error_line(invoke(*folder, "--out", str(tmp_path), *TOKENS))
    assert "cannot be written" in one_error_line(invoke(*args, "--out", "/proc/stepgrpo/out"))

    out = tmp_path / "out"
    assert invoke(*args, "--out", str(out)).exit_code == 0
    [cache] = (out / "chartmath").glob("cache-*.jsonl")
    generated = cache.read_text()
    again = one_error_line(invoke(*args, "--out", str(out)))
    assert f"{out / 'chartmath' / 'result.json'}: already exists" in again and "--overwrite" in again
    replaced = invoke(*args, "--out", str(out), "--overwrite")
    assert replaced.exit_code == 0, replaced.output
    assert "reusing 3 cached completion(s)" in replaced.output and cache.read_text() == generated
    # A run that stopped before writing results resumes from its cache, no flag needed.
    (out / "chartmath" / "result.json").unlink()
    (out / "chartmath" / "predictions.jsonl").unlink()
    resumed = invoke(*args, "--out", str(out))
    assert resumed.exit_code == 0 and "reusing 3 cached completion(s)" in resumed.output, resumed.output


def mmstar_predictions(tmp_path: Path) -> tuple[Path, Path]:
    import base64
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "white").save(buffer, format="PNG")
    encoded = base64.b64encode(buffer.getvalue()).decode()
    data = tmp_path / "MMStar.tsv"
    data.write_text("index\tquestion\tanswer\tcategory\timage\tA\tB\n"
                    + "".join(f"{i}\tWhich?\tA\tmath\t{encoded}\tl\tr\n" for i in range(2)))
    predictions = tmp_path / "predictions.jsonl"
    predictions.write_text("".join(json.dumps({"id": str(i), "completion": "### The final answer is: A"}) + "\n"
                                   for i in range(2)))
    return data, predictions


def test_file_modes_follow_the_umask(tmp_path):
    data, predictions = mmstar_predictions(tmp_path)
    out = tmp_path / "out"
    previous = os.umask(0o027)
    try:
        score_predictions(replace(get_benchmark("mmstar"), sizes=(2,)), data, predictions, out)
    finally:
        os.umask(previous)
    for path in (out / "mmstar" / "result.json", out / "mmstar" / "predictions.jsonl", out / "summary.md",
                 out / "summary.json"):
        assert path.stat().st_mode & 0o777 == 0o640, path
    assert (out / "mmstar").stat().st_mode & 0o777 == 0o750
    assert not [path for path in out.rglob(".*")]  # no temporary file left behind


def strict_json(path: Path):
    def refuse(constant: str):
        raise AssertionError(f"{path}: bare {constant}")
    return json.loads(path.read_text(), parse_constant=refuse)


def test_nan_never_reaches_result_json(tmp_path):
    data, predictions = mmstar_predictions(tmp_path)
    nan_scores = replace(get_benchmark("mmstar"), sizes=(2,),
                         summarize=lambda records: {"accuracy": math.nan, "math": math.inf})
    out = tmp_path / "out"
    result = score_predictions(nan_scores, data, predictions, out)
    assert math.isnan(result.score)
    written = strict_json(out / "mmstar" / "result.json")
    assert written["score"] is None and written["metrics"] == {"accuracy": None, "math": None}
    assert strict_json(out / "summary.json")["results"] == {"mmstar": None}
    assert "| n/a |" in (out / "summary.md").read_text()
    write_json(tmp_path / "x.json", {"a": [1.0, -math.inf]})
    assert strict_json(tmp_path / "x.json") == {"a": [1.0, None]}
