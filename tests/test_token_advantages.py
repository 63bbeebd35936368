"""`advantage_mode: step`: per-token advantages from per-step rewards."""

from __future__ import annotations

import pytest
import torch

from stepgrpo.advantages import step_rewards, token_ranges
from stepgrpo.advantages.token_advantages import (
    normalize_per_step,
    pad_steps,
    rewards_to_go,
    step_advantages,
    token_advantages,
    token_step_index,
)
from stepgrpo.models.tiny import build_tokenizer
from stepgrpo.rewards import reasoning_validity, step_accuracy


def grpo_advantages(rewards: torch.Tensor, group_size: int) -> torch.Tensor:
    """TRL 1.16's `sum_then_normalize` + `scale_rewards="group"` advantage, written out."""
    grouped = rewards.view(-1, group_size)
    mean = grouped.mean(1).repeat_interleave(group_size)
    std = grouped.std(1).repeat_interleave(group_size)  # Bessel-corrected, as TRL's nanstd
    return (rewards - mean) / (std + 1e-4)


def test_rewards_to_go():
    rewards, valid = pad_steps([[1.0, 0.0, 2.0], [0.5]])
    assert rewards_to_go(rewards, valid).tolist() == [[3.0, 2.0, 2.0], [0.5, 0.0, 0.0]]


def test_all_step_rewards_zero_gives_grpo_exactly():
    torch.manual_seed(0)
    rewards = torch.tensor([2.1, 1.0, 0.0, 1.1, 2.0, 2.0, 1.0, 0.0])
    sequence = grpo_advantages(rewards, 4)
    steps, _ = step_advantages([[0.0] * n for n in (3, 1, 5, 2, 4, 4, 2, 1)], group_size=4)
    ranges = [[(0, 2), (2, 5), (5, 6)], [(0, 4)], [(0, 1)] * 5, [(0, 3), (3, 7)],
              [(0, 1), (1, 2), (2, 3), (3, 7)], [(0, 7)] * 4, [(0, 2), (2, 3)], [(0, 1)]]
    lengths = torch.tensor([6, 4, 1, 7, 7, 7, 3, 1])
    mask = (torch.arange(7) < lengths.unsqueeze(1)).long()
    out = token_advantages(sequence, steps, token_step_index(ranges, 7), mask, coef=0.7)
    assert out.shape == (8, 7) and out.dtype == sequence.dtype
    assert torch.equal(out, sequence.unsqueeze(1) * mask)  # exact, padding 0


def test_one_span_per_completion_normalises_like_grpo():
    rewards = torch.tensor([2.1, 1.0, 0.0, 1.1, 0.5, 0.5, 0.5, 0.5])
    steps, _valid = step_advantages([[r] for r in rewards.tolist()], group_size=4)
    assert torch.allclose(steps[:, 0].float(), grpo_advantages(rewards, 4), atol=1e-6)
    assert steps[4:].abs().max() == 0  # a group with equal rewards carries no step signal


def test_group_mean_is_zero_per_step_and_padding_is_zero():
    step_lists = [[0.0, 0.1, 1.0], [0.1, -1.0], [0.0, 0.0, 0.0, 1.0], [0.05], [1.0, 2.0], [0.0], [0.3, 0.3], [-1.0]]
    steps, valid = step_advantages(step_lists, group_size=4)
    for group in range(2):
        rows = slice(4 * group, 4 * group + 4)
        for column in range(steps.size(1)):
            present = valid[rows, column]
            assert steps[rows, column][present].sum().abs() < 1e-12  # mean over the group at this step
    assert steps[~valid].abs().max() == 0
    # a step only one completion reaches has nothing to be compared with
    assert steps[2, 3] == 0 and steps[4, 1] != 0


def test_uneven_groups_are_refused():
    with pytest.raises(ValueError, match="groups of 4"):
        normalize_per_step(torch.zeros(6, 2), torch.ones(6, 2, dtype=torch.bool), 4)


R1VL_CORRECT = ("### Image Description:\nBars 3 and 4.\n### Rationales:\nAdd.\n### Let's think step by step.\n"
                "### Step 1:\nRead 3 and 4.\n### Step 2:\n3 + 4 = 7\n### The final answer is: 7")


