"""``vqeval dimensions``: list the registered scoring dimensions."""

from __future__ import annotations

import json

import click


@click.command("dimensions")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def command(as_json: bool) -> None:
    """List scoring dimensions: name, composite weight, default, description."""
    from vqeval.dimensions import registry

    reg = registry()
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "name": d.name,
                        "title": d.title,
                        "family": d.family,
                        "weight": d.weight,
                        "default": d.default,
                        "description": d.description,
                    }
                    for d in reg.values()
                ],
                indent=1,
            )
        )
        return
    w = max((len(n) for n in reg), default=4)
    click.echo(f"{'name'.ljust(w)}  weight  default  description")
    for d in reg.values():
        click.echo(
            f"{d.name.ljust(w)}  {d.weight:6.2f}  {'yes' if d.default else 'no ':7}  "
            f"{d.description}"
        )
    click.echo("(scores are 0-100, higher is better)")
