"""What a batch of results adds up to, in words every output shares.

* :func:`verdict_counts` / :func:`verdict_line`: ``good 20, failed 10 (loop 5,
  frozen 5)``: videos per verdict, the failure flags behind ``failed``, and
  ``errors N`` for videos that could not be read. "failed" is a verdict (the
  video was scored and shows a failure); "errors" are videos that were never
  scored. The table, the results JSON (``summary``) and the Markdown and HTML
  reports use these two words and nothing else for them.
* :func:`skipped_notes`: one line per dimension that was selected but gave no
  score for some videos, with the reason the dimension gave (``text_alignment``
  without CLIP weights or without a prompt), for the terminal.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

from vqeval.results import VideoResult

#: Verdict words in display order (``vqeval.scoring.verdict_for``).
VERDICTS: tuple[str, ...] = ("good", "fair", "poor", "failed")
#: The word for videos that could not be scored (status ``error``).
ERRORS = "errors"


def verdict_counts(results: Sequence[VideoResult]) -> dict[str, Any]:
    """Videos per verdict, per failure flag among the failed ones, and errors.

    Returns:
        ``{"videos": n, "good": .., "fair": .., "poor": .., "failed": ..,
        "failed_flags": {flag: videos}, "errors": n_unreadable}``; a scored
        video without a verdict (no composite) counts under ``"unscored"``
        when there is one.
    """
    verdicts = Counter(r.verdict for r in results if r.ok)
    flags: Counter[str] = Counter()
    for r in results:
        if r.ok and r.verdict == "failed":
            flags.update(dict.fromkeys(r.flags, 1))
    out: dict[str, Any] = {"videos": len(results)}
    out.update({v: verdicts.get(v, 0) for v in VERDICTS})
    if verdicts.get(None):
        out["unscored"] = verdicts[None]
    out["failed_flags"] = dict(sorted(flags.items(), key=lambda kv: (-kv[1], kv[0])))
    out[ERRORS] = sum(not r.ok for r in results)
    return out


def verdict_line(results: Sequence[VideoResult]) -> str:
    """``good 20, failed 10 (loop 5, frozen 5), errors 1``: verdicts with at
    least one video (flags of the failed ones in brackets; a video with two
    flags counts under each), then the videos that could not be read."""
    c = verdict_counts(results)
    parts = []
    for v in VERDICTS:
        if c[v]:
            part = f"{v} {c[v]}"
            if v == "failed" and c["failed_flags"]:
                part += " (" + ", ".join(f"{k} {n}" for k, n in c["failed_flags"].items()) + ")"
            parts.append(part)
    if c.get("unscored"):
        parts.append(f"no verdict {c['unscored']}")
    if c[ERRORS]:
        parts.append(f"{ERRORS} {c[ERRORS]} (not readable, not scored)")
    return ", ".join(parts) or "no videos"


#: Numbers inside a reason (grouped as one kind of reason).
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def skipped_notes(results: Sequence[VideoResult]) -> list[str]:
    """One line per dimension and kind of reason left without a score on
    scored videos: ``text_alignment skipped for 3 of 5 videos: CLIP weights
    unavailable: ...``. Reasons that differ only in their numbers (``57
    moving pairs > 10 allowed``) are one kind; the line quotes the first."""
    ok = [r for r in results if r.ok]
    groups: dict[tuple[str, str], list[str]] = {}
    for r in ok:
        for name, d in r.dimensions.items():
            if d.score is None:
                reason = str((d.raw or {}).get("reason") or "no score")
                kind = _NUMBER.sub("#", reason)
                groups.setdefault((name, kind), []).append(reason)
    lines = []
    for (name, _kind), reasons in sorted(groups.items()):
        shown = reasons[0] if len(set(reasons)) == 1 else f"e.g. {reasons[0]}"
        lines.append(f"{name} skipped for {len(reasons)} of {len(ok)} video(s): {shown}")
    return lines
