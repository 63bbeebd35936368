"""Training curves from trainer log histories (`trainer_state.json`), as PNG files for reports."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

CURVES: dict[str, tuple[str, str]] = {
    # file stem: (log key, axis title)
    "reward": ("reward", "total reward (what each variant optimises)"),
    "train_accuracy": ("rewards/outcome_reward/mean", "answer accuracy on training rollouts"),
    "train_validity": ("rewards/step_validity_reward/mean", "reasoning validity on training rollouts"),
    "length": ("completions/mean_length", "mean completion length (tokens)"),
}


def series(history: Sequence[Mapping[str, Any]], key: str) -> tuple[list[int], list[float]]:
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


def plot_curves(histories: Mapping[str, Sequence[Mapping[str, Any]]], out: Path, window: int = 5,
                prefix: str = "curve") -> list[Path]:
    """One PNG per metric in `CURVES` that some run logged, one line per run (label → history)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    for stem, (key, title) in CURVES.items():
        lines = {label: series(history, key) for label, history in histories.items()}
        lines = {label: line for label, line in lines.items() if line[0]}
        if not lines:
            continue
        figure, axis = plt.subplots(figsize=(6, 3.6))
        for label, (steps, values) in lines.items():
            axis.plot(steps, smooth(values, window), label=label)
        axis.set_xlabel("RL step")
        axis.set_title(f"{title}, moving average of {window}", fontsize=10)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
        figure.tight_layout()
        path = out / f"{prefix}-{stem}.png"
        figure.savefig(path, dpi=110)
        plt.close(figure)
        written.append(path)
    return written
