"""MME (Fu et al., 2023): 14 yes/no subtasks, two questions per image. The release
(`MME_Benchmark_release_version/`) has one folder per subtask; each image `NAME.jpg|png` has a
`NAME.txt` with two lines `question<TAB>Yes|No`, either beside it or, for the subtasks with an
`images/` folder, in `questions_answers_YN/`. HF `lmms-lab/MME` (parquet) has `question_id`
(`subtask/NAME.png`), `question`, `answer`, `category`, `image`. A subtask scores acc + acc+
(0-200); the paper's MME_sum adds all 14 (at most 2800).
"""

from __future__ import annotations

from pathlib import Path

from stepgrpo.eval import scoring
from stepgrpo.eval.benchmarks.base import (
    IMAGE_SUFFIXES,
    Benchmark,
    BenchmarkDataError,
    Item,
    image_ref,
    read_table,
    require,
    text,
    unique_ids,
)

SUBTASKS = (*scoring.MME_PERCEPTION, *scoring.MME_COGNITION)


def _item(subtask: str, image_name: str, number: int, question: str, answer: str, image, where: str) -> Item:
    if answer.strip().lower() not in ("yes", "no"):
        raise BenchmarkDataError(f"{where}: answer {answer!r} is not Yes or No")
    key = f"{subtask}/{image_name}"
    return Item(id=f"{key}#{number}", question=question.strip(), answer=answer.strip().capitalize(), image=image,
                meta={"subtask": subtask, "image_key": key}, where=where)


def _load_release(root: Path) -> list[Item]:
    items = []
    for subtask in SUBTASKS:
        folder = root / subtask
        if not folder.is_dir():
            continue
        images = folder / "images" if (folder / "images").is_dir() else folder
        answers = folder / "questions_answers_YN" if (folder / "questions_answers_YN").is_dir() else folder
        for txt in sorted(answers.glob("*.txt")):
            image = next((images / f"{txt.stem}{suffix}" for suffix in IMAGE_SUFFIXES
                          if (images / f"{txt.stem}{suffix}").is_file()), None)
            if image is None:
                raise BenchmarkDataError(f"{txt}: no image {txt.stem}.* in {images}")
            lines = [line for line in txt.read_text(encoding="utf-8").splitlines() if line.strip()]
            for number, line in enumerate(lines):
                question, sep, answer = line.rpartition("\t")
                if not sep:
                    raise BenchmarkDataError(f"{txt}:{number + 1}: expected 'question<TAB>Yes|No'")
                items.append(_item(subtask, image.name, number, question, answer, image, f"{txt}:{number + 1}"))
    return items


def load(path: Path) -> list[Item]:
    if path.is_dir() and any((path / subtask).is_dir() for subtask in SUBTASKS):
        items = _load_release(path)
    else:
        roots = [path.parent if path.is_file() else path]
        items, seen = [], {}
        for row in read_table(path):
            key = text(require(row, "question_id"))
            subtask = text(row.data.get("category") or key.split("/")[0])
            if subtask not in SUBTASKS:
                raise BenchmarkDataError(f"{row.where}: field 'category' is {subtask!r}, not an MME subtask")
            number = seen[key] = seen.get(key, -1) + 1
            image = image_ref(require(row, "image"), roots, row.where, "image")
            items.append(_item(subtask, key.split("/", 1)[-1], number, text(require(row, "question")),
                               text(require(row, "answer")), image, row.where))
    if not items:
        raise BenchmarkDataError(f"{path}: no MME questions found (expected subtask folders {', '.join(SUBTASKS[:3])}, "
                                 f"... or a table with question_id/question/answer/category/image)")
    return unique_ids(items)


def correct(item: Item, answer: str | None) -> bool:
    return scoring.yes_no(answer) == item.answer.lower()


BENCHMARK = Benchmark(
    name="mme", title="MME", load=load, correct=correct, summarize=scoring.mme_summary, primary="total",
    layout="MME_Benchmark_release_version/ (one folder per subtask) or lmms-lab/MME parquet", scale=2800.0,
)
