"""The demo's comparison over several seeds, with R1-VL's component ablation and our algorithm variants.

    .venv/bin/python benchmarks/ablation.py --out runs/ablation --seeds 0 1 2 --docs docs/results

One tiny Qwen2-VL, one SFT warm-up (seed 0, as `stepgrpo demo`), then every variant from that same
checkpoint with the same budget, once per RL seed (sampling and data order), each evaluated on the
same ChartMath test split. Variants (`stepgrpo.demo.VARIANTS`):

- component ablation (R1-VL Table 4): `outcome`, `steprar` (+ StepRAR), `steprvr` (+ StepRVR),
  `stepgrpo` (both);
- algorithms (docs/algorithms.md): `stepgrpo` (scalar advantage), `stepgrpo-step` (per-token step
  credit), and each with EGSW (`stepgrpo-egsw`, `stepgrpo-step-egsw`).

Every finished (variant, seed) is saved in OUT/results.json at once, so an interrupted run resumes
where it stopped; variants run in the order given, each over all seeds. The tables give mean ±
sample standard deviation over seeds; with `--docs DIR` the Markdown report and the mean
training-curve plots are also written there.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from stepgrpo.curves import plot_curves
from stepgrpo.demo import (
    SFT_LABEL,
    VARIANTS,
    DemoSettings,
    evaluate_model,
    log_history,
    make_base,
    make_data,
    warm_up,
)
from stepgrpo.demo import run_variant as train_variant
from stepgrpo.outputs import write_text_atomic

COMPONENTS = ("outcome", "steprar", "steprvr", "stepgrpo")
ALGORITHMS = ("stepgrpo", "stepgrpo-step", "stepgrpo-egsw", "stepgrpo-step-egsw")
METRICS = ("accuracy", "key_step_fraction", "validity")


def load_results(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.exists() else {}


def save_results(path: Path, results: dict[str, Any]) -> None:
    write_text_atomic(path, json.dumps(results, indent=1) + "\n")


def warm_up_once(out: Path, data: Path, settings: DemoSettings) -> Path:
    """The one SFT checkpoint every seed and variant starts from (reused when already there)."""
    start = out / "sft" / "final"
    if not start.is_dir():
        started = time.perf_counter()
        start = warm_up(make_base(out, settings), data, out, settings)
        print(f"sft {time.perf_counter() - started:.0f} s", flush=True)
    return start


def run_variant(name: str, seed: int, start: Path, data: Path, out: Path, settings: DemoSettings,
                everything: dict[str, Any], results_path: Path) -> None:
    """Train and evaluate one variant with one RL seed, unless the results already hold it."""
    done = everything["runs"].setdefault(str(seed), {})
    if name in done:
        return
    folder = out / f"seed{seed}"
    started = time.perf_counter()
    model = train_variant(name, start, data, folder, replace(settings, seed=seed))
    metrics = evaluate_model(model, data, folder / "eval" / name, settings)
    done[name] = {"metrics": metrics, "seconds": round(time.perf_counter() - started, 1),
                  "history": log_history(folder / name)}
    save_results(results_path, everything)
    print(f"[seed {seed}] {name}: {metrics} ({done[name]['seconds']} s)", flush=True)


def mean_spread(values: list[float]) -> str:
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.fmean(values):.3f} ± {spread:.3f}"


def table(everything: dict[str, Any], names: tuple[str, ...]) -> str:
    lines = ["| variant | answer accuracy | key-step fraction | validity | RL seeds |", "|---|---|---|---|---|"]
    if "sft" in everything:
        cells = " | ".join(f"{everything['sft'][metric]:.3f}" for metric in METRICS)
        lines.append(f"| {SFT_LABEL} | {cells} | – |")
    for name in names:
        runs = [seed_results[name]["metrics"] for seed_results in everything["runs"].values() if name in seed_results]
        if runs:
            cells = " | ".join(mean_spread([run[metric] for run in runs]) for metric in METRICS)
            lines.append(f"| {VARIANTS[name].label} (`{name}`) | {cells} | {len(runs)} |")
    return "\n".join(lines)


def signal_table(everything: dict[str, Any], names: tuple[str, ...]) -> str:
    """What the rollouts taught, from the training logs: the share of groups whose rewards were all
    equal (no gradient from them), how far the policy moved (KL to the SFT model at the last step),
    and training-rollout accuracy and validity over the first and last ten steps."""
    lines = ["| variant | groups with zero reward spread | final KL | train accuracy, first → last 10 steps "
             "| train validity, first → last 10 steps |", "|---|---|---|---|---|"]
    for name in names:
        histories = [[e for e in seed_results[name]["history"] if "reward" in e]
                     for seed_results in everything["runs"].values() if name in seed_results]
        if not histories:
            continue

        def mean(key: str, part: slice, histories: list = histories) -> float:
            return statistics.fmean(statistics.fmean(e[key] for e in h[part]) for h in histories)

        first, last, every = slice(0, 10), slice(-10, None), slice(None)
        accuracy, validity = "rewards/outcome_reward/mean", "rewards/step_validity_reward/mean"
        lines.append(f"| `{name}` | {mean('frac_reward_zero_std', every):.2f} | "
                     f"{statistics.fmean(h[-1]['kl'] for h in histories):.4f} | "
                     f"{mean(accuracy, first):.3f} → {mean(accuracy, last):.3f} | "
                     f"{mean(validity, first):.3f} → {mean(validity, last):.3f} |")
    return "\n".join(lines)


def seed_histories(runs: dict[str, Any], names: tuple[str, ...]) -> dict[str, list[list[dict[str, Any]]]]:
    """Variant label → the training log of each finished RL seed, for `plot_curves`."""
    histories = {VARIANTS[name].label: [r[name]["history"] for r in runs.values() if name in r] for name in names}
    return {label: runs for label, runs in histories.items() if runs}


def write_report(everything: dict[str, Any], settings: DemoSettings, folder: Path, command: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    runs = everything["runs"]
    groups = {"components": COMPONENTS, "algorithms": ALGORITHMS}
    images = {}
    for group, names in groups.items():
        paths = plot_curves(seed_histories(runs, names), folder, prefix=f"ablation-{group}")
        images[group] = "\n".join(f"![{path.name}]({path.name})" for path in paths)
    body = f"""# Ablation on ChartMath: reward components and advantage algorithms

