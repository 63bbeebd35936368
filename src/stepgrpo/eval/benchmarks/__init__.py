"""The benchmark registry: the paper's eight (R1-VL Table 1, in its column order) and ChartMath."""

from __future__ import annotations

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
from stepgrpo.eval.benchmarks.base import Benchmark, BenchmarkDataError, Item, open_image

BENCHMARKS: dict[str, Benchmark] = {module.BENCHMARK.name: module.BENCHMARK for module in (
    mathvista, mmstar, mathvision, chartqa, dynamath, hallusionbench, mathverse, mme, chartmath)}

PAPER_BENCHMARKS = ("mathvista", "mmstar", "mathvision", "chartqa", "dynamath", "hallusionbench", "mathverse", "mme")
"""The columns of R1-VL's Table 1, whose AVG is the mean of these with MME rescaled to 0-100."""

ALIASES = {"math-v": "mathvision", "math-vision": "mathvision", "hallbench": "hallusionbench", "mme_sum": "mme"}


def get_benchmark(name: str) -> Benchmark:
    key = ALIASES.get(name.lower(), name.lower())
    try:
        return BENCHMARKS[key]
    except KeyError:
        raise ValueError(f"unknown benchmark {name!r}; choose from {', '.join(BENCHMARKS)}") from None


__all__ = ["BENCHMARKS", "PAPER_BENCHMARKS", "Benchmark", "BenchmarkDataError", "Item", "get_benchmark", "open_image"]
