"""R1-Router Step-GRPO step rewards on hand-written steps with known values."""

import pytest

from stepgrpo.router.format import StepFormatError, parse_router_step
from stepgrpo.router.rewards import (
    answer_recall,
    answer_step,
    answer_step_reward,
    lexical_similarity,
    make_router_step_reward,
    router_step,
    router_step_reward,
)


def ret(sub_question: str, route: str) -> str:
    return f"<think>plan</think>\n<sub-question>{sub_question}</sub-question>\n<ret>{route}</ret>"


def ans(answer: str) -> str:
    return f"<think>reason</think><answer>{answer}</answer>"


def test_router_step_reward_known_values():
    question = "In which city was Ana Lorr born?"
    assert router_step_reward(ret(question, "Text Retriever"), question, "text") == 1.0
    assert router_step_reward(ret(question, "Table Retriever"), question, "text") == 0.5
    # Official labels are accepted as the reference knowledge base too.
    assert router_step_reward(ret(question, "text retriever"), question, "Text Retriever") == 1.0
    # Correct stop: sim("none", "none") = 1 and route "none" = "none".
    assert router_step_reward(ret("None", "None"), "none", "none") == 1.0
    assert router_step_reward(ret("None", "None"), question, "text") == pytest.approx(
        0.5 * lexical_similarity("none", question))


def test_router_step_reward_uses_given_similarity():
    def constant(query: str, reference: str) -> float:
        return 0.25

    assert router_step_reward(ret("anything", "Table Retriever"), "ref", "table", constant) == 0.5 * 0.25 + 0.5


@pytest.mark.parametrize("completion", [
    "<sub-question>q</sub-question><ret>Text Retriever</ret>",  # no <think>
    "<think>t</think><ret>Text Retriever</ret>",  # no sub-question
    "<think>t</think><sub-question>q</sub-question><ret>Web Search</ret>",  # unknown retriever
    "<think>t</think><sub-question>q</sub-question><ret>None, Text Retriever</ret>",  # none combined
])
def test_malformed_router_steps_earn_zero(completion):
    assert router_step_reward(completion, "q", "text") == 0.0


def test_two_routes_get_no_routing_credit():
    step = ret("q", "Text Retriever, Table Retriever")
    assert router_step_reward(step, "q", "text") == 0.5  # similarity 1, routing 0 (official: exactly one)


def test_parse_router_step_consistency_rule():
    assert not parse_router_step(ret("who?", "None")).consistent  # allowed by the reward, not at inference
    assert parse_router_step(ret("None", "None")).stops
    assert parse_router_step(ret("Who?", "Table Retriever")).kb == "table"
    with pytest.raises(StepFormatError, match="<ret>"):
        parse_router_step("<think>x</think><sub-question>q</sub-question>")


def test_lexical_similarity_penalises_subsets():
    assert lexical_similarity("Where was Ana born?", "where was ana born") == 1.0
    assert lexical_similarity("born Ana was where", "Where was Ana born?") == 1.0  # order-free
    assert lexical_similarity("Ana", "Where was Ana born?") < 0.5  # token-set ratio would give 1


def test_answer_recall_normalisation():
    assert answer_recall("It was The Bolton's team.", ["bolton"]) == 1.0
    assert answer_recall("two", "2") == 1.0
    assert answer_recall("1,000", "1000") == 1.0
    assert answer_recall("red", "dark red") == 0.5
    # Several golds: the recall of the gold with the best F1.
    assert answer_recall("blue circle", ["red circle", "blue circle"]) == 1.0


def test_answer_step_reward_rules():
    assert answer_step_reward(ans("The answer is Zorvik"), "Zorvik") == 1.0  # short gold: recall 1 → 1
    assert answer_step_reward(ans("red"), "dark red") == 0.0  # short gold, recall 0.5 → 0
    long_gold = "Ana was born in the old city of Zorvik"  # > 5 words: soft recall
    assert answer_step_reward(ans("Ana Zorvik"), long_gold) == pytest.approx(2 / 8)
    assert answer_step_reward(ans("red"), ["dark red", "crimson"]) == 0.0  # several golds: binary
    assert answer_step_reward("<answer>Zorvik</answer>", "Zorvik") == 0.0  # no <think>
    assert answer_step_reward("<think>x</think>Zorvik", "Zorvik") == 0.0  # no <answer>


def test_trl_adapters_dispatch_on_step_type():
    completions = [ret("q", "Table Retriever"), ans("Zorvik"), [{"role": "assistant", "content": ans("x")}]]
    columns = {"step_type": ["ret", "ans", "ans"], "ref_query": ["q", "", ""], "ref_kb": ["table", "", ""],
               "ref_answers": [[], ["Zorvik"], ["Zorvik"]], "prompts": [None] * 3}
    assert router_step(completions, **columns) == [1.0, None, None]
    assert answer_step(completions, **columns) == [None, 1.0, 0.0]
    half = make_router_step_reward(lambda a, b: 0.0)
    assert half(completions, **columns) == [0.5, None, None]
    assert half.__name__ == "router_step"
