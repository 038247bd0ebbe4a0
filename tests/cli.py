"""Running the ``vqeval`` command line inside a test (click's runner)."""

from __future__ import annotations

from click.testing import CliRunner

from vqeval.cli import main


def invoke(args: list[str], **kw: object) -> tuple[int, str, str]:
    """Run ``vqeval ARGS``; return (exit code, stdout, stderr). Exceptions
    that escape the command propagate (a traceback fails the test)."""
    r = CliRunner().invoke(main, args, catch_exceptions=False, **kw)
    return r.exit_code, r.stdout, r.stderr


def one_error_line(err: str) -> str:
    """The single ``error:`` line of ``err`` (asserts there is exactly one
    and no traceback)."""
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, err
    assert "Traceback" not in err, err
    return lines[0]
