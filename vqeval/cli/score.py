"""``vqeval score PATH...``: score videos and write reports."""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from vqeval.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    RunOptions,
    analysis_options,
    emit,
    error_line,
    fail_usage,
    say,
    write_reports,
)
from vqeval.cli.common import stdout_failed as common_stdout_failed
from vqeval.results import ConfigError, ResultsFormatError, VideoResult
from vqeval.safetext import one_line

if TYPE_CHECKING:
    from vqeval.config import ScoreConfig
    from vqeval.executors import Executor
    from vqeval.resume import Checkpoint


def read_path_list(source: str) -> list[str]:
    """Paths listed in file ``source`` (``-`` = stdin): one per line, or
    NUL-separated when the text holds a NUL byte (``find -print0``). Empty
    entries are skipped; bytes that are not UTF-8 are kept (surrogateescape),
    so every name a file system allows round-trips. A name holding a newline
    needs the NUL form. ``source`` is a regular file or a pipe, at most
    ``MAX_PATH_LIST_BYTES`` (256 MiB); a device, socket or folder is refused
    (exit 2)."""
    from vqeval.inputfile import MAX_PATH_LIST_BYTES, InputFileError, read_input_file, read_stream

    try:  # capped (256 MiB): `--files-from /dev/zero` or `- < /dev/zero` must end
        if source == "-":
            stdin = getattr(sys.stdin, "buffer", None)
            data = read_stream(stdin, MAX_PATH_LIST_BYTES) if stdin is not None else b""
        else:  # a regular file or a pipe (`--files-from <(find ...)`), not a device
            data = read_input_file(source, max_bytes=MAX_PATH_LIST_BYTES, pipes_ok=True)
    except (InputFileError, OSError) as e:
        fail_usage(f"--files-from {source}: cannot read ({getattr(e, 'strerror', None) or e})")
        return []
    if b"\0" in data:
        entries = data.split(b"\0")
    else:
        entries = [e[:-1] if e.endswith(b"\r") else e for e in data.split(b"\n")]
    return [os.fsdecode(e) for e in entries if e]


