"""Reading the small files a user names on the command line (``--prompts``,
``--files-from``, ``--resume``, results JSON, ``gate -c``) without trusting them.

A path can name anything: ``/dev/zero`` never ends, a FIFO blocks until a
writer comes, a device can be huge. :func:`read_input_file` reads a regular
file (or, where the caller allows it, a pipe such as ``<(find ...)`` or stdin)
up to a size cap, and refuses anything else with a one-line reason, before
reading a byte of it.
"""

from __future__ import annotations

import os
import stat
from typing import BinaryIO

from vqeval.results import ConfigError

__all__ = [
    "MAX_GATE_FILE_BYTES",
    "MAX_PATH_LIST_BYTES",
    "MAX_PROMPTS_BYTES",
    "MAX_SIDECAR_BYTES",
    "InputFileError",
    "read_input_file",
    "read_stream",
]

#: Largest ``--prompts`` file, bytes (64 MiB: ~30,000 prompts of 2,000 characters).
MAX_PROMPTS_BYTES = 64 << 20
#: Largest ``--files-from`` list, bytes (256 MiB: ~2.5 million paths of 100 bytes).
MAX_PATH_LIST_BYTES = 256 << 20
#: Largest gate TOML file, bytes (1 MiB; a real gate file is a few KB).
MAX_GATE_FILE_BYTES = 1 << 20
#: Largest generator sidecar JSON read for a prompt, bytes (1 MiB; a real one is ~1 KB).
MAX_SIDECAR_BYTES = 1 << 20

_CHUNK = 1 << 20
_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


class InputFileError(ConfigError):
    """An input file could not be read: the message is the reason only (one
    line, no path), e.g. ``not a regular file: a character device``; callers
    put it in their own words: ``PATH: cannot read gate file (REASON)``."""


def _kind(mode: int) -> str:
    for test, name in _KINDS:
        if test(mode):
            return name
    return "neither a file nor a folder"


def _size_text(n: int) -> str:
    return f"{n / (1 << 20):g} MiB" if n >= 1 << 20 else f"{n:,} bytes"


def read_stream(fh: BinaryIO, max_bytes: int | None) -> bytes:
    """All bytes of the open binary stream ``fh``, at most ``max_bytes``.

    Raises:
        InputFileError: more than ``max_bytes`` bytes (read stops there).
    """
    limit = None if max_bytes is None else max_bytes + 1
    chunks: list[bytes] = []
    total = 0
    while limit is None or total < limit:
        chunk = fh.read(_CHUNK if limit is None else min(_CHUNK, limit - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    if max_bytes is not None and total > max_bytes:
        raise InputFileError(f"larger than {_size_text(max_bytes)}")
    return b"".join(chunks)


def read_input_file(
    path: str | os.PathLike[str],
    *,
    max_bytes: int | None,
    pipes_ok: bool = False,
) -> bytes:
    """The bytes of the input file ``path``.

    Args:
        path: a file the user named.
        max_bytes: largest size accepted in bytes (``None``: no cap; a regular
            file is finite).
        pipes_ok: also read a pipe or FIFO (``<(find ...)``, ``/dev/stdin``
            on a pipe), up to ``max_bytes``; else it is refused like a device.

    Raises:
        InputFileError: missing, unreadable, a folder, device, socket (or
            FIFO unless ``pipes_ok``), or larger than ``max_bytes``.
    """
    try:
        # non-blocking open: a FIFO without a writer must not hang us here
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as e:
        raise InputFileError(str(e.strerror or e)) from None
    try:
        mode = os.fstat(fd).st_mode
        if not (stat.S_ISREG(mode) or (pipes_ok and stat.S_ISFIFO(mode))):
            raise InputFileError(f"not a regular file: {_kind(mode)}")
        if stat.S_ISREG(mode) and max_bytes is not None:
            size = os.fstat(fd).st_size
            if size > max_bytes:
                raise InputFileError(f"larger than {_size_text(max_bytes)}: {_size_text(size)}")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)  # a pipe: wait for its writer's data
        with os.fdopen(fd, "rb", closefd=True) as fh:
            fd = -1
            return read_stream(fh, max_bytes)
    except OSError as e:
        raise InputFileError(str(e.strerror or e)) from None
    finally:
        if fd >= 0:
            os.close(fd)
