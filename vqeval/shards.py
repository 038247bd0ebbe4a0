"""Split one list of videos between independent jobs: ``--shard i/n``.

A video belongs to shard ``1 + h mod n`` where ``h`` is a stable hash
(BLAKE2b) of its path as listed (normalised: ``a//b/./c.mp4`` = ``a/b/c.mp4``).
So the ``n`` jobs of a split score disjoint sets whose union is every video,
whatever machine or order they run in, and adding videos to the list never
moves the others to another shard. Every job must be given the same inputs,
spelled the same way (the same folder or the same ``--files-from`` list).
"""

from __future__ import annotations

import hashlib
import os

from vqeval.remote import is_url


def parse_shard(text: str) -> tuple[int, int]:
    """``"i/n"`` -> ``(i, n)`` with ``1 <= i <= n`` (shards are numbered from 1).

    Raises:
        ValueError: not of the form ``i/n`` or out of range (message is one line).
    """
    try:
        i_text, n_text = text.split("/")
        i, n = int(i_text), int(n_text)
    except ValueError:
        raise ValueError(f"--shard {text!r}: expected I/N, e.g. 1/4 (shards 1..N)") from None
    if n < 1 or not 1 <= i <= n:
        raise ValueError(f"--shard {text!r}: shards of {n} are numbered 1..{n}")
    return i, n


def check_shard(shard: object) -> tuple[int, int]:
    """``shard`` as ``(i, n)`` when it is a pair of integers with ``1 <= i <= n``.

    Raises:
        ConfigError: anything else (``(0, 0)``, ``(3, 2)``, ``(1.5, 2)``, ``"1/2"``),
            with one line saying what is expected.
    """
    from vqeval.results import ConfigError

    ok = (
        isinstance(shard, (tuple, list))
        and len(shard) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) for v in shard)
    )
    if ok:
        i, n = shard  # type: ignore[misc]
        if n >= 1 and 1 <= i <= n:
            return int(i), int(n)
    raise ConfigError(
        f"shard {shard!r}: expected (i, n), two integers with 1 <= i <= n "
        "(shards are numbered from 1; --shard I/N on the command line)"
    )


def normalized(path: str) -> str:
    """The spelling of ``path`` that sharding and resuming compare (URLs as given)."""
    return path if is_url(path) else os.path.normpath(path)


def shard_of(path: str, n: int) -> int:
    """The shard (1..``n``) that ``path`` belongs to."""
    digest = hashlib.blake2b(
        normalized(path).encode("utf-8", "surrogateescape"), digest_size=8
    ).digest()
    return 1 + int.from_bytes(digest, "big") % n


def in_shard(path: str, shard: tuple[int, int] | None) -> bool:
    """True when ``path`` is scored by job ``shard = (i, n)`` (always when ``None``)."""
    return shard is None or shard_of(path, shard[1]) == shard[0]
