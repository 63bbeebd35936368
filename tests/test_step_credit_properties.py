"""Property tests of the step-credit normalisation (`advantage_mode: step`), one per property that
docs/algorithms.md §2 states."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from stepgrpo.advantages.token_advantages import (
    normalize_per_step,
    pad_steps,
    rewards_to_go,
    step_advantages,
    token_advantages,
)

# Step rewards as the reward functions produce them: multiples of small fractions, some negative.
REWARD = st.sampled_from([-1.0, -0.5, 0.0, 0.0, 0.025, 0.05, 0.1, 0.5, 1.0, 1.1])
STEPS = st.lists(REWARD, min_size=1, max_size=6)
SIZES = st.integers(min_value=2, max_value=5)
GROUP_COUNTS = st.integers(min_value=1, max_value=3)


@st.composite
def groups(draw):
    """(step rewards of `groups × G` completions, G)."""
    size, number = draw(SIZES), draw(GROUP_COUNTS)
    return [draw(STEPS) for _ in range(size * number)], size


def columns(step_lists, size):
    """Each (group, step position) → the rows of its completions that reach that position."""
    _, valid = pad_steps(step_lists)
    for first in range(0, len(step_lists), size):
        for column in range(valid.size(1)):
            rows = [row for row in range(first, first + size) if valid[row, column]]
            if rows:
                yield rows, column


SETTINGS = settings(max_examples=150, deadline=None, derandomize=True)  # the same examples on every run


@SETTINGS
@given(STEPS, SIZES, st.lists(STEPS, max_size=10))
def test_identical_completions_get_zero(steps, size, others):
    """A group of identical completions carries no step signal, whatever the other groups hold."""
    others = others[: len(others) // size * size]
    advantages, _ = step_advantages([steps] * size + others, size)
    assert torch.equal(advantages[:size], torch.zeros_like(advantages[:size]))


@SETTINGS
@given(groups())
def test_no_spread_at_a_step_gives_zero_there(drawn):
    step_lists, size = drawn
    rewards, valid = pad_steps(step_lists)
    returns = rewards_to_go(rewards, valid)
    advantages, _ = step_advantages(step_lists, size)
    for rows, column in columns(step_lists, size):
        values = returns[rows, column]
        spread = (values.max() - values.min()).item()
        if spread <= 1e-9 * (1 + values.abs().max().item()):  # equal, up to the order of summation
            assert (advantages[rows, column] == 0).all()
        elif spread > 1e-6:
            assert (advantages[rows, column] != 0).any()


@SETTINGS
@given(groups())
def test_zero_mean_per_group_at_every_step_and_unit_spread(drawn):
    step_lists, size = drawn
    advantages, valid = step_advantages(step_lists, size, eps=0.0)
    assert (advantages[~valid] == 0).all()
    for rows, column in columns(step_lists, size):
        values = advantages[rows, column]
        assert abs(values.sum().item()) < 1e-9
        if values.abs().max() > 0:
            assert abs(values.std().item() - 1.0) < 1e-9  # Bessel-corrected, as TRL's


@SETTINGS
@given(groups(), st.floats(min_value=0.01, max_value=100.0), st.floats(min_value=-10.0, max_value=10.0))
def test_invariant_to_positive_affine_maps_of_each_steps_returns(drawn, scale, shift):
    """Ã at step t depends on the group's returns at t only up to a · R + b (a > 0), chosen per
    step: exactly so with ε = 0; ε = 1e-4 changes it by at most a factor σ_t / (σ_t + ε)."""
    step_lists, size = drawn
    rewards, valid = pad_steps(step_lists)
    returns = rewards_to_go(rewards, valid)
    per_step_scale = scale * torch.arange(1, returns.size(1) + 1, dtype=returns.dtype)
    per_step_shift = shift * torch.arange(returns.size(1), dtype=returns.dtype) ** 2
    moved = returns * per_step_scale + per_step_shift
    assert torch.allclose(normalize_per_step(moved, valid, size, eps=0.0),
                          normalize_per_step(returns, valid, size, eps=0.0), atol=1e-6)


@SETTINGS
@given(groups(), st.floats(min_value=0.01, max_value=100.0))
def test_invariant_to_scaling_the_rewards(drawn, scale):
    step_lists, size = drawn
    scaled = [[scale * r for r in steps] for steps in step_lists]
    assert torch.allclose(step_advantages(scaled, size, eps=0.0)[0], step_advantages(step_lists, size, eps=0.0)[0],
                          atol=1e-6)


@SETTINGS
@given(groups(), st.randoms(use_true_random=False))
def test_completions_can_be_reordered_and_groups_are_independent(drawn, random):
    step_lists, size = drawn
    advantages, _ = step_advantages(step_lists, size)
    order = list(range(len(step_lists)))
    for first in range(0, len(order), size):  # shuffle within each group
        block = order[first:first + size]
        random.shuffle(block)
        order[first:first + size] = block
    shuffled, _ = step_advantages([step_lists[row] for row in order], size)
    assert torch.allclose(shuffled, advantages[order], rtol=0, atol=1e-12)  # up to summation order
    alone, _ = step_advantages(step_lists[:size], size)  # the first group, without the others
    assert torch.allclose(alone, advantages[:size, : alone.size(1)], rtol=0, atol=1e-12)


@SETTINGS
@given(st.lists(REWARD, min_size=2, max_size=20), SIZES)
def test_one_span_per_completion_is_grpo_of_the_span_rewards(values, size):
    values = values[: len(values) // size * size] or [0.0] * size
    advantages, _ = step_advantages([[value] for value in values], size)
    grouped = torch.tensor(values, dtype=torch.float64).view(-1, size)
    grpo = (grouped - grouped.mean(1, keepdim=True)) / (grouped.std(1, keepdim=True) + 1e-4)
    assert torch.allclose(advantages[:, 0], grpo.flatten(), atol=1e-9)


@SETTINGS
@given(groups(), st.floats(min_value=-5.0, max_value=5.0))
def test_first_span_is_grpo_of_the_completions_total_rewards(drawn, shift):
    """Every completion has a first span and its return there is its total: Ã_{·,1} is GRPO's
    advantage of the totals, so a shift shared by all totals (the validity penalty −w_val) is harmless."""
    step_lists, size = drawn
    advantages, _ = step_advantages([[steps[0] + shift, *steps[1:]] for steps in step_lists], size)
    totals = torch.tensor([sum(steps) for steps in step_lists], dtype=torch.float64).view(-1, size)
    grpo = (totals - totals.mean(1, keepdim=True)) / (totals.std(1, keepdim=True) + 1e-4)
    assert torch.allclose(advantages[:, 0], grpo.flatten(), atol=1e-9)


@SETTINGS
@given(groups(), st.floats(min_value=-3.0, max_value=3.0))
def test_tokens_get_grpo_plus_their_spans_step_advantage_and_padding_zero(drawn, coef):
    step_lists, size = drawn
    steps, _ = step_advantages(step_lists, size)
    sequence = torch.linspace(-1, 1, len(step_lists), dtype=torch.float64)
    width = steps.size(1) + 1  # one padding token past the longest
    index = torch.tensor([[t if t < len(s) else -1 for t in range(width)] for s in step_lists])
    mask = (index >= 0).long()
    out = token_advantages(sequence, steps, index, mask, coef)
    assert (out[mask == 0] == 0).all()
    rows, tokens = mask.nonzero(as_tuple=True)
    assert torch.allclose(out[rows, tokens], sequence[rows] + coef * steps[rows, index[rows, tokens]])
