"""The task seam (`stepgrpo.tasks`): the training core holds no task, tasks are found by
`reasoning_format`, rewards are checked against the task at validation time, formats added with
`register_format` train, and a new task needs one module and one registry line."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from training_helpers import write_rows

from stepgrpo.parsing import FORMATS, ReasoningFormat, header, register_format
from stepgrpo.tasks import StepSplit, get_task, reasoning_formats, register_task, task_for
from stepgrpo.tasks.registry import TASKS
from stepgrpo.training.config import ConfigError, StepGRPOConfig, load_train_config

TRAINING = Path(__file__).resolve().parents[1] / "src" / "stepgrpo" / "training"
REQUIRED = ["--model", "m", "--train_data", "d.jsonl"]


def test_training_core_imports_no_task_package_and_branches_on_no_task() -> None:
    for path in sorted(TRAINING.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                names = []
            for name in names:
                assert not name.startswith(("stepgrpo.router", "stepgrpo.tasks.r1vl", "stepgrpo.tasks.router")), \
                    f"{path.name}:{node.lineno} imports {name}"
            if isinstance(node, ast.Compare):
                constants = [c.value for c in ast.walk(node) if isinstance(c, ast.Constant)]
                assert not {"router", "on_policy", "r1vl", "think"} & set(constants), \
                    f"{path.name}:{node.lineno} branches on a task"


def test_an_r1vl_run_never_loads_the_router_package(tmp_path: Path) -> None:
    code = ("import sys\nfrom stepgrpo.training.config import StepGRPOConfig\n"
            "import stepgrpo.training.trainer, stepgrpo.training.run\n"
            f"StepGRPOConfig(output_dir={str(tmp_path)!r}, use_cpu=True, bf16=False, advantage_mode='step')\n"
            "print(sorted(m for m in sys.modules if m.startswith('stepgrpo.router')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"


def test_tasks_are_found_by_reasoning_format() -> None:
    assert task_for("r1vl") is task_for("think") is get_task("r1vl")
    assert task_for("router") is get_task("router")
    assert {"r1vl", "think", "router"} <= set(reasoning_formats())
    with pytest.raises(ValueError, match="reasoning_format: 'xml' is not allowed; choose one of r1vl, think"):
        task_for("xml")


@pytest.mark.parametrize(("preset", "overrides", "message"), [
    ("router-tiny", ["--reward_funcs", "[step_accuracy]", "--reward_weights", "[1.0]"],
     r"command line: reward_funcs: \['step_accuracy'\] not allowed with reasoning_format router; "
     r"choose from router_step, answer_step"),
    ("tiny", ["--reward_funcs", "[router_step]", "--reward_weights", "[1.0]"],
     r"reward_funcs: \['router_step'\] not allowed with reasoning_format r1vl; choose from step_accuracy"),
    ("tiny", ["--router_embedding_model", "some/folder"], r"router_embedding_model: .* needs reasoning_format router"),
])
def test_reward_functions_and_settings_are_checked_against_the_task(preset: str, overrides: list[str],
                                                                    message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_train_config(None, REQUIRED + overrides, preset=preset)


@pytest.fixture
def plain_steps() -> Iterator[ReasoningFormat]:
    fmt = register_format(ReasoningFormat(name="plainsteps", patterns={
        "step": header(r"step[ \t]*+(?P<n>\d++)"), "answer": header(r"answer")}))
    yield fmt
    FORMATS.pop(fmt.name)


def test_a_registered_format_trains(plain_steps: ReasoningFormat, tiny_lm_dir: Path, tmp_path: Path) -> None:
    """`register_format` is all it takes: the config accepts the name, rows are read (questions as
    written: the format has no prompt template), its rewards score it, and a real step-credit
    trainer step runs on it."""
    import torch

    from stepgrpo.models import load_model_and_processor
    from stepgrpo.training.run import dataset_builder
    from stepgrpo.training.trainer import StepGRPOTrainer, build_reward_funcs

    run, args = load_train_config(None, [
        "--model", str(tiny_lm_dir), "--train_data", str(write_rows(tmp_path / "data", count=4, image=False)),
        "--output_dir", str(tmp_path / "out"), "--reasoning_format", "plainsteps", "--advantage_mode", "step",
        "--max_steps", "1", "--max_completion_length", "12", "--per_device_train_batch_size", "4",
        "--num_generations", "2"], preset="tiny")
    dataset = dataset_builder(args)(run.train_data, args.reasoning_format)
    assert dataset[0]["prompt"] == [{"role": "user", "content": "Q0: what is 2 + 1?"}]
    accuracy, validity = build_reward_funcs(args)
    good, swapped = "Step 1: 2 + 1 = 3\nAnswer: 3", "Answer: 3\nStep 1: 2 + 1 = 3"
    assert accuracy([good], solution=["3"], key_steps=[[["2 + 1 = 3"]]]) == [pytest.approx(1.0 + args.alpha)]
    assert validity([good, swapped]) == [1.0, 0.0]
    model, tokenizer = load_model_and_processor(run.model)
    trainer = StepGRPOTrainer(model=model, args=args, train_dataset=dataset, processing_class=tokenizer)
    trainer.train()
    assert torch.isfinite(torch.tensor(trainer.state.log_history[0]["loss"]))


class ShoutTask:
    """A whole task in a few lines: plain rows, one reward, no rollout function, no step credit."""

    name = "shout"
    settings: tuple[str, ...] = ()

    def formats(self) -> tuple[str, ...]:
        return ("shout",)

    def reward_factories(self, args: Any) -> dict[str, Any]:
        def loud(completions: list, **_: Any) -> list[float]:
            return [float(str(c).isupper()) for c in completions]

        return {"loud": lambda: loud}

    def validate(self, args: Any) -> None:
        return None

    def dataset_builder(self, args: Any) -> Any:
        from stepgrpo.data.training import build_dataset

        return build_dataset

    def rollout_func(self, args: Any) -> None:
        return None

    def step_credit(self, args: Any) -> None:
        return None


@pytest.fixture
def shout() -> Iterator[ShoutTask]:
    yield register_task(ShoutTask())
    TASKS.pop("shout")


def test_a_new_task_is_one_class_and_one_registration(shout: ShoutTask, tmp_path: Path) -> None:
    from stepgrpo.training.trainer import build_reward_funcs

    args = StepGRPOConfig(output_dir=str(tmp_path), use_cpu=True, bf16=False, reasoning_format="shout",
                          reward_funcs=["loud"])
    assert args.task() is shout and "shout" in reasoning_formats()
    (loud,) = build_reward_funcs(args)
    assert loud(["YES", "no"]) == [1.0, 0.0]
    with pytest.raises(ConfigError, match=r"advantage_mode: step-level credit .* the shout task has none"):
        StepGRPOConfig(output_dir=str(tmp_path), use_cpu=True, bf16=False, reasoning_format="shout",
                       reward_funcs=["loud"], advantage_mode="step")
    with pytest.raises(ConfigError, match=r"reward_funcs: \['outcome'\] not allowed with reasoning_format shout"):
        StepGRPOConfig(output_dir=str(tmp_path), use_cpu=True, bf16=False, reasoning_format="shout",
                       reward_funcs=["outcome"])


def test_on_policy_turn_rewards_are_computed_once_per_batch(tmp_path: Path) -> None:
    """Both reward functions and the step credit read one batch's turn rewards: scored once."""
    import torch

    from stepgrpo.router.format import answer_completion, router_completion
    from stepgrpo.tasks.router import RouterTask, TurnCredit, shared_turn_rewards

    (tmp_path / "manifest.json").write_text("{}")
    args = StepGRPOConfig(output_dir=str(tmp_path), use_cpu=True, bf16=False, reasoning_format="router",
                          reward_funcs=["router_step", "answer_step"], router_rollout="on_policy",
                          router_kb=str(tmp_path), advantage_mode="step")
    task = args.task()
    assert isinstance(task, RouterTask)
    factories = task.reward_factories(args)
    router_step, answer_step = factories["router_step"](), factories["answer_step"]()
    good = router_completion("Who founded Acme?", "text")
    rows = [{"turns": [{"kind": "router", "start": 0, "end": 2, "text": good},
                       {"kind": "final", "start": 2, "end": 4, "text": answer_completion(answer)}],
             "ref_queries": ["Who founded Acme?"], "ref_kbs": ["text"], "ref_answers": ["Ada"]}
            for answer in ("Ada", "Bob")]
    columns = {key: [row[key] for row in rows] for key in rows[0]}
    counter = shared_turn_rewards(None)
    before = counter.scored
    assert router_step([None, None], **columns) == [pytest.approx(1.0)] * 2
    assert answer_step([None, None], **columns) == [1.0, 0.0]
    output = {"completion_ids": torch.zeros(2, 5, dtype=torch.long), "completion_mask": torch.ones(2, 5),
              "tool_mask": torch.tensor([[1, 1, 0, 1, 1]] * 2)}
    split = task.step_credit(args)(output, rows, None, True)
    assert isinstance(task.step_credit(args), TurnCredit) and isinstance(split, StepSplit)
    assert split.rewards == [[pytest.approx(1.0), 1.0], [pytest.approx(1.0), 0.0]]
    assert split.step_index.tolist() == [[0, 0, 1, 1, -1]] * 2
    assert split.mask.tolist() == [[1, 1, 0, 1, 1]] * 2
    assert counter.scored - before == 2  # two trajectories, scored once for three consumers


def test_tasks_and_their_checks_load_without_torch(tmp_path: Path) -> None:
    """The recipe check runs every task's checks before TRL is imported: no task module may import torch."""
    from test_install_light import run_light

    code = ("from stepgrpo.tasks.registry import TASKS, get_task\nfrom stepgrpo.training.checks import problems_of\n"
            "print(sorted(get_task(name).name for name in list(TASKS)))")
    result = run_light(code, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["['r1vl',", "'router']"]
