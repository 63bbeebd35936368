"""Each benchmark's own scoring rule, applied to the answer in the completion's final-answer section.

The answer is read through the reward library (`stepgrpo.rewards.extract_answer`), so evaluation
and training agree on what "the model's answer" is. The rules follow the benchmarks' released
scorers where those are rule-based (MathVista's type normalisation and precision, ChartQA's 5%
relaxed accuracy, MME's acc + acc+, HallusionBench's question/figure/pair accuracies, DynaMath's
0.001 float tolerance and worst case). Where a benchmark's official scorer asks a GPT judge to
pull the answer out of free text, ours reads the final-answer section instead; docs/eval.md lists
each difference.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rapidfuzz.distance import Levenshtein

from stepgrpo.parsing import ReasoningFormat
from stepgrpo.rewards import answers_match, extract_answer
from stepgrpo.rewards.answer import answer_letter, clean_answer

Record = dict[str, Any]


def final_answer(completion: str, fmt: str | ReasoningFormat | None = None) -> str | None:
    """The (cleaned) body of the completion's final-answer section, or None when it has none."""
    return extract_answer(completion, fmt)


def clean(answer: str) -> str:
    """An answer without its wrapping (`\\boxed{}`, `$`, bold, the format's trailing full stop)."""
    return clean_answer(answer) or ""


# ---------------------------------------------------------------- numbers

_NUMBER = re.compile(r"[-+−]?(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?(?:\s*/\s*\d+(?:\.\d+)?)?")


def _number_tokens(text: str) -> list[str]:
    return [m.group(0) for m in _NUMBER.finditer(text) if any(ch.isdigit() for ch in m.group(0))]


def _to_float(token: str) -> float | None:
    token = token.replace("−", "-").replace(",", "").replace(" ", "")
    try:
        if "/" in token:
            numerator, denominator = token.split("/")
            return float(numerator) / float(denominator)
        return float(token)
    except (ValueError, ZeroDivisionError):
        return None


def to_number(answer: str | None) -> float | None:
    """The number a final answer states: the whole answer when it is one ("3.5", "1,200", "3/4",
    "2π"), else the first number after the last "=", else the first number ("12 cm" -> 12)."""
    if not answer:
        return None
    text = clean(answer).replace("\\pi", "π").rstrip("%").strip()
    pi = text.endswith("π")
    whole = _to_float(text[:-1].strip() if pi else text)
    if whole is None and pi and text == "π":
        whole = 1.0
    if whole is not None:
        return whole * math.pi if pi else whole
    tail = text.rsplit("=", 1)[-1]
    tokens = _number_tokens(tail) or _number_tokens(text)
    return _to_float(tokens[0]) if tokens else None


# ---------------------------------------------------------------- multiple choice

def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", clean(text)).casefold()


def choose_option(answer: str | None, choices: Mapping[str, str]) -> str | None:
    """The letter a final answer picks: by an option's text ("35°"), by letter in its usual forms
    ("B", "(B)", "B. 35°", "Option B"), or by value ("0.5" for "1/2"); None when it picks none or several."""
    if not answer or not choices:
        return None
    wanted = _norm(answer)
    exact = [letter for letter, option in choices.items() if _norm(option) == wanted]
    if len(exact) == 1:
        return exact[0]
    letter = answer_letter(clean(answer))
    if letter in choices:
        return letter
    same = [letter for letter, option in choices.items() if answers_match(answer, option)]
    return same[0] if len(same) == 1 else None


def letter_correct(answer: str | None, reference: str, choices: Mapping[str, str] | None) -> bool:
    """Multiple choice: right when the answer picks the reference letter, by letter or option text."""
    return bool(answer) and answers_match(answer or "", reference, choices)


def value_correct(answer: str | None, reference: str) -> bool:
    """Free-form answers: the reward library's equivalence (math-verify, numbers, normalised text)."""
    return bool(answer) and answers_match(answer or "", reference)


# ---------------------------------------------------------------- MathVista


def mathvista_prediction(answer: str | None, *, question_type: str, answer_type: str,
                         precision: float | None, choices: Sequence[str] | None) -> str | None:
    """MathVista's `normalize_extracted_answer`: a multiple-choice answer becomes the option text
    (by letter, by text, else the option nearest in edit distance, as the official scorer does);
    integers become `str(int(x))`, floats `str(round(x, precision))`, lists their numbers."""
    if answer is None:
        return None
    if question_type == "multi_choice":
        options = [str(option) for option in choices or []]
        if not options:
            return clean(answer)
        letter = choose_option(answer, {chr(ord("A") + i): option for i, option in enumerate(options)})
        if letter is not None:
            return options[ord(letter) - ord("A")]
        text = clean(answer)
        return min(options, key=lambda option: Levenshtein.distance(text, option))
    if answer_type == "integer":
        value = to_number(answer)
        return None if value is None else str(int(value))
    if answer_type == "float":
        value = to_number(answer)
        return None if value is None else str(round(value, int(precision or 0)))
    if answer_type == "list":
        numbers = [_to_float(token) for token in _number_tokens(clean(answer))]
        return str([_plain(n) for n in numbers if n is not None])
    return clean(answer)


