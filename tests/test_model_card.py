"""`final/README.md`: a real SFT warm-up and a GRPO run from its output each write a model card
naming the base model, the data, the changed settings and the rewards."""

from __future__ import annotations

from huggingface_hub import ModelCard
from training_helpers import write_rows

from stepgrpo.training.config import config_from_mapping
from stepgrpo.training.model_card import base_model_id

RUN = {"max_steps": 1, "logging_steps": 1, "save_strategy": "no", "activation_checkpointing": False,
       "max_pixels": 12544, "report_to": "none", "seed": 0}


def test_sft_and_train_cards_name_base_data_settings_and_rewards(tiny_vlm_dir, tmp_path):
    from stepgrpo.training.run import train
    from stepgrpo.training.sft import StepSFTConfig, sft

    rows = write_rows(tmp_path / "data", count=4, reasoning=True)
    warm = sft(*config_from_mapping({"model": str(tiny_vlm_dir), "train_data": str(rows), "limit": 3,
                                     "output_dir": str(tmp_path / "sft"), "per_device_train_batch_size": 3,
                                     "learning_rate": 3e-3, **RUN}, config_cls=StepSFTConfig))
    card = (warm / "README.md").read_text()
    assert f"## Base model\n\n`{tiny_vlm_dir}`" in card
    assert f"Training data: `{rows}`, 3 rows (the first 3)" in card
    assert "None: supervised loss on the reference completions" in card and "`stepgrpo sft`" in card
    for setting in ("learning_rate: 0.003", "limit: 3", "max_steps: 1", f"model: {tiny_vlm_dir}"):
        assert setting in card
    assert "[None]" not in card

    final = train(*config_from_mapping({"model": str(warm), "train_data": str(rows), "output_dir": str(tmp_path / "rl"),
                                        "per_device_train_batch_size": 8, "max_completion_length": 4, "alpha": 0.3,
                                        "reward_funcs": ["step_accuracy", "step_validity", "outcome"],
                                        "reward_weights": [1.0, 0.5, 0.0], **RUN}))
    card = ModelCard.load(final / "README.md")
    assert card.data.library_name == "transformers" and "grpo" in card.data.tags
    assert card.data.base_model is None and card.data.datasets is None, "local folders are not hub ids"
    text = card.text
    assert f"## Base model\n\n`{warm}`" in text and f"Training data: `{rows}`, 4 rows" in text
    assert "| `step_accuracy` | 1 |\n| `step_validity` | 0.5 |\n| `outcome` | 0 |" in text
    assert "α = 0.3" in text and "alpha: 0.3" in text and "Prompt format: `r1vl`" in text
    assert "1 optimizer steps" in text and "TensorBoard" not in text  # report_to none


def test_base_model_header_is_a_hub_id_or_the_folders_own_base(tmp_path):
    assert base_model_id("Qwen/Qwen2-VL-2B-Instruct") == "Qwen/Qwen2-VL-2B-Instruct"
    folder = tmp_path / "warm"
    folder.mkdir()
    assert base_model_id(str(folder)) is None
    (folder / "README.md").write_text("---\nbase_model: Qwen/Qwen2-VL-2B-Instruct\n---\n\n# warm\n")
    assert base_model_id(str(folder)) == "Qwen/Qwen2-VL-2B-Instruct"
    (folder / "README.md").write_text("---\nbase_model: [unclosed\n---\n")
    assert base_model_id(str(folder)) is None, "a broken card of the starting folder is ignored"
