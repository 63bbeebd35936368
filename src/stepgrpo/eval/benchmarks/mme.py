"""MME (Fu et al., 2023): 14 yes/no subtasks, two questions per image (2,374 questions on 1,187
images). A subtask scores acc + acc+ (0-200); the paper's MME_sum adds all 14 (at most 2800).

Layouts read: the release `MME_Benchmark_release_version/` (one folder per subtask; each image
`NAME.jpg|png` has a `NAME.txt` with two lines `question<TAB>Yes|No`, beside it or, for the
subtasks with an `images/` folder, in `questions_answers_YN/`); HF `lmms-lab/MME` (the folder, or
`data/test-0000N-of-00004-*.parquet` — a pair's two questions can sit in different shards, so
pass the folder) with `question_id` (`subtask/NAME.png`), `question`, `answer`, `category`,
`image`; and VLMEvalKit's `MME.tsv` (`index`, `category`, `image_path`, `question`, `answer`,
the second question of a pair pointing at its mate's image by index).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from stepgrpo.eval import scoring
from stepgrpo.eval.benchmarks.base import (
    IMAGE_SUFFIXES,
    Benchmark,
    BenchmarkDataError,
    Item,
    Loaded,
    MissingImage,
    image_ref,
    is_missing,
    require,
    text,
    unique_ids,
)
from stepgrpo.eval.layouts import find_tables, read_tables

SUBTASKS = (*scoring.MME_PERCEPTION, *scoring.MME_COGNITION)
QUESTIONS = 2374
SPLITS = ("test", "MME")


def _item(item_id: str, subtask: str, key: str, question: str, answer: str, image, where: str) -> Item:
    if answer.strip().lower() not in ("yes", "no"):
        raise BenchmarkDataError(f"{where}: answer {answer!r} is not Yes or No")
    return Item(id=item_id, question=question.strip(), answer=answer.strip().capitalize(), image=image,
                meta={"subtask": subtask, "image_key": key}, where=where)


def _release_root(path: Path) -> Path | None:
    for root in (path, path / "MME_Benchmark_release_version"):
        if root.is_dir() and any((root / subtask).is_dir() for subtask in SUBTASKS):
            return root
    return None


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
            key = f"{subtask}/{image.name if image else txt.stem}"
            ref = image.resolve() if image else MissingImage(str(txt), f"{txt.stem}.*", str(images))
            lines = [line for line in txt.read_text(encoding="utf-8").splitlines() if line.strip()]
            for number, line in enumerate(lines):
                question, sep, answer = line.rpartition("\t")
                if not sep:
                    raise BenchmarkDataError(f"{txt}:{number + 1}: expected 'question<TAB>Yes|No'")
                items.append(_item(f"{key}#{number}", subtask, key, question, answer, ref, f"{txt}:{number + 1}"))
    return items


def _pair_key(row_data: dict, subtask: str) -> str:
    """The image both questions of a pair share: `question_id` (HF), `image_path` (TSV), else the image data."""
    for name in ("question_id", "image_path"):
        if not is_missing(row_data.get(name)):
            value = text(row_data[name]).replace("\\", "/")
            return value if "/" in value and value.split("/")[0] in SUBTASKS else f"{subtask}/{value.split('/')[-1]}"
    digest = hashlib.sha1(str(row_data.get("image")).encode()).hexdigest()[:16]
    return f"{subtask}/{digest}"


def load(path: Path) -> Loaded:
    root = _release_root(path) if path.is_dir() else None
    if root is not None:
        return Loaded(unique_ids(_load_release(root)))
    tables = find_tables(path, prefer=SPLITS)
    items, seen = [], {}
    for file, row in read_tables(tables):
        category = row.data.get("category")
        subtask = text(category) if not is_missing(category) else text(require(row, "question_id")).split("/")[0]
        if subtask not in SUBTASKS:
            raise BenchmarkDataError(f"{row.where}: field 'category' is {subtask!r}, not an MME subtask")
        key = _pair_key(row.data, subtask)
        number = seen[key] = seen.get(key, -1) + 1
        index = row.data.get("index")
        item_id = text(index) if not is_missing(index) else f"{key}#{number}"
        image = image_ref(require(row, "image"), [file.parent], row.where, "image")
        items.append(_item(item_id, subtask, key, text(require(row, "question")), text(require(row, "answer")),
                           image, row.where))
    return Loaded(unique_ids(items), tables.problems)


def check(items: list[Item]) -> list[str]:
    problems = []
    present = {item.meta["subtask"] for item in items}
    missing = [subtask for subtask in SUBTASKS if subtask not in present]
    if missing:
        problems.append(f"subtask(s) {', '.join(missing)} missing ({len(SUBTASKS) - len(missing)} of "
                        f"{len(SUBTASKS)} present)")
    pairs: dict[str, int] = {}
    for item in items:
        pairs[item.meta["image_key"]] = pairs.get(item.meta["image_key"], 0) + 1
    odd = sorted(key for key, count in pairs.items() if count != 2)
    if odd:
        problems.append(f"{len(odd)} image(s) without exactly two questions (e.g. {odd[0]}: {pairs[odd[0]]}) "
                        f"(acc+ needs both)")
    return problems


def correct(item: Item, answer: str | None) -> bool:
    return scoring.yes_no(answer) == item.answer.lower()


BENCHMARK = Benchmark(
    name="mme", title="MME", load=load, correct=correct, summarize=scoring.mme_summary, primary="total",
    layout="MME_Benchmark_release_version/ (one folder per subtask), lmms-lab/MME (the folder with its "
           "data/test-*.parquet shards), or VLMEvalKit's MME.tsv",
    sizes=(QUESTIONS,), check=check,
)
