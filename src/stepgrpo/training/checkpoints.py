"""Which checkpoint a run resumes from, and when a fresh run may start in an output folder.

transformers' `Trainer._save_checkpoint` writes, in order: the model weights, the optimizer,
scheduler and RNG states, and `trainer_state.json` last. A run killed during a save leaves a
`checkpoint-N` folder that is empty, model-only or without a readable `trainer_state.json`;
`get_last_checkpoint` would still pick it (it looks at names only) and the resume then fails. So a
checkpoint counts as complete only when its `trainer_state.json` parses, names step N, and its
weights are all there; `--resume` takes the newest complete one and says why newer ones were
skipped. A fresh run into a folder that already holds checkpoints is refused: it would overwrite
some of them and leave the old run's later ones behind for a later `--resume` to continue.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from stepgrpo.training.config import ConfigError

CHECKPOINT_NAME = re.compile(r"^checkpoint-(\d+)$")
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "adapter_model.safetensors", "adapter_model.bin")
WEIGHT_INDEXES = ("model.safetensors.index.json", "pytorch_model.bin.index.json")


class CheckpointError(ConfigError):
    """No usable checkpoint, or a run that would mix with an earlier one; reported before any model loads."""


def checkpoints(output_dir: str | Path) -> list[tuple[int, Path]]:
    """`(step, folder)` of every `checkpoint-N` folder in `output_dir`, newest first."""
    output_dir = Path(output_dir)
    if not output_dir.is_dir():
        return []
    found = [(int(match.group(1)), entry) for entry in output_dir.iterdir()
             if entry.is_dir() and (match := CHECKPOINT_NAME.match(entry.name))]
    return sorted(found, reverse=True)


def checkpoint_problem(folder: Path, step: int | None = None) -> str | None:
    """Why `folder` is not a complete checkpoint (interrupted save, missing weights), or None."""
    if not folder.is_dir():
        return "no such folder"
    if not any(folder.iterdir()):
        return "empty (the save was interrupted)"
    state = folder / "trainer_state.json"
    if not state.is_file():
        return "no trainer_state.json, which is written last (the save was interrupted)"
    try:
        saved_step = json.loads(state.read_text(encoding="utf-8"))["global_step"]
    except (OSError, ValueError, KeyError, TypeError):
        return "trainer_state.json is cut short or unreadable (the save was interrupted)"
    if step is not None and saved_step != step:
        return f"trainer_state.json says step {saved_step}, the folder name says {step}"
    if any((folder / name).is_file() and (folder / name).stat().st_size > 0 for name in WEIGHT_FILES):
        return None
    for name in WEIGHT_INDEXES:
        index = folder / name
        if index.is_file():
            try:
                shards = set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values())
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                return f"{name} is unreadable"
            missing = sorted(shard for shard in shards if not (folder / shard).is_file())
            return f"weight shard {missing[0]} is missing" if missing else None
    if any(entry.name.startswith(("global_step", "pytorch_model_fsdp")) for entry in folder.iterdir()):
        return None  # DeepSpeed and sharded FSDP saves keep the weights in their own folders
    return "no model weights"


@dataclass
class CheckpointChoice:
    path: Path
    skipped: list[tuple[Path, str]] = field(default_factory=list)

    def describe(self) -> str:
        lines = [f"resuming from {self.path}"]
        lines += [f"  skipped {path.name}: {reason}" for path, reason in self.skipped]
        return "\n".join(lines)


def choose_checkpoint(output_dir: str | Path, requested: str | Path | None = None) -> CheckpointChoice:
    """The checkpoint to resume from: `requested` (a folder, or a name inside `output_dir`) if given
    and complete, else the newest complete `checkpoint-N` in `output_dir`."""
    output_dir = Path(output_dir)
    if requested is not None:
        path = Path(requested)
        if not path.is_dir() and (output_dir / path).is_dir():
            path = output_dir / path
        if not path.is_dir():
            raise CheckpointError(f"--resume {requested}: no such checkpoint folder")
        match = CHECKPOINT_NAME.match(path.name)
        problem = checkpoint_problem(path, int(match.group(1)) if match else None)
        if problem:
            raise CheckpointError(f"--resume {path}: not a complete checkpoint: {problem}")
        return CheckpointChoice(path)
    skipped: list[tuple[Path, str]] = []
    for step, folder in checkpoints(output_dir):
        problem = checkpoint_problem(folder, step)
        if problem is None:
            return CheckpointChoice(folder, skipped)
        skipped.append((folder, problem))
    if skipped:
        reasons = "; ".join(f"{path.name}: {reason}" for path, reason in skipped)
        raise CheckpointError(f"--resume: no complete checkpoint in {output_dir} ({reasons})")
    raise CheckpointError(f"--resume: no checkpoint-N folder in {output_dir} (set save_steps to write them)")


def old_run_folders(output_dir: str | Path, overwrite: bool = False) -> list[Path]:
    """For a fresh run: refuse a folder holding checkpoints unless `overwrite`; with it, return those
    checkpoints (and the old `final/`), which `remove_old_run` deletes once the new run's data and
    model have passed their checks, so that no later `--resume` continues the old run."""
    found = [folder for _, folder in checkpoints(output_dir)]
    if not found:
        return []
    if not overwrite:
        names = ", ".join(folder.name for folder in found[:3]) + (", ..." if len(found) > 3 else "")
        raise CheckpointError(f"{output_dir}: holds checkpoints of an earlier run ({names}); pass --resume to "
                              "continue it, --overwrite to start over (deletes them), or another output_dir")
    final = Path(output_dir) / "final"
    return [*found, *([final] if final.is_dir() else [])]


def refuse_old_final(output_dir: str | Path, resume: bool | str | Path, overwrite: bool) -> None:
    """The commands' guard for a fresh run into a folder whose `final/` holds an earlier run's model
    (runs saved without checkpoints leave only that): refused unless `--resume` or `--overwrite`."""
    final = Path(output_dir) / "final"
    if not resume and not overwrite and final.exists():
        raise CheckpointError(f"{final}: holds the model of an earlier run; pass --overwrite to replace it, "
                              "or another output_dir")


def remove_old_run(folders: list[Path]) -> None:
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)
