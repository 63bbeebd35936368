"""The benchmark loaders, one per name of `stepgrpo.eval.registry`, and the completeness check
every run goes through (`load_benchmark`)."""

from __future__ import annotations

from pathlib import Path

from stepgrpo.eval.benchmarks import (
    chartmath,
    chartqa,
    dynamath,
    hallusionbench,
    mathverse,
    mathvision,
    mathvista,
    mme,
    mmstar,
)
from stepgrpo.eval.benchmarks.base import Benchmark, BenchmarkDataError, Item, Loaded, MissingImage, open_image
from stepgrpo.eval.registry import NAMES, PAPER_BENCHMARKS, canonical_name

_MODULES = (mathvista, mmstar, mathvision, chartqa, dynamath, hallusionbench, mathverse, mme, chartmath)
BENCHMARKS: dict[str, Benchmark] = {name: next(m.BENCHMARK for m in _MODULES if m.BENCHMARK.name == name)
                                    for name in NAMES}
if {m.BENCHMARK.name for m in _MODULES} != set(NAMES):  # pragma: no cover - a programming error
    raise RuntimeError("stepgrpo.eval.registry and the benchmark modules disagree")


def get_benchmark(name: str) -> Benchmark:
    return BENCHMARKS[canonical_name(name)]


def load_benchmark(benchmark: Benchmark | str, path: Path, *, allow_partial: bool = False) -> Loaded:
    """Read a benchmark and check it is the whole release. An empty one is an error; a partial
    one (missing shards, subtasks, pair mates, variants, images, or fewer rows) is an error too
    unless `allow_partial`, which drops the items without images and returns the reasons."""
    benchmark = get_benchmark(benchmark) if isinstance(benchmark, str) else benchmark
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder (expected {benchmark.layout})")
    loaded = benchmark.load(path)
    if not loaded.items:
        raise BenchmarkDataError(f"{path}: no {benchmark.title} questions in it (empty, or no row has the "
                                 f"released layout: {benchmark.layout})")
    problems = list(loaded.problems)
    missing = [item for item in loaded.items if isinstance(item.image, MissingImage)]
    if missing:
        problems.append(f"{len(missing)} image(s) missing, e.g. {missing[0].image}")
    if benchmark.sizes and len(loaded.items) not in benchmark.sizes:
        problems.append(f"{len(loaded.items)} questions, the release has "
                        f"{' or '.join(f'{size:,}' for size in benchmark.sizes)}")
    if benchmark.check is not None:
        problems.extend(benchmark.check(loaded.items))
    if problems and not allow_partial:
        raise BenchmarkDataError(f"{path}: not the whole {benchmark.title}: {'; '.join(problems)} "
                                 f"(pass --allow-partial to score it anyway, marked partial)")
    items = [item for item in loaded.items if not isinstance(item.image, MissingImage)]
    if not items:
        raise BenchmarkDataError(f"{path}: no {benchmark.title} question has its image: {missing[0].image}")
    return Loaded(items, problems)


__all__ = ["BENCHMARKS", "PAPER_BENCHMARKS", "Benchmark", "BenchmarkDataError", "Item", "Loaded", "get_benchmark",
           "load_benchmark", "open_image"]
