"""Options and helpers shared by the subcommands."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import Any

import click

from vqeval.config import (
    DEFAULT_ANALYSIS_SIZE,
    DEFAULT_BATCH_SIZE,
    DEFAULT_MAX_DECODED_MPX,
    DEFAULT_MAX_FPS,
    MAX_FPS,
    MIN_FPS,
    ScoreConfig,
)
from vqeval.params import Params
from vqeval.results import ConfigError
from vqeval.safetext import encodable, one_line, printable

#: Exit codes of every subcommand (table in ``docs/ci.md`` and ``vqeval --help``):
#: 0 ok; 1 some videos failed to score or a gate failed (reports still
#: written); 2 usage, configuration or input error (bad option, no videos
#: found, malformed gate or results file, a report that could not be
#: written); 130 interrupted (Ctrl-C).
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


#: Key in ``click.Context.meta`` (one per invocation) set when stdout could
#: not be written (full disk, closed pipe): the command still writes its
#: report files, then exits 2 (:func:`stdout_failed`).
_STDOUT_FAILED = "vqeval.stdout_failed"


def stdout_failed() -> bool:
    """True when :func:`say` or :func:`emit` could not write to stdout in
    this invocation."""
    ctx = click.get_current_context(silent=True)
    return bool(ctx is not None and ctx.meta.get(_STDOUT_FAILED))


def say(text: str, *, err: bool = False, nl: bool = True) -> None:
    """Print human text: control characters and undecodable name bytes in it
    are shown escaped (``\\x1b``, ``\\udcff``), never sent raw to the terminal.
    A stdout that cannot take it (disk full, closed pipe) gives one ``error:``
    line, once, and :func:`stdout_failed` (the command then exits 2)."""
    try:
        click.echo(printable(text), err=err, nl=nl)
    except OSError as exc:
        if err:
            return  # nowhere left to say anything
        _stdout_error("stdout", exc)


def emit(data: str, *, nl: bool = True, label: str = "stdout") -> bool:
    """Print machine-readable output (JSON/CSV on stdout) as valid UTF-8.

    Returns:
        False when stdout cannot take it (disk full, closed pipe): then one
        ``error: LABEL: cannot write to stdout: reason`` line is printed and
        stdout is pointed at ``/dev/null`` so nothing fails again at exit;
        the caller exits 2, as for a report file that could not be written.
    """
    try:
        click.echo(encodable(data), nl=nl)  # echo flushes: a full disk raises here
    except OSError as exc:
        _stdout_error(label, exc)
        return False
    return True


def _stdout_error(label: str, exc: OSError) -> None:
    """One ``error: LABEL: cannot write to stdout: reason`` line (the first
    time only); stdout then goes to ``/dev/null``, so nothing fails at exit."""
    _silence_stdout()
    if not stdout_failed():
        reason = one_line(exc.strerror or exc)
        what = "" if label == "stdout" else f"{label}: "
        click.echo(f"error: {what}cannot write to stdout: {reason}", err=True)
    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        ctx.meta[_STDOUT_FAILED] = True


def _silence_stdout() -> None:
    """Send what is left in stdout's buffer to ``/dev/null`` (best effort)."""
    import contextlib
    import os
    import sys

    with contextlib.suppress(OSError, ValueError, AttributeError):
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, sys.stdout.fileno())
        finally:
            os.close(null)


def error_line(what: object, message: object) -> str:
    """``error: WHAT: MESSAGE`` on one line (names escaped)."""
    return f"error: {one_line(what)}: {one_line(message)}"


def fail_usage(message: str) -> None:
    """Print one ``error:`` line and exit with code 2."""
    click.echo(f"error: {one_line(message)}", err=True)
    raise SystemExit(EXIT_USAGE)


def strict_settings_option(f: Callable[..., Any]) -> Callable[..., Any]:
    """``--strict-settings``: differing scoring settings are an error (exit 2)."""
    return click.option(
        "--strict-settings",
        is_flag=True,
        help="Exit 2 when the inputs were scored with different settings (dimensions, "
        "analysis size, fps cap, backbone, flow, parameters, scoring code) or a results "
        "file does not record them; without it each difference is a warning on stderr.",
    )(f)


def check_settings(sides: Sequence[Any], strict: bool) -> None:
    """Say on stderr, one line each, how the scoring settings of ``sides``
    (baseline first) differ (:func:`vqeval.settings.settings_warnings`);
    with ``strict`` they are errors and the command exits 2."""
    from vqeval.settings import settings_warnings

    lines = settings_warnings(sides)
    word = "error" if strict else "warning"
    for line in lines:
        click.echo(f"{word}: {one_line(line)}", err=True)
    if strict and lines:
        raise SystemExit(EXIT_USAGE)


