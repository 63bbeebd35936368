"""EGSW weights: the paper's softmax over the group, rescaled to mean 1 (see egsw.py)."""

from __future__ import annotations

import math

import pytest
import torch

from stepgrpo.advantages.egsw import EntropyWeighting, egsw_weights, segment_means, sequence_means


def groups(count: int, size: int) -> torch.Tensor:
    return torch.arange(count) // size


def test_weights_are_the_papers_softmax_times_group_size():
    advantages = torch.tensor([1.2, -0.4, 0.3, -1.1, 0.0, 0.0, 0.5, -0.5])
    entropies = torch.tensor([2.0, 3.0, 1.0, 0.5, 6.7, 6.7, 6.0, 6.9])
    alpha, temperature = 0.3, 0.7
    weights = egsw_weights(advantages, entropies, groups(8, 4), alpha=alpha, temperature=temperature)
    for group in range(2):
        rows = range(4 * group, 4 * group + 4)
        raw = [math.exp((advantages[i].item() + alpha * entropies[i].item()) / temperature) for i in rows]
        paper = [value / sum(raw) for value in raw]
        assert (weights[4 * group: 4 * group + 4] / 4).tolist() == pytest.approx(paper, rel=1e-6)
        assert weights[4 * group: 4 * group + 4].sum().item() == pytest.approx(4.0)  # paper's Σ w = 1, × G


def test_alpha_zero_and_high_temperature_reproduce_grpo():
    advantages = torch.randn(16, generator=torch.Generator().manual_seed(0))
    entropies = torch.rand(16, generator=torch.Generator().manual_seed(1)) * 7
    weights = egsw_weights(advantages, entropies, groups(16, 4), alpha=0.0, temperature=1e9)
    assert torch.allclose(weights, torch.ones(16), atol=1e-6)
    assert torch.allclose(advantages * weights, advantages, atol=1e-6)


def test_weights_favour_high_advantage_and_high_entropy():
    weights = egsw_weights(torch.tensor([1.0, 0.0, 0.0, -1.0]), torch.tensor([1.0, 1.0, 2.0, 1.0]), groups(4, 4),
                           0.5, 1.0)
    assert weights[0] > weights[2] > weights[1] > weights[3] > 0


def test_step_level_normalises_per_span_over_outputs_that_have_it():
    # outputs 0-2 form a group; output 0 has two spans, the others one: key = group * 2**20 + span
    advantages = torch.tensor([1.0, 0.5, 0.0, -1.0])
    keys = torch.tensor([0, 1, 0, 0])
    weights = egsw_weights(advantages, torch.ones(4), keys, alpha=0.1, temperature=1.0)
    assert weights[[0, 2, 3]].sum().item() == pytest.approx(3.0)
    assert weights[1].item() == pytest.approx(1.0)  # alone at its span: a group of one


def test_large_scores_do_not_overflow():
    weights = egsw_weights(torch.tensor([900.0, 0.0]), torch.zeros(2), groups(2, 2), alpha=0.0, temperature=0.5)
    assert weights.tolist() == pytest.approx([2.0, 0.0])


def test_entropy_means_carry_no_gradient():
    entropies = torch.tensor([[1.0, 2.0, 3.0, 9.0], [4.0, 4.0, 0.0, 0.0]], requires_grad=True)
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]])
    means = sequence_means(entropies, mask)
    assert means.tolist() == [2.0, 4.0] and not means.requires_grad
    segment = torch.tensor([[0, 0, 1, 1], [1, 1, -1, -1]])
    spans, present = segment_means(entropies, segment, mask, 3)
    assert spans.tolist() == [[1.5, 3.0, 0.0], [0.0, 4.0, 0.0]]
    assert present.tolist() == [[True, True, False], [False, True, False]]


def test_bad_parameters_are_refused():
    with pytest.raises(ValueError, match="temperature > 0"):
        egsw_weights(torch.zeros(4), torch.zeros(4), groups(4, 4), alpha=0.1, temperature=0.0)


@pytest.mark.parametrize(("accumulation", "steps_per_generation", "iterations", "scored", "source"), [
    (1, 1, 1, False, "loss"),  # one micro-batch per generation: the loss pass's entropies
    (2, 2, 1, False, "extra"),  # accumulation over one generation: an extra pass at rollout
    (1, 1, 2, False, "rollout"),  # TRL scores the rollout (old log-probs) anyway
    (3, 2, 1, False, "rollout"),  # generation and accumulation misaligned: TRL scores it too
    (1, 1, 1, True, "rollout"),  # vLLM importance-sampling correction scores every rollout
])
def test_entropies_come_from_a_pass_trl_runs_anyway(accumulation, steps_per_generation, iterations, scored, source):
    assert EntropyWeighting.choose_source(accumulation, steps_per_generation, iterations, scored) == source
