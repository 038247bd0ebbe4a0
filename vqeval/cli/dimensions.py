"""``vqeval dimensions``: list the registered scoring dimensions with their
declarations (:class:`vqeval.dimensions.Dimension`): weight, raw value with
unit, range and direction, flags, backbone and how the value relates to
VBench."""

from __future__ import annotations

import json

import click


def _range(lo: float | None, hi: float | None) -> str:
    def f(x: float | None) -> str:
        return "inf" if x is None else f"{x:g}"

    return f"{'-inf' if lo is None else f(lo)}..{f(hi)}"


@click.command("dimensions")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def command(as_json: bool) -> None:
    """List scoring dimensions: name, composite weight, default, raw value
    (unit, range, which way is better), failure flags, backbone (under the
    default configuration and $VQEVAL_WEIGHTS), VBench relation, description."""
    from vqeval.dimensions import provenance_label, registry

    reg = registry()
    if as_json:
        click.echo(json.dumps([d.describe() for d in reg.values()], indent=1))
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
        click.echo(
            f"{d.name.ljust(w)}  weight {d.weight:g}, {'default' if d.default else 'on request'}; "
            f"score {d.score_range[0]:g}-{d.score_range[1]:g}; {raw}; flags: {flags}; "
            f"backbone {provenance_label(bb, d.vbench_for(bb)) if bb else '-'}; "
            f"VBench: {d.vbench_for(bb)}"
        )
        click.echo(f"{''.ljust(w)}  {d.description}")
        if d.vbench_definition:
            click.echo(f"{''.ljust(w)}  VBench's definition: {d.vbench_definition}")
    click.echo(
        "(scores are 0-100, higher is better; backbone tags: (VBench) = VBench's formula and "
        "model, (approx.) = not VBench's number)"
    )
