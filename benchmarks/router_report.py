"""R1-Router embedded-task report: SFT a tiny model on the generated world's step rows, then, from
that same start and with the same budget (optimizer steps, completions per step):

- R1-Router Step-GRPO, teacher-forced (router-step + answer-step rewards on every step row; the paper),
- outcome-only GRPO (the answer reward on the final-answer rows only),
- on-policy Step-GRPO (`router-onpolicy-tiny`: the policy's own multi-turn rollouts with real
  retrieval, retrieved text masked out of the loss, per-turn step advantages; our extension),

and evaluate each on held-out questions of the same world with the `router-answer` loop, both as
the official loop runs it (a fresh prompt per step) and as one multi-turn transcript (what the
on-policy variant trains on): answer recall ("F1-Recall"), routing accuracy, retrievals per
question, well-formed steps. Also reports each RL run's training reward, first vs last logged steps.

    .venv/bin/python benchmarks/router_report.py --out runs/router-report

Only text questions are used (on-policy transcripts are text-only), with the text-only tiny
Qwen2. Prints Markdown tables (also OUT/report.md, with OUT/report.json). CPU only. Tiny
random-init models: this measures whether the pipeline learns at all on a toy task, not the
paper's numbers.
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
    from stepgrpo.training.config import StepGRPOConfig, config_from_mapping

    settings = {key: str(value) if isinstance(value, Path) else value for key, value in overrides.items()}
    return config_from_mapping(settings, preset, config_cls or StepGRPOConfig, source="router_report")


def evaluate(model: Path, world: Path, questions: Path, max_new_tokens: int, loop: str) -> dict[str, Any]:
    """Greedy `router-answer` on the held-out questions: `official` (a fresh prompt per step,
    `ModelPolicy`) or `multi-turn` (one transcript per question, `onpolicy.TranscriptPolicy`)."""
    from stepgrpo.router.inference import ModelPolicy, answer_questions, read_questions, summarize
    from stepgrpo.router.kb import KnowledgeBases
    from stepgrpo.router.onpolicy import TranscriptPolicy

    if loop == "official":
        policy: Any = ModelPolicy(model, max_new_tokens=max_new_tokens, temperature=0.0, batch_size=32)
    else:
        policy = TranscriptPolicy.from_folder(model, max_new_tokens=max_new_tokens)
    records = answer_questions(read_questions(questions), KnowledgeBases.load(world / "kb"), policy, retries=0)
    answers = [step["answer"] for record in records for step in record["steps"] if "answer" in step]
    sub_answers = sum("error" not in answer for answer in answers) / max(1, len(answers))
    return summarize(records) | {"well_formed_router": _well_formed_router(records),
                                 "well_formed_sub_answer": sub_answers}


def sampled_rollouts(model: Path, world: Path, questions: Path, max_new_tokens: int, temperature: float,
                     count: int = 40) -> dict[str, Any]:
    """How on-policy rollouts of `model` end at the RL temperature (TRL's top_k 0: no top-k), on the
    first `count` training questions: stop reasons, model turns per trajectory, final answers reached."""
    from collections import Counter

    from stepgrpo.router.inference import read_questions, run_loop
    from stepgrpo.router.kb import KnowledgeBases
    from stepgrpo.router.onpolicy import TranscriptPolicy

    policy = TranscriptPolicy.from_folder(model, max_new_tokens=max_new_tokens, temperature=temperature, top_k=0)
    states = run_loop(read_questions(questions, count), KnowledgeBases.load(world / "kb"), policy, retries=0,
                      end_on_failure=True)
    reasons = Counter((state.stop_reason or "").split(":")[0] for state in states)
    return {"stop_reasons": dict(reasons.most_common()), "questions": len(states),
            "turns_per_trajectory": sum(len(policy.transcripts[s.key].turns) for s in states) / len(states),
            "final_answers": sum(state.final is not None for state in states)}


def train_logged(run: Any, args: Any) -> tuple[Path, list[dict[str, Any]]]:
    """`stepgrpo train` (training.run.train), also returning the trainer's log history."""
    from stepgrpo.models import load_model_and_processor
    from stepgrpo.training.run import dataset_builder, save_final
    from stepgrpo.training.trainer import StepGRPOTrainer

    dataset = dataset_builder(args.reasoning_format, args.router_rollout)(run.train_data, args.reasoning_format)
    model, processing_class = load_model_and_processor(run.model, dtype=run.dtype, max_pixels=run.max_pixels)
    trainer = StepGRPOTrainer(model=model, args=args, train_dataset=dataset, processing_class=processing_class)
    trainer.train()
    return save_final(trainer, processing_class), trainer.state.log_history


def reward_trend(history: list[dict[str, Any]]) -> dict[str, float]:
    """Mean training reward (and share of zero-spread groups) over the first and last logged quarters."""
    logged = [entry for entry in history if "reward" in entry]
    quarter = max(1, len(logged) // 4)

    def mean(entries: list[dict[str, Any]], key: str) -> float:
        return sum(entry.get(key, 0.0) for entry in entries) / max(1, len(entries))

    return {"reward_first": mean(logged[:quarter], "reward"), "reward_last": mean(logged[-quarter:], "reward"),
            "zero_std_first": mean(logged[:quarter], "frac_reward_zero_std"),
            "zero_std_last": mean(logged[-quarter:], "frac_reward_zero_std")}


def _well_formed_router(records: list[dict[str, Any]]) -> float:
    steps = [step for record in records for step in record["steps"]]
    return sum("error" not in step["router"] for step in steps) / max(1, len(steps))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("runs/router-report"))
    parser.add_argument("--questions", type=int, default=140, help="world questions (text ones are used)")
    parser.add_argument("--eval", type=int, default=30, help="held-out text questions for evaluation")
    parser.add_argument("--hidden-size", type=int, default=128)
    parser.add_argument("--num-layers", type=int, default=4)
    parser.add_argument("--sft-epochs", type=float, default=4.0)
    parser.add_argument("--sft-model", type=Path, default=None,
                        help="reuse this SFT'd model folder (from an earlier run with the same options) instead of SFT")
    parser.add_argument("--rl-steps", type=int, default=30)
    parser.add_argument("--rl-lr", type=float, default=2e-5)
    parser.add_argument("--max-new-tokens", type=int, default=96, help="per model turn (and RL completion)")
    parser.add_argument("--seed", type=int, default=0)
    options = parser.parse_args()

    from stepgrpo.data.io import write_rows
    from stepgrpo.models import build_tiny_model
    from stepgrpo.router.records import trajectories_to_rows
    from stepgrpo.router.world import WorldConfig, generate_world
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
    generate_world(world, WorldConfig(seed=options.seed, questions=options.questions), force=True)
    lines = [line for line in (world / "trajectories.jsonl").read_text().splitlines()
             if not json.loads(line).get("image")]
    split = len(lines) - options.eval
    (world / "train.jsonl").write_text("\n".join(lines[:split]) + "\n")
    (world / "eval.jsonl").write_text("\n".join(lines[split:]) + "\n")
    rows, problems = trajectories_to_rows(world / "train.jsonl", out / "steps.jsonl")
    assert not problems, problems
    write_rows(out / "steps.jsonl", rows)
    write_rows(out / "steps-final.jsonl", [row for row in rows if row["role"] == "final"])
    base = build_tiny_model(out / "base", arch="qwen2", hidden_size=options.hidden_size,
                            num_layers=options.num_layers, seed=options.seed)
    lap("world and base model")

    common = {"use_cpu": True, "bf16": False, "report_to": "none", "save_strategy": "no", "logging_steps": 10,
              "seed": options.seed}
    run, args = _config(None, {**common, "model": base, "train_data": out / "steps.jsonl",
                               "reasoning_format": "router", "output_dir": out / "sft",
                               "num_train_epochs": options.sft_epochs, "per_device_train_batch_size": 8,
                               "learning_rate": 1e-3, "warmup_steps": 10}, StepSFTConfig)
    sft_model = options.sft_model or sft(run, args)
    lap("sft")

    rl = {**common, "model": sft_model, "max_steps": options.rl_steps, "learning_rate": options.rl_lr,
          "max_completion_length": options.max_new_tokens, "logging_steps": 1}
    variants = {
        "SFT + R1-Router Step-GRPO (teacher-forced)": ("router-tiny", {"train_data": out / "steps.jsonl"}),
        "SFT + outcome-only GRPO (teacher-forced)": ("router-tiny", {
            "train_data": out / "steps-final.jsonl", "reward_funcs": ["answer_step"], "reward_weights": [1.0]}),
        "SFT + on-policy Step-GRPO (ours)": ("router-onpolicy-tiny", {
            "train_data": world / "train.jsonl", "router_kb": world / "kb"}),
    }
    models: dict[str, Path] = {"SFT (before RL)": sft_model}
    training: dict[str, dict[str, float]] = {}
    for number, (name, (preset, extra)) in enumerate(variants.items()):
        run, args = _config(preset, {**rl, **extra, "output_dir": out / f"rl-{number}"})
        models[name], history = train_logged(run, args)
        training[name] = reward_trend(history)
        lap(f"train {name}")

    rollouts = {name: sampled_rollouts(models[name], world, world / "train.jsonl", options.max_new_tokens, 1.0)
                for name in ("SFT (before RL)", "SFT + on-policy Step-GRPO (ours)")}
    lap("sampled rollouts")

    results: dict[str, dict[str, Any]] = {}
    for loop in ("official", "multi-turn"):
        for name, model in models.items():
            results[f"{name} | {loop}"] = evaluate(model, world, world / "eval.jsonl", options.max_new_tokens, loop)
            lap(f"eval {name} {loop}")

    header = ("| model | loop | answer recall | routing accuracy | retrievals / question | well-formed router "
              "steps | well-formed sub-answers | well-formed final answers |\n|---|---|---|---|---|---|---|---|")
    table = "\n".join([header, *(
        f"| {key.split(' | ')[0]} | {key.split(' | ')[1]} | {r['answer_recall']:.3f} | {r['routing_accuracy']:.3f} "
        f"| {r['retrievals_per_question']:.2f} | {r['well_formed_router']:.3f} | {r['well_formed_sub_answer']:.3f} "
        f"| {r['well_formed_final']:.3f} |"
        for key, r in results.items())])
    trend = "\n".join(["| RL run | reward, first quarter | reward, last quarter | zero-spread groups, first "
                        "| zero-spread groups, last |\n|---|---|---|---|---|", *(
                            f"| {name} | {t['reward_first']:.3f} | {t['reward_last']:.3f} | {t['zero_std_first']:.2f} "
                            f"| {t['zero_std_last']:.2f} |" for name, t in training.items())])
    sampled = "\n".join([
        f"On-policy rollouts at temperature 1.0 of the first {r['questions']} training questions, {name}: stop "
        f"reasons {r['stop_reasons']}, {r['turns_per_trajectory']:.2f} model turns per trajectory, "
        f"{r['final_answers']} final answers reached." for name, r in rollouts.items()])
    trend += "\n\n" + sampled
    hops = [len(json.loads(line)["steps"]) for line in lines]
    note = (f"\n\nWorld: {options.questions} questions, {len(lines)} of them text-only ({split} train, "
            f"{options.eval} held out); reference retrievals per held-out question: "
            f"{sum(hops[split:]) / options.eval:.2f}. Tiny Qwen2 (text), hidden {options.hidden_size}, "
            f"{options.num_layers} layers; SFT {options.sft_epochs} epochs; each RL run {options.rl_steps} steps "
            f"of 8 completions, lr {options.rl_lr}. Timings (s): {timings}.")
    (out / "report.md").write_text(table + "\n\n" + trend + note + "\n")
    (out / "report.json").write_text(json.dumps({"results": results, "training": training, "rollouts": rollouts,
                                                 "timings": timings,
                                                 "options": {k: str(v) for k, v in vars(options).items()}},
                                                indent=1) + "\n")
    print(table + "\n\n" + trend + note)


if __name__ == "__main__":
    main()
