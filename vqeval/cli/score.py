"""``vqeval score PATH...``: score videos and write reports."""

from __future__ import annotations

import time

import click

from vqeval.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    RunOptions,
    analysis_options,
    fail_usage,
)


@click.command("score")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@analysis_options
@click.option(
    "--json",
    "json_path",
    default=None,
    metavar="FILE",
    help="Write one JSON record per video (use - for stdout).",
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
    json_path: str | None,
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
    Exit codes: 0 all scored, 1 some videos failed (error rows), 2 usage error.
    """
    from vqeval.batch import score_batch
    from vqeval.report import csvio, jsonio, table

    cfg = run.config()
    if sum(p == "-" for p in (json_path, csv_path)) > 1:
        fail_usage("only one of --json/--csv may write to stdout")
    t0 = time.perf_counter()
    results = score_batch(list(paths), cfg, **run.batch_kwargs())
    elapsed = time.perf_counter() - t0
    if not results:
        click.echo(
            f"error: no videos found in {', '.join(paths)}"
            + (f" matching {run.pattern!r}" if run.pattern else ""),
            err=True,
        )
        raise SystemExit(EXIT_FAILED)

    to_stdout = "-" in (json_path, csv_path)
    if not quiet and not to_stdout:
        click.echo(table.render(results))
    written = []
    if json_path:
        if json_path == "-":
            click.echo(jsonio.dumps(results, cfg))
        else:
            written.append(str(jsonio.write_results(json_path, results, cfg)))
    if csv_path:
        if csv_path == "-":
            click.echo(csvio.dumps(results), nl=False)
        else:
            written.append(str(csvio.write_csv(csv_path, results)))
    if html_path:
        from vqeval.report.html import write_score_html

        written.append(str(write_score_html(results, html_path, cfg)))
    if md_path:
        from vqeval.report.markdown import write_score_markdown

        written.append(str(write_score_markdown(results, md_path, cfg)))

    errors = [r for r in results if not r.ok]
    cached = sum(r.cached for r in results)
    if quiet or to_stdout:
        for r in errors:
            click.echo(f"error: {r.path}: {r.error}", err=True)
    click.echo(
        f"scored {len(results) - len(errors)}/{len(results)} videos"
        f" ({cached} from cache) in {elapsed:.1f} s"
        + (f"; {len(errors)} error(s)" if errors else ""),
        err=True,
    )
    for w in written:
        click.echo(f"wrote {w}", err=True)
    raise SystemExit(EXIT_FAILED if errors else EXIT_OK)
