"""Shared test settings: tiny networks and datasets so every training test takes seconds on CPU."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# Width-8 ResNet-18, small projectors, 64 images in batches of 16: 4 iterations per epoch.
TINY_OPTIONS = [
    "model.backbone.width=8",
    "model.neck.hid_channels=64",
    "model.neck.out_channels=32",
    "train_dataloader.batch_size=16",
    "train_dataloader.dataset.num_samples=64",
    "default_hooks.logger.interval=1",
]


def run_cli(*args: str, cwd: Path | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    """Run ``python -m ortho_suite ARGS`` in a fresh interpreter, as a user would."""
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    return subprocess.run([sys.executable, "-m", "ortho_suite", *args], cwd=cwd or REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def tiny_options() -> list[str]:
    return list(TINY_OPTIONS)
