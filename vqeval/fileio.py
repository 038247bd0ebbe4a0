"""Atomic file writes, below every module that writes a file (reports, the
results JSON, the result cache, resume checkpoints): a temporary file in the
same folder is renamed over the target, so a reader never sees half a file
and a failed write (full disk, no permission) leaves an older file intact."""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from pathlib import Path

from vqeval.results import VQevalError
from vqeval.safetext import encodable, one_line

# Read once at import (os.umask can only be read by setting it).
_UMASK = os.umask(0o022)
os.umask(_UMASK)


class ReportWriteError(VQevalError, OSError):
    """A report or results file could not be written (message: one line naming the file)."""


def write_atomic(path: str | os.PathLike[str], data: str | bytes) -> Path:
    """Write ``data`` to ``path`` atomically (tmp file + ``os.replace``).

    Creates missing parent folders. Text is written as UTF-8, with names that
    are not valid UTF-8 escaped by :func:`vqeval.safetext.encodable`.
    Something that is not a regular file is never replaced: a symbolic link
    stays a link (the file it points at is replaced), a FIFO or character
    device (``/dev/null``) is written through, a block device or socket is an
    error.

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
        dest = _destination(target)
        if dest is None:  # a FIFO or character device: written through, never replaced
            _write_through(target, payload)
            return target
        dest.parent.mkdir(parents=True, exist_ok=True)
        # short temporary name: a legal 255-byte target name must not need a longer one
        fd, tmp = tempfile.mkstemp(prefix=_tmp_prefix(dest.name), suffix=".tmp", dir=dest.parent)
    except OSError as exc:
        raise _write_error(target, exc) from None
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp makes 0600; reports are ordinary files
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, dest)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise _write_error(target, exc) from None
        raise
    return target


def _destination(target: Path) -> Path | None:
    """The regular file to replace atomically for report path ``target``:
    ``target`` itself, or the file a symbolic link points at (the link stays
    a link). ``None`` when it is a FIFO or a character device (``/dev/null``,
    a pipe a reader waits on): written through by :func:`_write_through`.

    Raises:
        OSError: a folder, a block device or socket (never replaced), or a
            symbolic link loop.
    """
    dest = Path(os.path.realpath(target)) if target.is_symlink() else target
    if dest.is_symlink():  # realpath gave up: a loop
        raise OSError(errno.ELOOP, "symbolic link loop")
    try:
        mode = os.stat(dest).st_mode
    except FileNotFoundError:
        return dest
    if stat.S_ISREG(mode):
        return dest
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(errno.EISDIR, "is a folder")
    if stat.S_ISFIFO(mode) or stat.S_ISCHR(mode):
        return None
    kind = "a block device" if stat.S_ISBLK(mode) else "a socket"
    raise OSError(errno.EINVAL, f"{kind}, not a regular file: refusing to replace it")


def _write_through(target: Path, payload: bytes) -> None:
    """Write ``payload`` into the FIFO or character device ``target`` as it
    is (never replacing the node). A FIFO that no process reads is an error
    at once, not a hang (non-blocking open); then writes block as usual."""
    try:
        fd = os.open(target, os.O_WRONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        if exc.errno == errno.ENXIO:  # a FIFO without a reader
            raise OSError(exc.errno, "a FIFO that no process reads") from None
        raise
    try:
        os.set_blocking(fd, True)
        view = memoryview(payload)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def _tmp_prefix(name: str) -> str:
    """Prefix of the temporary file beside ``name``: ``.`` + at most 32 bytes
    of the name + ``.``, so the whole temporary name (with mkstemp's 8 random
    characters and ``.tmp``) is at most 46 bytes, whatever the target's length."""
    return "." + os.fsdecode(os.fsencode(name)[:32]) + "."


def _write_error(target: Path, exc: OSError) -> ReportWriteError:
    reason = exc.strerror or str(exc) or type(exc).__name__
    if isinstance(exc, (FileExistsError, NotADirectoryError)) and not target.is_dir():
        reason = f"a parent is not a folder ({reason})"
    err = ReportWriteError(f"cannot write {one_line(os.fspath(target))}: {one_line(reason)}")
    err.errno = exc.errno
    return err
