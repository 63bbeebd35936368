"""The embedded default (`stepgrpo demo`, `make demo`): does StepGRPO beat outcome-only GRPO?

One pipeline, offline, on a 2-core CPU: generate ChartMath → build a tiny Qwen2-VL → SFT warm-up
on the reference reasoning → from that same checkpoint and budget, one GRPO run per reward
variant → evaluate every model on the test split → `report.md`, `report.json` and PNG curves.
`benchmarks/ablation.py` runs the same pieces over several seeds and more variants.

Every variant also logs the outcome and validity rewards at weight 0, so their training curves
are comparable whatever the variant optimises.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from stepgrpo.data.chartmath import ChartMathConfig

console = Console(soft_wrap=True)


@dataclass(frozen=True)
class Variant:
    """One GRPO run: a label for tables and the trainer settings that differ from the others."""

    label: str
    settings: dict[str, Any]


def _rewards(*weighted: tuple[str, float]) -> dict[str, Any]:
    """Reward settings; `outcome` and `step_validity` are always present (weight 0 = logged only)."""
    weights = dict(weighted)
    for monitor in ("outcome", "step_validity"):
        weights.setdefault(monitor, 0.0)
    return {"reward_funcs": list(weights), "reward_weights": list(weights.values())}


STEPGRPO = _rewards(("step_accuracy", 1.0), ("step_validity", 1.0))
VARIANTS: dict[str, Variant] = {
    # The paper's component ablation (R1-VL Table 4): outcome only, + StepRAR, + StepRVR, both.
    "outcome": Variant("outcome-only GRPO", _rewards(("outcome", 1.0))),
    "steprar": Variant("+ StepRAR (r_auc)", _rewards(("step_accuracy", 1.0))),
    "steprvr": Variant("+ StepRVR (outcome + r_val)", _rewards(("outcome", 1.0), ("step_validity", 1.0))),
    "stepgrpo": Variant("StepGRPO (r_auc + r_val)", STEPGRPO),
    # Beyond the paper (docs/algorithms.md): per-token step credit and EGSW on top of StepGRPO.
    "stepgrpo-step": Variant("StepGRPO, advantage_mode step", {**STEPGRPO, "advantage_mode": "step"}),
    "stepgrpo-egsw": Variant("StepGRPO + EGSW", {**STEPGRPO, "egsw": {"level": "sequence"}}),
    "stepgrpo-step-egsw": Variant("StepGRPO, step mode + step EGSW",
                                  {**STEPGRPO, "advantage_mode": "step", "egsw": {"level": "step"}}),
    # Advantages scaled by the batch's std instead of each group's: a group that differs only in key steps keeps
    # a small advantage (docs/results/evidence.md, "What would change it").
    "stepgrpo-batch": Variant("StepGRPO, scale_rewards batch", {**STEPGRPO, "scale_rewards": "batch"}),
}
DEMO_VARIANTS = ("stepgrpo", "outcome")
SFT_LABEL = "SFT warm-up (before RL)"


DEMO_TASK = ChartMathConfig(min_bars=2, max_bars=3, max_value=5, mcq_share=1.0)
"""Easier than `make-data chartmath`'s defaults: with 3-5 bars, values 1-9 and half the rows free-form,
the SFT'd tiny model answered 6% of the test questions (below chance), leaving RL nothing to build on
(docs/demo.md, "Difficulty"). Two or three bars of height 1-5, all multiple choice (chance: 25%)."""


@dataclass(frozen=True)
class DemoSettings:
    """Sizes and budgets. The defaults fit `make demo` (≤ 10 minutes on 2 CPU cores)."""

    seed: int = 0
    """Seeds the model's initialisation, SFT and RL sampling; the data always uses `data_seed`."""
    data_seed: int = 0
    task: ChartMathConfig = field(default_factory=lambda: DEMO_TASK)
    train_rows: int = 1000
    test_rows: int = 100
    hidden_size: int = 128
    num_layers: int = 4
    vocab_size: int = 2048
    """2048 tokens encode the R1-VL prompt in 110 tokens instead of 1024's 206: shorter, faster sequences."""
    sft_epochs: float = 1.0
    sft_learning_rate: float = 2e-3
    sft_batch_size: int = 8
    rl_steps: int = 50
    rl_learning_rate: float = 1e-4
    num_generations: int = 4
    prompts_per_step: int = 2
    max_completion_length: int = 160
    """The reference reasoning is at most 136 tokens with the tiny tokenizer."""
    temperature: float = 1.0
    variants: tuple[str, ...] = DEMO_VARIANTS
    extra: dict[str, Any] = field(default_factory=dict)
    """Any other `stepgrpo train` field, applied to every RL run (e.g. `{"alpha": 0.5}`)."""

    def __post_init__(self) -> None:
        unknown = [name for name in self.variants if name not in VARIANTS]
        if unknown:
            raise ValueError(f"variants: unknown {', '.join(unknown)}; choose from {', '.join(VARIANTS)}")
        if min(self.train_rows, self.test_rows, self.rl_steps, self.num_generations, self.prompts_per_step) < 1:
            raise ValueError("train_rows, test_rows, rl_steps, num_generations and prompts_per_step must be >= 1")