@click.command("score")
@click.argument("paths", nargs=-1, type=click.Path(readable=False))
@analysis_options
@click.option(
    "--files-from",
    "files_from",
    default=None,
    metavar="FILE",
    help="Also score the paths listed in FILE, one per line or NUL-separated "
    "(find -print0); - reads them from stdin.",
)
@click.option(
    "--ray",
    "ray_address",
    is_flag=False,
    flag_value="local",
    default=None,
    metavar="[ADDRESS]",
    help="Score on a Ray cluster: ADDRESS = auto, ray://HOST:10001 or HOST:6379 of a "
    "running cluster; --ray alone (or --ray=local) starts one on this machine with -j "
    "CPUs. Needs pip install 'vqeval[ray]'. See docs/scale.md.",
)
@click.option(
    "--shard",
    "shard_text",
    default=None,
    metavar="I/N",
    help="Score only shard I of N (1..N), split by a hash of each path: N jobs given "
    "the same inputs never score the same video and together score all.",
)
@click.option(
    "--resume",
    "resume_path",
    default=None,
    metavar="FILE",
    type=click.Path(dir_okay=False),
    help="Keep the OK rows of results JSON FILE (an earlier or interrupted run with the "
    "same options; a missing FILE resumes nothing); score the rest, retry its errors.",
)
@click.option(
    "--json",
    "json_path",
    default=None,
    metavar="FILE",
    help="Write one JSON record per video (use - for stdout).",
)
@click.option(
    "--no-series",
    is_flag=True,
    help="Leave the plot series (frame times, motion curve, self-similarity "
    "matrix, thumbnails) out of --json: about 5 KB per video instead of about "
    "70 KB. HTML reports still get them.",
)
@click.option(
    "--csv",
    "csv_path",
    default=None,
    metavar="FILE",
    help="Write one CSV row per video (use - for stdout).",
)
@click.option(
    "--html", "html_path", default=None, metavar="FILE", help="Write a self-contained HTML report."
)
@click.option("--md", "md_path", default=None, metavar="FILE", help="Write a Markdown report.")
@click.option("-q", "--quiet", is_flag=True, help="No table; only errors and report paths.")
def command(
    paths: tuple[str, ...],
    run: RunOptions,
    files_from: str | None,
    ray_address: str | None,
    shard_text: str | None,
    resume_path: str | None,
    json_path: str | None,
    no_series: bool,
    csv_path: str | None,
    html_path: str | None,
    md_path: str | None,
    quiet: bool,
) -> None:
    """Score videos (files, or folders searched recursively) for loops, freezes,
    motion decay and VBench-style quality. Scores are 0-100, higher is better.

    \b
    Examples:
      vqeval score data/samples
      vqeval score out/ --glob '*.mp4' -j 2 --json results.json --html report.html
      find out -name '*.mp4' -print0 | vqeval score --files-from - --csv -
      vqeval score s3://bucket/clips/ --ray auto --shard 1/8 --json s1.json --resume s1.json
    Exit codes: 0 all scored, 1 some videos failed (error rows), 2 usage or
    input error (no videos found, a report could not be written), 130 interrupted.
    """
    from vqeval.batch import score_batch
    from vqeval.report import csvio, jsonio, table
    from vqeval.report.summary import skipped_notes, verdict_line

    all_paths = list(paths)
    if files_from is not None:
        all_paths += read_path_list(files_from)
    if not all_paths:
        fail_usage(
            "no paths given: name videos or folders, or list them with --files-from"
            + (f" ({files_from} is empty)" if files_from is not None else "")
        )
    from vqeval.cli.outputs import check_reports_not_inputs

    reports = [("--json", json_path), ("--csv", csv_path), ("--html", html_path), ("--md", md_path)]
    lists = [p for p in (files_from, run.prompts_file) if p and p != "-"]
    check_reports_not_inputs(reports, [*all_paths, *lists], pattern=run.pattern)
    cfg = run.config()
    if sum(p == "-" for p in (json_path, csv_path)) > 1:
        fail_usage("only one of --json/--csv may write to stdout")
    scale = _scale_options(ray_address, shard_text, resume_path, json_path, cfg, run, no_series)
    t0 = time.perf_counter()
    try:
        results = score_batch(all_paths, cfg, **run.batch_kwargs(), **scale.batch_kwargs())
    except ConfigError as e:  # the executor could not start (ray missing, cluster unreachable)
        fail_usage(str(e))
        raise
    except KeyboardInterrupt:
        scale.save_partial()
        raise
    elapsed = time.perf_counter() - t0
    if not results and scale.shard is not None:
        say(f"note: no videos in shard {shard_text} of these inputs", err=True)
    elif not results:
        shown = ", ".join(all_paths[:5]) + (" ..." if len(all_paths) > 5 else "")
        fail_usage(
            f"no videos found in {shown}" + (f" matching {run.pattern!r}" if run.pattern else "")
        )

    json_results = [dataclasses.replace(r, series={}) for r in results] if no_series else results
    to_stdout = "-" in (json_path, csv_path)
    if not quiet and not to_stdout:
        say(table.render(results))
    stdout_failed = False  # stdout full or closed (D18): one line, exit 2
    if json_path == "-":
        stdout_failed = not emit(jsonio.dumps(json_results, cfg), label="--json")
    if csv_path == "-":
        stdout_failed = not emit(csvio.dumps(results), nl=False, label="--csv")
    jobs: list[tuple[str, Callable[[], object]]] = []
    if json_path and json_path != "-":
        jobs.append(("--json", lambda: jsonio.write_results(json_path, json_results, cfg)))
    if csv_path and csv_path != "-":
        jobs.append(("--csv", lambda: csvio.write_csv(csv_path, results)))
    if html_path:

        def html() -> object:
            from vqeval.report.html import write_score_html

            return write_score_html(results, html_path, cfg)

        jobs.append(("--html", html))
    if md_path:

        def md() -> object:
            from vqeval.report.markdown import write_score_markdown

            return write_score_markdown(results, md_path, cfg)

        jobs.append(("--md", md))
    written, write_failures = write_reports(jobs)

    errors = [r for r in results if not r.ok]
    # a resumed row keeps the `cached` of the run that made it: count it once, as resumed
    cached = sum(r.cached and not scale.is_resumed(r) for r in results)
    if quiet or to_stdout:
        for r in errors:
            click.echo(error_line(r.path, r.error), err=True)
    for r in results:  # damage found while decoding, an assumed frame rate ...
        for w in r.analysis.get("warnings") or ():
            click.echo(f"warning: {one_line(r.path)}: {one_line(w)}", err=True)
    for note in skipped_notes(results):  # e.g. text_alignment without CLIP weights
        say(f"note: {note}", err=True)
    say(
        f"scored {len(results) - len(errors)}/{len(results)} videos"
        f" ({cached} from cache{scale.resumed_note(results)}) in {elapsed:.1f} s"
        + (f"; {len(errors)} error(s)" if errors else "")
        + (f"; {verdict_line(results)}" if quiet or to_stdout else ""),
        err=True,
    )
    for w in written:
        say(f"wrote {w}", err=True)
    if write_failures or stdout_failed or common_stdout_failed():
        raise SystemExit(EXIT_USAGE)
    raise SystemExit(EXIT_FAILED if errors else EXIT_OK)


