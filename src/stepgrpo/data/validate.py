"""Open and verify every image before any model loads.

Checking that an image file exists is not enough: a truncated or corrupt file passes that check
and crashes training or evaluation minutes later, after the model has loaded, with a PIL
traceback that names no row. Here every image is opened and verified by PIL up front (with a
progress bar), and each failure names the row (`file:line`), the field and the file.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from stepgrpo.data.io import RowError

IMAGE_FIELDS = ("image", "images")


def image_problem(image: Any) -> str | None:
    """Why `image` (a path, raw bytes, a `{"path", "bytes"}` record or a PIL image) cannot be used,
    or None. The file is verified and then decoded: `verify()` alone misses truncated pixel data."""
    import io

    from PIL import Image, UnidentifiedImageError

    if image is None or isinstance(image, Image.Image):
        return None
    data: bytes | None = None
    if isinstance(image, dict):
        data, path = image.get("bytes"), image.get("path")
        if not data and not path:
            return "empty image record (no path, no bytes)"
    elif isinstance(image, bytes):
        data, path = image, None
    elif isinstance(image, str | Path):
        path = image
    else:
        return f"expected an image path or image, got {type(image).__name__}"
    name = str(path) if path else "embedded image bytes"

    def open_image() -> Any:
        return Image.open(io.BytesIO(data) if data else str(path))

    try:
        with open_image() as opened:
            opened.verify()
        with open_image() as opened:
            opened.load()
    except FileNotFoundError:
        return f"no such file {name}"
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        return f"{name} is not a readable image ({error})"
    return None


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def row_image_problems(where: str, images: dict[str, Any]) -> list[RowError]:
    """Problems of one row's image fields (`{"image": ..., "images": [...]}`), each naming the field."""
    problems = []
    for field, value in images.items():
        for index, image in enumerate(_as_list(value)):
            problem = image_problem(image)
            if problem:
                label = field if not isinstance(value, list | tuple) else f"{field}[{index}]"
                problems.append(RowError(where, f"field {label!r}: {problem}"))
    return problems


def _progress(total: int, description: str, enabled: bool) -> Any:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(TextColumn(description), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                    console=Console(stderr=True), transient=True, disable=not enabled or total == 0)


def check_rows_images(rows: Iterable[tuple[str, dict[str, Any]]], total: int,
                      description: str = "checking images", progress: bool = True) -> list[RowError]:
    """Verify the images of `(where, {field: image(s)})` pairs; return one `RowError` per bad image."""
    problems: list[RowError] = []
    with _progress(total, description, progress) as bar:
        task = bar.add_task("images", total=total)
        for where, images in rows:
            problems += row_image_problems(where, images)
            bar.advance(task)
    return problems


def check_dataset_images(dataset: Any, skip_bad_rows: bool = False,
                         progress: bool = True) -> tuple[Any, list[RowError]]:
    """Open and verify every image of a training `datasets.Dataset` (columns `image` / `images`,
    rows named by its `row` column). Returns the dataset (without the bad rows when
    `skip_bad_rows`) and the problems; raises `TrainingDataError` on any problem otherwise."""
    import datasets

    from stepgrpo.data.training import TrainingDataError

    fields = [name for name in IMAGE_FIELDS if name in dataset.column_names]
    if not fields:
        return dataset, []
    raw = dataset
    for name in fields:  # read paths/bytes, do not decode twice
        feature = raw.features[name]
        if isinstance(feature, datasets.Image):
            raw = raw.cast_column(name, datasets.Image(decode=False))
        elif isinstance(feature, datasets.List | datasets.Sequence) and isinstance(feature.feature, datasets.Image):
            raw = raw.cast_column(name, datasets.List(datasets.Image(decode=False)))
    columns = raw.select_columns([*fields, *(["row"] if "row" in raw.column_names else [])])

    def pairs() -> Iterator[tuple[str, dict[str, Any]]]:
        for index, item in enumerate(columns):
            yield str(item.get("row", f"row {index}")), {name: item[name] for name in fields}

    problems = check_rows_images(pairs(), len(dataset), progress=progress)
    if not problems:
        return dataset, []
    if not skip_bad_rows:
        raise TrainingDataError(problems, len(dataset))
    bad = {problem.where for problem in problems}
    keep = [index for index, where in enumerate(columns["row"] if "row" in columns.column_names else
                                                 [f"row {i}" for i in range(len(dataset))]) if where not in bad]
    if not keep:
        raise TrainingDataError(problems, len(dataset))
    return dataset.select(keep), problems