def own_rows(path: Path) -> list[dict[str, Any]]:
    """The rows of a file this pipeline wrote itself (so none can be malformed)."""
    from stepgrpo.data.io import read_rows

    return [row.data for row in read_rows(path)[0]]


def make_data(out: Path, settings: DemoSettings) -> Path:
    """ChartMath under `out/data`, plus `sft.jsonl`: the training rows with `reasoning` = the reference solution."""
    from stepgrpo.data.chartmath import write_dataset
    from stepgrpo.data.io import write_rows

    data = out / "data"
    write_dataset(data, settings.train_rows, settings.test_rows, seed=settings.data_seed, config=settings.task,
                  overwrite=True, progress=True)
    write_rows(data / "sft.jsonl", [{**row, "reasoning": row["solution"]} for row in own_rows(data / "train.jsonl")])
    return data


def make_base(out: Path, settings: DemoSettings) -> Path:
    from stepgrpo.models import build_tiny_model

    return build_tiny_model(out / "base", hidden_size=settings.hidden_size, num_layers=settings.num_layers,
                            vocab_size=settings.vocab_size, seed=settings.seed)


def warm_up(base: Path, data: Path, out: Path, settings: DemoSettings) -> Path:
    """SFT on the reference reasoning (R1-VL's stage 1); every RL variant starts from this checkpoint."""
    from stepgrpo.training.config import config_from_mapping
    from stepgrpo.training.sft import StepSFTConfig, sft

    sft_settings = {"model": str(base), "train_data": str(data / "sft.jsonl"), "output_dir": str(out / "sft"),
                 "num_train_epochs": settings.sft_epochs, "per_device_train_batch_size": settings.sft_batch_size,
                 "learning_rate": settings.sft_learning_rate, "warmup_steps": 10, "lr_scheduler_type": "cosine",
                 "logging_steps": 10, "save_strategy": "no", "report_to": "none", "max_pixels": 12544,
                 "activation_checkpointing": False, "seed": settings.seed}
    run, args = config_from_mapping(sft_settings, config_cls=StepSFTConfig, source="demo")
    return sft(run, args)


def run_variant(name: str, start: Path, data: Path, out: Path, settings: DemoSettings) -> Path:
    """One GRPO run of `VARIANTS[name]` from `start`; writes `out/<name>/final` and its log history."""
    from stepgrpo.training.config import config_from_mapping
    from stepgrpo.training.run import train

    layer = {"model": str(start), "train_data": str(data / "train.jsonl"), "output_dir": str(out / name),
             "max_steps": settings.rl_steps, "learning_rate": settings.rl_learning_rate,
             "num_generations": settings.num_generations,
             "per_device_train_batch_size": settings.num_generations * settings.prompts_per_step,
             "max_completion_length": settings.max_completion_length, "temperature": settings.temperature,
             "logging_steps": 1, "seed": settings.seed, **VARIANTS[name].settings, **settings.extra}
    return train(*config_from_mapping(layer, preset="tiny", source="demo"))


def evaluate_model(model: Path, data: Path, out: Path, settings: DemoSettings) -> dict[str, float]:
    """Greedy decoding on the test split: answer accuracy (the eval harness's ChartMath scoring),
    mean key-step fraction (StepRAR's k) and validity rate (StepRVR) of the completions."""
    from stepgrpo.eval.generate import GenerationSettings
    from stepgrpo.eval.runner import evaluate
    from stepgrpo.rewards import accuracy_report, validity_report

    generation = GenerationSettings(max_new_tokens=settings.max_completion_length, batch_size=25)
    result = evaluate("chartmath", data / "test.jsonl", model, out, settings=generation)
    rows = {row["id"]: row for row in own_rows(data / "test.jsonl")}
    predictions = own_rows(out / "chartmath" / "predictions.jsonl")
    reports = [(accuracy_report(p["completion"], rows[p["id"]]["answer"], rows[p["id"]]["key_steps"],
                                rows[p["id"]]["choices"]), validity_report(p["completion"])) for p in predictions]
    return {"accuracy": result.score / 100,  # the harness reports percent
            "key_step_fraction": sum(a.key_step_fraction for a, _ in reports) / len(reports),
            "validity": sum(v.ok for _, v in reports) / len(reports),
            "answered": result.n_answered / result.n_items}


