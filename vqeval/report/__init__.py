"""Report writers. Every file is written atomically: a temporary file in the
same folder is renamed over the target, so a reader never sees half a report
and a failed write (full disk, no permission) leaves an older file intact."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from vqeval.report.safe import encodable
from vqeval.results import VQevalError

# Read once at import (os.umask can only be read by setting it).
_UMASK = os.umask(0o022)
os.umask(_UMASK)


class ReportWriteError(VQevalError, OSError):
    """A report or results file could not be written (message: one line naming the file)."""


def write_atomic(path: str | os.PathLike[str], data: str | bytes) -> Path:
    """Write ``data`` to ``path`` atomically (tmp file + ``os.replace``).

    Creates missing parent folders. Text is written as UTF-8, with names that
    are not valid UTF-8 escaped by :func:`vqeval.report.safe.encodable`.

    Returns:
        The target path.

    Raises:
        ReportWriteError: the target is a folder, a parent is a file, no
            permission, disk full ...; the previous file at ``path`` (if any)
            is left as it was and no temporary file stays behind.
    """
    target = Path(path)
    payload = encodable(data).encode("utf-8") if isinstance(data, str) else data
    try:
        if target.is_dir():
            raise IsADirectoryError(21, "is a folder")
        target.parent.mkdir(parents=True, exist_ok=True)
        # short temporary name: a legal 255-byte target name must not need a longer one
        fd, tmp = tempfile.mkstemp(
            prefix=_tmp_prefix(target.name), suffix=".tmp", dir=target.parent
        )
    except OSError as exc:
        raise _write_error(target, exc) from None
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp makes 0600; reports are ordinary files
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise _write_error(target, exc) from None
        raise
    return target


def _tmp_prefix(name: str) -> str:
    """Prefix of the temporary file beside ``name``: ``.`` + at most 32 bytes
    of the name + ``.``, so the whole temporary name (with mkstemp's 8 random
    characters and ``.tmp``) is at most 46 bytes, whatever the target's length."""
    return "." + os.fsdecode(os.fsencode(name)[:32]) + "."


def _write_error(target: Path, exc: OSError) -> ReportWriteError:
    from vqeval.report.safe import one_line

    reason = exc.strerror or str(exc) or type(exc).__name__
    if isinstance(exc, (FileExistsError, NotADirectoryError)) and not target.is_dir():
        reason = f"a parent is not a folder ({reason})"
    err = ReportWriteError(f"cannot write {one_line(os.fspath(target))}: {one_line(reason)}")
    err.errno = exc.errno
    return err
