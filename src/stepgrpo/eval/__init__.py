"""Offline evaluation on the eight benchmarks of R1-VL's Table 1 (and the synthetic ChartMath):
loaders for each benchmark's released files, its own rule-based scoring applied to the
final-answer section, batched generation with a resumable per-sample cache, and result tables.

    from stepgrpo.eval import evaluate
    result = evaluate("mathvista", Path("MathVista/testmini.parquet"), Path("my-model"), Path("runs/eval"))
"""

from stepgrpo.eval.benchmarks import BENCHMARKS, PAPER_BENCHMARKS, get_benchmark
from stepgrpo.eval.generate import GenerationSettings
from stepgrpo.eval.report import RunResult, paper_avg
from stepgrpo.eval.runner import evaluate

__all__ = ["BENCHMARKS", "PAPER_BENCHMARKS", "GenerationSettings", "RunResult", "evaluate", "get_benchmark",
           "paper_avg"]
