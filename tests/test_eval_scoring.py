"""Each benchmark's scoring rule on hand-written predictions whose scores are known."""

from __future__ import annotations

import pytest

from stepgrpo.eval import scoring
from stepgrpo.eval.benchmarks import get_benchmark
from stepgrpo.eval.benchmarks.base import Item, parse_inline_choices
from stepgrpo.eval.generate import PredictionCache
from stepgrpo.eval.report import RunResult, markdown_summary, paper_avg


def completion(answer: str) -> str:
    return ("### Image Description:\nA chart.\n### Rationales:\nRead it.\n### Let's think step by step.\n"
            f"### Step 1:\nRead the bars.\n### The final answer is: {answer}.")


def test_final_answer_comes_from_the_final_answer_section_only():
    assert scoring.final_answer(completion("42")) == "42"
    assert scoring.final_answer("### Step 1:\nthe answer is 42") is None
    assert scoring.final_answer("<think>Step 1: 6 x 7</think><answer>42</answer>", "think") == "42"


# ---------------------------------------------------------------- MathVista


MC = dict(question_type="multi_choice", answer_type="text", precision=None, choices=["3/11", "8/11", "6/11", "3/5"])


@pytest.mark.parametrize(("answer", "expected"), [
    ("B", True), ("(B)", True), ("B. 8/11", True), ("8/11", True),  # by letter, by option text
    ("A", False), ("3/11", False),
    ("8/12", True),  # no letter, no exact text: the nearest option by edit distance, as the official scorer
])
def test_mathvista_multiple_choice(answer, expected):
    assert scoring.mathvista_correct(answer, "8/11", **MC) is expected


@pytest.mark.parametrize(("answer", "answer_type", "precision", "reference", "expected"), [
    ("12", "integer", None, "12", True),
    ("12 cm", "integer", None, "12", True),
    ("12.0", "integer", None, "12", True),
    ("13", "integer", None, "12", False),
    ("1.449", "float", 2.0, "1.45", True),  # rounded to the item's precision
    ("1.4", "float", 2.0, "1.45", False),
    ("0.60", "float", 1.0, "0.6", True),
    ("x = 2.5", "float", 1.0, "2.5", True),
    ("[2007, 2008]", "list", None, "[2007, 2008]", True),
    ("2007 and 2008", "list", None, "[2007, 2008]", True),
    ("2008, 2007", "list", None, "[2007, 2008]", False),
    ("no number", "integer", None, "12", False),
])
def test_mathvista_free_form_types_and_precision(answer, answer_type, precision, reference, expected):
    kinds = dict(question_type="free_form", answer_type=answer_type, precision=precision, choices=None)
    assert scoring.mathvista_correct(answer, reference, **kinds) is expected


def test_mathvista_without_final_answer_is_wrong():
    assert scoring.mathvista_correct(None, "8/11", **MC) is False


# ---------------------------------------------------------------- ChartQA


@pytest.mark.parametrize(("answer", "label", "expected"), [
    ("10.4", "10", True),  # 4 % off: within the 5 % tolerance
    ("10.6", "10", False),  # 6 % off
    ("9.5", "10", True),
    ("12%", "0.12", True),  # percentages read as ratios
    ("1,250", "1250", False),  # as the official rule: "1,250" is no number, and not the label's text
    ("1,250", "1,250", True),
    ("Yes", "yes", True),  # text: exact, ignoring case
    ("Brazil.", "Brazil", True),  # the R1-VL format's closing full stop is not part of the answer
    ("Chile", "Brazil", False),
    ("0.01", "0", False),  # a zero label needs an exact match
    ("0", "0", True),
])
def test_chartqa_relaxed_accuracy(answer, label, expected):
    assert scoring.relaxed_correct(answer, label) is expected


# ---------------------------------------------------------------- multiple choice, yes/no


CHOICES = {"A": "145°", "B": "35°", "C": "40°", "D": "1/2"}


@pytest.mark.parametrize(("answer", "letter"), [
    ("B", "B"), ("(B)", "B"), ("B: 35°", "B"), ("Option B", "B"), ("35°", "B"), ("0.5", "D"),
    ("E", None), ("I do not know", None),
])
def test_choose_option_by_letter_or_text(answer, letter):
    assert scoring.choose_option(answer, CHOICES) == letter


def test_letter_correct_with_and_without_option_texts():
    assert scoring.letter_correct("35°", "B", CHOICES)
    assert not scoring.letter_correct("145°", "B", CHOICES)
    assert scoring.letter_correct("(C)", "C", None)
    assert not scoring.letter_correct("D", "C", None)
    assert not scoring.letter_correct(None, "C", CHOICES)


@pytest.mark.parametrize(("answer", "said"), [
    ("Yes", "yes"), ("no.", "no"), ("Yes, it is.", "yes"), ("yes or no", None), ("maybe", None), (None, None),
])
def test_yes_no(answer, said):
    assert scoring.yes_no(answer) == said


def test_hallusionbench_reads_letters_and_words_not_any_a():
    bench = get_benchmark("hallusionbench")
    item = Item(id="x", question="Is it big?", answer="No", choices={"A": "Yes", "B": "No"})
    assert bench.correct(item, "B")
    assert bench.correct(item, "No")
    assert not bench.correct(item, "A")
    # R1-VL's harness maps any response containing an 'a' to "Yes"; ours reads the answer.
    assert bench.correct(item, "No, that is a small one")
    assert not bench.correct(item, None)


