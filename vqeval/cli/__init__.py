"""The ``vqeval`` command line: a thin layer over the Python API.

Exit codes (all subcommands; the table is in docs/ci.md):
    0    success (all videos scored / compared / gate passed)
    1    some videos failed to score (error rows), or a gate failed
    2    usage, configuration or input error (bad option, no videos found,
         malformed gate or results file, a report that could not be written)
    130  interrupted (Ctrl-C)
    143  terminated (SIGTERM); like 130, ``score`` first saves finished rows
"""

from __future__ import annotations

import importlib
import os
import signal
import threading
from typing import Any

import click

from vqeval._version import __version__

#: Subcommand modules under ``vqeval.cli``; each exposes ``command``.
SUBCOMMANDS: tuple[str, ...] = ("score", "compare", "gate", "dimensions", "calibrate")


class _LazyGroup(click.Group):
    """Imports a subcommand's module only when that subcommand runs (keeps
    `vqeval score` from loading the compare/gate statistics at start-up)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(SUBCOMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in SUBCOMMANDS:
            return None
        return importlib.import_module(f"vqeval.cli.{cmd_name}").command

    def invoke(self, ctx: click.Context) -> object:
        """Ctrl-C ends any subcommand with one line and exit code 130 (the
        shell convention 128 + SIGINT), not click's "Aborted!" and code 1.
        SIGTERM (``timeout``, ``kill``, a preempted job) is handled the same
        way, so ``score`` checkpoints its finished rows to ``--json``; it
        exits 143 (128 + SIGTERM) with the line ``terminated``."""
        previous = _catch_sigterm()
        try:
            return super().invoke(ctx)
        except Terminated:
            click.echo("\nterminated", err=True)
            raise SystemExit(143) from None
        except KeyboardInterrupt:
            click.echo("\ninterrupted", err=True)
            raise SystemExit(130) from None
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread like Ctrl-C's ``KeyboardInterrupt``
    so that every ``except KeyboardInterrupt`` clean-up (the ``--json``
    checkpoint of ``score``) runs for it too."""


def _catch_sigterm() -> Any:
    """Turn SIGTERM into :class:`Terminated` in this process (main thread
    only); returns the handler to restore, ``None`` when not installed. A
    process forked from this one (a pool worker) that receives SIGTERM dies
    of it as usual."""
    if threading.current_thread() is not threading.main_thread():
        return None
    owner = os.getpid()

    def on_sigterm(signum: int, frame: object) -> None:
        if os.getpid() != owner:  # a forked worker: default action
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)
            return
        raise Terminated

    try:
        return signal.signal(signal.SIGTERM, on_sigterm)
    except (ValueError, OSError):  # no signals here (embedded interpreter)
        return None


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="vqeval")
def main() -> None:
    """VQeval: score long AI-generated videos for loops, freezes, motion decay
    and VBench-style quality.

    \b
    Exit codes: 0 ok; 1 some videos failed / gate failed; 2 usage or input
    error (no videos, bad gate/results file, report not written); 130 interrupted.
    """
