"""The structure issue 28 asked for: the frame pass is a loop over registered
feature accumulators, dimensions say when they apply (``Dimension.applies``)
instead of modules naming ``text_alignment``, the API and the CLI choose the
same default dimensions, and dimensions return their plot series."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vqeval import ScoreConfig
from vqeval.cli.common import build_config
from vqeval.dimensions import default_names, registry, resolve
from vqeval.features import (
    _FEATURES,
    Accumulator,
    Frame,
    FrameFeatures,
    PassContext,
    register_feature,
)
from vqeval.framepass import ALL_FEATURES, FramePass, run_pass

REPO = Path(__file__).resolve().parents[1]


def _cli_config(**kw: Any) -> ScoreConfig:
    args: dict[str, Any] = {
        "dimensions": None,
        "backbone": "pixel",
        "flow": "dis",
        "weights_dir": None,
        "analysis_size": 160,
        "max_fps": 8.0,
        "max_frames": None,
    }
    return build_config(**{**args, **kw})


@pytest.mark.parametrize("extra", [{}, {"prompt": "a red rocket"}])
def test_api_and_cli_choose_the_same_default_dimensions(extra: dict[str, Any]) -> None:
    cli = _cli_config(**extra)
    api = ScoreConfig(**extra)
    assert cli.dimensions is None  # the CLI leaves the choice to the library
    names = [d.name for d in resolve(cli.dimensions, cli)]
    assert names == [d.name for d in resolve(api.dimensions, api)] == list(default_names(api))
    # text_alignment applies only with something to measure (offline tests: no CLIP on disk)
    assert ("text_alignment" in names) == bool(extra)


def test_dimension_applies_hook() -> None:
    ta = registry()["text_alignment"]
    assert ta.applies(ScoreConfig(), None) is False  # no prompt, no CLIP weights here
    assert ta.applies(ScoreConfig(prompt="x"), None) is True
    assert ta.applies(ScoreConfig(prompt="x"), "clip.mp4") is True
    assert ta.applies(ScoreConfig(), "clip.mp4") is False  # no prompt for that video
    assert registry()["freeze"].applies(ScoreConfig(), "clip.mp4") is True


def test_no_module_names_text_alignment() -> None:
    """Only the dimension's own module spells its name: everyone else asks
    ``Dimension.applies`` / ``uses_prompt``."""
    offenders = []
    for f in sorted((REPO / "vqeval").rglob("*.py")):
        if f.relative_to(REPO).as_posix() == "vqeval/dimensions/alignment.py":
            continue
        tree = ast.parse(f.read_text(encoding="utf-8"))
        docstrings = {
            id(n.body[0].value)
            for n in ast.walk(tree)
            if isinstance(n, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef))
            and n.body
            and isinstance(n.body[0], ast.Expr)
            and isinstance(n.body[0].value, ast.Constant)
        }
        for n in ast.walk(tree):
            if (
                isinstance(n, ast.Constant)
                and isinstance(n.value, str)
                and "text_alignment" in n.value
                and id(n) not in docstrings
                and not n.value.startswith("Prompt of every video")  # --prompt's help
            ):
                offenders.append(f"{f.relative_to(REPO)}:{n.lineno}: {n.value[:60]!r}")
    assert offenders == []


def test_frame_pass_is_a_loop_over_registered_features() -> None:
    assert ALL_FEATURES == (
        "flow", "cuts", "content", "detail", "embeddings", "background",
        "pixel_steps", "smoothness", "thumbnails", "colour",
    )  # fmt: skip
    fp = FramePass(ScoreConfig(), 8.0, needs=["content"])
    assert fp.needs == {"content", "cuts"}  # content requires cuts
    assert [a.name for a in fp._accs] == ["signature", "cuts", "content"]


def test_a_new_feature_is_one_registered_class() -> None:
    @register_feature
    class MeanLuma(Accumulator):
        name = "test_mean_luma"
        provides = ("test_mean_luma",)

        def __init__(self, ctx: PassContext, param: str = "") -> None:
            super().__init__(ctx, param)
            self.values: list[float] = []

        def push(self, frame: Frame) -> None:
            self.values.append(float(frame.gray.mean()))

        def result(self, features: FrameFeatures) -> dict[str, Any]:
            return {"test_mean_luma": np.asarray(self.values)}

    try:
        frames = np.stack([np.full((16, 16, 3), v, np.uint8) for v in (10, 20, 30)])
        feats = run_pass(frames, np.arange(3) / 8.0, 8.0, ScoreConfig(), needs=["test_mean_luma"])
        assert feats.test_mean_luma.tolist() == pytest.approx([10.0, 20.0, 30.0])
        assert feats.content is None and feats.signature is not None  # only what was asked
    finally:
        _FEATURES.pop("test_mean_luma")


def test_unknown_feature_is_an_error() -> None:
    with pytest.raises(KeyError):
        FramePass(ScoreConfig(), 8.0, needs=["no_such_feature"])
