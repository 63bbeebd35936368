"""Throughput of our rewards vs. a reimplementation of the official R1-VL reward code.

Generates realistic long completions (about 1k tokens, ~5 key steps each, a mix of correct,
wrong, unanswered and multiple-choice answers) and scores every one with both implementations of
r = r_auc + r_val, interleaving the two in blocks so drift on a shared machine hits both alike.
The official logic follows R1-VL's released `grpo.py` (docs/rewards.md): key steps as lowercase
substrings of the `### Step N:` bodies, math_verify over the whole completion with an exact-string
fallback on the final-answer line, and the completeness/logic checks.

Prints completions per second for each and, alone on the last line, `ratio=X.XX` (ours / official).

    python benchmarks/rewards.py [--n 2000] [--seed 0]
"""

from __future__ import annotations

import argparse
import random
import re
import time
from collections.abc import Callable

from math_verify import parse, verify

from stepgrpo.rewards import reasoning_validity, step_accuracy

SENTENCE = ("the value of each bar is read from the chart and we compare it with the others so that the "
            "relation between the quantities becomes clear before we compute the result carefully")
WORDS = SENTENCE.split()


def filler(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."


def make_example(rng: random.Random, index: int) -> tuple[str, str, list[list[str]], dict[str, str] | None]:
    labels = rng.sample(["fox", "owl", "cat", "eel", "yak", "bee", "ant", "emu"], 5)
    values = [rng.randint(2, 90) for _ in labels]
    total = sum(values)
    key_steps = [[f"{label} = {value}", f"{label} is {value}"] for label, value in zip(labels, values, strict=True)]
    key_steps.append([f"{' + '.join(map(str, values))} = {total}"])
    steps = []
    for label, value in zip(labels, values, strict=True):
        written = f"{label} = {value}" if rng.random() < 0.8 else f"{label} is about {value + 1}"
        steps.append(f"{filler(rng, 40)} Reading the bar for {label}, {written}. {filler(rng, 30)}")
    steps.append(f"{filler(rng, 25)} Adding them: {' + '.join(map(str, values))} = {total}. {filler(rng, 20)}")
    kind = index % 4
    choices = None
    if kind == 0:
        answer = str(total)
    elif kind == 1:
        answer = str(total + rng.randint(1, 5))
    elif kind == 2:
        answer = None
    else:
        choices = {"A": str(total - 2), "B": str(total), "C": str(total + 3), "D": str(total + 7)}
        answer = "(B)" if rng.random() < 0.7 else "C"
    text = (f"### Image Description:\n{filler(rng, 60)} The chart shows bars for {', '.join(labels)}.\n"
            f"### Rationales:\n{filler(rng, 50)}\n### Let's think step by step.\n"
            + "".join(f"### Step {i}:\n{body}\n" for i, body in enumerate(steps, start=1))
            + (f"### The final answer is: {answer}" if answer is not None else ""))
    truth = "B" if choices else str(total)
    return text, truth, key_steps, choices


def ours(text: str, truth: str, key_steps: list[list[str]], choices: dict[str, str] | None) -> float:
    return step_accuracy(text, truth, key_steps, choices) + reasoning_validity(text)


# --- the official R1-VL logic, reimplemented from the reference notes -------------------------
_STEP_BODIES = re.compile(r"### Step \d+:\s*(.*?)(?=\n###|\Z)", re.DOTALL)
_ANSWER_LINE = re.compile(r"### The final answer is:(.*)")


def official(text: str, truth: str, key_steps: list[list[str]], choices: dict[str, str] | None) -> float:
    outcome = 0.0
    try:
        if float(verify(parse(truth), parse(text))) > 0:
            outcome = 1.0
    except Exception:
        pass
    if outcome == 0.0:
        truth_match, text_match = _ANSWER_LINE.search(truth), _ANSWER_LINE.search(text)
        gold = truth_match.group(1).strip() if truth_match else truth.strip()
        student = text_match.group(1).strip() if text_match else text.strip()
        outcome = float(student == gold)
    steps_text = " ".join(_STEP_BODIES.findall(text)).lower()
    matched = sum(any(alt.lower() in steps_text for alt in group) for group in key_steps)
    accuracy = outcome + 0.1 * (matched / len(key_steps) if key_steps else 0.0)
    return accuracy + _official_validity(text)


def _official_validity(text: str) -> float:
    complete = all(marker in text for marker in
                   ("### Image Description:", "### Rationales:", "### Step 1:", "### The final answer is:"))
    if not complete:
        return 0.0
    steps = list(re.finditer(r"### Step (\d+):", text))
    if not text.strip().endswith("### The final answer is:"):
        answer = re.search(r"### The final answer is:", text)
        if answer is None or answer.start() < steps[-1].end():
            return 0.0
    numbers = [int(step.group(1)) for step in steps]
    return 1.0 if numbers == list(range(1, len(numbers) + 1)) else 0.0


def throughput(scorer: Callable[..., float], batch: list, seconds: list[float]) -> None:
    start = time.perf_counter()
    for example in batch:
        scorer(*example)
    seconds.append(time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--block", type=int, default=100)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    examples = [make_example(rng, i) for i in range(args.n)]
    chars = sum(len(text) for text, *_ in examples) / len(examples)
    print(f"{len(examples)} completions, mean {chars:.0f} characters (~{chars / 4:.0f} tokens), "
          f"{sum(len(k) for _, _, k, _ in examples) / len(examples):.1f} key steps each")
    ours_s: list[float] = []
    official_s: list[float] = []
    for start in range(0, len(examples), args.block):
        block = examples[start : start + args.block]
        throughput(official, block, official_s)
        throughput(ours, block, ours_s)
    ours_rate, official_rate = len(examples) / sum(ours_s), len(examples) / sum(official_s)
    print(f"ours:     {ours_rate:8.1f} completions/s")
    print(f"official: {official_rate:8.1f} completions/s")
    print(f"ratio={ours_rate / official_rate:.2f}")


if __name__ == "__main__":
    main()