def write_reports(jobs: Sequence[tuple[str, Callable[[], object]]]) -> tuple[list[str], int]:
    """Run report writers one after the other; a writer that fails (folder
    unwritable, path is a folder, parent is a file, disk full) prints one
    ``error:`` line and the others still run. The file a failed writer
    targeted keeps its old content (writes are atomic).

    Args:
        jobs: ``(label, write)`` pairs; ``write()`` returns the path written.

    Returns:
        ``(written paths, number of failed writers)``.
    """
    from vqeval.fileio import ReportWriteError

    written: list[str] = []
    failed = 0
    for label, write in jobs:
        try:
            written.append(str(write()))
        except (ReportWriteError, OSError) as exc:
            failed += 1
            msg = str(exc) if isinstance(exc, ReportWriteError) else exc.strerror or str(exc)
            click.echo(f"error: {label}: {one_line(msg)}", err=True)
    return written, failed


class FiniteFloat(click.FloatRange):
    """A float option within ``[min, max]`` (bounds open where asked) that
    also refuses ``nan``, ``inf`` and ``-inf``: ``click.FloatRange`` lets
    ``nan`` through, since every comparison with it is false.

    Args:
        min, max: the accepted range (finite), in the option's unit.
        zero: 0 is accepted too (e.g. "0 = no cap" outside a range that
            starts above 0).
        min_open, max_open: exclude that bound.
    """

    def __init__(
        self,
        min: float,
        max: float,
        *,
        zero: bool = False,
        min_open: bool = False,
        max_open: bool = False,
    ) -> None:
        super().__init__(min, max, min_open=min_open, max_open=max_open)
        self.zero = zero

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        import math

        rv = click.FLOAT.convert(value, param, ctx)
        if not math.isfinite(rv):
            self.fail(f"{value} is not a finite number in {self._describe_range()}.", param, ctx)
        if self.zero and rv == 0.0:
            return rv
        return super().convert(rv, param, ctx)

    def _describe_range(self) -> str:
        text = super()._describe_range()
        return f"{text} or 0" if self.zero else text


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
    fps: float | None
    pattern: str | None
    workers: int
    no_cache: bool
    cache_dir: str | None
    progress: bool | None
    device: str = "cpu"
    batch_size: int = DEFAULT_BATCH_SIZE
    prompt: str | None = None
    prompts_file: str | None = None
    max_decoded_mpx: float = DEFAULT_MAX_DECODED_MPX
    offline: bool = False
    params_file: str | None = None

    def config(self) -> ScoreConfig:
        """The validated :class:`ScoreConfig` (exits 2 on bad input). With
        ``--offline``, sets ``VQEVAL_OFFLINE=1`` and ``HF_HUB_OFFLINE=1`` for
        this process and its workers first: no model is downloaded."""
        if self.offline:
            import os

            os.environ["VQEVAL_OFFLINE"] = os.environ["HF_HUB_OFFLINE"] = "1"
        return build_config(
            self.dimensions,
            self.backbone,
            self.flow,
            self.weights_dir,
            self.analysis_size,
            self.max_fps,
            self.max_frames,
            self.fps,
            device=self.device,
            batch_size=self.batch_size,
            prompt=self.prompt,
            prompts_file=self.prompts_file,
            max_decoded_mpx=self.max_decoded_mpx,
            params_file=self.params_file,
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
            help="Feature backbone: pixel (weight-free); clip:MODEL/TAG (open_clip, e.g. "
            "clip:ViT-B-32/laion2b_s34b_b79k); dino-s, dino-b, dinov2-s/-b/-l/-g, timm:NAME "
            "(timm); dino, clip (VBench's models). Learned weights come from --weights, else "
            "the library cache, else are downloaded there once.",
        ),
        click.option(
            "--flow",
            default="dis",
            show_default=True,
            help="Optical flow: dis, dis-ultrafast, farneback, raft (torchvision RAFT-large).",
        ),
        click.option(
            "--device",
            default="cpu",
            show_default=True,
            metavar="DEVICE",
            help="Torch device of learned backbones and RAFT: cpu, cuda, cuda:N.",
        ),
        click.option(
            "--batch-size",
            default=DEFAULT_BATCH_SIZE,
            show_default=True,
            type=click.IntRange(1, 4096),
            help="Frames per forward pass of a learned backbone.",
        ),
        click.option(
            "--prompt",
            default=None,
            metavar="TEXT",
            help="Prompt of every video, for text_alignment (else --prompts, else the "
            "generator's sidecar JSON beside each clip).",
        ),
        click.option(
            "--prompts",
            "prompts_file",
            default=None,
            metavar="FILE",
            help="Prompts per video: CSV with path,prompt columns or JSON mapping path or "
            "file name to prompt.",
        ),
        click.option(
            "--weights",
            "weights_dir",
            default=None,
            metavar="DIR",
            type=click.Path(file_okay=False),
            help="Folder with local weight files for learned backbones (default: "
            "$VQEVAL_WEIGHTS); checked before the library caches.",
        ),
        click.option(
            "--params",
            "params_file",
            default=None,
            metavar="FILE",
            help="Decision parameters (thresholds, flag caps, verdict words) from a TOML "
            "file, e.g. one written by `vqeval calibrate`; keys left out keep their "
            "defaults. Without it, the [tool.vqeval] table of ./pyproject.toml when "
            "there is one (docs/metrics.md, Parameters).",
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
            type=FiniteFloat(MIN_FPS, MAX_FPS, zero=True),
            help="Analysis frame-rate cap, frames/s (0 = no cap).",
        ),
        click.option(
            "--max-frames",
            default=None,
            type=click.IntRange(2),
            help="Cap on analysed frames per video.",
        ),
        click.option(
            "--max-decoded-mpx",
            "max_decoded_mpx",
            default=DEFAULT_MAX_DECODED_MPX,
            show_default=True,
            type=click.FloatRange(0.0, max=1e12),
            metavar="MPX",
            help="Decoding budget per video, megapixels of source frames (width x height x "
            "frames; default about 8 min of 1080p at 30 fps). A video over it is one error "
            "row, found before decoding. 0 = no limit.",
        ),
        click.option(
            "--fps",
            default=None,
            type=FiniteFloat(MIN_FPS, MAX_FPS),
            metavar="FPS",
            help="Frame rate of folders of numbered images, frames/s (images carry no "
            "timing; default 24, and the row then warns that it was assumed).",
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
            "--offline",
            is_flag=True,
            help="Never download models: learned backbones come from --weights or the "
            "library caches, else one error line (as VQEVAL_OFFLINE=1 / HF_HUB_OFFLINE=1). "
            "Without it and without network, a missing model fails within "
            "seconds too.",
        ),
        click.option(
            "--cache-dir",
            default=None,
            type=click.Path(file_okay=False),
            help="Result cache folder (default: $VQEVAL_CACHE_DIR or ~/.cache/vqeval).",
        ),
        click.option(
            "--progress/--no-progress",
            default=None,
            help="Progress bar on stderr (default: a bar on a terminal; in logs, where "
            "stderr is not a terminal, a plain line every 30 s).",
        ),
    ]
    for opt in reversed(opts):
        wrapper = opt(wrapper)
    return wrapper


