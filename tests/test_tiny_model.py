"""The tiny models load through the ordinary from_pretrained path and behave like real checkpoints."""

from __future__ import annotations

import pytest
import torch
from PIL import Image
from transformers import AutoModelForImageTextToText, AutoProcessor, AutoTokenizer

from stepgrpo.data.prompts import build_messages
from stepgrpo.models import build_tiny_model, load_model_and_processor
from stepgrpo.models.processor import Qwen2VLImageOnlyProcessor

R1VL_TEXT = (
    "### Image Description:\nA bar chart of sales per year.\n### Rationales:\nRead the bars.\n"
    "### Let's think step by step.\n### Step 1:\n2021 is 340 and 2022 is 415, so 415 - 340 = 75.\n"
    "### The final answer is: 75"
)


def _image_inputs(processor, text: str = "How many bars?"):
    messages = [{"role": "user", "content": [{"type": "image", "image": Image.new("RGB", (56, 56), "red")},
                                             {"type": "text", "text": text}]}]
    return processor.apply_chat_template([messages], add_generation_prompt=True, tokenize=True,
                                         return_dict=True, return_tensors="pt")


def test_vlm_round_trips_through_auto_classes(tiny_vlm_dir):
    model = AutoModelForImageTextToText.from_pretrained(tiny_vlm_dir)
    processor = AutoProcessor.from_pretrained(tiny_vlm_dir)
    assert isinstance(processor, Qwen2VLImageOnlyProcessor)
    inputs = _image_inputs(processor)
    image_id = model.config.image_token_id
    assert (inputs["input_ids"] == image_id).sum().item() == 4  # 56×56 → grid 1×4×4 → 4 merged tokens
    out = model.generate(**inputs, max_new_tokens=6, do_sample=True, suppress_tokens=[image_id])
    assert out.shape[1] == inputs["input_ids"].shape[1] + 6 or out[0, -1] == processor.tokenizer.eos_token_id


def test_loader_gives_same_objects_and_gradients_reach_vision_tower(tiny_vlm_dir):
    model, processor = load_model_and_processor(tiny_vlm_dir)
    assert processor.tokenizer.padding_side == "left"
    inputs = _image_inputs(processor)
    loss = model(**inputs, labels=inputs["input_ids"]).loss
    loss.backward()
    assert torch.isfinite(loss)
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for n, p in model.named_parameters() if "visual" in n)


def test_tokenizer_handles_reasoning_text_and_reloads_identically(tiny_vlm_dir, tiny_lm_dir):
    _, processor = load_model_and_processor(tiny_vlm_dir)
    tokenizer = processor.tokenizer
    ids = tokenizer(R1VL_TEXT)["input_ids"]
    assert tokenizer.decode(ids) == R1VL_TEXT
    assert len(ids) < len(R1VL_TEXT) / 2  # a trained BPE, not bytes
    assert len(tokenizer("### Step 1:")["input_ids"]) <= 5  # "###", " Step", " ", "1", ":"
    assert AutoTokenizer.from_pretrained(tiny_vlm_dir)(R1VL_TEXT)["input_ids"] == ids
    lm_tokenizer = AutoTokenizer.from_pretrained(tiny_lm_dir)  # rebuilt as Qwen2Tokenizer: same ids
    assert lm_tokenizer(R1VL_TEXT)["input_ids"] == ids


def test_text_model_chat_and_generate(tiny_lm_dir):
    model, tokenizer = load_model_and_processor(tiny_lm_dir)
    assert not hasattr(tokenizer, "image_processor")
    text = tokenizer.apply_chat_template(build_messages("What is 2 + 3?"), add_generation_prompt=True,
                                         tokenize=False)
    assert text.startswith("<|im_start|>system\nYou are a helpful assistant.<|im_end|>")
    assert text.endswith("<|im_start|>assistant\n") and "Question: What is 2 + 3?" in text
    inputs = tokenizer(text, return_tensors="pt")
    assert model.generate(**inputs, max_new_tokens=4, do_sample=False).shape[1] <= inputs["input_ids"].shape[1] + 4


def test_qwen25_vl_builds_and_trains(tmp_path):
    path = build_tiny_model(tmp_path / "q25", arch="qwen2.5-vl", seed=1)
    model, processor = load_model_and_processor(path)
    assert type(model).__name__ == "Qwen2_5_VLForConditionalGeneration"
    inputs = _image_inputs(processor)
    model(**inputs, labels=inputs["input_ids"]).loss.backward()
    assert not list(tmp_path.glob(".q25.*")), "staging folder left behind"


def test_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match=r"allowed: qwen2-vl, qwen2\.5-vl, qwen2"):
        build_tiny_model(tmp_path / "x", arch="llama")
    with pytest.raises(ValueError, match="hidden_size 60"):
        build_tiny_model(tmp_path / "x", hidden_size=60)
    with pytest.raises(FileNotFoundError, match=r"no config\.json"):
        load_model_and_processor(tmp_path)


def test_make_tiny_model_command(tmp_path):
    from typer.testing import CliRunner

    from stepgrpo.cli import app

    runner = CliRunner()
    result = runner.invoke(app, ["make-tiny-model", str(tmp_path / "lm"), "--arch", "qwen2", "--hidden-size", "32"])
    assert result.exit_code == 0, result.output
    model, _ = load_model_and_processor(tmp_path / "lm")
    assert model.config.hidden_size == 32
    result = runner.invoke(app, ["make-tiny-model", str(tmp_path / "x"), "--arch", "gpt2"])
    assert result.exit_code != 0 and "'gpt2' is not one of: qwen2-vl, qwen2.5-vl, qwen2" in result.output


def test_vision_placeholders_are_named_once_and_suppressed_by_every_generator(tiny_vlm_dir, tiny_lm_dir):
    from stepgrpo.models.vision_tokens import VISION_PLACEHOLDERS, vision_placeholder_ids
    from stepgrpo.router.inference import ModelPolicy

    policy = ModelPolicy(tiny_vlm_dir, max_new_tokens=4)
    vocab = policy.tokenizer.get_vocab()
    ids = vision_placeholder_ids(policy.tokenizer)
    assert len(VISION_PLACEHOLDERS) == 5 and ids == sorted(vocab[token] for token in VISION_PLACEHOLDERS)
    assert policy.model.config.image_token_id in ids and policy.model.config.vision_start_token_id in ids
    assert policy.generate_kwargs["suppress_tokens"] == ids
    assert "suppress_tokens" not in ModelPolicy(tiny_lm_dir, max_new_tokens=4).generate_kwargs  # text-only
    without_vision = type("Tokenizer", (), {"get_vocab": lambda self: {"hello": 0}})()
    assert vision_placeholder_ids(without_vision) == []
