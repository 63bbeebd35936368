"""Every benchmark in each layout its owners publish — HF dataset folders (root or data/, sharded
parquet, save_to_disk), the GitHub releases, VLMEvalKit TSVs — built in miniature with tiny
generated images, then loaded, checked for completeness and scored from hand-written predictions
through `score_predictions` (the same path `stepgrpo eval --predictions` takes)."""

from __future__ import annotations

import base64
import csv
import io
import json
import shutil
from dataclasses import replace
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image, ImageDraw

from stepgrpo.eval import score_predictions
from stepgrpo.eval.benchmarks import BenchmarkDataError, get_benchmark, load_benchmark
from stepgrpo.eval.benchmarks.base import IMAGE_QUESTION
from stepgrpo.eval.benchmarks.mme import SUBTASKS
from stepgrpo.eval.generate import build_prompt

# ---------------------------------------------------------------- fixture builders


def png(label: str = "7") -> bytes:
    image = Image.new("RGB", (24, 24), "white")
    ImageDraw.Draw(image).text((4, 4), label, fill="black")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def picture(path: Path, label: str = "7") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png(label))
    return path


def hf_image(label: str = "7", name: str = "x.png") -> dict:
    """An image cell as `datasets` writes it to parquet."""
    return {"bytes": png(label), "path": name}


