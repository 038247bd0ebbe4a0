"""``vqeval gate PATH --config gates.toml``: pass/fail quality gate for CI."""

from __future__ import annotations

import os
from collections.abc import Callable

import click

from vqeval.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    RunOptions,
    analysis_options,
    check_settings,
    fail_usage,
    say,
    stdout_failed,
    strict_settings_option,
    write_reports,
)
from vqeval.results import VQevalError


@click.command("gate")
@click.argument("path", type=click.Path(readable=False))
@click.option(
    "--config",
    "-c",
    "gate_path",
    required=True,
    metavar="TOML",
    help="Gate rules (see data/gates.example.toml).",
)
@click.option(
    "--baseline",
    default=None,
    metavar="FILE|DIR",
    help="Baseline results JSON or folder for max_regression rules (overrides the file's).",
)
@analysis_options
@click.option("--junit", "junit_path", default=None, metavar="FILE", help="Write JUnit XML.")
@click.option(
    "--md",
    "md_path",
    default=None,
    metavar="FILE",
    help="Write a Markdown summary; $GITHUB_STEP_SUMMARY is appended to, not replaced.",
)
@click.option(
    "--json", "json_path", default=None, metavar="FILE", help="Write the outcome as JSON."
)
@strict_settings_option
@click.option("-q", "--quiet", is_flag=True, help="Print only the final line.")
def command(
    path: str,
    gate_path: str,
    baseline: str | None,
    run: RunOptions,
    junit_path: str | None,
    md_path: str | None,
    json_path: str | None,
    strict_settings: bool,
    quiet: bool,
) -> None:
    """Check scored videos against gate rules. PATH is a folder of videos
    (scored, with the cache) or a results JSON from `vqeval score --json`.

    Rules (TOML [[rule]] tables): min_mean, min_each and max_regression on
    any dimension or `composite`; max_rate on a failure flag, `error` or
    `any`. One JUnit test case per rule. A baseline scored with other
    settings than PATH gets one warning per difference on stderr;
    --strict-settings makes that exit 2 (the CI recipe in docs/ci.md uses it).

    \b
    Example:
      vqeval gate out/lvsa --config gates.toml --junit gate.xml --md "$GITHUB_STEP_SUMMARY"
    Exit codes: 0 every rule passed, 1 a rule failed, 2 configuration or
    input error (malformed TOML, unknown dimension, wrong types, missing
    input, settings that differ from the baseline's under --strict-settings,
    a report that could not be written), 130 interrupted.
    """
    from vqeval.cli.outputs import check_reports_not_inputs
    from vqeval.dimensions import registry
    from vqeval.gate import evaluate_gate, format_report, load_gate_config
    from vqeval.sides import load_side

    reports = [("--junit", junit_path), ("--md", md_path), ("--json", json_path)]
    inputs = [p for p in (path, gate_path, baseline, run.prompts_file) if p]
    check_reports_not_inputs(reports, inputs, pattern=run.pattern)  # never over an input
    cfg = run.config()
    try:
        if not os.path.exists(path):
            fail_usage(f"{path}: no such folder or results file")
        # validate the gate file before any scoring work
        load_gate_config(gate_path, known_dimensions=set(registry()) | _dims_in(path))
        batch = run.batch_kwargs()
        side = load_side(path, cfg, **batch)
        known = set(registry()) | {d for r in side.results for d in r.dimensions}
        gate = load_gate_config(gate_path, known_dimensions=known)
        base_path = baseline or gate.baseline
        base = None
        needs_base = any(r.needs_baseline for r in gate.rules)
        if base_path is not None and not os.path.exists(base_path):
            # exit 2 even when no rule reads it: a typo must not pass silently (docs/ci.md)
            fail_usage(f"{base_path}: baseline results not found")
        if base_path is not None and needs_base:
            base = load_side(base_path, cfg, **{**batch, "pattern": None})
        elif base_path is not None:
            say(
                f"note: baseline {base_path} not used: no max_regression or slow_motion rule",
                err=True,
            )
        elif needs_base:
            fail_usage(
                f"{gate_path}: max_regression and slow_motion rules need a baseline "
                "(baseline = ... in the file or --baseline)"
            )
        rep = evaluate_gate(gate, side, base)
    except VQevalError as e:
        fail_usage(str(e))
        return
    if base is not None:  # after the inputs' own errors, before any report
        check_settings([base, side], strict_settings)
    jobs: list[tuple[str, Callable[[], object]]] = []
    if junit_path:
        from vqeval.report.junit import write_junit

        jobs.append(("--junit", lambda: write_junit(rep, junit_path)))
    if md_path:
        from vqeval.report.markdown import write_gate_markdown

        summary = os.environ.get("GITHUB_STEP_SUMMARY")
        append = bool(summary) and os.path.abspath(md_path) == os.path.abspath(summary or "")
        jobs.append(("--md", lambda: write_gate_markdown(rep, md_path, append=append)))
    if json_path:
        import json

        from vqeval.fileio import write_atomic
        from vqeval.resultsio import clean

        doc = json.dumps(clean(rep.to_dict()), indent=1, allow_nan=False, ensure_ascii=False)
        jobs.append(("--json", lambda: write_atomic(json_path, doc)))
    _, write_failures = write_reports(jobs)
    text = format_report(rep)
    say(text.splitlines()[-1] if quiet else text)
    if write_failures or stdout_failed():  # stdout full or closed: one line, exit 2
        raise SystemExit(EXIT_USAGE)
    raise SystemExit(EXIT_OK if rep.passed else EXIT_FAILED)


def _dims_in(path: str) -> set[str]:
    """Dimension names in a results JSON (empty for a folder or unreadable file)."""
    from vqeval.sides import is_results_file, read_results_json

    if not is_results_file(path):
        return set()
    try:
        return {d for r in read_results_json(path) for d in r.dimensions}
    except VQevalError:
        return set()