def cli_params(params_file: str | None) -> Params:
    """The decision parameters of a CLI run: ``--params FILE``, else the
    ``[tool.vqeval]`` table of ``./pyproject.toml``, else the defaults (exits
    2 with one line on an invalid file)."""
    from vqeval.params import project_params

    try:
        if params_file is not None:
            return Params.from_toml(params_file)
        got = project_params()
    except ConfigError as e:
        fail_usage(str(e))
        raise
    return got[0] if got is not None else Params()


def build_config(
    dimensions: str | None,
    backbone: str,
    flow: str,
    weights_dir: str | None,
    analysis_size: int,
    max_fps: float,
    max_frames: int | None,
    fps: float | None = None,
    *,
    device: str = "cpu",
    batch_size: int = DEFAULT_BATCH_SIZE,
    prompt: str | None = None,
    prompts_file: str | None = None,
    max_decoded_mpx: float = DEFAULT_MAX_DECODED_MPX,
    params_file: str | None = None,
) -> ScoreConfig:
    """A validated :class:`ScoreConfig` from CLI values (exits 2 on bad input).

    Without ``--dimensions`` the library's default set is scored
    (:func:`vqeval.dimensions.default_names`: the default dimensions that
    apply under the configuration, as for ``vqeval.score_video``).
    """
    from vqeval.pipeline import validate_config

    dims = None
    if dimensions is not None:
        dims = tuple(sorted({d.strip() for d in dimensions.split(",") if d.strip()}))
        if not dims:
            fail_usage("--dimensions is empty")
    extra: dict[str, Any] = {} if fps is None else {"image_fps": fps}
    if device != "cpu" or batch_size != DEFAULT_BATCH_SIZE:
        extra.update(device=device, batch_size=batch_size)
    if prompt is not None:
        if not prompt.strip():
            fail_usage("--prompt is empty")
        extra["prompt"] = prompt
    if prompts_file is not None:
        from vqeval.prompts import load_prompts

        try:
            extra["prompts"] = load_prompts(prompts_file)
        except ConfigError as e:
            fail_usage(str(e))
    extra["params"] = cli_params(params_file)
    try:
        cfg = ScoreConfig(
            dimensions=dims,
            backbone=backbone,
            flow=flow,
            weights_dir=weights_dir,
            analysis_size=analysis_size,
            max_fps=max_fps or None,
            max_frames=max_frames,
            max_decoded_mpx=max_decoded_mpx,
            **extra,
        )
    except TypeError:  # ScoreConfig.image_fps not in this version of the scoring code
        fail_usage("--fps is not supported by this version of the scoring code")
        raise
    try:
        validate_config(cfg)
    except ConfigError as e:
        fail_usage(str(e))
    return cfg
