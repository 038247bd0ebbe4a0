"""``vqeval compare A B [C ...]``: paired comparison of methods on the same videos."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable

import click

from vqeval.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    FiniteFloat,
    RunOptions,
    analysis_options,
    check_settings,
    emit,
    error_line,
    fail_usage,
    say,
    strict_settings_option,
    write_reports,
)
from vqeval.cli.common import stdout_failed as common_stdout_failed
from vqeval.compare import COMPOSITE, MATCH_MODES
from vqeval.results import VQevalError
from vqeval.stats import DEFAULT_ALPHA, DEFAULT_N_BOOT, DEFAULT_SEED, DEFAULT_TIE_TOL


@click.command("compare")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(readable=False))
@analysis_options
@click.option(
    "--match",
    type=click.Choice(MATCH_MODES),
    default="stem",
    show_default=True,
    help="Pair videos by relative path without extension (stem), exact relative path "
    "(relpath) or file name only, ignoring sub-folders (name).",
)
@click.option(
    "--tie",
    "tie_tol",
    default=DEFAULT_TIE_TOL,
    show_default=True,
    type=FiniteFloat(0.0, 100.0),
    help="|difference| up to this many points (0-100 scale) counts as a tie.",
)
@click.option(
    "--alpha",
    default=DEFAULT_ALPHA,
    show_default=True,
    type=FiniteFloat(0.0, 1.0, min_open=True, max_open=True),
    help="Significance level of the verdict.",
)
@click.option(
    "--bootstrap",
    "n_boot",
    default=DEFAULT_N_BOOT,
    show_default=True,
    type=click.IntRange(100, 100_000),
    help="Bootstrap resamples for the 95% CI.",
)
@click.option(
    "--seed",
    default=DEFAULT_SEED,
    show_default=True,
    type=click.IntRange(0),
    help="Bootstrap seed (an integer >= 0).",
)
@click.option(
    "--json",
    "json_path",
    default=None,
    metavar="FILE",
    help="Write the comparison as JSON (- = stdout).",
)
@click.option("--md", "md_path", default=None, metavar="FILE", help="Write a Markdown report.")
@click.option(
    "--html", "html_path", default=None, metavar="FILE", help="Write a self-contained HTML report."
)
@strict_settings_option
@click.option("-q", "--quiet", is_flag=True, help="No table; only errors and report paths.")
def command(
    inputs: tuple[str, ...],
    run: RunOptions,
    match: str,
    tie_tol: float,
    alpha: float,
    n_boot: int,
    seed: int,
    json_path: str | None,
    md_path: str | None,
    html_path: str | None,
    strict_settings: bool,
    quiet: bool,
) -> None:
    """Compare methods on the same videos. Each input is a folder of videos
    (scored, with the cache) or a results JSON from `vqeval score --json`;
    the first is the baseline, every other one is compared with it.

    Per dimension (and the composite): means, mean paired difference with a
    seeded bootstrap 95% CI, Wilcoxon signed-rank p-value, win/tie/loss
    counts and a verdict (better / worse / no significant difference);
    failure flags per side; unmatched videos listed. Inputs scored with
    other settings (dimensions, analysis size, fps cap, backbone, flow,
    parameters, scoring code) get one warning per difference on stderr;
    --strict-settings makes that exit 2.

    \b
    Examples:
      vqeval compare out/dense out/lvsa
      vqeval compare base.json out/lvsa out/riflex --html cmp.html --md cmp.md
    Exit codes: 0 compared, 1 compared but some videos failed to score,
    2 usage or input error (missing/empty input, no videos in common, bad
    results file, settings that differ under --strict-settings, a report that
    could not be written), 130 interrupted.
    """
    from vqeval.compare import compare_sides
    from vqeval.report.comparetext import format_table
    from vqeval.sides import load_side

    if len(inputs) < 2:
        fail_usage("compare needs at least two inputs: a baseline and a method")
    from vqeval.cli.outputs import check_reports_not_inputs

    reports = [("--json", json_path), ("--md", md_path), ("--html", html_path)]
    sources = [*inputs, *([run.prompts_file] if run.prompts_file else [])]
    check_reports_not_inputs(reports, sources, pattern=run.pattern)  # never over an input
    wanted = None
    dimensions = run.dimensions
    if dimensions is not None:
        wanted = [d.strip() for d in dimensions.split(",") if d.strip()]
        if not wanted:
            fail_usage("--dimensions is empty")
        compute = sorted({d for d in wanted if d != COMPOSITE})
        dimensions = ",".join(compute) if compute else None
    cfg = dataclasses.replace(run, dimensions=dimensions).config()
    if cfg.dimensions is not None:
        # compute the default set too: the composite then matches `vqeval score`
        # and the cache is shared with it; --dimensions only filters the report
        from vqeval.dimensions import default_names

        defaults = set(default_names(cfg))
        extra = set(cfg.dimensions) - defaults
        dims = tuple(sorted(defaults | extra)) if extra else None
        cfg = dataclasses.replace(cfg, dimensions=dims)
    try:
        batch = run.batch_kwargs()
        sides = [load_side(p, cfg, **batch) for p in inputs]
        cmp = compare_sides(
            sides,
            match=match,
            dimensions=wanted,
            tie_tol=tie_tol,
            alpha=alpha,
            n_boot=n_boot,
            seed=seed,
            params=cfg.params.slow_motion,
        )
    except VQevalError as e:
        fail_usage(str(e))
        return
    check_settings(sides, strict_settings)  # after the inputs' own errors, before any output
    from vqeval.resultsio import clean

    doc = json.dumps(clean(cmp.to_dict()), indent=1, allow_nan=False, ensure_ascii=False)
    stdout_failed = False  # stdout full or closed: one line, exit 2
    if json_path == "-":
        stdout_failed = not emit(doc, label="--json")
    elif not quiet:
        say(format_table(cmp))
    jobs: list[tuple[str, Callable[[], object]]] = []
    if json_path and json_path != "-":
        from vqeval.fileio import write_atomic

        jobs.append(("--json", lambda: write_atomic(json_path, doc)))
    if md_path:
        from vqeval.report.markdown import write_compare_markdown

        jobs.append(("--md", lambda: write_compare_markdown(cmp, md_path)))
    if html_path:
        from vqeval.report.html import write_compare_html

        jobs.append(("--html", lambda: write_compare_html(cmp, html_path)))
    written, write_failures = write_reports(jobs)
    failed = [r for s in sides for r in s.results if not r.ok]
    for r in failed:
        click.echo(error_line(r.path, r.error), err=True)
    for w in written:
        say(f"wrote {w}", err=True)
    if write_failures or stdout_failed or common_stdout_failed():
        raise SystemExit(EXIT_USAGE)
    raise SystemExit(EXIT_FAILED if failed else EXIT_OK)
