"""R1-Router embedded-task report: SFT a tiny model on the generated world's step rows, then
R1-Router Step-GRPO (router-step + answer-step rewards on every step row) vs outcome-only GRPO
(the answer reward on the final-answer rows only), and evaluate each with the `router-answer` loop
on held-out questions of the same world: answer recall ("F1-Recall"), routing accuracy,
retrievals per question.

    .venv/bin/python benchmarks/router_report.py --out runs/router-report

Prints a Markdown table (also written to OUT/report.md, with OUT/report.json). CPU only; about
20 minutes on 2 cores with the defaults. Tiny random-init models: this measures whether the
pipeline learns at all on a toy task, not the paper's numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _config(preset: str | None, overrides: dict[str, Any], config_cls: Any = None):
    from stepgrpo.training.config import load_train_config

    args = [item for key, value in overrides.items() for item in (f"--{key}", str(value))]
    return load_train_config(None, args, preset, **({"config_cls": config_cls} if config_cls else {}))


def evaluate(model: Path, world: Path, questions: Path, max_new_tokens: int) -> dict[str, Any]:
    from stepgrpo.router.inference import ModelPolicy, answer_questions, read_questions, summarize
    from stepgrpo.router.kb import KnowledgeBases

    policy = ModelPolicy(model, max_new_tokens=max_new_tokens, temperature=0.0, batch_size=16)
    records = answer_questions(read_questions(questions), KnowledgeBases.load(world / "kb"), policy, retries=0)
    return summarize(records) | {"well_formed_router": _well_formed_router(records)}


def _well_formed_router(records: list[dict[str, Any]]) -> float:
    steps = [step for record in records for step in record["steps"]]
    return sum("error" not in step["router"] for step in steps) / max(1, len(steps))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("runs/router-report"))
    parser.add_argument("--questions", type=int, default=140, help="world questions (train + eval)")
    parser.add_argument("--eval", type=int, default=30, help="held-out questions for evaluation")
    parser.add_argument("--hidden-size", type=int, default=128)
    parser.add_argument("--num-layers", type=int, default=4)
    parser.add_argument("--sft-epochs", type=float, default=2.0)
    parser.add_argument("--rl-steps", type=int, default=40)
    parser.add_argument("--rl-lr", type=float, default=2e-5)
    parser.add_argument("--max-new-tokens", type=int, default=96)
    parser.add_argument("--seed", type=int, default=0)
    options = parser.parse_args()

    from stepgrpo.data.io import write_rows
    from stepgrpo.models import build_tiny_model
    from stepgrpo.router.records import trajectories_to_rows
    from stepgrpo.router.world import WorldConfig, generate_world
    from stepgrpo.training.run import train
    from stepgrpo.training.sft import StepSFTConfig, sft

    out = options.out
    out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        timings[name] = round(time.perf_counter() - clock, 1)
        clock = time.perf_counter()
        print(f"[{name}] {timings[name]} s", flush=True)

    world = out / "world"
    summary = generate_world(world, WorldConfig(seed=options.seed, questions=options.questions), force=True)
    lines = (world / "trajectories.jsonl").read_text().splitlines()
    split = len(lines) - options.eval
    (world / "train.jsonl").write_text("\n".join(lines[:split]) + "\n")
    (world / "eval.jsonl").write_text("\n".join(lines[split:]) + "\n")
    rows, problems = trajectories_to_rows(world / "train.jsonl", out / "steps.jsonl")
    assert not problems, problems
    write_rows(out / "steps.jsonl", rows)
    write_rows(out / "steps-final.jsonl", [row for row in rows if row["role"] == "final"])
    base = build_tiny_model(out / "base", hidden_size=options.hidden_size, num_layers=options.num_layers,
                            seed=options.seed)
    lap("world and base model")

    common = {"use_cpu": True, "bf16": False, "report_to": "none", "save_strategy": "no", "logging_steps": 10,
              "max_pixels": 12544, "seed": options.seed}
    run, args = _config(None, {**common, "model": base, "train_data": out / "steps.jsonl",
                               "reasoning_format": "router", "output_dir": out / "sft",
                               "num_train_epochs": options.sft_epochs, "per_device_train_batch_size": 8,
                               "learning_rate": 1e-3, "warmup_steps": 10}, StepSFTConfig)
    sft_model = sft(run, args)
    lap("sft")

    rl = {**common, "model": sft_model, "max_steps": options.rl_steps, "learning_rate": options.rl_lr,
          "max_completion_length": options.max_new_tokens, "logging_steps": 10}
    run, args = _config("router-tiny", {**rl, "train_data": out / "steps.jsonl", "output_dir": out / "step-grpo"})
    step_model = train(run, args)
    lap("step-grpo")
    run, args = _config("router-tiny", {**rl, "train_data": out / "steps-final.jsonl",
                                        "output_dir": out / "outcome-grpo", "reward_funcs": "[answer_step]",
                                        "reward_weights": "[1.0]"})
    outcome_model = train(run, args)
    lap("outcome-grpo")

    results = {}
    for name, model in (("SFT (before RL)", sft_model), ("SFT + R1-Router Step-GRPO", step_model),
                        ("SFT + outcome-only GRPO", outcome_model)):
        results[name] = evaluate(model, world, world / "eval.jsonl", options.max_new_tokens)
        lap(f"eval {name}")

    header = ("| model | answer recall | routing accuracy | retrievals / question | well-formed router steps "
              "| well-formed final answers |\n|---|---|---|---|---|---|")
    table = "\n".join([header, *(
        f"| {name} | {r['answer_recall']:.3f} | {r['routing_accuracy']:.3f} | {r['retrievals_per_question']:.2f} "
        f"| {r['well_formed_router']:.3f} | {r['well_formed_final']:.3f} |" for name, r in results.items())])
    reference = sum(len(json.loads(line)["steps"]) for line in lines[split:]) / options.eval
    note = (f"\n\nWorld: {options.questions} questions ({split} train, {options.eval} held out; lookups per "
            f"question {summary['hops']}); reference retrievals per held-out question: {reference:.2f}. "
            f"Tiny Qwen2-VL, hidden {options.hidden_size}, {options.num_layers} layers. Timings (s): {timings}.")
    (out / "report.md").write_text(table + note + "\n")
    (out / "report.json").write_text(json.dumps({"results": results, "timings": timings,
                                                 "options": {k: str(v) for k, v in vars(options).items()}},
                                                indent=1) + "\n")
    print(table + note)


if __name__ == "__main__":
    main()
