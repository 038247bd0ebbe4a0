"""Options and helpers shared by the subcommands."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

import click

from vqeval.config import DEFAULT_ANALYSIS_SIZE, DEFAULT_MAX_FPS, ScoreConfig
from vqeval.results import ConfigError

#: Exit codes (documented in the README and ``vqeval --help``).
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def fail_usage(message: str) -> None:
    """Print one ``error:`` line and exit with code 2."""
    click.echo(f"error: {message}", err=True)
    raise SystemExit(EXIT_USAGE)


@dataclass(frozen=True)
class RunOptions:
    """Analysis and batch options shared by ``score``, ``compare`` and ``gate``
    (see :func:`analysis_options` for their meaning and units)."""

    dimensions: str | None
    backbone: str
    flow: str
    weights_dir: str | None
    analysis_size: int
    max_fps: float
    max_frames: int | None
    pattern: str | None
    workers: int
    no_cache: bool
    cache_dir: str | None
    progress: bool | None

    def config(self) -> ScoreConfig:
        """The validated :class:`ScoreConfig` (exits 2 on bad input)."""
        return build_config(
            self.dimensions,
            self.backbone,
            self.flow,
            self.weights_dir,
            self.analysis_size,
            self.max_fps,
            self.max_frames,
        )

    def batch_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for :func:`vqeval.batch.score_batch` (one cache)."""
        from vqeval.cache import ResultCache

        cache = False if self.no_cache else ResultCache(self.cache_dir)
        return {
            "workers": self.workers,
            "cache": cache,
            "pattern": self.pattern,
            "progress": self.progress,
        }


def analysis_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Add the analysis and batch options; the command receives them as one
    ``run: RunOptions`` argument."""
    names = [f.name for f in fields(RunOptions)]

    @functools.wraps(fn)
    def wrapper(**kwargs: Any) -> Any:
        run = RunOptions(**{n: kwargs.pop(n) for n in names})
        return fn(run=run, **kwargs)

    opts = [
        click.option(
            "--dimensions",
            "-d",
            "dimensions",
            default=None,
            metavar="A,B,...",
            help="Comma-separated dimensions to compute (default: the default set; "
            "see `vqeval dimensions`).",
        ),
        click.option(
            "--backbone",
            default="pixel",
            show_default=True,
            help="Feature backbone: pixel (weight-free), dino, clip (local weights).",
        ),
        click.option(
            "--flow",
            default="dis",
            show_default=True,
            help="Optical flow: dis, dis-ultrafast, farneback, raft (local weights).",
        ),
        click.option(
            "--weights",
            "weights_dir",
            default=None,
            metavar="DIR",
            type=click.Path(file_okay=False),
            help="Folder with local weights for learned backbones (default: $VQEVAL_WEIGHTS).",
        ),
        click.option(
            "--analysis-size",
            default=DEFAULT_ANALYSIS_SIZE,
            show_default=True,
            type=click.IntRange(32, 1024),
            help="Long side of analysis frames, px.",
        ),
        click.option(
            "--max-fps",
            default=DEFAULT_MAX_FPS,
            show_default=True,
            type=click.FloatRange(0.0),
            help="Analysis frame-rate cap, frames/s (0 = no cap).",
        ),
        click.option(
            "--max-frames",
            default=None,
            type=click.IntRange(2),
            help="Cap on analysed frames per video.",
        ),
        click.option(
            "--glob",
            "pattern",
            default=None,
            metavar="PATTERN",
            help="Only files whose name matches this glob (e.g. '*.mp4').",
        ),
        click.option(
            "-j",
            "--workers",
            default=0,
            show_default=True,
            type=click.IntRange(0),
            help="Worker processes (0 = one per CPU core).",
        ),
        click.option("--no-cache", is_flag=True, help="Neither read nor write the result cache."),
        click.option(
            "--cache-dir",
            default=None,
            type=click.Path(file_okay=False),
            help="Result cache folder (default: $VQEVAL_CACHE_DIR or ~/.cache/vqeval).",
        ),
        click.option(
            "--progress/--no-progress",
            default=None,
            help="Progress bar on stderr (default: only on a terminal).",
        ),
    ]
    for opt in reversed(opts):
        wrapper = opt(wrapper)
    return wrapper


def build_config(
    dimensions: str | None,
    backbone: str,
    flow: str,
    weights_dir: str | None,
    analysis_size: int,
    max_fps: float,
    max_frames: int | None,
) -> ScoreConfig:
    """A validated :class:`ScoreConfig` from CLI values (exits 2 on bad input)."""
    from vqeval.pipeline import validate_config

    dims = None
    if dimensions is not None:
        dims = tuple(sorted({d.strip() for d in dimensions.split(",") if d.strip()}))
        if not dims:
            fail_usage("--dimensions is empty")
    cfg = ScoreConfig(
        dimensions=dims,
        backbone=backbone,
        flow=flow,
        weights_dir=weights_dir,
        analysis_size=analysis_size,
        max_fps=max_fps or None,
        max_frames=max_frames,
    )
    try:
        validate_config(cfg)
    except ConfigError as e:
        fail_usage(str(e))
    return cfg