@pytest.mark.parametrize(("question", "choices"), [
    ("Which is right?\nOptions: A: The cat is on the mat., B: The cat is under it, C: none, D: both",
     {"A": "The cat is on the mat.", "B": "The cat is under it", "C": "none", "D": "both"}),  # MMStar
    ("Find the angle.\nChoices:\nA:145°\nB:35°\nC:40°\nD:30°", {"A": "145°", "B": "35°", "C": "40°", "D": "30°"}),
    ("Which graph? Choices: (A) f (B) g (C) h", {"A": "f", "B": "g", "C": "h"}),  # DynaMath
    ("Point B. lies on AC. Choices:\nA. 3\nB. 4", {"A": "3", "B": "4"}),
    ("Which is larger?\nchoice: (A) f (B) g (C) h", {"A": "f", "B": "g", "C": "h"}),  # DynaMath's spellings
    ("How many roots? Choice: A. 3 B. 4 C. 5", {"A": "3", "B": "4", "C": "5"}),
    ("Find x.\nChoice:\nA:145°\nB:35°", {"A": "145°", "B": "35°"}),  # MathVerse
    ("Option: A) one; B) two", {"A": "one", "B": "two"}),
    ("Which? Choice: A.Vitamin C. B.Iron C.Zinc", {"A": "Vitamin C.", "B": "Iron", "C": "Zinc"}),
    ("What is 2 + 2?", None),
])
def test_inline_choices(question, choices):
    assert parse_inline_choices(question) == choices


def test_reference_given_as_option_text_becomes_its_letter():
    from stepgrpo.eval.benchmarks.base import reference_letter

    choices = {"A": "145°", "B": "35°"}
    assert reference_letter("35°", choices) == "B" and reference_letter("b", choices) == "B"
    assert reference_letter("12", choices) == "12" and reference_letter("35°", None) == "35°"


def test_dynamath_float_tolerance_is_the_official_0001():
    bench = get_benchmark("dynamath")
    item = Item(id="1-v1", question="q", answer="3.142", meta={"answer_type": "float", "qid": "1"})
    assert bench.correct(item, "3.1425")
    assert bench.correct(item, "π")
    assert not bench.correct(item, "3.144")


# ---------------------------------------------------------------- summaries


def record(correct: bool, **meta) -> dict:
    return {"correct": correct, "meta": meta}


def test_mme_acc_plus_and_sums():
    records = [
        record(True, subtask="count", image_key="count/1.jpg"), record(True, subtask="count", image_key="count/1.jpg"),
        record(True, subtask="count", image_key="count/2.jpg"), record(False, subtask="count", image_key="count/2.jpg"),
        record(False, subtask="code_reasoning", image_key="code/1.png"),
        record(True, subtask="code_reasoning", image_key="code/1.png"),
    ]
    metrics = scoring.mme_summary(records)
    assert metrics["count/acc"] == 75.0 and metrics["count/acc+"] == 50.0 and metrics["count"] == 125.0
    assert metrics["code_reasoning"] == 50.0  # acc 50 + acc+ 0
    assert metrics["perception"] == 125.0 and metrics["cognition"] == 50.0 and metrics["total"] == 175.0


def test_hallusionbench_question_figure_and_pair_accuracy():
    def r(correct, figure, question):
        return record(correct, category="VD", subcategory="illusion", set_id="0", figure_id=figure,
                      question_id=question)
    records = [r(True, "0", "0"), r(True, "0", "1"), r(True, "1", "0"), r(False, "1", "1")]
    metrics = scoring.hallusion_summary(records)
    assert metrics["aAcc"] == 75.0
    assert metrics["fAcc"] == 50.0  # figure 0 all right, figure 1 not
    assert metrics["qAcc"] == 50.0  # question 0 right on both figures, question 1 not
    assert metrics["overall"] == pytest.approx((75 + 50 + 50) / 3)


def test_dynamath_average_and_worst_case():
    records = [record(True, qid="1"), record(True, qid="1"), record(True, qid="2"), record(False, qid="2")]
    assert scoring.dynamath_summary(records) == {"average": 75.0, "worst_case": 50.0}


def _result(name: str, score: float) -> RunResult:
    return RunResult(benchmark=name, title=name, model="m", data="d", primary="p", score=score, metrics={},
                     n_items=1, n_answered=1, scoring="rule-based")


@pytest.mark.parametrize(("row", "avg"), [
    # R1-VL Table 1 (arXiv 2503.12937): MathVista, MMStar, Math-V, ChartQA, DynaMath, HallBench, MathVerse, MME_sum
    ((63.5, 60.0, 24.7, 83.9, 45.2, 54.7, 40.0, 2376), 57.1),  # R1-VL-7B
    ((52.1, 49.8, 17.1, 75.2, 29.4, 44.0, 26.2, 2048), 45.8),  # R1-VL-2B
    ((58.2, 60.7, 16.3, 83.0, 42.1, 50.6, 32.5, 2327), 53.3),  # Qwen2-VL-7B
])
def test_paper_avg_reproduces_table_1(row, avg):
    names = ("mathvista", "mmstar", "mathvision", "chartqa", "dynamath", "hallusionbench", "mathverse", "mme")
    results = [_result(name, score) for name, score in zip(names, row, strict=True)]
    assert paper_avg(results) == pytest.approx(avg, abs=0.1)
    assert paper_avg(results[:-1]) is None
    assert "AVG" in markdown_summary(results) and "missing: mme" in markdown_summary(results[:-1])


def test_cache_drops_a_torn_last_line(tmp_path):
    path = tmp_path / "cache.jsonl"
    cache = PredictionCache(path)
    cache.append({"id": "a", "completion": "x"})
    with path.open("a") as handle:
        handle.write('{"id": "b", "compl')  # a crash mid-write
    reopened = PredictionCache(path)
    assert "a" in reopened and "b" not in reopened and len(reopened) == 1
    reopened.append({"id": "b", "completion": "y"})
    assert PredictionCache(path).get("b")["completion"] == "y"