def test_identical_correct_completions_get_zero_advantage_everywhere():
    """The reported fault: four identical, correct, valid completions (GRPO advantage 0) got +0.64
    on the analysis spans, −0.64 on step 2 and −1.92 on the answer, because returns-to-go at
    different positions were normalised together. Each position is now compared with itself."""
    results = [step_rewards(R1VL_CORRECT, "7", {"Steps": [["3 + 4 = 7"]]}) for _ in range(4)]
    assert len(set(results)) == 1 and len(results[0].rewards) == 6 and sum(results[0].rewards) > 0
    steps, valid = step_advantages([r.rewards for r in results], group_size=4)
    assert valid.all() and torch.equal(steps, torch.zeros_like(steps))
    scalar = torch.full((4,), sum(results[0].rewards))
    sequence = grpo_advantages(scalar, 4)
    mask = torch.ones(4, 6, dtype=torch.long)
    index = torch.arange(6).expand(4, 6)
    assert torch.equal(token_advantages(sequence, steps, index, mask, coef=1.0), sequence.unsqueeze(1) * mask)


def test_real_completions_credit_the_steps_that_earned_it():
    """Four completions of one prompt through the real tokenizer: the one that finds the key step
    early is credited on its earlier tokens; a broken step order is blamed up to where it breaks."""
    tokenizer = build_tokenizer()
    head = "### Image Description:\nBars 3 and 4.\n### Rationales:\nAdd.\n### Let's think step by step.\n"
    texts = [
        head + "### Step 1:\n3 + 4 = 7\n### Step 2:\nSo 7.\n### The final answer is: 7",
        head + "### Step 1:\nLook again.\n### Step 2:\n3 + 4 = 7\n### The final answer is: 7",
        head + "### Step 1:\nLook again.\n### Step 3:\n3 + 4 = 7\n### The final answer is: 7",
        head + "### Step 1:\nGuess.\n### Step 2:\nSo 8.\n### The final answer is: 8",
    ]
    key_steps = {"Steps": [["3 + 4 = 7"]]}
    results = [step_rewards(text, "7", key_steps, alpha=0.5) for text in texts]
    scalar = torch.tensor([step_accuracy(t, "7", key_steps, alpha=0.5) + reasoning_validity(t) for t in texts])
    sequence = grpo_advantages(scalar, 4)
    eos = tokenizer.convert_tokens_to_ids("<|im_end|>")
    ids = [[*tokenizer.encode(text), eos] for text in texts]
    width = max(map(len, ids))
    pad = tokenizer.pad_token_id
    mask = torch.tensor([[1] * len(row) + [0] * (width - len(row)) for row in ids])
    padded = [row + [pad] * (width - len(row)) for row in ids]

    def decode(row):
        return tokenizer.decode(row, skip_special_tokens=True)

    ranges = [token_ranges(row, text, r.starts, decode) for row, text, r in zip(ids, texts, results, strict=True)]
    assert [decode(p) for p in padded] == texts
    steps, _ = step_advantages([r.rewards for r in results], group_size=4)
    out = token_advantages(sequence, steps, token_step_index(ranges, width), mask, coef=1.0)
    assert (out[mask == 0] == 0).all()

    def at(row, label):
        low, _ = ranges[row][results[row].labels.index(label)]
        return out[row, low].item()

    # same rewards, but completion 0 found the key step in step 1: its step 2 earned nothing more,
    # while completion 1's step 2 did (reward-to-go: step 1 of both leads to the key step)
    assert at(0, "step 1") == pytest.approx(at(1, "step 1"))
    assert at(0, "step 2") < at(1, "step 2")
    assert at(0, "answer") == pytest.approx(at(1, "answer"))
    # completion 2 broke the order at "step 3": blamed there and before, not after
    assert at(2, "step 1") < at(1, "step 1")
    assert at(2, "answer") == pytest.approx(at(1, "answer") + sequence[2].item() - sequence[1].item(), abs=1e-6)
    assert at(3, "answer") < at(0, "answer")
