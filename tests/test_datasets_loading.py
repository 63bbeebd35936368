"""Training data from anything `datasets.load_dataset` reads (files, data folders, `save_to_disk`
folders with splits, embedded images), and every `stepgrpo keysteps` layout trained as written."""

from __future__ import annotations

import io
import json

import datasets
import pytest
from PIL import Image
from training_helpers import question_index, write_rows
from typer.testing import CliRunner

from stepgrpo.cli import app
from stepgrpo.data.io import DataFileError, DataSource
from stepgrpo.data.training import TrainingDataError, build_dataset
from stepgrpo.data.validate import check_dataset_images

runner = CliRunner()


def png(color: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), color).save(buffer, format="PNG")
    return buffer.getvalue()


def rows(count: int, offset: int = 0) -> list[dict]:
    return [{"question": f"What is {index} + 1?", "solution": str(index + 1), "key_steps": [[f"{index} + 1"]]}
            for index in range(offset, offset + count)]


def test_saved_dataset_with_splits_and_embedded_images(tmp_path):
    features = datasets.Features({"question": datasets.Value("string"), "solution": datasets.Value("string"),
                                  "key_steps": datasets.List(datasets.List(datasets.Value("string"))),
                                  "image": datasets.Image()})

    def split(count: int, offset: int) -> datasets.Dataset:
        return datasets.Dataset.from_list([{**row, "image": {"bytes": png((index * 40, 0, 0)), "path": None}}
                                           for index, row in enumerate(rows(count, offset))], features=features)

    folder = tmp_path / "saved"
    datasets.DatasetDict({"train": split(3, 0), "test": split(2, 10)}).save_to_disk(str(folder))
    train = build_dataset(DataSource(folder))
    test = build_dataset(DataSource(folder, split="test"))
    assert len(train) == 3 and [row["solution"] for row in test] == ["11", "12"]
    assert isinstance(train.features["image"], datasets.Image)
    assert train[0]["image"].size == (32, 32)
    assert check_dataset_images(train, progress=False)[1] == []
    with pytest.raises(DataFileError, match=r"holds splits \['train', 'test'\], not 'dev'; choose one with "
                                            "dataset_train_split"):
        build_dataset(DataSource(folder, split="dev"))


def test_files_and_data_folders(tmp_path):
    datasets.Dataset.from_list(rows(2)).to_parquet(str(tmp_path / "rows.parquet"))
    (tmp_path / "rows.csv").write_text("question,solution\nWhat is 2 + 2?,4\nWhat is 3 + 3?,6\n")
    folder = tmp_path / "folder"
    folder.mkdir()
    for name, part in (("a.jsonl", rows(2)), ("b.jsonl", rows(1, 5))):
        (folder / name).write_text("".join(json.dumps(row) + "\n" for row in part))
    assert len(build_dataset(str(tmp_path / "rows.parquet"))) == 2
    csv = build_dataset(DataSource(tmp_path / "rows.csv"))
    assert [row["solution"] for row in csv] == ["4", "6"] and csv[0]["row"] == f"{tmp_path / 'rows.csv'}[0]"
    assert sorted(row["solution"] for row in build_dataset(DataSource(folder))) == ["1", "2", "6"]


def test_image_bytes_and_paths(tmp_path):
    (tmp_path / "a.png").write_bytes(png((0, 200, 0)))
    examples = build_dataset([{**rows(1)[0], "image": png((200, 0, 0))},
                              {**rows(1)[0], "images": [str(tmp_path / "a.png")]},
                              {**rows(1)[0], "image_path": [str(tmp_path / "a.png")]}])
    assert [example["image"].getpixel((0, 0)) for example in examples] == [(200, 0, 0), (0, 200, 0), (0, 200, 0)]
    with pytest.raises(TrainingDataError, match="row 0: images: 2 images; training takes one image per row"):
        build_dataset([{**rows(1)[0], "images": [str(tmp_path / "a.png")] * 2}])


def test_offline_hub_id_and_bad_lines_are_named(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(DataFileError, match=r"^org/dataset: no such file or folder \(hub ids are not fetched with "
                                            r"HF_HUB_OFFLINE=1\)$"):
        build_dataset(DataSource("org/dataset"))
    data = tmp_path / "rows.jsonl"
    data.write_text(json.dumps(rows(1)[0]) + "\nnot json\n" + json.dumps({"solution": "1"}) + "\n")
    with pytest.raises(TrainingDataError) as raised:
        build_dataset(DataSource(data))
    assert f"{data}:2: not valid JSON" in str(raised.value)
    assert f"{data}:3: question: missing or empty" in str(raised.value)


def test_conversation_rows(tmp_path):
    """sharegpt / messages rows (what SFT data and `keysteps --layout keep` of them look like)."""
    (tmp_path / "a.png").write_bytes(png((0, 0, 200)))
    answer = "### Step 1:\n2 + 2 = 4\n### The final answer is: 4"
    row = {"images": ["a.png"], "key_steps": [["2 + 2 = 4"]],
           "messages": [{"role": "user", "content": "<image>What is 2 + 2?"},
                        {"role": "assistant", "content": answer}]}
    data = tmp_path / "rows.jsonl"
    data.write_text(json.dumps(row) + "\n")
    example = build_dataset(DataSource(data), sft=True)[0]
    assert example["solution"] == answer and example["completion"][0]["content"] == answer
    assert "<image>" not in example["prompt"][0]["content"] and "What is 2 + 2?" in example["prompt"][0]["content"]


@pytest.mark.parametrize("layout, suffix", [("keep", ".jsonl"), ("r1vl", ".jsonl"), ("trl", ".jsonl"),
                                            ("trl", ".parquet"), ("r1vl", "")])  # "": a save_to_disk folder
def test_every_keysteps_layout_trains_as_is(tmp_path, layout, suffix):
    data = write_rows(tmp_path / "data", count=4, reasoning=True)
    out = tmp_path / "data" / f"{layout}{suffix}"
    result = runner.invoke(app, ["keysteps", str(data), str(out), "--extractor", "rules", "--layout", layout,
                                 "--reasoning-field", "reasoning"])
    assert result.exit_code == 0, result.output
    dataset = build_dataset(DataSource(out))
    assert len(dataset) == 4 and all(row["key_steps"] for row in dataset)
    assert [question_index(row["prompt"]) for row in dataset] == [0, 1, 2, 3]
    assert isinstance(dataset.features["image"], datasets.Image)
    assert check_dataset_images(dataset, progress=False)[1] == []


def test_trl_layout_trains_from_the_command_line(tiny_vlm_dir, tmp_path):
    """`keysteps --layout trl` output and TRL's names straight into `stepgrpo train`."""
    data = write_rows(tmp_path / "data", count=4, reasoning=True)
    out = tmp_path / "data" / "trl.jsonl"
    assert runner.invoke(app, ["keysteps", str(data), str(out), "--extractor", "rules", "--layout", "trl",
                               "--reasoning-field", "reasoning"]).exit_code == 0
    result = runner.invoke(app, ["train", "--preset", "tiny", "--model_name_or_path", str(tiny_vlm_dir),
                                 "--dataset_name", str(out), "--max_steps", "1", "--max_completion_length", "4",
                                 "--per_device_train_batch_size", "4", "--num_generations", "2",
                                 "--output_dir", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "o" / "final" / "config.json").is_file()
