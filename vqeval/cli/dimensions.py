"""``vqeval dimensions``: list the registered scoring dimensions with their
declarations (:class:`vqeval.dimensions.Dimension`): weight, raw value with
unit, range and direction, flags, backbone and how the value relates to
VBench."""

from __future__ import annotations

import json
import shutil
from typing import Any

import click

from vqeval.cli.common import EXIT_USAGE, emit, say, stdout_failed


def _range(lo: float | None, hi: float | None) -> str:
    def f(x: float | None) -> str:
        return "inf" if x is None else f"{x:g}"

    return f"{'-inf' if lo is None else f(lo)}..{f(hi)}"


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def _compact(reg: dict[str, Any], width: int) -> list[str]:
    """One line per dimension, cut to ``width`` characters: name, composite
    weight, default set or on request, flags, backbone (at most 24
    characters), then the first sentence of the description."""
    from vqeval.dimensions import provenance_label

    rows = []
    for d in reg.values():
        bb = d.backbone_for()
        rows.append(
            [
                d.name,
                f"{d.weight:g}",
                "yes" if d.default else "-",
                ",".join(d.flags) or "-",
                _clip(provenance_label(bb, d.vbench_for(bb)) if bb else "-", 24),
                d.description.split(". ")[0].rstrip("."),
            ]
        )
    head = ["dimension", "weight", "default", "flags", "backbone", "measures"]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head) - 1)]

    def line(cells: list[str]) -> str:
        fixed = "  ".join(
            c.rjust(w) if i == 1 else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))
        )
        return _clip(f"{fixed}  {cells[-1]}".rstrip(), width)

    return [line(head), *(line(r) for r in rows)]


@click.command("dimensions")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option(
    "-l",
    "--long",
    "long_",
    is_flag=True,
    help="Every declaration in full: score and raw ranges, units, description, VBench's "
    "definition (default: one line per dimension, cut to the terminal width).",
)
def command(as_json: bool, long_: bool) -> None:
    """List scoring dimensions: name, composite weight, default set, failure
    flags, backbone (under the default configuration and $VQEVAL_WEIGHTS), raw
    value and which way is better, what it measures; one line each, fitted to
    the terminal width. --long: raw value units and ranges, VBench relation
    and definition, the full description."""
    from vqeval.dimensions import provenance_label, registry

    reg = registry()
    if as_json:
        emit(json.dumps([d.describe() for d in reg.values()], indent=1))
        if stdout_failed():
            raise SystemExit(EXIT_USAGE)
        return
    if not long_:
        width = shutil.get_terminal_size((120, 24)).columns
        for text in _compact(dict(reg), width):
            say(text)
        say(_clip("(scores 0-100, higher is better; details: vqeval dimensions --long)", width))
        if stdout_failed():  # stdout full or closed: one line, exit 2
            raise SystemExit(EXIT_USAGE)
        return
    w = max((len(n) for n in reg), default=4)
    for d in reg.values():
        bb = d.backbone_for()
        raw = (
            f"raw {d.raw_key} {_range(*d.raw_range)} {d.raw_unit}, {d.direction} is better"
            if d.raw_key and d.direction != "neither"
            else f"raw {d.raw_key} {_range(*d.raw_range)} {d.raw_unit}, reported, not judged"
            if d.raw_key
            else "no raw value declared"
        )
        flags = ", ".join(d.flags) or "none"
        say(
            f"{d.name.ljust(w)}  weight {d.weight:g}, {'default' if d.default else 'on request'}; "
            f"score {d.score_range[0]:g}-{d.score_range[1]:g}; {raw}; flags: {flags}; "
            f"backbone {provenance_label(bb, d.vbench_for(bb)) if bb else '-'}; "
            f"VBench: {d.vbench_for(bb)}"
        )
        say(f"{''.ljust(w)}  {d.description}")
        if d.vbench_definition:
            say(f"{''.ljust(w)}  VBench's definition: {d.vbench_definition}")
    say(
        "(scores are 0-100, higher is better; backbone tags: (VBench) = VBench's formula and "
        "model, (approx.) = not VBench's number)"
    )
    if stdout_failed():  # stdout full or closed: one line, exit 2
        raise SystemExit(EXIT_USAGE)
