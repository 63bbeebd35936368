"""On-policy R1-Router Step-GRPO: multi-turn rollouts with real retrieval on the tiny model, masks
that cover exactly the inserted text, trajectory step rewards, and a real trainer run.

A random tiny model never writes a parseable router step, so some rollouts are steered: HF's
`prefix_allowed_tokens_fn` lets the real model sample only the tokens of the output the reference
trajectory calls for (the sub-answer is read from the passages it was shown, as in
`test_router_inference.reference_policy`); the ids, masks and retrieval are all real.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from stepgrpo.router.format import answer_completion, router_completion


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from stepgrpo.router.world import WorldConfig, generate_world

    folder = tmp_path_factory.mktemp("router-world")
    generate_world(folder, WorldConfig(seed=2, questions=12))
    lines = [line for line in (folder / "trajectories.jsonl").read_text().splitlines()
             if not json.loads(line).get("image")]
    (folder / "text.jsonl").write_text("\n".join(lines) + "\n")
    return folder


def reference_output(transcript: str, references: dict[str, dict]) -> str | None:
    """What the reference trajectory writes next in this transcript (None: the question is free)."""
    question = re.search(r"Origin question: (.*?)\n", transcript).group(1)
    if question not in references:
        return None
    steps, golds = references[question]["steps"], references[question]["answer"]
    last_user = transcript.rsplit("<|im_start|>user\n", 1)[1]
    if "final answer of the origin question" in last_user:
        return answer_completion(golds[0] if isinstance(golds, list) else golds)
    if last_user.startswith("Origin question"):
        done = last_user.count("Sub-question")
        return (router_completion(steps[done]["sub_question"], steps[done]["kb"]) if done < len(steps)
                else router_completion("none", "none"))
    asked = last_user.rsplit("to the Question: ", 1)[1].split("<|im_end|>")[0]
    step = next(s for s in steps if s["sub_question"].lower() == asked)
    found = step["sub_answer"].lower() in last_user.split("to the Question:")[0].lower()
    return answer_completion(step["sub_answer"] if found else "unknown")


def steering(tokenizer, references: dict[str, dict], steered: set[str]):
    """`prefix_allowed_tokens_fn`: the reference output's tokens for questions in `steered`."""
    header = tokenizer("<|im_start|>assistant\n", add_special_tokens=False)["input_ids"]
    end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    everything = list(range(len(tokenizer)))

    def allowed(_: int, ids) -> list[int]:
        ids = ids.tolist()
        while ids and ids[0] == tokenizer.pad_token_id:
            ids = ids[1:]
        starts = [i + len(header) for i in range(len(ids) - len(header) + 1) if ids[i:i + len(header)] == header]
        transcript = tokenizer.decode(ids[:starts[-1]])
        question = re.search(r"Origin question: (.*?)\n", transcript).group(1)
        target = reference_output(transcript, references) if question in steered else None
        if target is None:
            return everything
        target_ids = tokenizer(target, add_special_tokens=False)["input_ids"] + [end]
        done = len(ids) - starts[-1]
        return [target_ids[done]] if done < len(target_ids) else [end]

    return allowed


def references_of(path: Path) -> dict[str, dict]:
    return {record["question"]: record for record in map(json.loads, path.read_text().splitlines())}


