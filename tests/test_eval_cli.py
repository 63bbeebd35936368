"""`stepgrpo eval` as a user runs it: one-line errors for a missing, empty or partial benchmark,
`--allow-partial` marking every output, `--predictions` scoring outside completions, a cache that
follows the weights, and the one benchmark registry behind the help, the docs and AVG."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from stepgrpo.cli import app
from stepgrpo.eval import GenerationSettings, evaluate
from stepgrpo.eval.fingerprint import fingerprint
from stepgrpo.eval.generate import PredictionCache
from stepgrpo.eval.registry import NAMES, PAPER_BENCHMARKS, REGISTRY, canonical_name
from stepgrpo.eval.report import RunResult, markdown_summary, paper_avg
from stepgrpo.eval.runner import cache_key

DOCS = Path(__file__).resolve().parents[1] / "docs" / "eval.md"


def invoke(*args: str):
    return CliRunner().invoke(app, ["eval", *args])


def completion(answer: str) -> str:
    return f"### Step 1:\nRead it.\n### The final answer is: {answer}."


def mmstar_tsv(path: Path, count: int = 3) -> Path:
    import base64
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), "white").save(buffer, format="PNG")
    encoded = base64.b64encode(buffer.getvalue()).decode()
    lines = ["index\tquestion\tanswer\tcategory\timage\tA\tB\tC\tD"]
    lines += [f"{i}\tWhich bar?\t{'ABCD'[i % 4]}\tmath\t{encoded if i == 0 else '0'}\tl\tr\ts\tn" for i in range(count)]
    path.write_text("\n".join(lines) + "\n")
    return path


def one_error_line(outcome) -> str:
    lines = outcome.output.strip().splitlines()
    assert outcome.exit_code == 2 and len(lines) == 1 and lines[0].startswith("error: "), outcome.output
    return lines[0]


def test_missing_empty_and_partial_benchmarks_are_one_line_errors(tmp_path):
    args = ("--benchmark", "mmstar", "--predictions", str(tmp_path / "p.jsonl"), "--out", str(tmp_path / "out"))
    (tmp_path / "p.jsonl").write_text(json.dumps({"id": "0", "completion": completion("A")}) + "\n")
    assert "nope.tsv: no such file or folder" in one_error_line(invoke(*args, "--data", str(tmp_path / "nope.tsv")))
    (tmp_path / "empty.tsv").write_text("index\tquestion\tanswer\timage\n")
    assert "no MMStar questions in it" in one_error_line(invoke(*args, "--data", str(tmp_path / "empty.tsv")))
    data = mmstar_tsv(tmp_path / "MMStar.tsv")
    line = one_error_line(invoke(*args, "--data", str(data)))
    assert "not the whole MMStar: 3 questions, the release has 1,500" in line and "--allow-partial" in line
    assert not (tmp_path / "out").exists()
    both = invoke("--benchmark", "mmstar", "--data", str(data), "--model", str(tmp_path), "--predictions", "x")
    assert "exactly one of --model" in one_error_line(both)


def test_predictions_scored_with_allow_partial_are_marked_everywhere(tmp_path, monkeypatch):
    data = mmstar_tsv(tmp_path / "MMStar.tsv")
    predictions = tmp_path / "vllm-run.jsonl"
    predictions.write_text("".join(json.dumps({"id": i, "completion": completion(a)}) + "\n"
                                   for i, a in ((0, "A"), (1, "r"), (2, "D"))))
    out = tmp_path / "out"
    outcome = invoke("--benchmark", "mmstar", "--data", str(data), "--predictions", str(predictions),
                     "--allow-partial", "--out", str(out))
    assert outcome.exit_code == 0, outcome.output
    result = json.loads((out / "mmstar" / "result.json").read_text())
    assert result["score"] == pytest.approx(200 / 3) and result["partial"] is True
    assert result["partial_reasons"] == ["3 questions, the release has 1,500"]
    assert result["model"] == f"predictions:{predictions}"
    records = [json.loads(line) for line in (out / "mmstar" / "predictions.jsonl").read_text().splitlines()]
    assert [r["correct"] for r in records] == [True, True, False]
    assert "PARTIAL" in outcome.output and "66.7*" in (out / "summary.md").read_text()
    assert json.loads((out / "summary.json").read_text())["partial"] == ["mmstar"]
    monkeypatch.chdir(tmp_path)  # the default --out is relative: runs/eval/<predictions file name>
    limited = invoke("--benchmark", "mmstar", "--data", str(data), "--predictions", str(predictions),
                     "--allow-partial", "--limit", "2")
    assert limited.exit_code == 0, limited.output
    result = json.loads((tmp_path / "runs" / "eval" / "vllm-run.jsonl" / "mmstar" / "result.json").read_text())
    assert result["n_items"] == 2 and result["score"] == 100.0
    assert result["partial_reasons"][-1] == "--limit 2: the first 2 of 3 items"


def test_avg_is_marked_partial_when_a_column_is():
    def result(name: str, score: float, partial: bool = False) -> RunResult:
        return RunResult(benchmark=name, title=name, model="m", data="d", primary="p", score=score, metrics={},
                         n_items=1, n_answered=1, scoring="rule-based", partial=partial,
                         partial_reasons=["x"] if partial else [])
    row = (63.5, 60.0, 24.7, 83.9, 45.2, 54.7, 40.0, 2376)
    results = [result(name, score, partial=name == "mme") for name, score in zip(PAPER_BENCHMARKS, row, strict=True)]
    assert paper_avg(results) == pytest.approx(57.1, abs=0.1)
    summary = markdown_summary(results)
    assert "| 57.1* |" in summary and "AVG is partial too" in summary and "2376*" in summary


def test_one_registry_behind_help_docs_and_avg():
    import typer

    command = typer.main.get_command(app).commands["eval"]  # type: ignore[attr-defined]
    option = next(param for param in command.params if param.name == "benchmark")
    assert option.help == f"One of: {', '.join(NAMES)}."
    docs = DOCS.read_text()
    for info in REGISTRY:
        assert f"`{info.name}`" in docs, info.name
    assert PAPER_BENCHMARKS == ("mathvista", "mmstar", "mathvision", "chartqa", "dynamath", "hallusionbench",
                                "mathverse", "mme")
    assert canonical_name("Math-V") == "mathvision" and canonical_name("HallBench") == "hallusionbench"
    with pytest.raises(ValueError, match="unknown benchmark 'nope'; choose from mathvista, mmstar"):
        canonical_name("nope")


def test_fingerprint_follows_the_weights_not_the_folder(tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text('{"a": 1}')
    weights = bytearray(range(256)) * (6 * 2**20 // 256)  # over the small-file limit: sampled, not read whole
    (model / "model.safetensors").write_bytes(bytes(weights))
    before = fingerprint(model)
    shutil.copytree(model, tmp_path / "copy")
    assert fingerprint(tmp_path / "copy") == before
    for offset in range(0, len(weights), 4096):  # retrained in place: same size, every tensor moved a little
        weights[offset] ^= 1
    (model / "model.safetensors").write_bytes(bytes(weights))
    assert fingerprint(model) != before


def test_new_weights_in_the_same_folder_never_reuse_the_cache(tmp_path, tiny_vlm_dir):
    from safetensors.torch import load_file, save_file

    from stepgrpo.data.chartmath import write_dataset

    write_dataset(tmp_path / "cm", 0, 2)
    data, out, model = tmp_path / "cm" / "test.jsonl", tmp_path / "out", tmp_path / "model"
    shutil.copytree(tiny_vlm_dir, model)
    settings = GenerationSettings(max_new_tokens=2, batch_size=2)
    rows = [json.loads(line) for line in data.read_text().splitlines()]
    cache = PredictionCache(out / "chartmath" / f"cache-{cache_key(model, data, settings, 'hf')}.jsonl")
    for row in rows:
        cache.append({"id": row["id"], "completion": completion(row["answer"])})
    assert evaluate("chartmath", data, model, out, settings=settings, progress=False).score == 100.0
    [weights] = model.glob("*.safetensors")
    tensors = load_file(weights)
    name = next(iter(tensors))
    tensors[name] = tensors[name] + 1.0
    save_file(tensors, weights, metadata={"format": "pt"})
    notes: list[str] = []
    result = evaluate("chartmath", data, model, out, settings=settings, progress=False, log=notes.append)
    assert result.score == 0.0  # generated afresh by the (random) new weights, not read from the old cache
    assert len(notes) == 1 and "made with other weights" in notes[0]
    assert len(list((out / "chartmath").glob("cache-*.jsonl"))) == 2


def test_default_results_folder_names_trained_models_by_their_run():
    from stepgrpo.cli.eval import default_results_name

    assert default_results_name(Path("/w/runs/a/final")) == "a-final"
    assert default_results_name(Path("/w/runs/b/final")) == "b-final"
    assert default_results_name(Path("/w/models/tiny")) == "tiny"
    assert default_results_name(Path("/w/vllm-run.jsonl")) == "vllm-run.jsonl"
