"""What a training stage prints: one progress bar, and per logged step one compact metrics line
instead of transformers' raw log dict; completion tables with shortened prompts.

transformers prints every log dict (`ProgressCallback.on_log` above its tqdm bar, or
`PrinterCallback` with `disable_tqdm`): for GRPO some 30 keys a step. `use_console` swaps those two
callbacks for subclasses that keep their bars and print the line below; the full dicts still go to
the run's logs (TensorBoard under `output_dir/runs/`, `trainer_state.json`) and to this module's
logger at INFO level. A notebook's progress table is left as it is.

    step 2/4 · reward 0.412 · accuracy 0.25 · validity 0.50 · KL 0.0012 · loss 0.0031 · 1.31 s/step
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

from transformers import PrinterCallback, ProgressCallback, TrainerCallback

logger = logging.getLogger(__name__)

METRICS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    # label, log keys in order of preference (the first one logged is shown), format
    ("reward", ("reward",), ".3f"),
    ("accuracy", ("step_accuracy/answer_correct", "rewards/outcome_reward/mean"), ".2f"),
    ("validity", ("step_validity/valid", "rewards/step_validity_reward/mean"), ".2f"),
    ("KL", ("kl",), ".4f"),
    ("loss", ("loss",), ".4f"),
    ("token accuracy", ("mean_token_accuracy",), ".3f"),  # SFT
)
PROMPT_CHARS = 60
"""Characters of a prompt that a completion table shows: the end of its last message, where the question is."""
SAME_PROMPT = "〃"
"""Shown for a row whose prompt is the row above's (the completions of a group follow each other)."""


class MetricsLine:
    """Formats a trainer log dict as one line; the step time is the wall time between two logged
    steps divided by the optimizer steps between them (generation included)."""

    def __init__(self) -> None:
        self._last: tuple[int, float] | None = None

    def start(self, step: int) -> None:
        self._last = (step, time.perf_counter())

    def format(self, logs: Mapping[str, Any], step: int, max_steps: int) -> str:
        if "train_runtime" in logs:  # the summary after the last step
            return f"done: {step} steps in {float(logs['train_runtime']):.1f} s"
        prefix, values = ("eval ", {k[5:]: v for k, v in logs.items() if k.startswith("eval_")}) \
            if any(k.startswith("eval_") for k in logs) else ("", logs)
        parts = [f"{prefix}step {step}/{max_steps}"]
        for label, keys, spec in METRICS:
            key = next((k for k in keys if isinstance(values.get(k), int | float)), None)
            if key is not None:
                parts.append(f"{label} {values[key]:{spec}}")
        now = time.perf_counter()
        if not prefix and self._last is not None and step > self._last[0]:
            parts.append(f"{(now - self._last[1]) / (step - self._last[0]):.2f} s/step")
        if not prefix:
            self._last = (step, now)
        return " · ".join(parts)


class MetricsProgressCallback(ProgressCallback):
    """transformers' progress bars, with a compact metrics line per log instead of the raw dict."""

    def __init__(self) -> None:
        super().__init__()
        self.line = MetricsLine()

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        super().on_train_begin(args, state, control, **kwargs)
        self.line.start(state.global_step)

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        if state.is_world_process_zero and logs:
            logger.info("step %d: %s", state.global_step, logs)
            if self.training_bar is not None:
                self.training_bar.write(self.line.format(logs, state.global_step, state.max_steps))


class MetricsPrinterCallback(PrinterCallback):
    """`PrinterCallback` (used with `disable_tqdm`), printing the compact line instead of the raw dict."""

    def __init__(self) -> None:
        self.line = MetricsLine()

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.line.start(state.global_step)

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        if state.is_local_process_zero and logs:
            logger.info("step %d: %s", state.global_step, logs)
            print(self.line.format(logs, state.global_step, state.max_steps), flush=True)


def use_console(trainer: Any) -> Any:
    """Replace `trainer`'s log printer (`ProgressCallback` or `PrinterCallback`) with ours; returns `trainer`."""
    handler = trainer.callback_handler
    replacements: list[TrainerCallback] = []
    for callback in list(handler.callbacks):
        if type(callback) in (ProgressCallback, MetricsProgressCallback):
            replacements.append(MetricsProgressCallback())
        elif type(callback) in (PrinterCallback, MetricsPrinterCallback):
            replacements.append(MetricsPrinterCallback())
        else:
            continue
        handler.remove_callback(callback)
    for callback in replacements:
        handler.add_callback(callback)
    return trainer


def prompt_summary(prompt: Any, chars: int = PROMPT_CHARS) -> str:
    """The end of `prompt` (text or chat messages: its last message) on one line, at most `chars`
    characters after "…", its images as [IMAGE]: the instruction template is the same in every row
    and the question ends the prompt."""
    images, text = 0, prompt
    if not isinstance(prompt, str):
        last = prompt[-1] if isinstance(prompt, Sequence) and prompt else {}
        content = last.get("content", "") if isinstance(last, Mapping) else str(last)
        if isinstance(content, str):
            text = content
        else:
            blocks = [block for block in content if isinstance(block, Mapping)]
            images = sum(block.get("type") == "image" for block in blocks)
            text = " ".join(str(block["text"]) for block in blocks if isinstance(block.get("text"), str))
    text = " ".join(str(text).split())
    if len(text) > chars:
        text = "…" + text[-chars:]
    return "[IMAGE] " * images + text


def print_completion_table(logs: Mapping[str, Any], step: int, num_samples: int | None) -> None:
    """TRL's completions table (`print_prompt_completions_sample`) of the last rollout, each prompt
shortened to `prompt_summary` and shown once per group."""
    from trl.trainer.utils import print_prompt_completions_sample

    prompts = [prompt_summary(prompt) for prompt in logs["prompt"]]
    if num_samples is None or num_samples >= len(prompts):  # rows in order: a group's prompt once
        prompts = [prompt if index == 0 or prompt != prompts[index - 1] else SAME_PROMPT
                   for index, prompt in enumerate(prompts)]
    print_prompt_completions_sample(prompts, list(logs["completion"]),
                                    {name: list(values) for name, values in logs["rewards"].items()},
                                    list(logs["advantages"]), step, num_samples,
                                    extra={name: list(values) for name, values in logs["extra"].items()})
