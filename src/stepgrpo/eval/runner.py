"""One evaluation run: check where it writes (`results_folder`), load a benchmark (checking it is
whole) and open every image, then generate what the cache lacks — or take completions made
elsewhere — score, and write results.

Layout of `out/`: `<benchmark>/cache-<key>.jsonl` (raw completions, appended per sample) with
`cache-<key>.json` beside it (what the key hashes — the weights' fingerprint, the benchmark
files' fingerprint, backend, generation settings — and the model and data paths), `<benchmark>/predictions.jsonl` (every
item scored), `<benchmark>/result.json`, and `summary.md` / `summary.json` over all benchmarks run
into the same folder.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from stepgrpo.data.io import write_rows
from stepgrpo.data.validate import check_rows_images
from stepgrpo.eval import scoring
from stepgrpo.eval.benchmarks import get_benchmark, load_benchmark
from stepgrpo.eval.benchmarks.base import Benchmark, BenchmarkDataError, Item, Record
from stepgrpo.eval.fingerprint import fingerprint
from stepgrpo.eval.generate import (
    GenerationSettings,
    Generator,
    PredictionCache,
    batches,
    build_prompt,
    make_generator,
)
from stepgrpo.eval.layouts import TABLE_SUFFIXES
from stepgrpo.eval.report import RunResult, avg_is_partial, load_results, markdown_summary, paper_avg, write_json
from stepgrpo.eval.results_folder import PREDICTIONS_FILE, RESULT_FILE, check_results_folder
from stepgrpo.outputs import write_text_atomic

RULE_BASED = "rule-based: the answer is read from the final-answer section"
DATA_HASHED = (*TABLE_SUFFIXES, ".txt")  # benchmark tables (and MME's question files), not its images
Log = Callable[[str], None]


def cache_identity(model: Path, data: Path, settings: GenerationSettings, backend: str) -> dict[str, Any]:
    """What a cached completion depends on: the model's weights (by fingerprint, not folder name),
    the benchmark files, the backend and every generation setting except the batch size."""
    return {"model": str(model.resolve()), "weights": fingerprint(model), "data": str(data.resolve()),
            "data_fingerprint": fingerprint(data, DATA_HASHED), "backend": backend,
            **{k: v for k, v in asdict(settings).items() if k != "batch_size"}}


def cache_key(model: Path, data: Path, settings: GenerationSettings, backend: str) -> str:
    return _key(cache_identity(model, data, settings, backend))


def _key(identity: dict[str, Any]) -> str:
    """The cache key: everything but where the model and data lie, so a copied folder finds its cache
    and new weights in the same folder never do."""
    keyed = {name: value for name, value in identity.items() if name not in ("model", "data")}
    return hashlib.sha256(json.dumps(keyed, sort_keys=True).encode()).hexdigest()[:12]


def open_cache(folder: Path, identity: dict[str, Any], log: Log) -> PredictionCache:
    """The cache for `identity`, recording what it was made from; says so when caches made from
    the same model folder with other weights (or other data) are there and left unused."""
    key = _key(identity)
    meta = folder / f"cache-{key}.json"
    for other in sorted(folder.glob("cache-*.json")):
        if other == meta:
            continue
        try:
            old = json.loads(other.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
        if old.get("model") == identity["model"]:
            changed = [name for name in ("weights", "data_fingerprint") if old.get(name) != identity[name]]
            if changed:
                log(f"not reusing {other.with_suffix('.jsonl').name}: made with other "
                    f"{' and '.join('weights' if n == 'weights' else 'benchmark files' for n in changed)} "
                    f"in {identity['model']}; generating afresh")
    if not meta.exists():
        write_json(meta, identity)
    cache = PredictionCache(folder / f"cache-{key}.jsonl")
    if len(cache):
        log(f"reusing {len(cache)} cached completion(s) from {cache.path} (same weights, data and settings)")
    return cache


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


def _limited(items: list[Item], reasons: list[str], limit: int | None) -> tuple[list[Item], list[str]]:
    if limit is None or limit >= len(items):
        return items, reasons
    return items[:limit], [*reasons, f"--limit {limit}: the first {limit} of {len(items)} items"]


def _benchmark(benchmark: Benchmark | str) -> Benchmark:
    return benchmark if isinstance(benchmark, Benchmark) else get_benchmark(benchmark)


def check_model_folder(model: Path) -> None:
    if not model.is_dir():
        raise FileNotFoundError(f"{model}: no such model folder")
    if not (model / "config.json").is_file():
        raise FileNotFoundError(f"{model}: not a model folder (no config.json)")


def checked_images(items: list[Item], *, skip_bad_rows: bool, progress: bool) -> tuple[list[Item], list[str]]:
    """Open and decode every item's image before the model loads. A bad one is an error naming the
    file, row and field, unless `skip_bad_rows`: then its item is left out and listed."""
    by_where = {(f"{item.where} (item {item.id!r})" if item.where else f"item {item.id!r}"): item for item in items}
    pairs = ((where, {item.image_field: item.image}) for where, item in by_where.items())
    problems = check_rows_images(pairs, len(items), description="checking images", progress=progress)
    if not problems:
        return items, []
    if not skip_bad_rows:
        shown = "; ".join(str(problem) for problem in problems[:3])
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise BenchmarkDataError(f"{len(problems)} of {len(items)} items have an image that cannot be read: "
                                 f"{shown}{more}; pass --skip-bad-rows to score the rest, marked partial")
    bad = {by_where[problem.where].id for problem in problems}
    kept = [item for item in items if item.id not in bad]
    if not kept:
        raise BenchmarkDataError(f"no item has a readable image: {problems[0]}")
    return kept, [str(problem) for problem in problems]


def evaluate(benchmark_name: Benchmark | str, data: Path, model: Path, out: Path, *,
             settings: GenerationSettings | None = None,
             backend: str = "hf", limit: int | None = None, dtype: str | None = None, progress: bool = True,
             allow_partial: bool = False, skip_bad_rows: bool = False, overwrite: bool = True,
             log: Log | None = None) -> RunResult:
    """Evaluate `model` on a local copy of a benchmark and write its results under `out`.

    Before the model loads: `out` is checked (`results_folder`; `overwrite=False`, the CLI's
    default, refuses a benchmark already scored there), then the benchmark and every image."""
    settings = settings or GenerationSettings()
    benchmark = _benchmark(benchmark_name)
    check_model_folder(model)
    check_results_folder(out, benchmark.name, inputs=[data, model], overwrite=overwrite)
    loaded = load_benchmark(benchmark, data, allow_partial=allow_partial)
    items, reasons = _limited(loaded.items, loaded.problems, limit)
    items, skipped = checked_images(items, skip_bad_rows=skip_bad_rows, progress=progress)
    if skipped:
        reasons = [*reasons, f"--skip-bad-rows: {len(skipped)} item(s) with unreadable images left out"]
    identity = cache_identity(model, data, settings, backend)
    cache = open_cache(out / benchmark.name, identity, log or (lambda _: None))
    generate_missing(items, cache, lambda: make_generator(backend, model, settings, dtype), settings,
                     description=benchmark.title, progress=progress)
    completions = {item.id: cache.get(item.id)["completion"] for item in items}
    return write_run(benchmark, items, completions, out, model=str(model), data=data, reasons=reasons,
                     fmt=settings.prompt_format, skipped=skipped,
                     settings={**asdict(settings), "backend": backend, "limit": limit, "weights": identity["weights"]})


def read_predictions(path: Path, items: list[Item], *, allow_partial: bool,
                     known: set[str] | None = None) -> tuple[dict[str, str], list[str]]:
    """`id` -> `completion` from a JSONL file of predictions made elsewhere for `items`; every id
    must be the benchmark's (`known`; those outside `items`, e.g. past --limit, are skipped). Every
    item needs one, unless `allow_partial` (then the rest are left out)."""
    wanted = {item.id for item in items}
    known = known if known is not None else wanted
    completions: dict[str, str] = {}
    skipped: set[str] = set()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as error:
        raise BenchmarkDataError(f"{path}: not UTF-8 text ({error.reason})") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise BenchmarkDataError(f"{where}: not valid JSON ({error.msg} at column {error.colno})") from None
        if not isinstance(row, dict):
            raise BenchmarkDataError(f"{where}: expected a JSON object with 'id' and 'completion'")
        if not isinstance(row.get("id"), str | int) or isinstance(row.get("id"), bool):
            raise BenchmarkDataError(f"{where}: field 'id' is missing or not a string")
        if not isinstance(row.get("completion"), str):
            raise BenchmarkDataError(f"{where}: field 'completion' is missing or not a string")
        item_id = str(row["id"])
        if item_id not in known:
            example = ", ".join(repr(i) for i in list(known)[:3])
            raise BenchmarkDataError(f"{where}: id {item_id!r} is not an item of this benchmark (ids look like "
                                     f"{example})")
        if item_id in completions or item_id in skipped:
            raise BenchmarkDataError(f"{where}: a second prediction for id {item_id!r}")
        if item_id in wanted:
            completions[item_id] = row["completion"]
        else:
            skipped.add(item_id)
    if not completions:
        raise BenchmarkDataError(f"{path}: no predictions in it (expected JSON lines with 'id' and 'completion')")
    missing = [item.id for item in items if item.id not in completions]
    if missing and not allow_partial:
        raise BenchmarkDataError(f"{path}: no prediction for {len(missing)} of {len(items)} items (e.g. "
                                 f"{missing[0]!r}); pass --allow-partial to score the rest, marked partial")
    reasons = [f"predictions for {len(completions)} of {len(items)} items"] if missing else []
    return completions, reasons


def score_predictions(benchmark_name: Benchmark | str, data: Path, predictions: Path, out: Path, *,
                      prompt_format: str = "r1vl", allow_partial: bool = False, limit: int | None = None,
                      overwrite: bool = True) -> RunResult:
    """Score completions made by another engine (vLLM, lmdeploy, an API) with this harness's rules,
    writing the same results as `evaluate` (`out` checked as there; images are not needed)."""
    benchmark = _benchmark(benchmark_name)
    if not predictions.is_file():
        raise FileNotFoundError(f"{predictions}: no such predictions file")
    check_results_folder(out, benchmark.name, inputs=[data, predictions], overwrite=overwrite)
    loaded = load_benchmark(benchmark, data, allow_partial=allow_partial)
    items, reasons = _limited(loaded.items, loaded.problems, limit)
    completions, missing = read_predictions(predictions, items, allow_partial=allow_partial,
                                            known={item.id for item in loaded.items})
    items = [item for item in items if item.id in completions]
    return write_run(benchmark, items, completions, out, model=f"predictions:{predictions}", data=data,
                     reasons=[*reasons, *missing], fmt=prompt_format,
                     settings={"predictions": str(predictions), "prompt_format": prompt_format, "limit": limit})


def write_run(benchmark: Benchmark, items: list[Item], completions: dict[str, str], out: Path, *, model: str,
              data: Path, reasons: list[str], fmt: str, settings: dict[str, Any],
              skipped: list[str] | None = None) -> RunResult:
    """Score every item's completion and write predictions.jsonl, result.json and the summary."""
    folder = out / benchmark.name
    records = [score_item(benchmark, item, completions[item.id], fmt) for item in items]
    write_rows(folder / PREDICTIONS_FILE, records)
    metrics = benchmark.summarize(records)
    judge = f"; official scoring differs: {benchmark.judge}" if benchmark.judge else ""
    result = RunResult(
        benchmark=benchmark.name, title=benchmark.title, model=model, data=str(data), primary=benchmark.primary,
        score=metrics[benchmark.primary], metrics=metrics, n_items=len(records),
        n_answered=sum(record["extracted"] is not None for record in records), scoring=RULE_BASED + judge,
        settings=settings, partial=bool(reasons), partial_reasons=reasons, skipped=skipped or [],
    )
    write_json(folder / RESULT_FILE, asdict(result))
    write_summary(out)
    return result


def write_summary(out: Path) -> list[RunResult]:
    results = load_results(out)
    write_text_atomic(out / "summary.md", markdown_summary(results))
    write_json(out / "summary.json", {"results": {r.benchmark: r.score for r in results}, "avg": paper_avg(results),
                                      "partial": [r.benchmark for r in results if r.partial],
                                      "avg_partial": paper_avg(results) is not None and avg_is_partial(results)})
    return results
