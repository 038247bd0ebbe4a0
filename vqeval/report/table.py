"""Readable terminal table of score results (fits the terminal width).

Column headers are the dimensions' declared short names
(``Dimension.short``); the legend names the backbone of every shown column and
marks which values are VBench's (``Dimension.vbench``)."""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Sequence

from vqeval.dimensions import registry
from vqeval.results import VideoResult
from vqeval.safetext import one_line


def short_name(name: str) -> str:
    """Column header of dimension ``name``: its declared short name, else the
    first 6 letters."""
    d = registry().get(name)
    return d.short_name if d is not None else name[:6]


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:5.1f}"


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else "…" + text[-(width - 1) :]


def display_paths(paths: Sequence[str]) -> tuple[str, list[str]]:
    """``(prefix, shortened)``: the folder every path shares (whole path
    components, e.g. ``out/``) and each path without it, so ``out/dense/x.mp4``
    and ``out/lvsa/x.mp4`` show as ``dense/x.mp4`` and ``lvsa/x.mp4``. A single
    path, URLs, or paths sharing no folder are returned as they are (prefix "")."""
    if len(paths) < 2 or any("://" in p for p in paths):
        return "", list(paths)
    parts = [p.split("/") for p in paths]
    common = 0
    for column in zip(*(pp[:-1] for pp in parts)):  # folders only, never the name
        if len(set(column)) != 1:
            break
        common += 1
    if not any(parts[0][:common]):  # nothing shared, or only the root "/"
        return "", list(paths)
    prefix = "/".join(parts[0][:common]) + "/"
    return prefix, ["/".join(pp[common:]) for pp in parts]


def render(results: list[VideoResult], width: int | None = None) -> str:
    """The table as text: one row per video, composite (0-100), verdict, flags,
    loop period (s) and as many dimension scores (0-100) as fit ``width``
    (characters; default the terminal's), heaviest composite weight first;
    then the verdict summary (:func:`vqeval.report.summary.verdict_line`).

    Paths are shown without the folder all of them share (named on a line
    above the header); the path column takes the width left after the dimension
    columns, at least 40 characters, and long paths lose their start."""
    from vqeval.report.summary import verdict_line

    width = width or shutil.get_terminal_size((120, 24)).columns
    # heaviest composite weights first: the columns that fit are the ones that matter
    reg = registry()
    present = [n for n in reg if any(n in r.dimensions for r in results)]
    present += sorted({n for r in results for n in r.dimensions} - set(present))
    dims = sorted(present, key=lambda n: -(reg[n].weight if n in reg else 0.0))
    prefix, names = display_paths([r.path for r in results])
    names = [one_line(n) for n in names]  # no raw control chars
    head = "video"
    longest = max([len(head), *(len(n) for n in names)])
    flags_w = max(5, max((len(",".join(r.flags)) for r in results), default=5))
    other = sum(len(c) + 1 for c in ("  dur s", "  comp", "verdict".ljust(8), "loop s"))
    dims_w = sum(max(6, len(short_name(d))) + 1 for d in dims)
    room = width - 1 - other - flags_w - 1 - dims_w  # what the path may take
    path_w = max(12, min(longest, max(40, room)))
    fixed = [_clip(head, path_w).ljust(path_w), "  dur s", "  comp", "verdict".ljust(8), "loop s"]
    used = sum(len(c) + 1 for c in fixed) + flags_w + 1
    shown = []
    for d in dims:
        w = max(6, len(short_name(d))) + 1
        if used + w > width:
            break
        shown.append(d)
        used += w
    heads = [*fixed, *[short_name(d).rjust(6) for d in shown], "flags"]
    lines = [f"videos in {one_line(prefix)}"] if prefix else []
    lines.append(" ".join(heads))
    for r, shown_name in zip(results, names):
        name = _clip(shown_name, path_w).ljust(path_w)
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
    lines.append(f"verdicts: {verdict_line(results)}")
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
