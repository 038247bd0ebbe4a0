"""Shared fixtures: an isolated result cache and the optional real-video folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "data" / "samples"


def realvideos_dir() -> Path | None:
    """``$VQEVAL_REALVIDEOS`` or ``<repo>/../shared/realvideos`` when present."""
    env = os.environ.get("VQEVAL_REALVIDEOS")
    cand = Path(env) if env else REPO.parent / "shared" / "realvideos"
    return cand if (cand / "labels.json").is_file() else None


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Never touch the user's ~/.cache during tests."""
    os.environ["VQEVAL_CACHE_DIR"] = str(tmp_path_factory.mktemp("vqeval-cache"))


@pytest.fixture
def realvideos() -> Path:
    """The real generated videos folder, or skip."""
    d = realvideos_dir()
    if d is None:
        pytest.skip("../shared/realvideos not present (only on the project's machines)")
    return d
