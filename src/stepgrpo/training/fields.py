"""The trainer-config field table, readable without importing TRL or torch.

`stepgrpo train|sft` must name every bad key and value (and print `--help`) in well under two
seconds, but `StepGRPOConfig` subclasses TRL's `GRPOConfig`, whose import pulls in torch (about
7 s). So the fields of `StepGRPOConfig` / `StepSFTConfig` (name, a torch-free type, default, help,
allowed values) are written once into `field_table.py` by `generate()`:

    python -m stepgrpo.training.fields --write      # after changing a config class or TRL's version

The table records the TRL and transformers versions it was made from. When the installed ones
differ, `table()` returns None and callers validate against the live dataclasses instead (correct,
only slower); `tests/test_trl_style_config.py` fails while the shipped table is out of date.
"""

from __future__ import annotations

import enum
import functools
import inspect
import types
import typing
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

KINDS = ("train", "sft")
"""`train`: `StepGRPOConfig` (TRL's GRPOConfig); `sft`: `StepSFTConfig` (TRL's SFTConfig)."""
VERSIONED = ("trl", "transformers")

# Values whose type TRL checks only mid-run (or never): checked against these lists up front.
TRL_CHOICES: dict[str, tuple[str, ...]] = {
    "loss_type": ("grpo", "bnpo", "dr_grpo", "dapo", "cispo", "sapo", "luspo", "vespo"),
    "scale_rewards": ("group", "batch", "none"),
    "vllm_mode": ("server", "colocate"),
    "importance_sampling_level": ("token", "sequence"),
    "multi_objective_aggregation": ("sum_then_normalize", "normalize_then_sum"),
}

_TYPE_NAMES: dict[str, Any] = {"int": int, "float": float, "str": str, "bool": bool, "dict": dict, "list": list,
                               "tuple": tuple, "None": None, "Any": Any, "Literal": Literal}


def installed_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in VERSIONED:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def table(kind: str) -> dict[str, dict[str, Any]] | None:
    """The shipped field table of `kind`, or None when it was made from other TRL/transformers versions."""
    from stepgrpo.training import field_table

    if installed_versions() != field_table.VERSIONS:
        return None
    return field_table.FIELDS[kind]


def shipped_table(kind: str) -> dict[str, dict[str, Any]]:
    """The shipped table whatever the installed versions (help pages, which only describe)."""
    from stepgrpo.training import field_table

    return field_table.FIELDS[kind]


@functools.cache
def python_type(light: str) -> Any:
    """The type a table's type string names (only builtins, `Any`, `Literal` and `None` occur)."""
    return eval(light, {"__builtins__": {}}, _TYPE_NAMES)  # our own generated strings only


def light_type(annotation: Any) -> tuple[str, list[str] | None]:
    """A torch-free type string for a dataclass annotation, and the allowed values an enum gives.
    Enums (transformers' `IntervalStrategy | str`, ...) become `str`; other classes `Any`."""
    if annotation is None or annotation is type(None):
        return "None", None
    if annotation is Any:
        return "Any", None
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        parts: list[str] = []
        choices: list[str] | None = None
        for arg in args:
            text, arg_choices = light_type(arg)
            choices = choices or arg_choices
            if text not in parts:
                parts.append(text)
        return ("Any" if "Any" in parts else " | ".join(parts)), choices
    if origin is Literal:
        return f"Literal[{', '.join(repr(arg) for arg in args)}]", None
    if origin in (list, dict, tuple):
        inner = ", ".join(light_type(arg)[0] for arg in args if arg is not Ellipsis)
        return (f"{origin.__name__}[{inner}]" if inner else origin.__name__), None
    if annotation in (int, float, str, bool, dict, list):
        return annotation.__name__, None
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return "str", [str(member.value) for member in annotation]
    return "Any", None


def _default_text(field: Any) -> str:
    import dataclasses

    if field.default is not dataclasses.MISSING:
        value = field.default
    elif field.default_factory is not dataclasses.MISSING:
        value = field.default_factory()
    else:
        return "required"
    if isinstance(value, enum.Enum):
        value = value.value
    return "null" if value is None else str(value)


def fields_of(config_cls: type) -> dict[str, dict[str, Any]]:
    """The table entries of a config dataclass: every init field with its type, default, help, choices
    and where it is defined (stepgrpo, trl or transformers)."""
    import dataclasses

    hints = typing.get_type_hints(config_cls)
    out: dict[str, dict[str, Any]] = {}
    grpo = any(cls.__name__ == "GRPOConfig" for cls in config_cls.__mro__)  # TRL_CHOICES are GRPOConfig's
    extra_choices = {**TRL_CHOICES, "advantage_mode": ("sequence", "step")} if grpo else {}
    for field in dataclasses.fields(config_cls):
        if not field.init or field.name.startswith("_"):
            continue
        owner = next(cls for cls in config_cls.__mro__ if field.name in inspect.get_annotations(cls))
        light, choices = light_type(hints.get(field.name, field.type))
        choices = field.metadata.get("choices") or choices
        if field.name in extra_choices and owner.__module__.split(".")[0] in ("stepgrpo", "trl"):
            choices = list(extra_choices[field.name])
        out[field.name] = {"type": light, "default": _default_text(field),
                           "help": " ".join(str(field.metadata.get("help", "")).split()),
                           "choices": [str(choice) for choice in choices] if choices else None,
                           "origin": owner.__module__.split(".")[0]}
    return out


def generate() -> dict[str, Any]:
    """The table from the live config classes (imports TRL)."""
    from stepgrpo.training.config import StepGRPOConfig
    from stepgrpo.training.sft import StepSFTConfig

    return {"VERSIONS": installed_versions(),
            "FIELDS": {"train": fields_of(StepGRPOConfig), "sft": fields_of(StepSFTConfig)}}


def write(path: Path | None = None) -> Path:
    """Write `field_table.py` (a Python literal, so it ships without package-data settings)."""
    import pprint

    path = path or Path(__file__).with_name("field_table.py")
    generated = generate()
    text = ('"""Generated by `python -m stepgrpo.training.fields --write` from StepGRPOConfig and StepSFTConfig;\n'
            'do not edit by hand (see `stepgrpo.training.fields`)."""\n\n'
            f"VERSIONS = {pprint.pformat(generated['VERSIONS'], width=110)}\n\n"
            f"FIELDS = {pprint.pformat(generated['FIELDS'], width=110, sort_dicts=False)}\n")
    path.write_text(text, encoding="utf-8")
    return path


if __name__ == "__main__":
    import sys

    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python -m stepgrpo.training.fields --write")
    print(f"wrote {write()}")
