"""Run results: one JSON file per benchmark run, and the tables (console and Markdown) over all
runs in an output folder, with R1-VL's AVG once all eight of the paper's benchmarks are there.
A run on part of a benchmark (`--allow-partial`, `--limit`, `--skip-bad-rows`, predictions for some
items only) is marked partial in its result, in every table cell ("*") and in AVG, which it makes partial too."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.table import Table

from stepgrpo.eval.registry import BY_NAME, NAMES, PAPER_BENCHMARKS
from stepgrpo.eval.results_folder import RESULT_FILE
from stepgrpo.outputs import dumps_json, write_text_atomic

PARTIAL_MARK = "*"


@dataclass
class RunResult:
    benchmark: str
    title: str
    model: str
    data: str
    primary: str
    score: float | None
    """The benchmark's headline number: percent, or MME's summed score (0-2800); None (null in
    JSON) if it came out NaN."""
    metrics: dict[str, float | None]
    n_items: int
    n_answered: int
    """Completions with a final-answer section; the rest are scored wrong."""
    scoring: str
    """Rule-based scoring, and how the official scorer differs when it uses a model judge."""
    settings: dict[str, Any] = field(default_factory=dict)
    partial: bool = False
    """Scored on part of the benchmark; `partial_reasons` says which part is missing."""
    partial_reasons: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    """Items left out by --skip-bad-rows, each `file:line: field 'x': why` (the run is partial)."""

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunResult:
        return cls(**{name: data[name] for name in cls.__dataclass_fields__ if name in data})


def write_json(path: Path, value: Any) -> None:
    """Write JSON atomically (a crash leaves the old file or the new one), with the umask's modes;
    NaN or infinite numbers are written as null, never as the invalid bare `NaN`."""
    write_text_atomic(path, dumps_json(value, indent=1))


def load_results(out_dir: Path) -> list[RunResult]:
    """Every `<benchmark>/result.json` under `out_dir`, in the paper's column order."""
    results = [RunResult.from_dict(json.loads(path.read_text(encoding="utf-8")))
               for path in sorted(out_dir.glob(f"*/{RESULT_FILE}"))]
    order = {name: index for index, name in enumerate(NAMES)}
    return sorted(results, key=lambda r: (order.get(r.benchmark, len(order)), r.benchmark))


def paper_avg(results: list[RunResult]) -> float | None:
    """R1-VL's AVG: the mean of the eight Table 1 columns with MME rescaled as MME_sum / 2800 x 100
    (each headline divided by its registry scale); None unless all eight are present."""
    by_name = {result.benchmark: result for result in results}
    if not all(name in by_name and by_name[name].score is not None for name in PAPER_BENCHMARKS):
        return None
    values = [(by_name[name].score or 0.0) / BY_NAME[name].scale * 100 for name in PAPER_BENCHMARKS]
    return sum(values) / len(values)


def avg_is_partial(results: list[RunResult]) -> bool:
    """Whether any benchmark AVG averages was scored on part of its release."""
    return any(result.partial for result in results if result.benchmark in PAPER_BENCHMARKS)


def _format(result: RunResult) -> str:
    info = BY_NAME.get(result.benchmark)
    if result.score is None:
        return "n/a" + (PARTIAL_MARK if result.partial else "")
    value = f"{result.score:.0f}" if info is not None and info.scale > 100 else f"{result.score:.1f}"  # MME's sum
    return value + (PARTIAL_MARK if result.partial else "")


def _columns(results: list[RunResult]) -> tuple[list[str], list[str]]:
    headers = [result.title for result in results]
    cells = [_format(result) for result in results]
    avg = paper_avg(results)
    if avg is not None:
        headers.append("AVG")
        cells.append(f"{avg:.1f}" + (PARTIAL_MARK if avg_is_partial(results) else ""))
    return headers, cells


def _partial_note(results: list[RunResult]) -> str | None:
    partial = [result.title for result in results if result.partial]
    if not partial:
        return None
    return (f"{PARTIAL_MARK} partial: {', '.join(partial)} scored on part of the benchmark"
            + ("; AVG is partial too" if avg_is_partial(results) and paper_avg(results) is not None else ""))


def summary_table(results: list[RunResult]) -> Table:
    """One row for the model: each benchmark's headline number, and AVG when all eight are in."""
    table = Table(title="stepgrpo eval (rule-based scoring)")
    table.add_column("Model")
    headers, cells = _columns(results)
    for header in headers:
        table.add_column(header, justify="right")
    model = results[0].model if results else ""
    table.add_row(Path(model).name or model, *cells)
    table.caption = _partial_note(results)
    return table


def detail_table(result: RunResult) -> Table:
    partial = f" — PARTIAL: {'; '.join(result.partial_reasons)}" if result.partial else ""
    table = Table(title=f"{result.title}: {result.n_items} items, {result.n_answered} with a final answer{partial}")
    table.add_column("Metric")
    table.add_column("Value", justify="right")
    for name, value in result.metrics.items():
        table.add_row(name, "n/a" if value is None else f"{value:.2f}")
    table.caption = result.scoring
    return table


def markdown_summary(results: list[RunResult]) -> str:
    """The summary as a Markdown table (R1-VL's Table 1 columns), followed by how each was scored."""
    headers, cells = _columns(results)
    model = Path(results[0].model).name if results else ""
    lines = ["| Model | " + " | ".join(headers) + " |", "|---" * (len(headers) + 1) + "|",
             f"| {model} | " + " | ".join(cells) + " |", ""]
    if paper_avg(results) is None:
        missing = [name for name in PAPER_BENCHMARKS if name not in {r.benchmark for r in results}]
        lines.append(f"AVG (R1-VL's, MME rescaled to 0-100) needs all eight; missing: {', '.join(missing)}.")
        lines.append("")
    note = _partial_note(results)
    if note:
        lines.extend([note + ".", ""])
    for result in results:
        partial = f" **Partial**: {'; '.join(result.partial_reasons)}." if result.partial else ""
        lines.append(f"- **{result.title}** ({result.primary}, {result.n_items} items, "
                     f"{result.n_answered} with a final answer): {result.scoring}.{partial}")
    return "\n".join(lines) + "\n"

