"""HallusionBench (Guan et al., 2024): the 951 questions with a figure (VLMEvalKit's set, which
produced the paper's number; questions with `visual_input` "0" are skipped).

Layouts read: the GitHub `HallusionBench.json` — a list of `{"category": "VD"|"VS",
"subcategory", "visual_input", "set_id", "figure_id", "question_id", "question", "gt_answer":
"1"|"0", "filename"}` — with `hallusion_bench.zip` unzipped beside it; `filename` is
`./hallusion_bench/VD/illusion/0_0.png` in the paper-era JSON and `./VD/illusion/0_0.png` in the
current one, and both resolve against the JSON's folder and its `hallusion_bench/`. HF
`lmms-lab/HallusionBench` (`data/image-*.parquet`: the same fields plus `image`). VLMEvalKit's
`HallusionBench.tsv`: `index` (`<category>_<subcategory>_<visual>_<set>_<figure>_<question>`),
`category`, `l2-category`, `question`, `answer` ("Yes"/"No").

Prompt: as in R1-VL's harness, the yes/no question is asked with the choices "A: Yes / B: No".
Scoring reads the final answer as an option (by letter or text) or as a plain yes/no, instead
of that harness's rule ("Yes" if the letter 'a' appears anywhere in the response).
"""

from __future__ import annotations

from pathlib import Path

from stepgrpo.data.io import Row
from stepgrpo.eval import scoring
from stepgrpo.eval.benchmarks.base import (
    Benchmark,
    BenchmarkDataError,
    Item,
    Loaded,
    first_present,
    image_ref,
    is_missing,
    require,
    text,
    unique_ids,
)
from stepgrpo.eval.layouts import find_tables, read_tables

CHOICES = {"A": "Yes", "B": "No"}
KEYS = ("category", "subcategory", "set_id", "figure_id", "question_id")
SPLITS = ("HallusionBench", "image")


def _keys(row: Row) -> dict[str, str]:
    if all(not is_missing(row.data.get(key)) for key in KEYS):
        return {key: text(row.data[key]) for key in KEYS}
    index = text(require(row, "index"))  # VLMEvalKit: category_subcategory_visual_set_figure_question
    parts = index.split("_")
    if len(parts) < 6:
        raise BenchmarkDataError(f"{row.where}: field 'index' is {index!r}; expected "
                                 f"<category>_<subcategory>_<visual>_<set>_<figure>_<question>")
    subcategory = text(row.data.get("l2-category") or row.data.get("subcategory") or parts[1])
    return {"category": text(row.data.get("category") or parts[0]), "subcategory": subcategory,
            "set_id": parts[3], "figure_id": parts[4], "question_id": parts[5]}


def _truth(row: Row) -> str:
    truth = text(first_present(row, "gt_answer", "answer")).strip()
    said = {"1": "Yes", "0": "No", "yes": "Yes", "no": "No"}.get(truth.lower())
    if said is None:
        raise BenchmarkDataError(f"{row.where}: reference answer is {truth!r}, expected '1' / '0' (or Yes / No)")
    return said


def load(path: Path) -> Loaded:
    tables = find_tables(path, prefer=SPLITS)
    items = []
    for file, row in read_tables(tables):
        image = row.data.get("image")
        if is_missing(image) or image == {"bytes": None, "path": None}:
            image = row.data.get("filename")
        if str(row.data.get("visual_input")) == "0" or is_missing(image):
            continue
        meta = _keys(row)
        item_id = text(row.data["index"]) if not is_missing(row.data.get("index")) else "_".join(
            meta[key] for key in KEYS)
        items.append(Item(
            id=item_id, question=text(require(row, "question")), answer=_truth(row),
            image=image_ref(image, [file.parent, file.parent / "hallusion_bench"], row.where, "filename"),
            choices=dict(CHOICES), meta=meta, where=row.where,
            image_field="image" if image is row.data.get("image") else "filename",
        ))
    return Loaded(unique_ids(items), tables.problems)


def correct(item: Item, answer: str | None) -> bool:
    letter = scoring.choose_option(answer, CHOICES)
    said = CHOICES[letter].lower() if letter else scoring.yes_no(answer)
    return said == item.answer.lower()


BENCHMARK = Benchmark(
    name="hallusionbench", title="HallusionBench", load=load, correct=correct,
    summarize=scoring.hallusion_summary, primary="overall",
    layout="HallusionBench.json with hallusion_bench/ (the unzipped images) beside it, lmms-lab/HallusionBench "
           "(the folder, data/image-*.parquet), or VLMEvalKit's HallusionBench.tsv",
    judge="the official scorer asks GPT-4 whether each response agrees with the reference; VLMEvalKit "
          "uses a yes/no rule with a GPT fallback; ours is rule-based",
    sizes=(951,),
)
