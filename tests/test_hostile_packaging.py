"""The wheel works without the source tree (issue #14, packaging).

Marked ``packaging`` (about 30 s, no network; also ``slow``): ``pytest -m
packaging``. Builds the wheel from a copy of the
checkout (the checkout gets no build/ or egg-info), installs it with
``--no-deps`` into a fresh venv outside the checkout that borrows this
environment's dependencies through a ``.pth`` file, then scores the sample
clips and generates one clip with the shipped tiny model from another folder.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.packaging


def _run(args: list[str], cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{args[:3]}: {proc.stdout[-2000:]}{proc.stderr[-2000:]}"
    return proc


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = tmp_path_factory.mktemp("src") / "tree"
    ignore = shutil.ignore_patterns(".venv", ".git", "build", "*.egg-info", "__pycache__", "out")
    shutil.copytree(REPO, src, ignore=ignore)
    dist = tmp_path_factory.mktemp("dist")
    build = [sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation"]
    _run([*build, "-w", str(dist), "-q"], cwd=dist)
    [whl] = dist.glob("vqeval-*.whl")
    return whl


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    env = tmp_path_factory.mktemp("venv") / "env"
    venv.create(env, with_pip=True)
    py = env / "bin" / "python"
    purelib = subprocess.check_output(
        [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True
    ).strip()
    # dependencies from this environment (its .pth files, e.g. an editable
    # install of the checkout, are not processed from a path added this way)
    Path(purelib, "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run([str(py), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)], cwd=env)
    return env


def test_wheel_has_only_unambiguous_top_level_packages_and_the_tiny_model(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert top == {"vqeval", "lvsa"}
    assert any(n.endswith("tinydit/weights/model.safetensors") for n in names)


def test_installed_wheel_scores_samples_and_generates_a_clip(installed: Path, tmp_path) -> None:
    bin_ = installed / "bin"
    out = tmp_path / "r.json"
    score = [str(bin_ / "vqeval"), "score", str(REPO / "data" / "samples"), "--no-cache", "-q"]
    _run([*score, "--json", str(out)], cwd=tmp_path)
    results = json.loads(out.read_text())["results"]
    assert results and all(r["status"] == "ok" for r in results)
    py = bin_ / "python"
    probe = "import importlib.util as u; print(u.find_spec('metrics'), u.find_spec('generators'))"
    assert _run([str(py), "-c", probe], cwd=tmp_path).stdout.split() == ["None", "None"]
    gen = tmp_path / "gen"
    generate = [str(bin_ / "lvsa-generate"), "--prompt", "a red ball rolls", "--steps", "2"]
    _run([*generate, "--out", str(gen), "--quiet"], cwd=tmp_path)
    [sidecar] = gen.glob("*/*.json")
    meta = json.loads(sidecar.read_text())
    assert meta["model"] == "tiny"
    versions = json.dumps(meta)
    assert '"lvsa": "unknown"' not in versions
    assert (sidecar.with_suffix(".mp4")).stat().st_size > 0
