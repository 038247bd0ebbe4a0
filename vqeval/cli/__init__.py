"""The ``vqeval`` command line: a thin layer over the Python API.

Exit codes (all subcommands):
    0  success (all videos scored / gate passed)
    1  some videos failed to score, or a gate failed
    2  usage or configuration error
"""

from __future__ import annotations

import importlib

import click

from vqeval import __version__

#: Subcommand modules under ``vqeval.cli``; each exposes ``command``.
SUBCOMMANDS: tuple[str, ...] = ("score", "compare", "gate", "dimensions")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="vqeval")
def main() -> None:
    """VQeval: score long AI-generated videos for loops, freezes, motion decay
    and VBench-style quality.

    \b
    Exit codes: 0 ok, 1 some videos failed / gate failed, 2 usage error.
    """


for _name in SUBCOMMANDS:
    try:
        _mod = importlib.import_module(f"vqeval.cli.{_name}")
    except ModuleNotFoundError as _e:  # subcommand not written yet
        if _e.name != f"vqeval.cli.{_name}":
            raise
        continue
    main.add_command(_mod.command)
