"""The model card (`README.md`) that `train` and `sft` write into `output_dir/final`: the base model,
the data, the rewards and every setting that differs from its default, so the folder says what it is.

TRL's own card (`create_model_card`, written to `output_dir` at checkpoints) names the base model only
when it is a hub id, so for a local folder it reads "fine-tuned version of [None]", and it says nothing
about data, settings or rewards. This one is written with huggingface_hub's `ModelCard`, whose YAML
header (`base_model`, `library_name`, `tags`) is what the Hub reads.
"""

from __future__ import annotations

import dataclasses
import enum
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml
from huggingface_hub import ModelCard, ModelCardData

NOISE = {"logging_dir", "gradient_checkpointing", "gradient_checkpointing_kwargs"}
"""Fields that mirror others or are derived, left out of the settings list."""


def _plain(value: Any) -> Any:
    """`value` as YAML can write it (enums by value, a one-item list as its item)."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, list | tuple):
        items = [_plain(item) for item in value]
        return items[0] if len(items) == 1 else items
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def changed_settings(args: Any) -> dict[str, Any]:
    """The trainer arguments that differ from those of a config built with defaults only (on the
    same device settings, so values derived from them compare equal)."""
    same = ("output_dir", "use_cpu", "bf16", "activation_checkpointing")
    reference = type(args)(**{name: getattr(args, name) for name in same})
    changed = {}
    for field in dataclasses.fields(args):
        if field.init and field.name not in NOISE:
            value = _plain(getattr(args, field.name))
            if field.name in same[1:] or value != _plain(getattr(reference, field.name)):
                changed[field.name] = value
    return changed


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def base_model_id(model: str) -> str | None:
    """A hub id for the card's header: `model` itself when it is not a local folder, else the
    `base_model` of the folder's own card (an SFT warm-up's final folder names its base)."""
    local = Path(model).expanduser()
    if not local.exists():
        return model
    card = local / "README.md"
    if not card.is_file():
        return None
    try:
        base = ModelCard.load(card).data.base_model
    except (OSError, ValueError, yaml.YAMLError):  # someone's own README: it must not fail the save
        return None
    return base if isinstance(base, str) else None


def rewards_section(args: Any) -> str:
    weights = args.reward_weights or [1.0] * len(args.reward_funcs)
    lines = ["| reward | weight |", "|---|---|"]
    lines += [f"| `{name}` | {weight:g} |" for name, weight in zip(args.reward_funcs, weights, strict=True)]
    details = (f"StepRAR key-step weight α = {args.alpha}; advantages: `{args.advantage_mode}`; "
               f"EGSW: {args.egsw or 'off'}; KL β = {args.beta}; loss `{args.loss_type}`; "
               f"{args.num_generations} completions per prompt.")
    return "\n".join(lines) + "\n\n" + details


def model_card(trainer: Any, run: Any) -> ModelCard:
    """The card of the model `trainer` trained with the run settings `run` (a `RunConfig`)."""
    args = trainer.args
    grpo = hasattr(args, "reward_funcs")
    stage = ("StepGRPO reinforcement learning (`stepgrpo train`, on TRL's `GRPOTrainer`)" if grpo else
             "supervised warm-up on reference reasoning (`stepgrpo sft`, on TRL's `SFTTrainer`)")
    base_id = base_model_id(run.model)
    hub_data = [name for name in (run.train_data, run.eval_data) if name and not Path(name).expanduser().exists()]
    data = ModelCardData(library_name="transformers", base_model=base_id, datasets=hub_data or None,
                         tags=["stepgrpo", "trl", "grpo" if grpo else "sft"])
    rows = len(trainer.train_dataset) if trainer.train_dataset is not None else "?"
    eval_line = f"\n- Evaluation data: `{run.eval_data}`" if run.eval_data else ""
    run_settings = {key: value for key, value in run.model_dump().items()
                    if value != type(run).model_fields[key].default or key in ("model", "train_data")}
    settings = yaml.safe_dump({**run_settings, **changed_settings(args)}, sort_keys=True, allow_unicode=True)
    rewards = rewards_section(args) if grpo else "None: supervised loss on the reference completions."
    last = next((entry for entry in reversed(trainer.state.log_history) if "loss" in entry), {})
    metrics = ", ".join(f"{key} {value:.4g}" for key, value in last.items()
                        if key in ("reward", "kl", "loss", "mean_token_accuracy", "step_accuracy/answer_correct",
                                   "step_validity/valid") and isinstance(value, int | float))
    versions = ", ".join(f"{name} {_version(name)}" for name in ("stepgrpo", "trl", "transformers", "torch"))
    logs = " and the TensorBoard logs (`runs/`)" if "tensorboard" in (args.report_to or []) else ""
    content = f"""---
{data.to_yaml()}
---

# {Path(args.output_dir).name}

A fine-tuned version of `{run.model}`{f" (base: `{base_id}`)" if base_id and base_id != run.model else ""}, trained by
{stage}.

## Base model

`{run.model}`

## Data

- Training data: `{run.train_data}`, {rows} rows{f" (the first {run.limit})" if run.limit else ""}
- Prompt format: `{getattr(args, "reasoning_format", "?")}`{eval_line}

## Rewards

{rewards}

## Training

{trainer.state.global_step} optimizer steps. Last logged step: {metrics or "no metrics logged"}.
Metrics of every logged step: `trainer_state.json`{logs} in the output folder.

## Configuration

The settings that differ from the defaults (run settings and trainer arguments; the full trainer
arguments are in `training_args.bin`):

```yaml
{settings}```

## Versions

{versions}.
"""
    return ModelCard(content)


def write_model_card(folder: str | Path, trainer: Any, run: Any) -> Path:
    """Write the card as `folder/README.md` and return its path."""
    path = Path(folder) / "README.md"
    model_card(trainer, run).save(path)
    return path