@dataclasses.dataclass
class _Scale:
    """The scale-out options of one run (executor, shard, resume, checkpoint)."""

    executor: str | Executor = "local"
    shard: tuple[int, int] | None = None
    resume: dict[str, VideoResult] = dataclasses.field(default_factory=dict)
    checkpoint: Checkpoint | None = None
    resume_path: str | None = None

    def batch_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for :func:`vqeval.batch.score_batch`."""
        return {
            "executor": self.executor,
            "shard": self.shard,
            "resume": self.resume,
            "on_result": None if self.checkpoint is None else self.checkpoint.add,
        }

    def save_partial(self) -> None:
        """On Ctrl-C: write the rows done so far to --json, to resume from."""
        cp = self.checkpoint
        if cp is not None and cp.rows:
            cp.write()
            say(
                f"\nwrote {len(cp.rows)} finished rows to {cp.path} "
                f"(continue with --resume {cp.path})",
                err=True,
            )

    def is_resumed(self, r: VideoResult) -> bool:
        """True when row ``r`` was kept from the ``--resume`` file (not scored now)."""
        if self.resume_path is None or not r.ok:
            return False
        from vqeval.shards import normalized

        return normalized(r.path) in self.resume

    def resumed_note(self, results: list[VideoResult]) -> str:
        """``", N resumed"`` for the summary line ("" without --resume)."""
        if self.resume_path is None:
            return ""
        return f", {sum(self.is_resumed(r) for r in results)} resumed"


def _scale_options(
    ray_address: str | None,
    shard_text: str | None,
    resume_path: str | None,
    json_path: str | None,
    cfg: ScoreConfig,
    run: RunOptions,
    no_series: bool,
) -> _Scale:
    """Check --ray/--shard/--resume (exit 2 with one line when wrong)."""
    from vqeval.resume import Checkpoint, load_resume
    from vqeval.shards import parse_shard

    scale = _Scale(resume_path=resume_path)
    if shard_text is not None:
        try:
            scale.shard = parse_shard(shard_text)
        except ValueError as e:
            fail_usage(str(e))
    if ray_address is not None:
        from vqeval.executors.ray import RayExecutor

        try:
            scale.executor = RayExecutor(ray_address, workers=run.workers)
        except ConfigError as e:
            fail_usage(str(e))
    if resume_path is not None:
        try:
            scale.resume = load_resume(resume_path, cfg)
        except ResultsFormatError as e:
            fail_usage(f"--resume {e}")
    if json_path and json_path != "-":
        scale.checkpoint = Checkpoint(json_path, cfg, no_series=no_series)
    return scale