def write_parquet(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def b64(label: str = "7") -> str:
    return base64.b64encode(png(label)).decode()


def write_tsv(path: Path, rows: list[dict]) -> Path:
    """A VLMEvalKit TSV (pandas `to_csv(sep='\\t')` without the index column)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), delimiter="\t")
        writer.writeheader()
        writer.writerows(rows)
    return path


def completion(answer: str) -> str:
    return ("### Image Description:\nA figure.\n### Rationales:\nRead it.\n### Let's think step by step.\n"
            f"### Step 1:\nRead it.\n### The final answer is: {answer}.")


def score(name: str, data: Path, answers: dict[str, str], tmp_path: Path, **kwargs):
    """Score hand-written final answers (id -> answer) with `stepgrpo eval --predictions`' code path.
    The predictions and results go beside `tmp_path`, never into it: it often is the benchmark folder."""
    work = tmp_path.with_name(f"{tmp_path.name}-scoring")
    work.mkdir(exist_ok=True)
    predictions = work / f"{name}-predictions.jsonl"
    predictions.write_text("".join(json.dumps({"id": key, "completion": completion(value)}) + "\n"
                                   for key, value in answers.items()))
    out = work / "out"
    result = score_predictions(name, data, predictions, out, allow_partial=True, **kwargs)
    records = {r["id"]: r for r in map(json.loads, (out / name / "predictions.jsonl").read_text().splitlines())}
    return result, records


def complete(name: str, count: int):
    """The benchmark as if `count` questions were its whole release (fixtures are tiny)."""
    return replace(get_benchmark(name), sizes=(count,))


# ---------------------------------------------------------------- MME


def mme_rows() -> list[dict]:
    rows = []
    for number, subtask in enumerate(SUBTASKS):
        for question, answer in (("Is there a seven? Please answer yes or no.", "Yes"),
                                 ("Is there a nine? Please answer yes or no.", "No")):
            rows.append({"question_id": f"{subtask}/{number}.png", "image": hf_image(str(number), f"{number}.png"),
                         "question": question, "answer": answer, "category": subtask})
    return rows


def mme_hf(root: Path) -> Path:
    """lmms-lab/MME as snapshot_download leaves it: README and data/ with hashed shards; the pair
    of subtask 7 sits across the two shards."""
    rows = mme_rows()
    (root / "README.md").parent.mkdir(parents=True, exist_ok=True)
    (root / "README.md").write_text("---\nconfigs: ...\n---\n")
    write_parquet(root / "data" / "test-00000-of-00002-a25dbe3b44c4fda6.parquet", rows[:15])
    write_parquet(root / "data" / "test-00001-of-00002-7d22c7f1aba6fca4.parquet", rows[15:])
    return root


def test_mme_hf_folder_reads_every_shard_and_keeps_pairs_across_them(tmp_path):
    root = mme_hf(tmp_path / "MME")
    with pytest.raises(BenchmarkDataError, match=r"not the whole MME: 28 questions, the release has 2,374"):
        load_benchmark("mme", root)
    loaded = load_benchmark(complete("mme", 28), root)
    assert len(loaded.items) == 28 and loaded.problems == []
    answers = {item.id: item.answer for item in loaded.items}
    result, _ = score("mme", root, answers, tmp_path)
    assert result.score == 2800.0  # acc + acc+ = 200 on all 14, the split pair credited as a pair
    answers["existence/0.png#1"] = "Yes"
    result, _ = score("mme", root, answers, tmp_path)
    assert result.metrics["existence"] == 50.0 and result.score == 2650.0


def test_mme_hub_parquet_export_folder(tmp_path):
    rows = mme_rows()
    write_parquet(tmp_path / "default" / "test" / "0000.parquet", rows[:15])
    write_parquet(tmp_path / "default" / "test" / "0001.parquet", rows[15:])
    assert load_benchmark(complete("mme", 28), tmp_path / "default" / "test").problems == []
    (tmp_path / "default" / "test" / "0000.parquet").unlink()
    problems = load_benchmark(complete("mme", 28), tmp_path / "default" / "test", allow_partial=True).problems
    assert problems[0].startswith("file(s) 0000 of 'test' missing")


def test_mme_missing_shard_or_one_shard_is_partial(tmp_path):
    root = mme_hf(tmp_path / "MME")
    shard = root / "data" / "test-00000-of-00002-a25dbe3b44c4fda6.parquet"
    problems = load_benchmark(complete("mme", 28), shard, allow_partial=True).problems
    assert any("subtask(s)" in p and "missing" in p for p in problems)
    assert any("without exactly two questions" in p for p in problems)  # subtask 7's mate is in shard 1
    (root / "data" / "test-00001-of-00002-7d22c7f1aba6fca4.parquet").unlink()
    with pytest.raises(BenchmarkDataError, match=r"shard\(s\) 1 of 2 of 'test' missing"):
        load_benchmark("mme", root)
    loaded = load_benchmark("mme", root, allow_partial=True)
    assert len(loaded.items) == 15 and len(loaded.problems) == 4


def test_mme_vlmevalkit_tsv_shares_pair_images_by_index(tmp_path):
    rows = []
    for number, row in enumerate(mme_rows()):
        first = number % 2 == 0
        rows.append({"index": number, "image": b64(row["category"][:2]) if first else str(number - 1),
                     "question": row["question"], "answer": row["answer"], "category": row["category"],
                     "image_path": row["question_id"]})
    data = write_tsv(tmp_path / "MME.tsv", rows)
    loaded = load_benchmark(complete("mme", 28), data)
    assert loaded.problems == [] and [item.id for item in loaded.items[:2]] == ["0", "1"]
    assert loaded.items[0].image == loaded.items[1].image  # the second question points at the first's image
    result, _ = score("mme", data, {str(i): row["answer"] for i, row in enumerate(rows)}, tmp_path)
    assert result.score == 2800.0


# ---------------------------------------------------------------- MathVision


MATHV_ROWS = [dict(id="1", question="<image1> Which shape is shaded?", options=["a", "b", "c", "d", "e"],
                   image="images/1.jpg", answer="C", solution=None, level=2, subject="metric geometry - angle"),
              dict(id="2", question="<image1> How many dots?", options=[], image="images/2.jpg", answer="\\frac{1}{2}",
                   solution=None, level=3, subject="counting")]


def test_mathvision_github_clone_images_at_the_repo_root(tmp_path):
    repo = tmp_path / "MATH-V"
    for row in MATHV_ROWS:
        picture(repo / row["image"])
    (repo / "data").mkdir(parents=True)
    (repo / "data" / "test.jsonl").write_text("".join(json.dumps(row) + "\n" for row in MATHV_ROWS))
    (repo / "data" / "testmini.jsonl").write_text(json.dumps(MATHV_ROWS[0]) + "\n")
    for data in (repo, repo / "data" / "test.jsonl"):
        loaded = load_benchmark(complete("mathvision", 2), data)
        assert [item.id for item in loaded.items] == ["1", "2"]
        assert all(isinstance(item.image, Path) and item.image.parent == (repo / "images").resolve()
                   for item in loaded.items)
    result, _ = score("mathvision", repo, {"1": "c", "2": "0.5"}, tmp_path)
    assert result.score == 100.0


def test_mathvision_hf_folder_prefers_the_full_test_split(tmp_path):
    rows = [{**row, "decoded_image": hf_image(row["id"])} for row in MATHV_ROWS]
    write_parquet(tmp_path / "data" / "test-00000-of-00001.parquet", rows)
    write_parquet(tmp_path / "data" / "testmini-00000-of-00001.parquet", rows[:1])
    loaded = load_benchmark("mathvision", tmp_path, allow_partial=True)
    assert len(loaded.items) == 2 and isinstance(loaded.items[0].image, bytes)
    assert loaded.problems == ["2 questions, the release has 3,040 or 304"]


def test_mathvision_vlmevalkit_tsv(tmp_path):
    data = write_tsv(tmp_path / "MathVision.tsv", [
        {"index": 1, "image": b64(), "question": "Which?", "answer": "C", "choices": "['a', 'b', 'c', 'd', 'e']",
         "category": "angle", "level": 2},
        {"index": 2, "image": b64(), "question": "How many?", "answer": "3", "choices": "[]", "category": "counting",
         "level": 1}])
    result, records = score("mathvision", data, {"1": "c", "2": "3"}, tmp_path)
    assert result.score == 100.0 and records["1"]["meta"]["subject"] == "angle"


# ---------------------------------------------------------------- DynaMath


def dynamath_rows(variant: int) -> list[dict]:
    return [
        dict(id="1", question="Which function is increasing?\nchoice: (A) f (B) g (C) h", image="", ground_truth="B",
             decoded_image=hf_image(str(variant)), answer_type="multiple choice", subject="graph", knowledge_level="x"),
        dict(id="2", question="How many roots? Choice: A. 3 B. 4 C. 5", image="", ground_truth="A",
             decoded_image=hf_image(str(variant)), answer_type="multiple choice", subject="algebra",
             knowledge_level="x"),
        dict(id="3", question="What is f(1)?", image="", ground_truth=str(2.5 + variant), answer_type="float",
             decoded_image=hf_image(str(variant)), subject="algebra", knowledge_level="x"),
    ]


@pytest.mark.parametrize("layout", ["current", "paper-era", "parquet-export"])
def test_dynamath_every_variant_layout_and_choice_spellings(tmp_path, layout):
    root = tmp_path / "DynaMath_Sample"
    (root / "assets").mkdir(parents=True)
    (root / "10VariationSamples.zip").write_bytes(b"PK")
    for variant in range(1, 11):
        path = {"current": f"data/sample{variant}-00000-of-{variant:05d}.parquet",
                "paper-era": f"data/sample_variant{variant}-00000-of-00001.parquet",
                "parquet-export": f"default/sample_variant{variant}/0000.parquet"}[layout]
        write_parquet(root / path, dynamath_rows(variant))
    loaded = load_benchmark(complete("dynamath", 30), root)
    assert loaded.problems == [] and len(loaded.items) == 30
    first = loaded.items[0]
    assert first.choices == {"A": "f", "B": "g", "C": "h"}
    assert loaded.items[1].choices == {"A": "3", "B": "4", "C": "5"}
    answers = {f"1-v{v}": "g" for v in range(1, 11)}  # the option's text, not its letter
    answers |= {f"2-v{v}": "A" for v in range(1, 11)}
    answers |= {f"3-v{v}": str(2.5 + v) for v in range(1, 10)}
    answers["3-v10"] = "0"
    result, records = score("dynamath", root, answers, tmp_path)
    assert records["1-v10"]["correct"] and records["3-v2"]["correct"] and not records["3-v10"]["correct"]
    assert result.metrics["average"] == pytest.approx(2900 / 30) and result.metrics["worst_case"] == pytest.approx(
        200 / 3)


def test_dynamath_github_seed_json(tmp_path):
    picture(tmp_path / "dataset" / "image" / "image15.png")
    (tmp_path / "dataset" / "dataset.json").write_text(json.dumps({"15": {
        "question": "how many zeros this function has? choice: (A) 2 (B) 1 (C) 0", "answer": "C",
        "image": "image/image15.png", "answer_type": "multiple choice", "subject": "analytic geometry",
        "level": "high school"}}))
    loaded = load_benchmark("dynamath", tmp_path / "dataset" / "dataset.json", allow_partial=True)
    assert [item.id for item in loaded.items] == ["15-v1"] and loaded.items[0].choices == {"A": "2", "B": "1", "C": "0"}
    assert any("lack some of the 10 variants" in problem for problem in loaded.problems)


def test_dynamath_missing_variants_and_tsv(tmp_path):
    write_parquet(tmp_path / "data" / "sample1-00000-of-00001.parquet", dynamath_rows(1))
    with pytest.raises(BenchmarkDataError, match=r"3 seed question\(s\) lack some of the 10 variants"):
        load_benchmark(complete("dynamath", 3), tmp_path)
    rows = [{"index": f"{q}-{v}", "image": b64(), "question": "Which? choice: (A) f (B) g", "answer": "B",
             "answer_type": "multiple choice", "qid": q, "varid": v, "subject": "graph", "knowledge_level": "x"}
            for q in (1, 2) for v in range(1, 11)]
    data = write_tsv(tmp_path / "DynaMath.tsv", rows)
    loaded = load_benchmark(complete("dynamath", 20), data)
    assert loaded.items[0].id == "1-v1" and loaded.items[-1].id == "2-v10" and loaded.problems == []


# ---------------------------------------------------------------- HallusionBench


def hallusion_rows(prefix: str) -> list[dict]:
    rows = []
    for figure in ("0", "1"):
        for question, truth in (("0", "1" if figure == "0" else "0"), ("1", "0")):
            rows.append(dict(category="VD", subcategory="illusion", visual_input="1", set_id="0", figure_id=figure,
                             sample_note="circle", question_id=question, question="Are the circles the same size?",
                             gt_answer_details="...", gt_answer=truth, filename=f"{prefix}VD/illusion/0_{figure}.png"))
    rows.append(dict(category="VS", subcategory="chart", visual_input="0", set_id="0", figure_id="0", sample_note="x",
                     question_id="0", question="Is Paris in France?", gt_answer_details="", gt_answer="1",
                     filename=None))
    return rows


HALLUSION_ANSWERS = {"VD_illusion_0_0_0": "A", "VD_illusion_0_0_1": "No", "VD_illusion_0_1_0": "Yes",
                     "VD_illusion_0_1_1": "B"}


@pytest.mark.parametrize("prefix", ["./", "./hallusion_bench/"])
def test_hallusionbench_json_current_and_paper_era_paths(tmp_path, prefix):
    for figure in ("0", "1"):
        picture(tmp_path / "hallusion_bench" / "VD" / "illusion" / f"0_{figure}.png")
    (tmp_path / "HallusionBench.json").write_text(json.dumps(hallusion_rows(prefix)))
    result, records = score("hallusionbench", tmp_path, HALLUSION_ANSWERS, tmp_path)
    assert len(records) == 4 and result.partial
    assert (result.metrics["aAcc"], result.metrics["fAcc"], result.metrics["qAcc"]) == (75.0, 50.0, 50.0)


def test_hallusionbench_hf_folder_and_tsv(tmp_path):
    rows = [{**row, "image": hf_image()} for row in hallusion_rows("./") if row["visual_input"] == "1"]
    write_parquet(tmp_path / "hf" / "data" / "image-00000-of-00001.parquet", rows)
    write_parquet(tmp_path / "hf" / "data" / "non_image-00000-of-00001.parquet",
                  [{**hallusion_rows("./")[-1], "filename": ""}])
    result, _ = score("hallusionbench", tmp_path / "hf", HALLUSION_ANSWERS, tmp_path)
    assert result.n_items == 4 and result.metrics["fAcc"] == 50.0
    tsv = [{"index": f"VD_illusion_1_0_{r['figure_id']}_{r['question_id']}", "image": b64(), "category": "VD",
            "l2-category": "illusion", "question": r["question"], "answer": "Yes" if r["gt_answer"] == "1" else "No"}
           for r in rows]
    data = write_tsv(tmp_path / "HallusionBench.tsv", tsv)
    answers = {f"VD_illusion_1_0_{key[-3]}_{key[-1]}": value for key, value in HALLUSION_ANSWERS.items()}
    result, _ = score("hallusionbench", data, answers, tmp_path)
    assert (result.metrics["aAcc"], result.metrics["fAcc"], result.metrics["qAcc"]) == (75.0, 50.0, 50.0)


# ---------------------------------------------------------------- MathVista


def mathvista_rows() -> list[dict]:
    return [dict(pid="1", question="What fraction is blue?", image="images/1.jpg", decoded_image=hf_image(),
                 choices=["3/11", "8/11", "6/11"], unit=None, precision=None, answer="8/11",
                 question_type="multi_choice", answer_type="text", metadata={"task": "figure question answering"},
                 query="..."),
            dict(pid="2", question="What is the ratio?", image="images/2.jpg", decoded_image=hf_image(), choices=None,
                 unit=None, precision=2.0, answer="1.45", question_type="free_form", answer_type="float",
                 metadata={"task": "math word problem"}, query="...")]


def test_mathvista_hf_folder_picks_testmini_among_shards(tmp_path):
    write_parquet(tmp_path / "data" / "testmini-00000-of-00001-725687bf7a18d64b.parquet", mathvista_rows())
    write_parquet(tmp_path / "data" / "test-00000-of-00002-6b81bd7f7e2065e6.parquet", mathvista_rows())
    write_parquet(tmp_path / "data" / "test-00001-of-00002-6a611c71596db30f.parquet", [])
    result, _ = score("mathvista", tmp_path, {"1": "B", "2": "1.449"}, tmp_path)
    assert result.n_items == 2 and result.score == 100.0 and result.partial


def test_mathvista_github_data_folder_and_tsv(tmp_path):
    repo = tmp_path / "MathVista"
    rows = {row["pid"]: {k: v for k, v in row.items() if k != "decoded_image"} for row in mathvista_rows()}
    for row in rows.values():
        picture(repo / "data" / row["image"])
    (repo / "data" / "testmini.json").write_text(json.dumps(rows))
    result, _ = score("mathvista", repo, {"1": "8/11", "2": "1.45"}, tmp_path)
    assert result.score == 100.0
    data = write_tsv(tmp_path / "MathVista_MINI.tsv", [
        {"index": 1, "image": b64(), "question": "Hint: answer with the letter.\nQuestion: What fraction?\n"
         "Choices:\n(A) 3/11\n(B) 8/11\n(C) 6/11", "answer": "8/11", "answer_option": "B",
         "choices": "['3/11', '8/11', '6/11']", "question_type": "multi_choice", "answer_type": "text",
         "task": "figure question answering", "skills": "['arithmetic']"},
        {"index": 2, "image": b64(), "question": "What is the ratio?", "answer": "1.45", "answer_option": "",
         "choices": "", "question_type": "free_form", "answer_type": "float", "task": "math word problem",
         "skills": "[]"}])
    loaded = load_benchmark("mathvista", data, allow_partial=True)
    assert loaded.items[0].choices_in_question and loaded.items[1].meta["precision"] == 2.0
    result, _ = score("mathvista", data, {"1": "B", "2": "1.449"}, tmp_path)
    assert result.score == 100.0


# ---------------------------------------------------------------- ChartQA


def test_chartqa_github_repo_hf_folder_and_tsv(tmp_path):
    test = tmp_path / "ChartQA" / "ChartQA Dataset" / "test"
    picture(test / "png" / "a.png")
    (test / "test_human.json").write_text(json.dumps([{"imgname": "a.png", "query": "Highest value?", "label": "10"}]))
    (test / "test_augmented.json").write_text(json.dumps([{"imgname": "a.png", "query": "Share?", "label": "12"}]))
    result, _ = score("chartqa", tmp_path / "ChartQA", {"human-0": "10.4", "augmented-0": "13"}, tmp_path)
    assert result.metrics["split=human"] == 100.0 and result.metrics["split=augmented"] == 0.0
    assert load_benchmark(complete("chartqa", 2), tmp_path / "ChartQA").problems == []
    (test / "test_augmented.json").unlink()
    assert "test_augmented.json missing" in load_benchmark(complete("chartqa", 1), test, allow_partial=True).problems[0]

    hf = tmp_path / "hf"
    rows = [{"image": hf_image(), "query": "Highest value?", "label": ["10"], "human_or_machine": 0},
            {"image": hf_image(), "query": "Share?", "label": ["12"], "human_or_machine": 1}]
    write_parquet(hf / "data" / "test-00000-of-00001.parquet", rows)
    write_parquet(hf / "data" / "train-00000-of-00001.parquet", rows * 2)
    write_parquet(hf / "data" / "val-00000-of-00001.parquet", rows)
    result, _ = score("chartqa", hf, {"human-0": "10", "augmented-0": "12"}, tmp_path)
    assert result.n_items == 2 and result.score == 100.0

    data = write_tsv(tmp_path / "ChartQA_TEST.tsv", [
        {"index": 0, "image": b64(), "question": "Highest value?", "answer": "10", "split": "test_human"},
        {"index": 1, "image": b64(), "question": "Share?", "answer": "['12']", "split": "test_augmented"}])
    result, _ = score("chartqa", data, {"0": "10", "1": "12%"}, tmp_path)
    assert result.metrics["split=human"] == 100.0 and result.metrics["split=augmented"] == 0.0


# ---------------------------------------------------------------- MathVerse


def test_mathverse_parquet_vision_only_prompt_and_option_text_answers(tmp_path):
    rows = [
        dict(sample_index="1", problem_index="1", problem_version="Text Dominant", image=hf_image(),
             question="Find the angle.\nChoices:\nA:145°\nB:35°\nC:40°", answer="B", question_type="multi-choice"),
        dict(sample_index="2", problem_index="1", problem_version="Vision Only", image=hf_image(), question="",
             answer="B", question_type="multi-choice"),
        dict(sample_index="3", problem_index="2", problem_version="Text Lite", image=hf_image(),
             question="Find x.\nChoice:\nA:145°\nB:35°\nC:40°", answer="35°", question_type="multi-choice"),
    ]
    write_parquet(tmp_path / "testmini.parquet", rows)
    (tmp_path / "README.md").write_text("MathVerse")
    loaded = load_benchmark(get_benchmark("mathverse"), tmp_path, allow_partial=True)
    vision_only = loaded.items[1]
    assert vision_only.question == IMAGE_QUESTION
    assert build_prompt(vision_only).text.rstrip().endswith(f"Question: {IMAGE_QUESTION}")
    assert loaded.items[2].answer == "B" and loaded.items[2].choices == {"A": "145°", "B": "35°", "C": "40°"}
    assert any("'Vision Only'" in problem for problem in loaded.problems)
    result, records = score("mathverse", tmp_path, {"1": "35°", "2": "B", "3": "B"}, tmp_path)
    assert result.score == 100.0 and records["3"]["correct"]


def test_mathverse_vlmevalkit_tsv_without_question_type(tmp_path):
    data = write_tsv(tmp_path / "MathVerse_MINI_Vision_Only.tsv", [
        {"index": 1, "image": b64(), "question": "According to the question shown in the image, answer it.",
         "answer": "C", "problem_version": "Vision Only", "metadata": "{}"},
        {"index": 2, "image": b64(), "question": "Find x.", "answer": "3", "problem_version": "Vision Only",
         "metadata": "{}"}])
    loaded = load_benchmark("mathverse", data, allow_partial=True)
    assert [item.meta["question_type"] for item in loaded.items] == ["multi-choice", "free-form"]


# ---------------------------------------------------------------- MMStar and saved datasets


def mmstar_rows(count: int = 2) -> list[dict]:
    return [dict(index=i, question="Which bar is taller?\nOptions: A: left, B: right, C: same, D: none",
                 image=hf_image(), answer="AB"[i % 2], category="coarse perception", l2_category="image scene",
                 meta_info={"source": "x", "split": "val", "image_path": "x.png"}) for i in range(count)]


def test_mmstar_hf_root_folder_and_save_to_disk(tmp_path):
    import datasets

    write_parquet(tmp_path / "hf" / "mmstar.parquet", mmstar_rows())
    (tmp_path / "hf" / "README.md").write_text("MMStar")
    result, _ = score("mmstar", tmp_path / "hf", {"0": "A", "1": "left"}, tmp_path)
    assert result.metrics["accuracy"] == 50.0

    features = datasets.Dataset.from_list(mmstar_rows()).features.copy()
    features["image"] = datasets.Image()
    rows = [{**row, "image": Image.open(io.BytesIO(row["image"]["bytes"]))} for row in mmstar_rows()]
    dataset = datasets.Dataset.from_list(rows, features=features)
    dataset.save_to_disk(str(tmp_path / "saved"))
    datasets.DatasetDict({"val": dataset}).save_to_disk(str(tmp_path / "saved_dict"))
    for folder in ("saved", "saved_dict"):
        loaded = load_benchmark(complete("mmstar", 2), tmp_path / folder)
        assert [item.id for item in loaded.items] == ["0", "1"] and isinstance(loaded.items[0].image, bytes)


# ---------------------------------------------------------------- what is refused


@pytest.mark.parametrize(("name", "file"), [("mathvista", "testmini.jsonl"), ("mmstar", "MMStar.tsv"),
                                            ("chartqa", "test_human.json"), ("mmstar", "mmstar.parquet"),
                                            ("mme", "MME.tsv"), ("hallusionbench", "HallusionBench.json"),
                                            ("dynamath", "DynaMath.tsv"), ("mathverse", "testmini.parquet")])
def test_an_empty_benchmark_file_is_an_error(tmp_path, name, file):
    path = tmp_path / file
    if name in ("mme", "hallusionbench", "dynamath", "mathverse"):
        path.write_bytes(b"")  # a zero-byte download
    elif file.endswith(".tsv"):
        path.write_text("index\tquestion\tanswer\timage\n")
    elif file.endswith(".parquet"):
        pq.write_table(pa.table({"index": pa.array([], pa.int64()), "question": pa.array([], pa.string())}), path)
    else:
        path.write_text("[]" if file.endswith(".json") else "")
    with pytest.raises(BenchmarkDataError, match=r"no .* questions in it"):
        load_benchmark(name, path, allow_partial=True)


def test_missing_images_are_refused_or_dropped_and_marked(tmp_path):
    picture(tmp_path / "png" / "a.png")
    rows = [{"imgname": "a.png", "query": "q1", "label": "1"}, {"imgname": "gone.png", "query": "q2", "label": "2"}]
    (tmp_path / "test_human.json").write_text(json.dumps(rows))
    with pytest.raises(BenchmarkDataError, match=r"1 image\(s\) missing, e.g. .*\[1\]: image 'gone.png' not found"):
        load_benchmark(complete("chartqa", 2), tmp_path / "test_human.json")
    loaded = load_benchmark(complete("chartqa", 2), tmp_path / "test_human.json", allow_partial=True)
    assert [item.id for item in loaded.items] == ["human-0"] and "image(s) missing" in loaded.problems[0]


def test_two_copies_of_a_shard_and_ambiguous_folders_are_refused(tmp_path):
    rows = mme_rows()
    write_parquet(tmp_path / "data" / "test-00000-of-00001-aaaa.parquet", rows)
    write_parquet(tmp_path / "data" / "test-00000-of-00001-bbbb.parquet", rows)
    with pytest.raises(BenchmarkDataError, match="a second copy of shard 0"):
        load_benchmark("mme", tmp_path)
    other = tmp_path / "other"
    write_parquet(other / "alpha.parquet", mmstar_rows())
    write_parquet(other / "beta.parquet", mmstar_rows())
    with pytest.raises(BenchmarkDataError, match=r"holds several tables \(alpha, beta\)"):
        load_benchmark("mmstar", other)


def test_predictions_must_name_benchmark_items(tmp_path):
    write_parquet(tmp_path / "mmstar.parquet", mmstar_rows())
    bad = tmp_path / "bad.jsonl"
    for lines, message in (([{"id": "9", "completion": "x"}], r"bad.jsonl:1: id '9' is not an item"),
                           ([{"id": "0"}], r"bad.jsonl:1: field 'completion' is missing"),
                           ([{"id": "0", "completion": "x"}, {"id": 0, "completion": "y"}],
                            r"bad.jsonl:2: a second prediction for id '0'"),
                           ([{"id": "0", "completion": "x"}], r"no prediction for 1 of 2 items \(e.g. '1'\)")):
        bad.write_text("".join(json.dumps(line) + "\n" for line in lines))
        with pytest.raises(BenchmarkDataError, match=message):
            score_predictions(complete("mmstar", 2), tmp_path / "mmstar.parquet", bad, tmp_path / "out")
    shutil.rmtree(tmp_path / "out", ignore_errors=True)
