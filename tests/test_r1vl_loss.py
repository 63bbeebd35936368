"""The r1vl presets' loss is R1-VL's: TRL 0.14's GRPO loss, written out below as the official code
has it, gives the same value and the same gradient as `StepGRPOTrainer` on a real rollout batch of
the tiny VLM; TRL 1.16's defaults (bias-corrected KL, log-probs at the sampling temperature) do not."""

from __future__ import annotations

import pytest
import torch
from test_trainer import make_args, make_trainer
from training_helpers import write_rows

from stepgrpo.training.config import ConfigError, StepGRPOConfig, load_train_config

R1VL_LOSS = ("loss_type", "beta", "num_iterations", "scale_rewards", "use_bias_correction_kl", "logprob_temperature",
             "temperature", "vllm_importance_sampling_correction")


def r1vl_loss_settings(**changes):
    _, preset = load_train_config(None, ["--model", "m", "--train_data", "d.jsonl"], preset="r1vl-2b")
    return {**{name: getattr(preset, name) for name in R1VL_LOSS}, **changes}


def official_loss(model, ref_model, batch, beta, temperature=1.0):
    """R1-VL's `compute_loss` (its TRL 0.14 copy): log-softmax of the logits (divided by
    `temperature`, 1 in the official code), ratio exp(logp − sg(logp)), k3 KL, per-sequence mean."""
    ids = torch.cat([batch["prompt_ids"], batch["completion_ids"]], 1)
    attention = torch.cat([batch["prompt_mask"], batch["completion_mask"]], 1)
    width = batch["completion_ids"].size(1)
    images = {key: batch[key] for key in ("pixel_values", "image_grid_thw", "mm_token_type_ids") if key in batch}

    def logps(net):
        logits = net(input_ids=ids, attention_mask=attention, **images).logits[:, -width - 1:-1] / temperature
        return logits.log_softmax(-1).gather(-1, batch["completion_ids"].unsqueeze(-1)).squeeze(-1)

    logp = logps(model)
    with torch.no_grad():
        ref_logp = logps(ref_model)
    per_token_kl = torch.exp(ref_logp - logp) - (ref_logp - logp) - 1
    per_token_loss = torch.exp(logp - logp.detach()) * batch["advantages"].unsqueeze(1)
    per_token_loss = -(per_token_loss - beta * per_token_kl)
    mask = batch["completion_mask"]
    official_loss.kl = ((per_token_kl * mask).sum() / mask.sum()).item()
    return ((per_token_loss * mask).sum(1) / mask.sum(1)).mean()


def gradient(model, loss):
    model.zero_grad()
    loss.backward()
    grads = torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])
    model.zero_grad()
    return grads


def trained_trainer(model_dir, tmp_path, name, **loss_settings):
    """One real training step (so that the policy differs from the reference and the KL has a
    gradient), and the rollout batch it trained on (nonzero advantages from the row reward)."""
    data = write_rows(tmp_path / "data", count=4)
    trainer = make_trainer(model_dir, data, make_args(tmp_path / name, max_completion_length=8, learning_rate=3e-2,
                                                      **loss_settings))
    batches = []
    generate = trainer._generate_and_score_completions
    trainer._generate_and_score_completions = lambda inputs: batches.append(generate(inputs)) or batches[-1]
    trainer.train()
    trainer.model.train()
    batch = batches[0]
    assert batch["advantages"].abs().max() > 0.1
    return trainer, batch


def test_r1vl_presets_give_the_official_loss_and_trl_defaults_do_not(tiny_vlm_dir, tmp_path):
    settings = r1vl_loss_settings()
    assert settings["use_bias_correction_kl"] is False and settings["logprob_temperature"] == 1.0
    assert settings["temperature"] == 1.2
    trainer, batch = trained_trainer(tiny_vlm_dir, tmp_path, "r1vl", **settings)
    model, beta = trainer.model, trainer.args.beta
    ours = trainer._compute_loss(model, batch)
    expected = official_loss(model, trainer.ref_model, batch, beta)
    assert official_loss.kl > 1e-4  # the trained policy has left the reference: the KL term matters here
    assert ours.item() == pytest.approx(expected.item(), rel=1e-5, abs=1e-7)
    ours_grad, expected_grad = gradient(model, ours), gradient(model, official_loss(model, trainer.ref_model, batch,
                                                                                    beta))
    assert torch.allclose(ours_grad, expected_grad, rtol=1e-4, atol=1e-7)
    # TRL 1.16's bias-corrected KL: the same value, another gradient
    trainer.args.use_bias_correction_kl = True
    corrected = trainer._compute_loss(model, batch)
    assert corrected.item() == pytest.approx(ours.item(), rel=1e-5)
    assert not torch.allclose(gradient(model, corrected), expected_grad, rtol=1e-2, atol=1e-6)
    # scored at the sampling temperature (TRL's default) the loss is another one
    at_sampling = official_loss(model, trainer.ref_model, batch, beta, temperature=1.2)
    assert not torch.allclose(gradient(model, at_sampling), expected_grad, rtol=1e-2, atol=1e-6)


def test_without_logprob_temperature_trl_scores_at_the_sampling_temperature(tiny_vlm_dir, tmp_path):
    trainer, batch = trained_trainer(tiny_vlm_dir, tmp_path, "trl", **r1vl_loss_settings(logprob_temperature=None))
    model = trainer.model
    ours = gradient(model, trainer._compute_loss(model, batch))
    assert torch.allclose(ours, gradient(model, official_loss(model, trainer.ref_model, batch, trainer.args.beta,
                                                              temperature=1.2)), rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize(("settings", "message"), [
    (dict(logprob_temperature=0.0), "must be > 0"),
    (dict(logprob_temperature=1.0, use_vllm=True), "vllm_importance_sampling_correction"),
])
def test_bad_logprob_temperature_is_refused(tmp_path, settings, message):
    with pytest.raises(ConfigError, match=message):
        StepGRPOConfig(output_dir=str(tmp_path), use_cpu=True, bf16=False, temperature=1.2, **settings)
