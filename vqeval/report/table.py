"""Readable terminal table of score results (fits the terminal width).

Column headers are the dimensions' declared short names
(``Dimension.short``); the legend names the backbone of every shown column and
marks which values are VBench's (``Dimension.vbench``)."""

from __future__ import annotations

import shutil
import textwrap

from vqeval.dimensions import registry
from vqeval.report.safe import one_line
from vqeval.results import VideoResult


def short_name(name: str) -> str:
    """Column header of dimension ``name``: its declared short name, else the
    first 6 letters."""
    d = registry().get(name)
    return d.short_name if d is not None else name[:6]


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:5.1f}"


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else "…" + text[-(width - 1) :]


def render(results: list[VideoResult], width: int | None = None) -> str:
    """The table as text: one row per video, composite (0-100), verdict, flags,
    loop period (s) and as many dimension scores (0-100) as fit ``width``,
    heaviest composite weight first."""
    width = width or shutil.get_terminal_size((120, 24)).columns
    # heaviest composite weights first: the columns that fit are the ones that matter
    reg = registry()
    present = [n for n in reg if any(n in r.dimensions for r in results)]
    present += sorted({n for r in results for n in r.dimensions} - set(present))
    dims = sorted(present, key=lambda n: -(reg[n].weight if n in reg else 0.0))
    path_w = max(12, min(40, max((len(one_line(r.path)) for r in results), default=12)))
    fixed = ["video".ljust(path_w), "  dur s", "  comp", "verdict".ljust(8), "loop s"]
    flags_w = max(5, max((len(",".join(r.flags)) for r in results), default=5))
    used = sum(len(c) + 1 for c in fixed) + flags_w + 1
    shown = []
    for d in dims:
        w = max(6, len(short_name(d))) + 1
        if used + w > width:
            break
        shown.append(d)
        used += w
    heads = [*fixed, *[short_name(d).rjust(6) for d in shown], "flags"]
    lines = [" ".join(heads)]
    for r in results:
        name = _clip(one_line(r.path), path_w).ljust(path_w)  # no raw control chars
        if not r.ok:
            lines.append(f"{name} error: {one_line(r.error)}")
            continue
        dur = r.info.duration_s if r.info else None
        cells = [
            name,
            f"{dur:7.1f}" if dur is not None else "      -",
            " " + _fmt(r.composite),
            (r.verdict or "-").ljust(8),
            f"{r.loop_period_s:6.2f}" if r.loop_period_s else "     -",
            *[_fmt(r.score(d)).rjust(6) for d in shown],
            ",".join(r.flags) or "-",
        ]
        lines.append(" ".join(cells))
        # each flag on a line of its own: from when and why
        lines += [f"    {one_line(fd.text)}" for fd in r.flag_details if fd.reason]
    hidden = len(dims) - len(shown)
    legend = "scores 0-100, higher is better"
    if hidden:
        legend += f"; {hidden} more dimension(s) in --json/--csv"
    lines.append(f"({legend})")
    if shown:
        from vqeval.compare import dimension_provenance
        from vqeval.dimensions import provenance_label

        cells = [
            f"{short_name(d)}={provenance_label(*dimension_provenance(results, d))}" for d in shown
        ]
        text = "(backbone: " + ", ".join(cells) + ")"
        lines += textwrap.wrap(text, width, subsequent_indent=" ", break_on_hyphens=False)
    return "\n".join(lines)
