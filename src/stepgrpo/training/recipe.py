"""Reading and checking a training recipe without importing TRL or torch.

A recipe is layers of `key: value` settings merged preset < YAML file (`--config`) < command line.
A key is a run field (`RunConfig`: model, data, LoRA, image size; TRL's `ModelConfig` /
`ScriptArguments` names such as `model_name_or_path`, `dataset_name`, `use_peft` are accepted) or a
field of the trainer config (`StepGRPOConfig` / `StepSFTConfig`, described by `fields.py`).
`check_layers` reports every unknown key and bad value at once, naming the source of each; the
CLI calls `check_command_line` before the 7 s import of TRL so mistakes show in well under 2 s.

Why not TRL's `TrlParser`: it is an argparse parser over the dataclasses, so it needs them
imported (torch), and argparse stops at the first unknown or bad argument. Its conventions are
kept: `--config recipe.yaml`, TRL's field names, and an `env:` mapping in the YAML file that is
set as environment variables.
"""

from __future__ import annotations

import difflib
import functools
import os
import re
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import pydantic
import yaml

from stepgrpo.data.io import looks_local, offline_note
from stepgrpo.training import fields


class ConfigError(ValueError):
    """A configuration problem, reported before any model loads (one problem per line)."""


class _Loader(yaml.SafeLoader):
    """YAML 1.2 scalars: only true/false are booleans (`save_strategy: no` stays "no"), and
    `1e-6` is a float (YAML 1.1 reads it as a string)."""


_Loader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                              list("tTfF"))
_Loader.add_implicit_resolver("tag:yaml.org,2002:float",
                              re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
                              list("-+0123456789"))


def load_yaml(text: str) -> Any:
    return yaml.load(text, Loader=_Loader)


class RunConfig(pydantic.BaseModel):
    """What to train on and with: everything that is not a trainer argument."""

    model_config = pydantic.ConfigDict(extra="forbid")

    model: str = pydantic.Field(description="Local model folder, or a hub id (downloaded by transformers). "
                                            "TRL name: model_name_or_path.")
    train_data: str = pydantic.Field(description="Anything `datasets.load_dataset` reads: a JSONL / JSON / parquet "
                                                 "/ CSV file, a data folder, a `save_to_disk` folder or a hub dataset "
                                                 "id. TRL name: dataset_name.")
    eval_data: str | None = pydantic.Field(None, description="Evaluation rows, read like train_data.")
    dataset_config: str | None = pydantic.Field(None, description="The dataset's configuration name "
                                                                  "(`load_dataset(name=...)`).")
    dataset_train_split: str = pydantic.Field("train", description="Split of train_data to train on.")
    dataset_test_split: str | None = pydantic.Field(
        None, description="Split of train_data to evaluate on (when eval_data is not given). None: no evaluation "
                          "split (TRL's scripts default to `test`, used only with an eval_strategy).")
    limit: int | None = pydantic.Field(None, ge=1, description="Use only the first N rows.")
    dtype: Literal["float32", "bfloat16", "float16", "auto"] = pydantic.Field(
        "float32", description="Weights dtype. TRL alias: torch_dtype.")
    attn_implementation: str | None = pydantic.Field(None, description="Attention implementation passed to "
                                                                       "`from_pretrained` (e.g. flash_attention_2).")
    min_pixels: int | None = pydantic.Field(None, ge=1, description="Image processor lower bound (pixels).")
    max_pixels: int | None = pydantic.Field(None, ge=1, description="Image processor upper bound (R1-VL: 400000).")
    use_peft: bool | None = pydantic.Field(None, description="Train a LoRA adapter (peft). None: when lora_r is set.")
    lora_r: int | None = pydantic.Field(None, ge=1, description="LoRA rank (16 when use_peft and unset); "
                                                                "None and no use_peft trains all weights.")
    lora_alpha: int = pydantic.Field(16, description="LoRA alpha (TRL's ModelConfig: 32).")
    lora_dropout: float = pydantic.Field(0.05, ge=0, lt=1, description="LoRA dropout.")
    lora_target_modules: str | list[str] = pydantic.Field("all-linear", description="LoRA target modules.")
    lora_modules_to_save: list[str] | None = pydantic.Field(None, description="Modules trained in full beside "
                                                                              "the adapter.")
    use_rslora: bool = pydantic.Field(False, description="Rank-stabilised LoRA scaling lora_alpha/sqrt(r).")
    use_dora: bool = pydantic.Field(False, description="Weight-decomposed LoRA (DoRA).")

    def model_kwargs(self) -> dict[str, Any]:
        """Extra `from_pretrained` arguments of the model."""
        return {"attn_implementation": self.attn_implementation} if self.attn_implementation else {}

    def train_source(self) -> Any:
        """`train_data` with its configuration and split (`io.DataSource`, a str for older readers)."""
        from stepgrpo.data.io import DataSource

        return DataSource(self.train_data, config=self.dataset_config, split=self.dataset_train_split)

    def eval_source(self) -> Any:
        """`eval_data`, else train_data's `dataset_test_split` when set, else None."""
        from stepgrpo.data.io import DataSource

        if self.eval_data:
            return DataSource(self.eval_data, config=self.dataset_config, split=self.dataset_test_split or "train")
        if self.dataset_test_split:
            return DataSource(self.train_data, config=self.dataset_config, split=self.dataset_test_split)
        return None

    def lora_settings(self) -> dict[str, Any] | None:
        """peft `LoraConfig` arguments, or None for full fine-tuning."""
        if self.use_peft is False or (self.use_peft is None and self.lora_r is None):
            return None
        return {"r": self.lora_r or 16, "lora_alpha": self.lora_alpha, "lora_dropout": self.lora_dropout,
                "target_modules": self.lora_target_modules, "modules_to_save": self.lora_modules_to_save,
                "use_rslora": self.use_rslora, "use_dora": self.use_dora, "task_type": "CAUSAL_LM"}


