"""The one list of benchmark names: `stepgrpo eval --help`, docs/eval.md, the loaders and R1-VL's
AVG all read it. Kept free of heavy imports so the CLI can print its help without loading models."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BenchmarkInfo:
    name: str
    title: str
    in_paper_avg: bool
    """A column of R1-VL's Table 1, so part of its AVG."""
    scale: float = 100.0
    """The top of the headline metric; AVG rescales it to 0-100 (MME's summed score runs to 2800)."""
    aliases: tuple[str, ...] = ()


REGISTRY: tuple[BenchmarkInfo, ...] = (
    # R1-VL Table 1, in its column order.
    BenchmarkInfo("mathvista", "MathVista", True),
    BenchmarkInfo("mmstar", "MMStar", True),
    BenchmarkInfo("mathvision", "Math-Vision", True, aliases=("math-v", "math-vision", "math_v")),
    BenchmarkInfo("chartqa", "ChartQA", True),
    BenchmarkInfo("dynamath", "DynaMath", True),
    BenchmarkInfo("hallusionbench", "HallusionBench", True, aliases=("hallbench", "hallusion")),
    BenchmarkInfo("mathverse", "MathVerse", True),
    BenchmarkInfo("mme", "MME", True, scale=2800.0, aliases=("mme_sum",)),
    # The project's own synthetic task.
    BenchmarkInfo("chartmath", "ChartMath (synthetic)", False),
)

BY_NAME = {info.name: info for info in REGISTRY}
NAMES = tuple(BY_NAME)
PAPER_BENCHMARKS = tuple(info.name for info in REGISTRY if info.in_paper_avg)
"""The columns of R1-VL's Table 1, whose AVG is their mean with MME rescaled to 0-100."""
ALIASES = {alias: info.name for info in REGISTRY for alias in info.aliases}


def canonical_name(name: str) -> str:
    """The registered name for `name` (any case, or an alias); ValueError naming the choices otherwise."""
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    if key not in BY_NAME:
        raise ValueError(f"unknown benchmark {name!r}; choose from {', '.join(NAMES)}")
    return key
