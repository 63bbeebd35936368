"""Shared fixtures: tiny random models built once per test session, offline.

Under pytest-xdist every worker has its own base temp folder inside one per-session folder, so the
models are built there once, under a file lock, and the other worker reuses them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from filelock import FileLock

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _session_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def _tiny_model(tmp_path_factory: pytest.TempPathFactory, arch: str) -> Path:
    from stepgrpo.models import build_tiny_model

    root = _session_root(tmp_path_factory)
    target = root / f"tiny-{arch}"
    with FileLock(str(root / f"tiny-{arch}.lock")):
        if not (target / "config.json").is_file():
            build_tiny_model(target, arch=arch, seed=0)
    return target


@pytest.fixture(scope="session")
def tiny_vlm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny Qwen2-VL folder (random weights, real tokenizer and image processor)."""
    return _tiny_model(tmp_path_factory, "qwen2-vl")


@pytest.fixture(scope="session")
def tiny_lm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny text-only Qwen2 folder."""
    return _tiny_model(tmp_path_factory, "qwen2")
