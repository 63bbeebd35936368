"""R1-Router Step-GRPO step rewards, as the official code computes them (pure functions).

Router step: 0.5 × similarity(sub-question, reference sub-question) + 0.5 × [one route, and it is
the reference knowledge base]; 0 when the output does not parse. Answer step: token recall of the
`<answer>` against the gold(s), all or nothing for a single gold of at most five words or for
several golds, the recall itself for a longer single gold (a teacher's sentence-long sub-answer).

The official similarity is the cosine of BGE-M3 embeddings. Pass any `Similarity` callable; the
default is `lexical_similarity`, for when no embedding model is at hand (see its docstring).
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from rapidfuzz import fuzz, utils

from stepgrpo.cells import completion_cell
from stepgrpo.router.format import StepFormatError, kb_from_label, parse_answer_step, parse_router_step

Similarity = Callable[[str, str], float]


def lexical_similarity(query: str, reference: str) -> float:
    """rapidfuzz's token-sort ratio in [0, 1], the fallback for the embedding cosine.

    Why this one: it ignores word order and case like an embedding does, tolerates inflections
    ("founded"/"found") because it compares characters, and, unlike the token-set ratio, it
    penalises missing or extra words: a one-word subset of the reference would score 1 under
    token-set and be an easy reward hack. "none" vs "none" scores 1, as with embeddings.
    """
    return fuzz.token_sort_ratio(query, reference, processor=utils.default_process) / 100.0


def router_step_reward(completion: str, ref_query: str, ref_kb: str,
                       similarity: Similarity = lexical_similarity) -> float:
    """0.5 · similarity(sub-question, ref_query) + 0.5 · [single route == ref_kb]; 0 if malformed."""
    try:
        step = parse_router_step(completion)
    except StepFormatError:
        return 0.0
    route = 1.0 if len(step.routes) == 1 and step.kb == kb_from_label(ref_kb) else 0.0
    return 0.5 * similarity(step.sub_question, ref_query) + 0.5 * route


# VQA-style answer normalisation of the official `evaluate` (punctuation, "an"/"the", number words).
_NUMBER_WORDS = {"none": "0", "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
                 "six": "6", "seven": "7", "eight": "8", "nine": "9", "ten": "10"}
_ARTICLES = {"an", "the"}  # the official list has no "a"
_DIGIT_COMMA = re.compile(r"(?<=\d),(?=\d)")
_PERIOD = re.compile(r"\.(?!\d)")
_PUNCT = re.compile(r"[;/\[\]\"{}()=+\\_\-><@`,?!]")
_TOKEN = re.compile(r"\w+(?:[.,]\w+)*|'\w+")


def answer_tokens(text: str) -> list[str]:
    """Normalised answer tokens: VQA punctuation and number-word rules, then word tokens.

    nltk's `word_tokenize` (official) is replaced by a regex that splits the same way on the
    cases that matter here ("bolton's" → "bolton", "'s"); it differs on rare contractions.
    """
    text = _DIGIT_COMMA.sub("", text.lower().replace("\n", " ").replace("\t", " ").strip())
    text = _PERIOD.sub("", _PUNCT.sub(" ", text))
    words = [_NUMBER_WORDS.get(word, word) for word in text.split()]
    return _TOKEN.findall(" ".join(word for word in words if word not in _ARTICLES))


def answer_recall(prediction: str, golds: str | Sequence[str]) -> float:
    """Token recall against the gold with the best token F1 (the paper's "F1-Recall")."""
    predicted = Counter(answer_tokens(prediction))
    best_f1, best_recall = 0.0, 0.0
    for gold in [golds] if isinstance(golds, str) else golds:
        gold_tokens = Counter(answer_tokens(gold))
        same = sum((predicted & gold_tokens).values())
        if same == 0:
            continue
        precision, recall = same / sum(predicted.values()), same / sum(gold_tokens.values())
        f1 = 2 * precision * recall / (precision + recall)
        if f1 > best_f1:
            best_f1, best_recall = f1, recall
    return best_recall


def answer_step_reward(completion: str, golds: str | Sequence[str]) -> float:
    """Recall of the `<answer>`: binary for short or multiple golds, soft for one long gold."""
    try:
        prediction = parse_answer_step(completion)
    except StepFormatError:
        return 0.0
    golds = [golds] if isinstance(golds, str) else list(golds)
    recall = answer_recall(prediction, golds)
    if len(golds) == 1 and len(golds[0].split(" ")) > 5:
        return recall
    return 1.0 if recall == 1.0 else 0.0


# ---- TRL reward-function adapters: fn(completions, **dataset_columns) -> list[float | None] ----


@functools.cache
def query_similarity(embedding_model: str | None = None) -> Similarity:
    """The paper's embedding cosine under a local sentence-transformers model, else the lexical
    fallback (`lexical_similarity`). Cached: the model loads once per process, not once per batch."""
    if embedding_model is None:
        return lexical_similarity
    from stepgrpo.router.embed import EmbeddingSimilarity

    return EmbeddingSimilarity(embedding_model)


def make_router_step_reward(similarity: Similarity = lexical_similarity) -> Callable[..., list[float | None]]:
    """The router-step reward for TRL; None (skipped by TRL) on answer-step rows."""

    def router_step(completions: list, step_type: list[str], ref_query: list[str], ref_kb: list[str],
                    **_: Any) -> list[float | None]:
        return [
            router_step_reward(completion_cell(c), query, kb, similarity) if kind == "ret" else None
            for c, kind, query, kb in zip(completions, step_type, ref_query, ref_kb, strict=True)
        ]

    return router_step


def answer_step(completions: list, step_type: list[str], ref_answers: list[list[str]],
                **_: Any) -> list[float | None]:
    """The answer-step reward for TRL; None (skipped by TRL) on router-step rows."""
    return [
        answer_step_reward(completion_cell(c), golds) if kind == "ans" else None
        for c, kind, golds in zip(completions, step_type, ref_answers, strict=True)
    ]


router_step = make_router_step_reward()
"""The router-step reward with the lexical similarity; use `make_router_step_reward` for embeddings."""
