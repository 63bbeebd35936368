"""One evaluation run: load a benchmark, generate what the cache lacks, score, write results.

Layout of `out/`: `<benchmark>/cache-<key>.jsonl` (raw completions, appended per sample; the key
hashes model, data and generation settings, so changing any of them starts a fresh cache),
`<benchmark>/predictions.jsonl` (every item scored), `<benchmark>/result.json`, and
`summary.md` / `summary.json` over all benchmarks run into the same folder.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from stepgrpo.data.io import write_rows
from stepgrpo.eval import scoring
from stepgrpo.eval.benchmarks import get_benchmark
from stepgrpo.eval.benchmarks.base import Benchmark, Item, Record
from stepgrpo.eval.generate import (
    GenerationSettings,
    Generator,
    PredictionCache,
    batches,
    build_prompt,
    make_generator,
)
from stepgrpo.eval.report import (
    RESULT_FILE,
    RunResult,
    load_results,
    markdown_summary,
    paper_avg,
    write_json,
    write_text,
)

RULE_BASED = "rule-based: the answer is read from the final-answer section"


def cache_key(model: Path, data: Path, settings: GenerationSettings, backend: str) -> str:
    identity = {"model": str(model.resolve()), "data": str(data.resolve()), "backend": backend,
                **{k: v for k, v in asdict(settings).items() if k != "batch_size"}}
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:12]


def score_item(benchmark: Benchmark, item: Item, completion: str, fmt: str = "r1vl") -> Record:
    extracted = scoring.final_answer(completion, fmt)
    return {"id": item.id, "answer": item.answer, "extracted": extracted,
            "correct": bool(benchmark.correct(item, extracted)), "completion": completion, "meta": item.meta}


def _progress(enabled: bool) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                    disable=not enabled)


def generate_missing(items: list[Item], cache: PredictionCache, make: Callable[[], Generator],
                     settings: GenerationSettings, *, description: str, progress: bool = True) -> None:
    """Generate completions for the items the cache lacks, batch by batch, caching each one."""
    todo = [item for item in items if item.id not in cache]
    if not todo:
        return
    generator = make()
    with _progress(progress) as bar:
        task = bar.add_task(description, total=len(items), completed=len(items) - len(todo))
        for batch in batches(todo, settings.batch_size):
            completions = generator([build_prompt(item, settings.prompt_format) for item in batch])
            for item, completion in zip(batch, completions, strict=True):
                cache.append({"id": item.id, "completion": completion})
            bar.advance(task, len(batch))


def evaluate(benchmark_name: str, data: Path, model: Path, out: Path, *, settings: GenerationSettings | None = None,
             backend: str = "hf", limit: int | None = None, dtype: str | None = None,
             progress: bool = True) -> RunResult:
    """Evaluate `model` on a local copy of a benchmark and write its results under `out`."""
    settings = settings or GenerationSettings()
    benchmark = get_benchmark(benchmark_name)
    if not data.exists():
        raise FileNotFoundError(f"{data}: no such file or folder (expected {benchmark.layout})")
    items = benchmark.load(data)
    if limit is not None:
        items = items[:limit]
    folder = out / benchmark.name
    cache = PredictionCache(folder / f"cache-{cache_key(model, data, settings, backend)}.jsonl")
    generate_missing(items, cache, lambda: make_generator(backend, model, settings, dtype), settings,
                     description=benchmark.title, progress=progress)
    records = [score_item(benchmark, item, cache.get(item.id)["completion"], settings.prompt_format) for item in items]
    write_rows(folder / "predictions.jsonl", records)
    metrics = benchmark.summarize(records)
    judge = f"; official scoring differs: {benchmark.judge}" if benchmark.judge else ""
    result = RunResult(
        benchmark=benchmark.name, title=benchmark.title, model=str(model), data=str(data), primary=benchmark.primary,
        score=metrics[benchmark.primary], metrics=metrics, n_items=len(records),
        n_answered=sum(record["extracted"] is not None for record in records), scoring=RULE_BASED + judge,
        settings={**asdict(settings), "backend": backend, "limit": limit},
    )
    write_json(folder / RESULT_FILE, asdict(result))
    write_summary(out)
    return result


def write_summary(out: Path) -> list[RunResult]:
    results = load_results(out)
    write_text(out / "summary.md", markdown_summary(results))
    write_json(out / "summary.json", {"results": {r.benchmark: r.score for r in results}, "avg": paper_avg(results)})
    return results