def _plain(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def mathvista_correct(answer: str | None, reference: str, **kinds: Any) -> bool:
    prediction = mathvista_prediction(answer, **kinds)
    if prediction is None:
        return False
    if kinds.get("answer_type") == "list":  # "[2007, 2008]": compare the numbers, not the spacing
        wanted = [_to_float(token) for token in _number_tokens(reference)]
        return prediction == str([_plain(n) for n in wanted if n is not None])
    return prediction == reference


# ---------------------------------------------------------------- ChartQA


def _ratio_float(text: str) -> float | None:
    try:
        return float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        return None


def relaxed_correct(answer: str | None, reference: str, tolerance: float = 0.05) -> bool:
    """ChartQA's relaxed accuracy exactly as its official code (pix2struct's `relaxed_correctness`,
    which VLMEvalKit copies) applies it to the final answer: numbers may be off by `tolerance` of
    the label ("12%" reads as 0.12; "1,250" is no number, so it must equal the label as text);
    anything else, or a zero label, must equal the label ignoring case."""
    if not answer:
        return False
    prediction, target = clean(answer), str(reference).strip()
    predicted, wanted = _ratio_float(prediction), _ratio_float(target)
    if predicted is not None and wanted:
        return abs(predicted - wanted) / abs(wanted) <= tolerance
    return prediction.lower() == target.lower()


# ---------------------------------------------------------------- yes / no


def yes_no(answer: str | None) -> str | None:
    """"yes" or "no" when the answer says exactly one of them (VLMEvalKit's Y/N rule), else None."""
    if not answer:
        return None
    words = re.findall(r"[a-z]+", clean(answer).casefold())
    if "yes" in words and "no" not in words:
        return "yes"
    if "no" in words and "yes" not in words:
        return "no"
    return None


# ---------------------------------------------------------------- summaries


def _share(flags: Iterable[bool]) -> float:
    flags = list(flags)
    return 100.0 * sum(flags) / len(flags) if flags else 0.0


def _groups(records: list[Record], *keys: str) -> dict[tuple[Any, ...], list[bool]]:
    groups: dict[tuple[Any, ...], list[bool]] = {}
    for record in records:
        groups.setdefault(tuple(record["meta"][key] for key in keys), []).append(bool(record["correct"]))
    return groups


MME_PERCEPTION = ("existence", "count", "position", "color", "posters", "celebrity", "scene", "landmark",
                  "artwork", "OCR")
MME_COGNITION = ("commonsense_reasoning", "numerical_calculation", "text_translation", "code_reasoning")


def mme_summary(records: list[Record]) -> dict[str, float]:
    """Per subtask: acc (questions right) + acc+ (images with both questions right), each in
    percent, so a subtask scores 0-200; perception (10 subtasks), cognition (4) and their sum."""
    metrics: dict[str, float] = {}
    scores: dict[str, float] = {}
    for subtask in sorted({record["meta"]["subtask"] for record in records}):
        own = [record for record in records if record["meta"]["subtask"] == subtask]
        acc = _share(bool(record["correct"]) for record in own)
        acc_plus = _share(all(pair) for pair in _groups(own, "image_key").values())
        scores[subtask] = acc + acc_plus
        metrics[f"{subtask}/acc"], metrics[f"{subtask}/acc+"], metrics[subtask] = acc, acc_plus, acc + acc_plus
    metrics["perception"] = sum(scores.get(name, 0.0) for name in MME_PERCEPTION)
    metrics["cognition"] = sum(scores.get(name, 0.0) for name in MME_COGNITION)
    metrics["total"] = sum(scores.values())
    return metrics


def hallusion_summary(records: list[Record]) -> dict[str, float]:
    """HallusionBench: aAcc (all questions), fAcc (figures with every question right), qAcc
    (questions right on every figure they are asked about), and their mean, VLMEvalKit's headline."""
    a_acc = _share(bool(record["correct"]) for record in records)
    f_acc = _share(all(g) for g in _groups(records, "category", "subcategory", "set_id", "figure_id").values())
    q_acc = _share(all(g) for g in _groups(records, "category", "subcategory", "set_id", "question_id").values())
    return {"overall": (a_acc + f_acc + q_acc) / 3, "aAcc": a_acc, "fAcc": f_acc, "qAcc": q_acc}


def dynamath_summary(records: list[Record]) -> dict[str, float]:
    """DynaMath: average accuracy over all variants, and worst-case accuracy (a seed question
    counts only when every variant of it is right)."""
    return {"average": _share(bool(record["correct"]) for record in records),
            "worst_case": _share(all(g) for g in _groups(records, "qid").values())}


def grouped_accuracy(records: list[Record], key: str) -> dict[str, float]:
    metrics = {"accuracy": _share(bool(record["correct"]) for record in records)}
    for (value,), hits in sorted(_groups(records, key).items(), key=lambda kv: str(kv[0])):
        metrics[f"{key}={value}"] = _share(hits)
    return metrics
