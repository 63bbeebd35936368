"""Training curves from trainer log histories (`trainer_state.json`), as PNG files for reports."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

History = Sequence[Mapping[str, Any]]

CURVES: dict[str, tuple[str, str]] = {
    # file stem: (log key, axis title)
    "reward": ("reward", "total reward (what each variant optimises)"),
    "train_accuracy": ("rewards/outcome_reward/mean", "answer accuracy on training rollouts"),
    "train_validity": ("rewards/step_validity_reward/mean", "reasoning validity on training rollouts"),
    "length": ("completions/mean_length", "mean completion length (tokens)"),
}


def series(history: History, key: str) -> tuple[list[int], list[float]]:
    """(steps, values) of one logged metric; entries without it (e.g. the final summary) are skipped."""
    points = [(entry["step"], float(entry[key])) for entry in history if key in entry and "step" in entry]
    return [step for step, _ in points], [value for _, value in points]


def smooth(values: Sequence[float], window: int) -> list[float]:
    """Trailing moving average: a GRPO batch is a handful of prompts, so single steps are noisy."""
    out = []
    for index in range(len(values)):
        chunk = values[max(0, index - window + 1): index + 1]
        out.append(sum(chunk) / len(chunk))
    return out


def band(histories: Sequence[History], key: str, window: int) -> tuple[list[int], list[float], list[float]]:
    """(steps, mean, std) of one metric over runs (e.g. RL seeds), each run smoothed first, on the steps every
    run logged; the std is 0 for a single run."""
    runs = [series(history, key) for history in histories]
    runs = [dict(zip(steps, smooth(values, window), strict=True)) for steps, values in runs if steps]
    if not runs:
        return [], [], []
    steps = sorted(set.intersection(*(set(run) for run in runs)))
    mean = [statistics.fmean(run[step] for run in runs) for step in steps]
    spread = [statistics.stdev([run[step] for run in runs]) if len(runs) > 1 else 0.0 for step in steps]
    return steps, mean, spread


def plot_curves(runs: Mapping[str, Sequence[History]], out: Path, window: int = 5, prefix: str = "curve",
                curves: Mapping[str, tuple[str, str]] = CURVES) -> list[Path]:
    """One PNG per metric in `curves` that some run logged: one line per label (its runs' mean, with a ±1 std
    band where a label has several runs)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    for stem, (key, title) in curves.items():
        lines = {label: (len(histories), band(histories, key, window)) for label, histories in runs.items()}
        lines = {label: line for label, line in lines.items() if line[1][0]}
        if not lines:
            continue
        figure, axis = plt.subplots(figsize=(6, 3.6))
        for label, (count, (steps, mean, spread)) in lines.items():
            axis.plot(steps, mean, label=label if count == 1 else f"{label} ({count} seeds)")
            if count > 1:
                axis.fill_between(steps, [m - s for m, s in zip(mean, spread, strict=True)],
                                  [m + s for m, s in zip(mean, spread, strict=True)], alpha=0.2)
        several = any(count > 1 for count, _ in lines.values())
        axis.set_xlabel("RL step")
        axis.set_title(f"{title}, moving average of {window}" + (", ±1 std over seeds" if several else ""),
                       fontsize=9)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7)
        figure.tight_layout()
        path = out / f"{prefix}-{stem}.png"
        figure.savefig(path, dpi=110)
        plt.close(figure)
        written.append(path)
    return written