Command (CPU; one thread, as it ran here beside other jobs; about 40 minutes; rerun it to reproduce
every number and plot here, already finished runs in `--out` are reused):

    {command}

What the numbers mean, and the defaults chosen from them: [demo.md](../demo.md) (reward
components) and [algorithms.md](../algorithms.md) §5 (advantage algorithms).

One tiny Qwen2-VL (hidden {settings.hidden_size}, {settings.num_layers} layers) warmed up once with SFT
({settings.sft_epochs} epochs over {settings.train_rows} rows); from that same checkpoint every variant runs
{settings.rl_steps} GRPO steps of {settings.prompts_per_step} prompts × {settings.num_generations} completions
(lr {settings.rl_learning_rate}, {settings.max_completion_length} completion tokens) with each RL seed
({", ".join(runs)}: sampling and data order), then greedy evaluation on the same {settings.test_rows} test
questions. Cells: mean ± sample standard deviation over RL seeds. Curves: per-step mean over seeds,
moving average of 5 steps.

## Reward components (R1-VL Table 4)

{table(everything, COMPONENTS)}

{images["components"]}

## Advantage algorithms (scalar vs step credit, with and without EGSW)

{table(everything, ALGORITHMS)}

{images["algorithms"]}

## Training signal (from the training logs, mean over RL seeds)

{signal_table(everything, tuple(dict.fromkeys(COMPONENTS + ALGORITHMS)))}
"""
    path = folder / "ablation.md"
    path.write_text(body)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("runs/ablation"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    order = dict.fromkeys(("stepgrpo", "outcome", *COMPONENTS, *ALGORITHMS))  # the demo's pair first
    parser.add_argument("--variants", default=",".join(order))
    parser.add_argument("--rl-steps", type=int, default=DemoSettings.rl_steps)
    parser.add_argument("--docs", type=Path, help="also write the report and plots to this folder")
    options = parser.parse_args()

    variants = [name.strip() for name in options.variants.split(",") if name.strip()]
    settings = DemoSettings(rl_steps=options.rl_steps, variants=tuple(variants))
    options.out.mkdir(parents=True, exist_ok=True)
    results_path = options.out / "results.json"
    stored = load_results(results_path)
    budget = json.loads(json.dumps({key: value for key, value in asdict(settings).items()
                                    if key not in ("seed", "variants")}))  # as stored: tuples become lists
    if stored and stored["settings"] != budget:
        parser.error(f"{results_path} holds runs made with other settings; use another --out or delete it")
    everything = {"settings": budget, "runs": {}, **stored}
    data = options.out / "data"
    if not (data / "sft.jsonl").is_file():
        make_data(options.out, settings)
    start = warm_up_once(options.out, data, settings)
    if "sft" not in everything:
        everything["sft"] = evaluate_model(start, data, options.out / "eval" / "sft", settings)
        save_results(results_path, everything)
    for name in variants:  # variant-major: an interrupted run has every seed of the first variants
        for seed in options.seeds:
            run_variant(name, seed, start, data, options.out, settings, everything, results_path)
    command = (f"OMP_NUM_THREADS=1 .venv/bin/python benchmarks/ablation.py --out {options.out} --seeds "
               + " ".join(map(str, options.seeds)) + f" --rl-steps {options.rl_steps}"
               + (f" --docs {options.docs}" if options.docs else ""))
    report = write_report(everything, settings, options.docs or options.out, command)
    print(report.read_text())


if __name__ == "__main__":
    main()
