"""Resuming from a results JSON (``--resume FILE``) and checkpointing one.

A resumed run keeps the rows of ``FILE`` that scored OK for videos of this
run's inputs (matched by path, spelled as listed); error rows and videos
absent from the file are scored. The file must have been written with the
same analysis options (``config``), else resuming would mix two kinds of
numbers. While a run goes on, :class:`Checkpoint` rewrites the ``--json``
file atomically now and then with the rows done so far, so a run that is
killed (preempted node, Ctrl-C) leaves a partial file to resume from.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import stat
import time
from pathlib import Path
from typing import Any

from vqeval.config import ScoreConfig
from vqeval.results import ResultsFormatError, VideoResult
from vqeval.shards import normalized

#: Seconds between checkpoints of a partial results file (at least; a slow
#: write stretches the interval so that checkpoints cost under ~10 % of the run).
CHECKPOINT_S = 60.0


def _plain(obj: Any) -> Any:
    from vqeval.resultsio import clean

    return json.loads(json.dumps(clean(obj)))


def load_resume(path: str | os.PathLike[str], config: ScoreConfig) -> dict[str, VideoResult]:
    """The OK rows of results file ``path`` by normalised path (see
    :func:`vqeval.shards.normalized`); ``{}`` when the file does not exist yet.

    Raises:
        ResultsFormatError: unreadable or malformed file, or written with
            other analysis options than ``config``.
    """
    from vqeval.resultsio import read_results

    p = Path(path)
    if not p.exists():
        return {}
    rows = read_results(p)
    from vqeval.inputfile import InputFileError, read_input_file

    try:
        saved = json.loads(read_input_file(p, max_bytes=None).decode("utf-8")).get("config")
    except (InputFileError, ValueError, RecursionError) as e:  # changed since read_results
        raise ResultsFormatError(f"{p}: cannot read results file ({e})") from e
    wanted = _plain(dataclasses.asdict(config))
    if saved != wanted:
        saved = saved if isinstance(saved, dict) else {}
        diff = sorted(k for k in set(wanted) | set(saved) if saved.get(k) != wanted.get(k))
        shown = ", ".join(f"{k} {saved.get(k)!r} (now {wanted.get(k)!r})" for k in diff[:3])
        raise ResultsFormatError(
            f"{p}: its rows were scored with other options ({shown}); "
            "resume with the same options, or score without --resume"
        )
    return {normalized(r.path): r for r in rows if r.ok}


class Checkpoint:
    """Rewrites a partial results JSON atomically while rows arrive.

    Args:
        path: the ``--json`` file.
        config: the run's configuration (stored in the file, checked on resume).
        every_s: least seconds between two writes (> 0).
        no_series: leave plot series out of the rows (as ``--no-series``).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        config: ScoreConfig,
        *,
        every_s: float = CHECKPOINT_S,
        no_series: bool = False,
    ) -> None:
        self.path = Path(path)
        self.config = config
        self.every_s = every_s
        self.no_series = no_series
        self.rows: list[VideoResult] = []
        self._next = time.monotonic() + every_s
        # a FIFO or device (`--json /dev/stdout`, a pipe) gets the final file
        # only: periodic checkpoints would send it several documents
        try:
            self.periodic = stat.S_ISREG(os.stat(self.path).st_mode)
        except OSError:  # not there yet (or unreachable: the write will say)
            self.periodic = True

    def add(self, result: VideoResult) -> None:
        """Record one finished row; write the file when a checkpoint is due."""
        if self.no_series:
            result = dataclasses.replace(result, series={})
        self.rows.append(result)
        if self.periodic and time.monotonic() >= self._next:
            self.write()

    def write(self) -> None:
        """Write the rows so far (never raises: a failed checkpoint is skipped)."""
        from vqeval.report.jsonio import write_results

        t0 = time.monotonic()
        with contextlib.suppress(OSError, ValueError):
            write_results(self.path, self.rows, self.config)
        spent = time.monotonic() - t0
        self._next = time.monotonic() + max(self.every_s, 10 * spent)