def log_history(output_dir: Path) -> list[dict[str, Any]]:
    path = output_dir / "trainer_state.json"
    return json.loads(path.read_text())["log_history"] if path.exists() else []


def peak_memory_gb() -> float:
    """Peak resident memory of this process and its finished children (Linux reports KiB)."""
    kib = max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return kib / 2**20 if sys.platform != "darwin" else kib / 2**30


def run_demo(out: Path, settings: DemoSettings | None = None) -> dict[str, Any]:
    """The whole pipeline; returns (and writes to `out/report.json`) every number in the report."""
    from stepgrpo.curves import plot_curves

    settings = settings or DemoSettings()
    start = time.perf_counter()
    timings: dict[str, float] = {}

    def stage(name: str, began: float) -> None:
        timings[name] = round(time.perf_counter() - began, 1)
        console.print(f"[bold]✓ {name}[/bold] ({timings[name]} s)")

    out.mkdir(parents=True, exist_ok=True)
    console.rule("[bold]1/4 data and tiny model")
    began = time.perf_counter()
    data, base = make_data(out, settings), make_base(out, settings)
    stage("data and model", began)

    console.rule("[bold]2/4 SFT warm-up")
    began = time.perf_counter()
    sft_model = warm_up(base, data, out, settings)
    stage("sft", began)

    models = {SFT_LABEL: sft_model}
    histories = {}
    for index, name in enumerate(settings.variants, 1):
        console.rule(f"[bold]3/4 RL {index}/{len(settings.variants)}: {VARIANTS[name].label}")
        began = time.perf_counter()
        models[VARIANTS[name].label] = run_variant(name, sft_model, data, out, settings)
        histories[VARIANTS[name].label] = [log_history(out / name)]
        stage(f"rl {name}", began)

    console.rule("[bold]4/4 evaluation on the test split")
    began = time.perf_counter()
    results = {label: evaluate_model(model, data, out / "eval" / model.parent.name, settings)
               for label, model in models.items()}
    stage("evaluation", began)

    plots = plot_curves(histories, out)
    report = {"results": results, "timings": timings, "wall_seconds": round(time.perf_counter() - start, 1),
              "peak_memory_gb": round(peak_memory_gb(), 2), "settings": asdict(settings),
              "plots": [path.name for path in plots]}
    (out / "report.json").write_text(json.dumps(report, indent=1) + "\n")
    (out / "report.md").write_text(markdown_report(report))
    return report


def results_table(results: dict[str, dict[str, float]]) -> str:
    lines = ["| model | answer accuracy | key-step fraction | validity | answered |", "|---|---|---|---|---|"]
    lines += [f"| {label} | {r['accuracy']:.3f} | {r['key_step_fraction']:.3f} | {r['validity']:.3f} "
              f"| {r['answered']:.3f} |" for label, r in results.items()]
    return "\n".join(lines)


def markdown_report(report: dict[str, Any]) -> str:
    settings = report["settings"]
    images = "\n".join(f"![{name}]({name})" for name in report["plots"])
    return f"""# stepgrpo demo: StepGRPO vs outcome-only GRPO on ChartMath

{results_table(report["results"])}

Test split: {settings["test_rows"]} ChartMath questions, greedy decoding, {settings["max_completion_length"]} new
tokens. Answer accuracy uses the eval harness's ChartMath scoring; key-step fraction is StepRAR's k (the share of
the reference key steps matched in the steps); validity is StepRVR (complete, ordered reasoning).

Every RL run starts from the same SFT checkpoint with the same budget: {settings["rl_steps"]} steps of
{settings["prompts_per_step"]} prompts × {settings["num_generations"]} completions, learning rate
{settings["rl_learning_rate"]}, seed {settings["seed"]}. Model: a tiny randomly initialised Qwen2-VL (hidden size
{settings["hidden_size"]}, {settings["num_layers"]} layers) trained only here, so this shows whether the pipeline
learns on a toy task, not the paper's numbers. One seed; `benchmarks/ablation.py` repeats it over seeds.

## Training curves

{images}

Wall time {report["wall_seconds"]} s, peak memory {report["peak_memory_gb"]} GB.

{timings_table(report["timings"])}
"""


def timings_table(timings: dict[str, float]) -> str:
    """The stage timings as a markdown table, in the order the stages ran."""
    lines = ["| stage | seconds |", "|---|---|"]
    lines += [f"| {stage} | {seconds:.1f} |" for stage, seconds in timings.items()]
    return "\n".join(lines)
