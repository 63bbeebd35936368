"""Where `stepgrpo eval` may write: the project's output policy (`stepgrpo.outputs`) applied to a
results folder, which, unlike other commands' outputs, is written into again and again: one
model's benchmarks gather in it (`<out>/<benchmark>/`, `summary.md`, `summary.json`), and its
prediction caches let a stopped run resume. Checked before the data or the model is loaded:

- The folder is absent, empty, or holds only what eval writes; anything else in it means it is
  not eval's, and it is refused even with `--overwrite` (eval never writes into a user's folder).
- A benchmark already scored into it (`result.json` or `predictions.jsonl` there) is an error
  naming the file, unless `--overwrite`, which replaces those two and the summary. The prediction
  cache is kept either way: it is keyed on the weights, so reusing it is always right.
- A cache without results (a run that stopped) is resumed without any flag.
- The folder is neither inside the benchmark data or the model folder (writing there would change
  their fingerprints and so the cache key) nor holds them, nor is it a place that cannot be written.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from stepgrpo.eval.registry import NAMES
from stepgrpo.outputs import OutputError, check_writable_place

RESULT_FILE = "result.json"
PREDICTIONS_FILE = "predictions.jsonl"
SUMMARY_FILES = ("summary.md", "summary.json")


def _names(pattern: str) -> re.Pattern[str]:
    """File names matching `pattern`, or what an atomic write of one leaves if killed before its
    rename (`.<name>.<anything>.tmp`)."""
    return re.compile(rf"(?:{pattern})|\.(?:{pattern})\..+\.tmp")


_TOP_FILES = _names(r"summary\.md|summary\.json")
_BENCHMARK_FILES = _names(r"result\.json|predictions\.jsonl|cache-[0-9a-f]{12}\.jsonl?")


def _own_file(entry: Path, names: re.Pattern[str]) -> bool:
    return entry.is_file() and not entry.is_symlink() and names.fullmatch(entry.name) is not None


def stranger(out: Path) -> Path | None:
    """The first entry of `out` that `stepgrpo eval` does not write, or None when it holds only
    eval's files: the summaries, and benchmark folders holding results and prediction caches."""
    for entry in sorted(out.iterdir()):
        if entry.name in NAMES and entry.is_dir() and not entry.is_symlink():
            inner = next((inner for inner in sorted(entry.iterdir()) if not _own_file(inner, _BENCHMARK_FILES)), None)
            if inner is not None:
                return inner
        elif not _own_file(entry, _TOP_FILES):
            return entry
    return None


def is_results_folder(out: Path) -> bool:
    """Whether `out` is a folder eval wrote (or an empty one), so eval may write into it."""
    return out.is_dir() and stranger(out) is None


def _check_inputs(out: Path, inputs: Iterable[Path]) -> None:
    target = out.resolve()
    for source in inputs:
        if not source.exists():
            continue
        resolved = source.resolve()
        if resolved == target or target in resolved.parents:
            raise OutputError(f"{out}: holds the input {source}; choose another --out")
        if source.is_dir() and resolved in target.parents:
            raise OutputError(f"{out}: lies inside the input folder {source}; choose another --out")


def check_results_folder(out: Path, benchmark: str, *, inputs: Iterable[Path] = (),
                         overwrite: bool = False) -> None:
    """Raise `OutputError` unless `benchmark`'s results may be written under `out` (module docstring)."""
    _check_inputs(out, inputs)
    if out.is_dir():
        entry = stranger(out)
        if entry is not None:
            raise OutputError(f"{out}: is a folder stepgrpo eval did not write (it holds {entry.relative_to(out)}); "
                              "refusing to write into it (even with --overwrite); choose another --out")
        done = [out / benchmark / name for name in (RESULT_FILE, PREDICTIONS_FILE) if (out / benchmark / name).exists()]
        if done and not overwrite:
            raise OutputError(f"{done[0]}: already exists (an earlier {benchmark} run into this folder); pass "
                              "--overwrite to replace its results (the prediction cache is kept and reused)")
    elif out.exists() or out.is_symlink():
        raise OutputError(f"{out}: exists and is not a folder; choose another --out")
    check_writable_place(out / benchmark / RESULT_FILE)
