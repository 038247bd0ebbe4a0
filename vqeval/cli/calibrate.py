"""``vqeval calibrate DIR --out params.toml``: choose the decision thresholds
on a labelled folder (or a folder of healthy clips) and write a params file
that ``vqeval score --params`` reads (:mod:`vqeval.calibration`)."""

from __future__ import annotations

import datetime

import click

from vqeval.cli.common import EXIT_OK, cli_params, fail_usage, say
from vqeval.results import ConfigError


@click.command("calibrate")
@click.argument("folder", type=click.Path(file_okay=False))
@click.option(
    "--labels",
    default=None,
    metavar="FILE",
    help="Labels JSON: {file: {label: healthy|loop|frozen|..., source: ...}} "
    "(default: FOLDER/labels.json). A clip's source is its folder when absent.",
)
@click.option(
    "--out",
    required=True,
    metavar="FILE",
    help="Write the chosen parameters here (TOML, for `vqeval score --params`).",
)
@click.option(
    "--healthy-only",
    is_flag=True,
    help="Every clip is healthy (no labels needed): only loosen thresholds until at "
    "most --max-false-alarm of the clips are failed.",
)
@click.option(
    "--max-false-alarm",
    default=0.0,
    show_default=True,
    type=click.FloatRange(0.0, 1.0),
    help="With --healthy-only: the share of the clips that may still be failed.",
)
@click.option(
    "--params",
    "params_file",
    default=None,
    metavar="FILE",
    help="Base parameters (what is not calibrated keeps these; default: "
    "[tool.vqeval] of ./pyproject.toml, else the library defaults).",
)
def command(
    folder: str,
    labels: str | None,
    out: str,
    healthy_only: bool,
    max_false_alarm: float,
    params_file: str | None,
) -> None:
    """Choose VQeval's thresholds on your own clips, by the project's procedure
    (balanced accuracy, middle of the plateau), print the in-sample and
    leave-one-source-out table and write a params file.

    \b
    Calibrating on few clips or one source fits those clips: check the
    leave-one-source-out column, not the in-sample one.
    """
    from vqeval.calibration import calibrate, format_table, load_clips, write_params

    base = cli_params(params_file)
    try:
        clips = load_clips(
            folder,
            labels,
            healthy_only=healthy_only,
            base=base,
            progress=lambda name: say(f"analysed {name}", err=True),
        )
        cal = calibrate(
            clips,
            base,
            healthy_only=healthy_only,
            max_false_alarm=max_false_alarm,
            log=lambda s: say(s, err=True),
        )
    except ConfigError as e:
        fail_usage(str(e))
        return
    n_src = len({c.source for c in clips})
    mode = "healthy-only" if healthy_only else "labelled"
    say(f"{len(clips)} clip(s) from {n_src} source(s), {mode}")
    say(format_table(cal))
    for k, v in cal.chosen.items():
        lo_hi = cal.plateau.get(k)
        span = f" (plateau {lo_hi[0]:g}-{lo_hi[1]:g})" if lo_hi else ""
        say(f"  {k} = {v:g}{span} (was {base.get(k):g})")
    for k, a in cal.accuracy.items():
        say(f"  balanced accuracy, {k}: {a:.3f}")
    for line in cal.notes:
        say(f"note: {line}")
    if n_src < 3:
        say(
            f"warning: {n_src} source(s): the thresholds fit these clips; with few sources "
            "they rarely carry to other generators (see the leave-one-source-out column)",
            err=True,
        )
    header = "\n".join(
        [
            f"vqeval calibrate {folder} ({mode}), {datetime.date.today().isoformat()}",
            f"{len(clips)} clips from {n_src} source(s); calibrated: "
            + (", ".join(f"{k} = {v:g}" for k, v in cal.chosen.items()) or "nothing changed"),
            *format_table(cal).splitlines(),
        ]
    )
    try:
        write_params(cal, out, header)
    except OSError as e:
        fail_usage(f"--out {out}: cannot write ({e.strerror or e})")
    say(f"wrote {out}")
    raise SystemExit(EXIT_OK)
