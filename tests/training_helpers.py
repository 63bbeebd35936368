"""Synthetic rows and a reward that ties each value to its row and completion, for the trainer
tests and the distributed worker (tests/distributed_worker.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from PIL import Image

from stepgrpo.rewards.trl import completion_text


def write_rows(folder: Path, count: int = 8, image: bool = True, reasoning: bool = False) -> Path:
    """`rows.jsonl` with questions "Q<i>: ..." (so a prompt names its row) and image files."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for index in range(count):
        a, b = index + 2, 3 * index + 1
        row: dict[str, Any] = {"question": f"Q{index}: what is {a} + {b}?", "solution": str(a + b),
                               "key_steps": {"Steps": [[f"{a} + {b} = {a + b}", f"{a}+{b}={a + b}"], "add"]}}
        if image:
            Image.new("RGB", (56, 56), (30 * index % 256, 90, 160)).save(folder / f"img{index}.png")
            row["image_path"] = f"img{index}.png"
        if reasoning:
            row["reasoning"] = (f"### Image Description:\nA chart.\n### Rationales:\nAdd.\n### Let's think step by "
                                f"step.\n### Step 1:\n{a} + {b} = {a + b}\n### The final answer is: {a + b}")
        lines.append(json.dumps(row))
    path = folder / "rows.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def question_index(prompt: Any) -> int:
    return int(re.search(r"Q(\d+):", json.dumps(prompt, default=str)).group(1))


def expected_row_reward(prompt: Any, completion: Any) -> float:
    """What `row_reward` must give a (prompt, completion) pair if nothing was misaligned."""
    return 10.0 * question_index(prompt) + len(completion_text(completion)) % 7


def row_reward(prompts: list[Any], completions: list[Any], row: list[str], solution: list[str],
               **kwargs: Any) -> list[float]:
    """Depends on the row (its columns must belong to the prompt) and the completion (so groups
    differ); asserts the dataset columns arrive aligned with the prompts."""
    for prompt, where, truth in zip(prompts, row, solution, strict=True):
        index = int(where.rsplit(":", 1)[1]) - 1
        assert question_index(prompt) == index, (prompt, where)
        assert f"what is {index + 2} + {3 * index + 1}?" in json.dumps(prompt, default=str)
        assert truth == str(4 * index + 3)
    return [expected_row_reward(p, c) for p, c in zip(prompts, completions, strict=True)]
