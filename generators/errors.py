"""Exceptions raised by :mod:`generators`."""

from __future__ import annotations


class GeneratorError(Exception):
    """A generation request cannot run: bad argument, missing weights, unknown model or method.

    The message is one line that says what is wrong and what to do next; the CLI prints it as
    ``error: <message>`` and exits with code 2.
    """
