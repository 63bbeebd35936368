"""MathVerse (Zhang et al., 2024). HF `AI4Math/MathVerse`: `testmini.json` / `testmini.parquet`
(3,940 rows: 788 problems in five versions) and `testmini_text_only.*`, with images in
`images_version_1-4/`, `images_version_5/`, `images_version_6/`. Fields: `sample_index`,
`problem_index`, `problem_version` ("Text Dominant", "Text Lite", "Vision Intensive",
"Vision Dominant", "Vision Only", "Text Only"), `question` (multiple-choice options inline after
"Choices:"), `image` (a path, empty for text-only), `answer` (a letter for multiple choice),
`question_type` (`multi-choice` | `free-form`), `metadata`, `query_wo`, `query_cot`,
`question_for_eval`.
"""

from __future__ import annotations

from pathlib import Path

from stepgrpo.eval import scoring
from stepgrpo.eval.benchmarks.base import (
    Benchmark,
    Item,
    first_present,
    image_ref,
    parse_inline_choices,
    read_table,
    require,
    text,
    unique_ids,
)


def load(path: Path) -> list[Item]:
    roots = [path.parent if path.is_file() else path]
    items = []
    for row in read_table(path):
        question = text(row.data.get("question") or "")
        question_type = text(require(row, "question_type"))
        image = row.data.get("image")
        items.append(Item(
            id=text(first_present(row, "sample_index", "index")), question=question,
            answer=text(require(row, "answer")).strip(),
            image=image_ref(image, roots, row.where, "image") if image else None,
            choices=parse_inline_choices(question) if question_type == "multi-choice" else None,
            choices_in_question=True,
            meta={"question_type": question_type, "problem_version": row.data.get("problem_version")},
            where=row.where,
        ))
    return unique_ids(items)


def correct(item: Item, answer: str | None) -> bool:
    if item.meta["question_type"] == "multi-choice":
        return scoring.letter_correct(answer, item.answer, item.choices)
    return scoring.value_correct(answer, item.answer)


BENCHMARK = Benchmark(
    name="mathverse", title="MathVerse", load=load, correct=correct,
    summarize=lambda records: scoring.grouped_accuracy(records, "problem_version"), primary="accuracy",
    layout="AI4Math/MathVerse testmini.json (or .parquet) with the images_version_* folders beside it",
    judge="the official scorer (and VLMEvalKit's) asks GPT-4 to extract the answer and GPT-4 to judge it; "
          "ours reads the final-answer section and compares by rule",
)
