"""CSV export: one row per video, scores as ``score.<dimension>`` columns and
scalar raw values as ``raw.<dimension>.<key>`` columns (lists as JSON).

Cells are safe to open in a spreadsheet: text starting with ``= + - @``, tab
or a line break gets a leading apostrophe (:func:`vqeval.safetext.csv_cell`),
and records end with CRLF (RFC 4180), so a carriage return or line feed inside
a file name is quoted and stays inside one record."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any

from vqeval.fileio import write_atomic
from vqeval.results import VideoResult
from vqeval.resultsio import clean
from vqeval.safetext import csv_cell

INFO_FIELDS = ("fps", "frame_count", "width", "height", "codec", "duration_s")


def _cell(v: Any) -> Any:
    v = clean(v)
    if isinstance(v, (list, dict)):
        return json.dumps(v, separators=(",", ":"))
    return "" if v is None else v


def rows(results: list[VideoResult]) -> tuple[list[str], list[dict[str, Any]]]:
    """(header, rows) for ``results``; columns are the union over all videos."""
    dims: list[str] = []
    raw_cols: list[str] = []
    for r in results:
        for name, d in r.dimensions.items():
            if name not in dims:
                dims.append(name)
            for k in d.raw:
                col = f"raw.{name}.{k}"
                if col not in raw_cols:
                    raw_cols.append(col)
    header = [
        "path",
        "status",
        "error",
        "warnings",
        *INFO_FIELDS,
        "composite",
        "verdict",
        "flags",
        "loop_period_s",
        *[f"score.{d}" for d in dims],
        *raw_cols,
        "backbones",
        "elapsed_s",
        "cached",
    ]
    out = []
    for r in results:
        row: dict[str, Any] = {
            "path": r.path,
            "status": r.status,
            "error": r.error or "",
            "warnings": "; ".join(str(w) for w in r.analysis.get("warnings") or ()),
            "composite": _cell(r.composite),
            "verdict": r.verdict or "",
            "flags": ";".join(r.flags),
            "loop_period_s": _cell(r.loop_period_s),
            "backbones": ";".join(f"{k}={v}" for k, v in r.backbones.items()),
            "elapsed_s": round(r.elapsed_s, 4),
            "cached": r.cached,
        }
        for f in INFO_FIELDS:
            row[f] = _cell(getattr(r.info, f)) if r.info is not None else ""
        for name, d in r.dimensions.items():
            row[f"score.{name}"] = _cell(d.score)
            for k, v in d.raw.items():
                row[f"raw.{name}.{k}"] = _cell(v)
        out.append(row)
    return header, out


def dumps(results: list[VideoResult]) -> str:
    """CSV text for ``results``."""
    header, data = rows(results)
    buf = io.StringIO()
    # CRLF records: a CR or LF inside a cell is then quoted (QUOTE_MINIMAL
    # quotes the line terminator's characters), so a name never splits a row
    w = csv.DictWriter(buf, fieldnames=header, restval="", lineterminator="\r\n")
    w.writeheader()
    w.writerows({k: csv_cell(v) for k, v in row.items()} for row in data)
    return buf.getvalue()


def write_csv(path: str | os.PathLike[str], results: list[VideoResult]) -> Path:
    """Write the CSV atomically; returns the path."""
    return write_atomic(path, dumps(results))
