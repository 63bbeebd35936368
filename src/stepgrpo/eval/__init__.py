"""Offline evaluation on the eight benchmarks of R1-VL's Table 1 (and the synthetic ChartMath):
loaders for each benchmark's published layouts with a completeness check, its own rule-based
scoring applied to the final-answer section, batched generation with a resumable per-sample cache
keyed on the weights, scoring of completions made elsewhere, and result tables.

    from stepgrpo.eval import evaluate
    result = evaluate("mathvista", Path("MathVista"), Path("my-model"), Path("runs/eval"))
"""

from stepgrpo.eval.benchmarks import BENCHMARKS, get_benchmark, load_benchmark
from stepgrpo.eval.generate import GenerationSettings
from stepgrpo.eval.registry import NAMES, PAPER_BENCHMARKS
from stepgrpo.eval.report import RunResult, paper_avg
from stepgrpo.eval.runner import evaluate, score_predictions

__all__ = ["BENCHMARKS", "NAMES", "PAPER_BENCHMARKS", "GenerationSettings", "RunResult", "evaluate", "get_benchmark",
           "load_benchmark", "paper_avg", "score_predictions"]
