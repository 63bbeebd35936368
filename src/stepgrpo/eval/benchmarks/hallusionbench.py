"""HallusionBench (Guan et al., 2024). The GitHub release has `HallusionBench.json`, a list of
`{"category": "VD"|"VS", "subcategory", "visual_input": "0"|"1"|"2", "set_id", "figure_id",
"sample_note", "question_id", "question", "gt_answer_details", "gt_answer": "1"|"0",
"filename": "./hallusion_bench/VD/illusion/0_0.png" | null}`, with the images unzipped into
`hallusion_bench/` beside it. Questions without a figure (`visual_input` "0") are skipped, as in
VLMEvalKit's HallusionBench (951 questions), which produced the paper's number.

Prompt: as in R1-VL's harness, the yes/no question is asked with the choices "A: Yes / B: No".
Scoring reads the final answer as an option (by letter or text) or as a plain yes/no, instead
of that harness's rule ("Yes" if the letter 'a' appears anywhere in the response).
"""

from __future__ import annotations

from pathlib import Path

from stepgrpo.eval import scoring
from stepgrpo.eval.benchmarks.base import (
    Benchmark,
    BenchmarkDataError,
    Item,
    image_ref,
    read_table,
    require,
    text,
    unique_ids,
)

CHOICES = {"A": "Yes", "B": "No"}
KEYS = ("category", "subcategory", "set_id", "figure_id", "question_id")


def load(path: Path) -> list[Item]:
    roots = [path.parent if path.is_file() else path]
    items = []
    for row in read_table(path):
        if str(row.data.get("visual_input")) == "0" or not row.data.get("filename"):
            continue
        meta = {key: text(require(row, key)) for key in KEYS}
        truth = text(require(row, "gt_answer"))
        if truth not in ("0", "1"):
            raise BenchmarkDataError(f"{row.where}: field 'gt_answer' is {truth!r}, expected '1' (yes) or '0' (no)")
        items.append(Item(
            id="_".join(meta[key] for key in KEYS), question=text(require(row, "question")),
            answer="Yes" if truth == "1" else "No",
            image=image_ref(row.data["filename"], roots, row.where, "filename"),
            choices=dict(CHOICES), meta=meta, where=row.where,
        ))
    return unique_ids(items)


def correct(item: Item, answer: str | None) -> bool:
    letter = scoring.choose_option(answer, CHOICES)
    said = CHOICES[letter].lower() if letter else scoring.yes_no(answer)
    return said == item.answer.lower()


BENCHMARK = Benchmark(
    name="hallusionbench", title="HallusionBench", load=load, correct=correct,
    summarize=scoring.hallusion_summary, primary="overall",
    layout="HallusionBench.json with the hallusion_bench/ image folder beside it",
    judge="the official scorer asks GPT-4 whether each response agrees with the reference; VLMEvalKit "
          "uses a yes/no rule with a GPT fallback; ours is rule-based",
)