ALIASES = {"model_name_or_path": "model", "dataset_name": "train_data", "torch_dtype": "dtype"}
"""TRL / open-r1 names of run fields."""

UNSUPPORTED: dict[str, Any] = {
    "model_revision": "main", "load_in_8bit": False, "load_in_4bit": False, "bnb_4bit_quant_type": "nf4",
    "use_bnb_nested_quant": False, "bnb_4bit_quant_storage": None, "lora_target_parameters": None,
    "lora_task_type": "CAUSAL_LM", "dataset_streaming": False, "ignore_bias_buffers": False,
    "reward_model_name_or_path": None,
}
"""TRL `ModelConfig` / `ScriptArguments` fields stepgrpo does not implement: accepted at their TRL
default (so TRL recipes load), refused with a message otherwise."""


COMMAND_OPTIONS = ("config", "preset", "resume", "overwrite", "skip_bad_rows")
"""The commands' own options, suggested for a misspelt command-line key."""


def run_fields() -> dict[str, pydantic.fields.FieldInfo]:
    return dict(RunConfig.model_fields)


def preset_names() -> list[str]:
    folder = resources.files("stepgrpo.training") / "presets"
    return sorted(p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml"))


def read_preset(name: str) -> dict[str, Any]:
    names = preset_names()
    if name not in names:
        raise ConfigError(f"preset: {name!r} is not one of {', '.join(names)}")
    text = (resources.files("stepgrpo.training") / "presets" / f"{name}.yaml").read_text(encoding="utf-8")
    return load_yaml(text) or {}


def read_yaml(path: str | Path) -> dict[str, Any]:
    """A recipe file as a mapping; its `env:` mapping (TrlParser's convention) is set in `os.environ`."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such config file")
    try:
        data = load_yaml(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ConfigError(f"{where}: not valid YAML ({getattr(error, 'problem', error)})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of key: value, got {type(data).__name__}")
    env = data.pop("env", None)
    if env is not None:
        if not isinstance(env, dict):
            raise ConfigError(f"{path}: env: expected a mapping of NAME: value")
        os.environ.update({str(key): str(value) for key, value in env.items()})
    return data


def parse_overrides(args: list[str]) -> dict[str, Any]:
    """`--key value` / `--key=value` pairs → dict, values parsed as YAML scalars (`1e-6`, `[1, 2]`)."""
    out: dict[str, Any] = {}
    index = 0
    while index < len(args):
        arg = args[index]
        if not arg.startswith("--") or arg == "--":
            raise ConfigError(f"command line: expected --key value, got {arg!r}")
        key, eq, value = arg[2:].partition("=")
        if not eq:
            if index + 1 >= len(args) or args[index + 1].startswith("--"):
                value = "true"  # a bare flag
            else:
                index += 1
                value = args[index]
        out[key.replace("-", "_")] = load_yaml(value) if value != "" else ""
        index += 1
    return out


def recipe_layers(config_path: str | Path | None = None, overrides: list[str] | None = None,
                  preset: str | None = None) -> list[tuple[str, dict[str, Any]]]:
    """`(source, mapping)` layers in merge order: preset, YAML file, command line, default output_dir."""
    layers: list[tuple[str, dict[str, Any]]] = []
    if preset:
        layers.append((f"preset {preset}", read_preset(preset)))
    if config_path:
        layers.append((str(config_path), read_yaml(config_path)))
    if overrides:
        layers.append(("command line", parse_overrides(overrides)))
    if not any("output_dir" in mapping for _, mapping in layers):
        layers.append(("default", {"output_dir": "runs/stepgrpo"}))
    return layers


@functools.cache
def _adapter(light: str) -> pydantic.TypeAdapter:
    """A validator for a table type string; numbers are accepted as text (`run_name: 7`)."""
    return pydantic.TypeAdapter(fields.python_type(light), config=pydantic.ConfigDict(coerce_numbers_to_str=True))


def check_value(name: str, value: Any, entry: Mapping[str, Any]) -> tuple[Any, str | None]:
    """`value` converted to the field's type, or the problem with it."""
    try:
        value = _adapter(entry["type"]).validate_python(value)
    except pydantic.ValidationError as error:
        detail = "; ".join(dict.fromkeys(e["msg"] for e in error.errors()))
        return value, f"{name}: {detail} (got {value!r})"
    choices = entry.get("choices")
    if choices and isinstance(value, str) and value not in choices:
        return value, f"{name}: {value!r} is not allowed; choose one of {', '.join(choices)}"
    return value, None


def merge_layers(layers: list[tuple[str, dict[str, Any]]], table: Mapping[str, Mapping[str, Any]] | None
                 ) -> tuple[dict[str, Any], dict[str, Any], dict[str, str], list[str]]:
    """Merge the layers, checking every key and value against `RunConfig` and the trainer-config
    `table` (None: trainer keys pass unchecked, for a check after TRL's import); return the run
    values, the trainer settings, the source of each key and every problem (`source: field: ...`)."""
    run_names = set(run_fields())
    known = [*run_names, *ALIASES, *UNSUPPORTED, *(table or ())]
    problems: list[str] = []
    run_values: dict[str, Any] = {}
    settings: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for source, mapping in layers:
        seen: dict[str, str] = {}
        for key, value in mapping.items():
            name = ALIASES.get(key, key)
            if name in seen:
                problems.append(f"{source}: {key}: same field as {seen[name]}; give one of them")
                continue
            seen[name] = key
            if name in run_names:
                run_values[name], sources[name] = value, source
            elif name in UNSUPPORTED:
                if value != UNSUPPORTED[name]:
                    problems.append(f"{source}: {key}: {value!r} is not supported by stepgrpo "
                                    f"(TRL's default {UNSUPPORTED[name]!r} is the only value accepted)")
            elif table is None or name in table:
                if table is not None:
                    value, problem = check_value(name, value, table[name])
                    if problem:  # left out of the settings, so the checks across fields see sound values
                        problems.append(f"{source}: {problem}")
                        continue
                settings[name], sources[name] = value, source
            else:
                options = COMMAND_OPTIONS if source == "command line" else ()
                close = difflib.get_close_matches(key, [*known, *options], n=3)
                hint = f"; did you mean {', '.join(close)}?" if close else ""
                problems.append(f"{source}: unknown field {key!r}{hint}")
    try:
        RunConfig(**run_values)
    except pydantic.ValidationError as error:
        for e in error.errors():
            key = ".".join(str(part) for part in e["loc"])
            problems.append(f"{sources.get(key.split('.')[0], 'config')}: {key}: {e['msg']}")
    return run_values, settings, sources, problems


def check_layers(layers: list[tuple[str, dict[str, Any]]], table: Mapping[str, Mapping[str, Any]]
                 ) -> tuple[RunConfig, dict[str, Any], dict[str, str]]:
    """`merge_layers`, as `(RunConfig, trainer settings, sources)`, or one `ConfigError` listing every problem."""
    run_values, settings, sources, problems = merge_layers(layers, table)
    if problems:
        raise ConfigError("\n  ".join(problems))
    return RunConfig(**run_values), settings, sources


def sourced(lines: list[str], sources: Mapping[str, str]) -> list[str]:
    """`field: problem` lines prefixed with the source of the field (`config` when it was not given)."""
    return [f"{sources.get(line.split(':', 1)[0], 'config')}: {line}" for line in lines]


def table_defaults(table: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Each field's default as a value, read back from the table's text (`null`, `0.1`, `['a', 'b']`)."""
    out: dict[str, Any] = {}
    for name, entry in table.items():
        if entry["default"] == "required":
            continue
        try:
            text = load_yaml(entry["default"])
        except yaml.YAMLError:
            text = entry["default"]
        out[name] = check_value(name, text, {**entry, "choices": None})[0]
    return out


def check_across_fields(kind: str, settings: Mapping[str, Any], sources: Mapping[str, str],
                        table: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The checks across trainer fields (`checks.py`, the same the config classes run), over the
    table's defaults overlaid with the recipe's settings, each problem naming its source."""
    from stepgrpo.training import checks

    defaults = table_defaults(table)
    return sourced(checks.problems_of(kind, {**defaults, **settings}, defaults), sources)


def check_places(run: Mapping[str, Any], settings: Mapping[str, Any]) -> list[str]:
    """Problems with where the run writes and what it reads that show without loading anything: an
    output_dir that cannot be written, a local model folder or data path that is not there."""
    from stepgrpo.outputs import OutputError, check_writable_place

    problems: list[str] = []
    try:
        check_writable_place(Path(str(settings.get("output_dir", "runs/stepgrpo"))) / "final")
    except OutputError as error:
        problems.append(f"output_dir: {error}")
    model = run.get("model")
    if isinstance(model, str):
        folder = Path(model).expanduser()
        if folder.exists():
            if not (folder / "config.json").is_file():
                problems.append(f"model: {model} is not a model folder (no config.json)")
        elif looks_local(model):
            problems.append(f"model: no such model folder {model}{offline_note(model)}")
    for name in ("train_data", "eval_data"):
        value = run.get(name)
        if isinstance(value, str) and not Path(value).expanduser().exists() and looks_local(value):
            problems.append(f"{name}: no such file or folder {value}{offline_note(value)}")
    return problems


def check_command_line(config_path: str | Path | None, overrides: list[str], preset: str | None, kind: str) -> None:
    """Everything a recipe can be checked for before TRL is imported, as one `ConfigError` with every
    problem: names, types, allowed values, the checks across fields, paths. With a field table made
    for other TRL versions (see `fields.py`) the trainer fields and the checks across them run only
    after the import, against the live dataclasses."""
    table = fields.table(kind)
    run_values, settings, sources, problems = merge_layers(recipe_layers(config_path, overrides, preset), table)
    if table is not None:
        problems += check_across_fields(kind, settings, sources, table)
    problems += check_places(run_values, settings)
    if problems:
        raise ConfigError("\n  ".join(problems))
