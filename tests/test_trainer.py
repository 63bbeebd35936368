"""Real StepGRPO trainer steps on the tiny models: loss, parameter updates, reward alignment,
refusal of over-long prompts, suppressed vision tokens, completion tables and resume."""

from __future__ import annotations

import json

import pytest
import torch
from training_helpers import expected_row_reward, row_reward, write_rows

from stepgrpo.data.training import build_dataset
from stepgrpo.models import load_model_and_processor
from stepgrpo.training.config import StepGRPOConfig
from stepgrpo.training.lengths import PromptTooLongError
from stepgrpo.training.trainer import StepGRPOTrainer, build_reward_funcs


def make_args(tmp_path, **overrides) -> StepGRPOConfig:
    values = dict(output_dir=str(tmp_path / "out"), use_cpu=True, bf16=False, per_device_train_batch_size=8,
                  max_completion_length=12, max_steps=1, learning_rate=1e-3, logging_steps=1, save_strategy="no",
                  report_to="none", activation_checkpointing=False, seed=0)
    return StepGRPOConfig(**{**values, **overrides})


def make_trainer(model_dir, data_path, args, extra_rewards=(row_reward,)):
    model, processor = load_model_and_processor(model_dir)
    dataset = build_dataset(data_path, args.reasoning_format)
    return StepGRPOTrainer(model=model, args=args, train_dataset=dataset, processing_class=processor,
                           reward_funcs=[*build_reward_funcs(args), *extra_rewards])


def changed(before: dict[str, torch.Tensor], model) -> set[str]:
    return {name for name, p in model.named_parameters() if not torch.equal(before[name], p.detach())}


def test_vlm_step_updates_language_and_vision_parts(tiny_vlm_dir, tmp_path):
    trainer = make_trainer(tiny_vlm_dir, write_rows(tmp_path / "data"), make_args(tmp_path))
    before = {name: p.detach().clone() for name, p in trainer.model.named_parameters()}
    trainer.train()
    logs = trainer.state.log_history[0]
    assert torch.isfinite(torch.tensor(logs["loss"])) and logs["grad_norm"] > 0
    for metric in ("step_accuracy/answer_correct", "step_accuracy/key_step_fraction", "step_validity/valid",
                   "completions/mean_length", "kl", "rewards/step_accuracy_reward/mean"):
        assert metric in logs
    names = changed(before, trainer.model)
    assert any(".visual." in n or n.startswith("model.visual") for n in names), "vision tower did not move"
    assert any("language_model" in n for n in names), "language model did not move"


def test_text_model_step(tiny_lm_dir, tmp_path):
    trainer = make_trainer(tiny_lm_dir, write_rows(tmp_path / "data", image=False), make_args(tmp_path))
    assert not trainer._is_vlm
    before = {name: p.detach().clone() for name, p in trainer.model.named_parameters()}
    trainer.train()
    assert len(changed(before, trainer.model)) == len(before)


@pytest.mark.parametrize("batch, accumulation", [(4, 2), (12, 1)])
def test_rewards_stay_aligned_with_completions(tiny_vlm_dir, tmp_path, batch, accumulation):
    args = make_args(tmp_path, per_device_train_batch_size=batch, gradient_accumulation_steps=accumulation,
                     max_completion_length=8)
    trainer = make_trainer(tiny_vlm_dir, write_rows(tmp_path / "data", count=6), args)
    trainer.train()  # row_reward asserts the columns match the prompts inside the trainer
    logs = trainer._logs
    rewards = list(logs["rewards"]["row_reward"])
    assert len(rewards) == batch * accumulation
    for prompt, completion, reward in zip(logs["prompt"], logs["completion"], rewards, strict=True):
        assert reward == pytest.approx(expected_row_reward(prompt, completion))
    total = torch.tensor([sum(values) for values in zip(*logs["rewards"].values(), strict=True)]).view(-1, 4)
    advantages = (total - total.mean(1, keepdim=True)) / (total.std(1, keepdim=True) + 1e-4)
    assert torch.allclose(torch.tensor(list(logs["advantages"])), advantages.flatten(), atol=1e-4)


def test_refuses_over_long_prompts_naming_rows(tiny_vlm_dir, tmp_path):
    data = write_rows(tmp_path / "data", count=3)
    with pytest.raises(PromptTooLongError, match=r"rows\.jsonl:1: \d+ tokens") as error:
        make_trainer(tiny_vlm_dir, data, make_args(tmp_path, max_prompt_length=40))
    assert "never truncated" in str(error.value) and "rows.jsonl:3" in str(error.value)


def test_vision_placeholders_never_sampled(tiny_vlm_dir, tmp_path):
    args = make_args(tmp_path, generation_kwargs={"suppress_tokens": [5]})
    trainer = make_trainer(tiny_vlm_dir, write_rows(tmp_path / "data", count=2), args)
    vocab = trainer._tokenizer.get_vocab()
    suppressed = set(trainer.generation_config.suppress_tokens)
    assert {5, vocab["<|image_pad|>"], vocab["<|video_pad|>"], vocab["<|vision_start|>"]} <= suppressed


def test_completion_table_every_n_steps(tiny_vlm_dir, tmp_path):
    args = make_args(tmp_path, max_steps=2, completion_table_steps=2, max_completion_length=4, learning_rate=0.0)
    trainer = make_trainer(tiny_vlm_dir, write_rows(tmp_path / "data", count=4), args)
    trainer.train()
    tables = sorted(p.name for p in (tmp_path / "out" / "completions").iterdir())
    assert tables == ["completions_00002.parquet"]


def test_resume_gives_same_next_batch_and_loss(tiny_vlm_dir, tmp_path):
    seen: dict[str, list] = {"full": [], "resumed": []}

    def recorder(run: str):
        def record_reward(prompts, completions, trainer_state, **kwargs):
            text = json.dumps(prompts, default=lambda _: "<image>")
            seen[run].append((trainer_state.global_step, text, json.dumps(completions)))
            return [float(len(str(c)) % 5) for c in completions]
        return record_reward

    data = write_rows(tmp_path / "data", count=8)
    full = make_args(tmp_path, max_steps=3, save_strategy="steps", save_steps=2, output_dir=str(tmp_path / "full"))
    trainer = make_trainer(tiny_vlm_dir, data, full, extra_rewards=(recorder("full"),))
    trainer.train()
    resumed_args = make_args(tmp_path, max_steps=3, output_dir=str(tmp_path / "resumed"))
    resumed = make_trainer(tiny_vlm_dir, data, resumed_args, extra_rewards=(recorder("resumed"),))
    resumed.train(resume_from_checkpoint=str(tmp_path / "full" / "checkpoint-2"))
    assert [step for step, *_ in seen["resumed"]] == [2]
    assert seen["resumed"][0] == seen["full"][2]  # same prompts and same sampled completions
    last = {key: trainer.state.log_history[2][key] for key in ("loss", "grad_norm", "kl")}
    again = {key: resumed.state.log_history[-2][key] for key in last}
    assert again == pytest.approx(last, rel=1e-5, abs=1e-8)
