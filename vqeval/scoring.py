"""Composite score, failure flags and verdict of one video.

The composite is the weighted mean of the dimension scores (0-100) with the
weights declared in the dimension registry; dimensions whose score is
``None`` or whose weight is 0 do not count. Every failure flag raised by a
dimension (``raw["flags"]``) caps the composite, so that a video that fails
in one way cannot buy a good composite with high scores elsewhere (a frozen
video is perfectly "consistent" and "smooth"):

=============== ====== ===============================================
flag            cap    meaning
=============== ====== ===============================================
``frozen``       30    the content stops changing for a large part
``collapse``     30    the picture dissolves into a featureless blur
``loop``         40    content returns to earlier content and repeats
``motion_decay`` 50    motion dies out over the video
``drift``        50    colour / exposure degrade relative to the opening
``flicker``      60    frame-to-frame brightness / colour jumps
=============== ====== ===============================================

An unknown flag caps at 50. Verdict: ``"failed"`` when any flag is raised,
else ``"good"`` (composite >= 70), ``"fair"`` (>= 50) or ``"poor"``; ``None``
when nothing could be scored.

The caps and the verdict thresholds above are the defaults of
:class:`vqeval.params.Params` (each flag's section ``cap``, and the
``composite`` section); :func:`summarize` and :func:`verdict_for` take the
tree the video was scored with.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from vqeval.params import FLAG_SECTIONS, Params
from vqeval.results import DimensionScore, FlagDetail

__all__ = [
    "FLAG_CAPS",
    "FLAG_ORDER",
    "VERDICT_FAIR",
    "VERDICT_GOOD",
    "Summary",
    "summarize",
    "verdict_for",
]

#: Known failure flags, in the order they are reported.
FLAG_ORDER: tuple[str, ...] = tuple(FLAG_SECTIONS)
#: Failure flag -> the highest composite (0-100) a video with that flag gets,
#: under the default parameters (a view of ``Params().caps()``; scoring reads
#: the tree it is given).
FLAG_CAPS: dict[str, float] = Params().caps()
#: Cap for a flag not listed in :data:`FLAG_CAPS` (default parameters).
DEFAULT_FLAG_CAP = Params().composite.other_cap
#: Lowest composite that reads "good" without flags (default parameters).
VERDICT_GOOD = Params().composite.good
#: Lowest composite that reads "fair" without flags (default parameters).
VERDICT_FAIR = Params().composite.fair


@dataclass(frozen=True)
class Summary:
    """The per-video summary of all dimension scores.

    Attributes:
        composite: 0-100 weighted mean after the flag caps, higher is better;
            ``None`` when no weighted dimension has a score.
        verdict: ``"good"``, ``"fair"``, ``"poor"``, ``"failed"`` or ``None``.
        flags: failure flags raised by any dimension, known flags first in
            the order of :data:`FLAG_CAPS`, then others alphabetically.
        loop_period_s: loop period in seconds when a loop was flagged.
        flag_details: one :class:`~vqeval.results.FlagDetail` per flag, in
            the order of ``flags``: from the first dimension (registry order)
            that explains it in ``raw["flag_details"]``, else a bare one.
    """

    composite: float | None
    verdict: str | None
    flags: tuple[str, ...]
    loop_period_s: float | None
    flag_details: tuple[FlagDetail, ...] = ()


def verdict_for(
    composite: float | None, flags: tuple[str, ...] = (), params: Params | None = None
) -> str | None:
    """Verdict word of a composite (0-100) and its flags (thresholds: the
    ``composite`` section of ``params``, default the defaults)."""
    if flags:
        return "failed"
    if composite is None:
        return None
    c = (params or Params()).composite
    if composite >= c.good:
        return "good"
    if composite >= c.fair:
        return "fair"
    return "poor"


def _weights() -> dict[str, float]:
    from vqeval.dimensions import registry

    return {name: d.weight for name, d in registry().items()}


def summarize(
    scores: Mapping[str, DimensionScore],
    weights: Mapping[str, float] | None = None,
    params: Params | None = None,
) -> Summary:
    """Combine dimension scores into a composite, flags and a verdict.

    Args:
        scores: dimension name -> :class:`DimensionScore` (score 0-100 or None).
        weights: name -> weight override; ``None`` = the registry weights.
            Dimensions absent from the weights count with weight 0.
        params: the decision parameters (flag caps, verdict thresholds);
            ``None`` = the defaults.

    Returns:
        :class:`Summary`.
    """
    p = params or Params()
    w = _weights() if weights is None else dict(weights)
    total = wsum = 0.0
    flags: set[str] = set()
    details: dict[str, FlagDetail] = {}
    for name, ds in scores.items():
        raw = ds.raw or {}
        for f in raw.get("flags") or ():
            flags.add(str(f))
        for d in raw.get("flag_details") or ():
            if isinstance(d, dict) and str(d.get("flag")) in map(str, raw.get("flags") or ()):
                fd = FlagDetail.from_dict({**d, "dimension": d.get("dimension") or name})
                details.setdefault(fd.flag, fd)
        weight = float(w.get(name, 0.0))
        if ds.score is None or weight <= 0:
            continue
        total += weight * float(ds.score)
        wsum += weight
    composite = total / wsum if wsum > 0 else None
    order = list(FLAG_ORDER)
    ordered = tuple(sorted(flags, key=lambda f: (order.index(f) if f in order else len(order), f)))
    if composite is not None:
        for f in ordered:
            composite = min(composite, p.cap(f))
        composite = round(composite, 2)

    loop_period_s = None
    if "loop" in flags:
        rep = scores.get("repetition")
        cands = [rep] if rep is not None else []
        cands += [d for n, d in scores.items() if n != "repetition"]
        for ds in cands:
            v = (ds.raw or {}).get("loop_period_s")
            if v is not None and "loop" in ((ds.raw or {}).get("flags") or ()):
                loop_period_s = float(v)
                break
    fds = tuple(details.get(f) or FlagDetail(f, None, "") for f in ordered)
    return Summary(composite, verdict_for(composite, ordered, p), ordered, loop_period_s, fds)
