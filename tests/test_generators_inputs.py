"""lvsa-generate input checks and progress output (issue 27 D30, D31; issue 29).

D30: ``--device cuda`` on a torch without CUDA is one line, exit 2, no traceback.
D31: ``--guidance nan`` / ``--fps nan|inf`` fail up front (before any model loads); a
pipeline that produces NaN pixels never yields a clip reported as generated.
Progress: with stderr not a terminal, periodic lines instead of bars.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from lvsa.generators import runner
from lvsa.generators.cli import main

pytest.importorskip("diffusers")

from tests.test_generators_pipeline import PROMPTS, TINY_ARGS, tiny_wan  # noqa: F401


def _cli(args: list[str]):
    result = CliRunner().invoke(main, args)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def _no_load(monkeypatch) -> None:
    def fail(*a, **k):
        raise AssertionError("the model must not be loaded for a bad argument")

    monkeypatch.setattr(runner, "load_pipeline", fail)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a torch without CUDA")
@pytest.mark.parametrize("device", ["cuda", "cuda:1"])
def test_d30_cuda_device_without_cuda_is_one_line(tmp_path, monkeypatch, device) -> None:
    _no_load(monkeypatch)
    code, text = _cli(["--device", device, "--prompt", "x", "--out", str(tmp_path)])
    assert code == 2
    lines = text.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --device")
    assert "CUDA is not available" in lines[0] and "Traceback" not in text


@pytest.mark.parametrize(
    "flag,value",
    [("--guidance", "nan"), ("--guidance", "inf"), ("--fps", "nan"), ("--fps", "inf")],
)
def test_d31_non_finite_numbers_fail_before_the_model_loads(
    tmp_path, monkeypatch, flag, value
) -> None:
    _no_load(monkeypatch)
    args = ["--prompt", "x", "--device", "cpu", "--out", str(tmp_path), flag, value]
    code, text = _cli(args)
    assert code == 2
    assert text.strip().startswith(f"error: {flag} must be")
    assert not list(Path(tmp_path).rglob("*.mp4"))


def test_d31_nan_pixels_are_a_failed_clip_not_a_generated_one(tiny_wan, tmp_path, monkeypatch):  # noqa: F811
    """A pipeline whose output holds NaN (as NaN guidance produced before the check):
    the clip fails, no mp4 or sidecar is written, the exit code is 1."""
    from diffusers import WanPipeline

    real_call = WanPipeline.__call__

    def nan_call(self, *a, **k):
        out = real_call(self, *a, **k)
        out.frames = np.full_like(np.asarray(out.frames), np.nan)
        return out

    monkeypatch.setattr(WanPipeline, "__call__", nan_call)
    out = tmp_path / "out"
    code, text = _cli(["--model", str(tiny_wan), *TINY_ARGS, "--out", str(out), "--prompt", "x"])
    assert code == 1
    assert "non-finite pixels" in text and "0 generated, 0 already done, 1 failed" in text
    assert not list(out.rglob("*.mp4")) and not list(out.rglob("*.json"))


def test_progress_lines_when_stderr_is_not_a_terminal(tiny_wan, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setattr(runner, "PROGRESS_INTERVAL_S", 0.0)
    out = tmp_path / "out"
    args = [a for a in TINY_ARGS if a != "-q"]
    result = CliRunner().invoke(
        main, ["--model", str(tiny_wan), *args, "--out", str(out), "--prompt", PROMPTS[0]]
    )
    assert result.exit_code == 0, result.output
    text = result.output
    assert "\r" not in text  # no bars
    assert "lvsa-generate: clips 1/1 clips" in text
    steps = re.findall(r"^lvsa-generate: dense \S+ s0 (\d/2) steps \(", text, re.M)
    assert steps == ["1/2", "2/2"]


def test_progress_is_a_bar_on_a_terminal(monkeypatch) -> None:
    class Tty:
        def isatty(self) -> bool:
            return True

        def write(self, s: str) -> int:
            return len(s)

        def flush(self) -> None:
            pass

    monkeypatch.setattr(runner.sys, "stderr", Tty())
    bar = runner._tqdm(total=3, desc="clips", unit="clip")
    assert not isinstance(bar, runner._LineProgress)
    bar.close()
    monkeypatch.setattr(runner.sys, "stderr", type("P", (), {"isatty": lambda self: False})())
    assert isinstance(runner._tqdm(total=3, desc="clips", unit="clip"), runner._LineProgress)


def test_cp_without_torchrun_is_one_line(tmp_path, monkeypatch) -> None:
    _no_load(monkeypatch)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    code, text = _cli(["--cp", "2", "--prompt", "x", "--device", "cpu", "--out", str(tmp_path)])
    assert code == 2
    assert text.strip().startswith("error: --cp 2 runs one process per rank")
    assert "torchrun --nproc-per-node 2" in text
    monkeypatch.setenv("WORLD_SIZE", "4")
    code, text = _cli(["--cp", "2", "--prompt", "x", "--device", "cpu", "--out", str(tmp_path)])
    assert code == 2 and "torchrun started 4 processes" in text
