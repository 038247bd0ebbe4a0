"""Shared fixtures: an isolated result cache and the optional real-video folder;
the marker rules (``packaging`` and ``compile`` imply ``slow``; ``compile`` is
skipped where no C++ compiler exists for torch.compile on CPU)."""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "data" / "samples"
#: The test bootstrap (tests/bootstrap/sitecustomize.py): the torchvision
#: import hook for a torch build torchvision's extension does not fit (CI's
#: CPU torch beside PyPI's torchvision; see torchvision_compat's docstring).
#: Installed here for the test process and, through PYTHONPATH, for every
#: subprocess the tests start (the CLI, Ray workers, the packaging check).
BOOTSTRAP = REPO / "tests" / "bootstrap"


def _install_bootstrap() -> None:
    sys.path.insert(0, str(BOOTSTRAP))
    try:
        import torchvision_compat
    finally:
        sys.path.remove(str(BOOTSTRAP))
    torchvision_compat.install()
    old = os.environ.get("PYTHONPATH")
    if str(BOOTSTRAP) not in (old or "").split(os.pathsep):
        os.environ["PYTHONPATH"] = os.pathsep.join([str(BOOTSTRAP), *([old] if old else [])])


_install_bootstrap()


def load_script(relpath: str, name: str) -> ModuleType:
    """Import a script of the repository that is not in a package
    (``data/make_samples.py``, ``benchmarks/calibrate.py``) as module ``name``."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, REPO / relpath)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


#: Markers whose tests are always slow: they also get ``slow``, so that
#: ``-m "not slow"`` leaves them out without a second decorator.
IMPLY_SLOW = ("packaging", "compile")


def cxx_compiler() -> str | None:
    """The C++ compiler torch.compile (Inductor) would use on CPU, or None."""
    names = [os.environ["CXX"]] if os.environ.get("CXX") else ["g++", "clang++", "c++"]
    return next((p for p in map(shutil.which, names) if p), None)


@pytest.hookimpl(tryfirst=True)  # before -m deselects
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    no_cxx = cxx_compiler() is None
    for item in items:
        if any(item.get_closest_marker(m) for m in IMPLY_SLOW):
            item.add_marker(pytest.mark.slow)
        if no_cxx and item.get_closest_marker("compile"):
            item.add_marker(pytest.mark.skip(reason="torch.compile on CPU needs a C++ compiler"))


def realvideos_dir() -> Path | None:
    """``$VQEVAL_REALVIDEOS`` or ``<repo>/../shared/realvideos`` when present."""
    env = os.environ.get("VQEVAL_REALVIDEOS")
    cand = Path(env) if env else REPO.parent / "shared" / "realvideos"
    return cand if (cand / "labels.json").is_file() else None


def realvideos_svi_dir() -> Path | None:
    """``$VQEVAL_REALVIDEOS_SVI`` or ``<repo>/../shared/realvideos_svi`` when present."""
    env = os.environ.get("VQEVAL_REALVIDEOS_SVI")
    cand = Path(env) if env else REPO.parent / "shared" / "realvideos_svi"
    return cand if (cand / "labels.json").is_file() else None


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Never touch the user's ~/.cache during tests."""
    os.environ["VQEVAL_CACHE_DIR"] = str(tmp_path_factory.mktemp("vqeval-cache"))


@pytest.fixture(autouse=True, scope="session")
def _no_weight_downloads(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Tests never download weights and never see the user's model caches:
    vqeval.weights is offline, the HF hub and torch hub caches are empty
    folders, and no local weights folder is set (tests that need models build
    tiny ones and point these variables at them)."""
    os.environ["VQEVAL_OFFLINE"] = "1"
    os.environ["HF_HUB_CACHE"] = str(tmp_path_factory.mktemp("hf-hub-cache"))
    os.environ["TORCH_HOME"] = str(tmp_path_factory.mktemp("torch-home"))
    os.environ.pop("VQEVAL_WEIGHTS", None)


@pytest.fixture
def realvideos() -> Path:
    """The real generated videos folder, or skip."""
    d = realvideos_dir()
    if d is None:
        pytest.skip("../shared/realvideos not present (only on the project's machines)")
    return d