def test_rollout_masks_exactly_the_inserted_text(world: Path, tiny_lm_dir: Path) -> None:
    from transformers import GenerationConfig

    from stepgrpo.models import load_model_and_processor
    from stepgrpo.router.inference import answer_questions, read_questions, run_loop
    from stepgrpo.router.kb import KnowledgeBases
    from stepgrpo.router.onpolicy import TranscriptPolicy
    from stepgrpo.router.prompts import ANSWER_SYSTEM_PROMPT, FINAL_SYSTEM_PROMPT, ROUTER_SYSTEM_PROMPT

    questions = read_questions(world / "text.jsonl")[:4]
    references = references_of(world / "text.jsonl")
    model, tokenizer = load_model_and_processor(tiny_lm_dir)
    config = GenerationConfig(max_new_tokens=120, do_sample=True, temperature=1.0,
                              eos_token_id=model.generation_config.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    steered = {q.question for q, _ in questions[:3]}
    policy = TranscriptPolicy(model, tokenizer, config,
                              prefix_allowed_tokens_fn=steering(tokenizer, references, steered))
    kbs = KnowledgeBases.load(world / "kb")
    states = run_loop(questions, kbs, policy, retries=0, end_on_failure=True)

    for state, (question, _) in zip(states[:3], questions[:3], strict=True):
        transcript = policy.transcripts[state.key]
        assert state.stop_reason in {"model stopped", "step cap (3 retrievals)"}
        assert state.final["answer"] == str(references[question.question]["answer"][0]).lower()
        assert state.routes == question.reference_routes()
        prompt = tokenizer.decode(transcript.prompt_ids)
        assert prompt == tokenizer.apply_chat_template(
            [{"role": "system", "content": ROUTER_SYSTEM_PROMPT},
             {"role": "user", "content": f"Origin question: {question.question}\n"}],
            tokenize=False, add_generation_prompt=True)
        ids, mask = transcript.completion_ids, transcript.env_mask
        assert len(ids) == len(mask)
        # the model's tokens are exactly the turns, and each turn decodes to what the loop parsed
        model_positions = {i for turn in transcript.turns for i in range(turn["start"], turn["end"])}
        assert model_positions == {i for i, m in enumerate(mask) if m == 1}
        kinds = [turn["kind"] for turn in transcript.turns]
        hops = len(question.steps)
        assert kinds == ["router", "sub_answer"] * hops + (["router"] if hops < 3 else []) + ["final"]
        # the masked runs are the template glue, the retrieved passages and the later user turns
        inserted = [tokenizer.decode([t for t, m in zip(ids[a.get("end", 0):b["start"]],
                                                        mask[a.get("end", 0):b["start"]], strict=True)])
                    for a, b in zip([{}, *transcript.turns], transcript.turns, strict=False)][1:]
        assert all(m == 0 for a, b in zip(transcript.turns, transcript.turns[1:], strict=False)
                   for m in mask[a["end"]:b["start"]])
        for number, step in enumerate(question.steps):
            passages = [hit.text for hit in kbs.search(step["sub_question"].lower(), step["kb"], 5)]
            answer_turn = inserted[2 * number]
            assert all(passage in answer_turn for passage in passages)
            assert f"to the Question: {step['sub_question'].lower()}" in answer_turn
            assert answer_turn.startswith("\n<|im_start|>")
        assert inserted[0].count(ANSWER_SYSTEM_PROMPT) == 1 and ROUTER_SYSTEM_PROMPT not in "".join(inserted)
        assert FINAL_SYSTEM_PROMPT in inserted[-1] and "final answer of the origin question" in inserted[-1]
        model_text = "".join(tokenizer.decode(ids[t["start"]:t["end"]], skip_special_tokens=True)
                             for t in transcript.turns)
        assert "ter-0:" not in model_text and all(t["text"] in model_text for t in transcript.turns)

    free = states[3]  # the random model on its own: malformed first router step, the trajectory ends
    assert free.ended and free.stop_reason == "malformed router step after 1 attempt(s)" and free.final is None
    assert [t["kind"] for t in policy.transcripts[free.key].turns] == ["router"]
    assert set(policy.transcripts[free.key].env_mask) == {1}

    # A failed retrieval ends the trajectory too, with its reason (an index without the needed KB).
    text_only = KnowledgeBases.build(world / "kb_source" / "text.jsonl", world / "text-kb")
    other = next((q, image) for q, image in questions if q.steps[0]["kb"] != "text")
    policy = TranscriptPolicy(model, tokenizer, config,
                              prefix_allowed_tokens_fn=steering(tokenizer, references, {other[0].question}))
    [state] = run_loop([other], text_only, policy, retries=0, end_on_failure=True)
    assert state.ended and state.stop_reason.startswith("retrieval failed: KeyError") and state.final is None
    with pytest.raises(ValueError, match="retries=0"):
        answer_questions([other], kbs, policy)


def test_trajectory_step_rewards_by_hand() -> None:
    from stepgrpo.router.onpolicy import trajectory_step_rewards
    from stepgrpo.router.rewards import lexical_similarity

    turns = [
        {"kind": "router", "text": router_completion("In which city was Ann Lee born?", "text")},
        {"kind": "sub_answer", "text": answer_completion("Vistel")},
        {"kind": "router", "text": router_completion("What is the population of Vistel?", "image_text")},
        {"kind": "sub_answer", "text": answer_completion("4100")},
        {"kind": "router", "text": router_completion("none", "none")},
        {"kind": "final", "text": answer_completion("4,100")},
    ]
    queries = ["In which city was Ann Lee born?", "What is the population of Vistel?"]
    rewards = trajectory_step_rewards(turns, queries, ["text", "table"], ["4100"])
    # exact query and route: 1; exact query, wrong route: 0.5; correct stop: 1; "4,100" == "4100": 1
    assert rewards == [1.0, 0.0, 0.5, 0.0, 1.0, 1.0]
    rewards = trajectory_step_rewards([*turns[:1], {"kind": "router", "text": "no tags"}], queries,
                                      ["text", "table"], ["4100"])
    assert rewards == [1.0, 0.0]
    # a router turn past the reference steps is compared with the stop ("none", "none")
    assert trajectory_step_rewards(turns[4:5], [], [], ["x"]) == [1.0]
    assert trajectory_step_rewards(turns[:1], [], [], ["x"])[0] == pytest.approx(
        0.5 * lexical_similarity(queries[0].lower(), "none"))


def test_config_validation(world: Path, tmp_path: Path) -> None:
    from stepgrpo.training.config import ConfigError, load_train_config

    base = ["--model", "m", "--train_data", "d", "--output_dir", str(tmp_path)]
    with pytest.raises(ConfigError, match="router_kb: router_rollout on_policy retrieves"):
        load_train_config(overrides=[*base, "--router_rollout", "on_policy"], preset="router-tiny")
    with pytest.raises(ConfigError, match="not a knowledge-base index folder"):
        load_train_config(overrides=[*base, "--router_rollout", "on_policy", "--router_kb", str(tmp_path)],
                          preset="router-tiny")
    with pytest.raises(ConfigError, match="router_rollout: 'sometimes' is not allowed"):
        load_train_config(overrides=[*base, "--router_rollout", "sometimes"], preset="router-tiny")
    with pytest.raises(ConfigError, match=r"router_rollout: .on_policy. needs reasoning_format router"):
        load_train_config(overrides=[*base, "--router_rollout", "on_policy", "--router_kb", str(world / "kb")],
                          preset="tiny")
    with pytest.raises(ConfigError, match="router_kb: only used with router_rollout on_policy"):
        load_train_config(overrides=[*base, "--router_kb", str(world / "kb")], preset="router-tiny")
    with pytest.raises(ConfigError, match="unless router_rollout is on_policy"):
        load_train_config(overrides=[*base, "--advantage_mode", "step"], preset="router-tiny")
    _, args = load_train_config(overrides=[*base, "--router_kb", str(world / "kb")], preset="router-onpolicy-tiny")
    assert args.router_rollout == "on_policy" and args.advantage_mode == "step"
    with pytest.raises(ConfigError, match="egsw: not wired to router_rollout on_policy"):
        load_train_config(overrides=[*base, "--router_kb", str(world / "kb"), "--egsw", "{alpha: 0.1}"],
                          preset="router-onpolicy-tiny")


def test_question_dataset(world: Path) -> None:
    from stepgrpo.data.training import TrainingDataError
    from stepgrpo.router.onpolicy import build_question_dataset, question_of

    dataset = build_question_dataset(world / "text.jsonl")
    first = json.loads((world / "text.jsonl").read_text().splitlines()[0])
    row = dataset[0]
    assert question_of(row["prompt"]) == first["question"]
    assert row["ref_queries"] == [step["sub_question"] for step in first["steps"]]
    assert row["ref_kbs"] == [step["kb"] for step in first["steps"]] and row["ref_answers"] == first["answer"]
    with_image = [json.loads(line)["id"] for line in (world / "trajectories.jsonl").read_text().splitlines()
                  if json.loads(line).get("image")]
    assert with_image
    with pytest.raises(TrainingDataError, match=f"question {with_image[0]}: has an image"):
        build_question_dataset(world / "trajectories.jsonl")


def test_on_policy_step_grpo_run(world: Path, tiny_lm_dir: Path, tmp_path: Path) -> None:
    """Two real optimizer steps on on-policy rollouts: half the groups' samples steered to the
    reference, so groups have reward spread; advantages are per token and 0 on inserted text."""
    import torch

    from stepgrpo.models import load_model_and_processor
    from stepgrpo.router.kb import KnowledgeBases
    from stepgrpo.router.onpolicy import RouterRollout, build_question_dataset
    from stepgrpo.tasks.router import shared_turn_rewards
    from stepgrpo.training.config import load_train_config
    from stepgrpo.training.trainer import StepGRPOTrainer

    run, args = load_train_config(overrides=[
        "--model", str(tiny_lm_dir), "--train_data", str(world / "text.jsonl"), "--router_kb", str(world / "kb"),
        "--output_dir", str(tmp_path / "run"), "--max_steps", "2", "--max_completion_length", "100",
        "--num_generations", "2", "--per_device_train_batch_size", "4", "--learning_rate", "1e-3",
        "--logging_steps", "1"], preset="router-onpolicy-tiny")
    dataset = build_question_dataset(run.train_data, limit=4)
    model, tokenizer = load_model_and_processor(run.model)
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    references = references_of(world / "text.jsonl")
    steered: set[str] = set()
    rollout = RouterRollout(KnowledgeBases.load(args.router_kb),
                            prefix_allowed_tokens_fn=steering(tokenizer, references, steered))
    calls = []

    def steer_one_of_two(prompts, trainer):  # the first of each group's two samples follows the reference
        outputs = []
        for index, prompt in enumerate(prompts):
            question = prompt[-1]["content"].removeprefix("Origin question: ").removesuffix("\n")
            steered.clear()
            if index % 2 == 0:
                steered.add(question)
            outputs.append(rollout([prompt], trainer))
        merged = {key: [v for o in outputs for v in o[key]] for key in outputs[0] if key != "logprobs"}
        calls.append(merged)
        return {**merged, "logprobs": None}

    trainer = StepGRPOTrainer(model=model, args=args, train_dataset=dataset, processing_class=tokenizer,
                              rollout_func=steer_one_of_two)
    scored = shared_turn_rewards(args.router_embedding_model).scored
    trainer.train()
    assert len(calls) == 2
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    assert len(losses) == 2 and all(torch.isfinite(torch.tensor(losses)))
    rewards = [entry["reward"] for entry in trainer.state.log_history if "reward" in entry]
    assert all(r > 0.5 for r in rewards)  # the steered half scores ~2-4, the free half 0
    changed = [name for name, p in model.named_parameters() if not torch.equal(before[name], p.detach())]
    assert changed

    # One more rollout batch through the trainer's scoring: per-token advantages, 0 off the turns.
    inputs = [dict(dataset[i // 2]) for i in range(4)]
    output = trainer._generate_and_score_completions(inputs)
    advantages, mask = output["advantages"], output["tool_mask"] * output["completion_mask"]
    assert advantages.dim() == 2 and advantages.shape == output["completion_ids"].shape
    assert torch.all(advantages[mask == 0] == 0) and advantages[mask == 1].abs().sum() > 0
    steered_row = inputs[0]["turns"]  # the reference trajectory: its router turns beat the free sample's
    assert calls[-1]["stop_reason"][1].startswith("malformed router step")
    first_turn = advantages[0, steered_row[0]["start"]:steered_row[0]["end"]]
    assert torch.all(first_turn > 0) and torch.all(advantages[1][mask[1] == 1] < 0)
    # both reward functions and the step credit read each batch's turn rewards, scored once per trajectory
    assert shared_turn_rewards(args.router_embedding_model).scored - scored == sum(len(c["turns"]) for c in calls)
