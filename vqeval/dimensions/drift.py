"""Drift dimension: the picture degrades relative to its opening.

Reads the per-frame colour statistics of the frame pass (feature
``colour``, :func:`metrics.drift.colour_stats`), the cuts and the optical
flow (``mean_mag``, for dying motion); the decision is
:func:`metrics.drift.drift_stats`. Adds the per-frame drift level to
its series ``"drift"`` (``DimensionScore.series``) (1 = at the threshold).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from vqeval.dimensions import Dimension, params_of, register
from vqeval.metrics.drift import DriftStats, drift_stats
from vqeval.params import DriftParams
from vqeval.results import DimensionScore

if TYPE_CHECKING:
    from vqeval.analysis import Analysis
    from vqeval.params import Params


def _r(x: float | None, nd: int = 4) -> float | None:
    return None if x is None or x != x else round(float(x), nd)


def drift_score(st: DriftStats, params: DriftParams | None = None) -> DimensionScore:
    """The ``drift`` :class:`DimensionScore` of :class:`metrics.drift.DriftStats` ``st``.

    Score 0-100, higher = better: ``100 x clip(full + 1 - level, 0, 1)`` with
    ``level`` the persistent drift level (0 = like the opening, 1 = at the
    threshold) and ``full`` the ``drift`` section's (0.5: 100 up to 0.5, 0
    from 1.5).
    """
    full = (params or DriftParams()).full
    score = 100.0 * min(1.0, max(0.0, (full + 1.0) - st.level))
    raw: dict[str, Any] = {
        "drift_level": _r(st.level),
        "drift_start_s": _r(st.start_s, 3),
        "drift_s": _r(st.length_s, 3),
        "moving": st.moving,
        "motion_pct_diag_s": _r(st.motion_pct_diag_s, 3),
        "saturation_growth": _r(st.growth.get("saturation")),
        "contrast_growth": _r(st.growth.get("contrast")),
        "clipping_growth": _r(st.growth.get("clipping")),
        "cast_delta_e": _r(st.growth.get("cast"), 2),
        "saturation_x": _r(st.ratios.get("saturation_x"), 3),
        "contrast_x": _r(st.ratios.get("contrast_x"), 3),
        "highlights": _r(st.ratios.get("highlights")),
        "shadows": _r(st.ratios.get("shadows")),
        "delta_e": _r(st.ratios.get("delta_e"), 2),
        "reason": st.reason,
        "flags": ["drift"] if st.drifted else [],
        "flag_details": [],
    }
    if st.drifted:
        raw["flag_details"] = [{"flag": "drift", "start_s": _r(st.start_s, 3), "reason": st.reason}]
    return DimensionScore("drift", round(score, 2), raw, "colour")


def compute_drift(analysis: Analysis, params: Params | None = None) -> DimensionScore:
    """``drift``: 100 = the picture keeps its opening's colour and exposure."""
    p = params_of(analysis, params).drift
    colour = analysis.require(["colour"]).colour
    assert colour is not None
    flow = analysis.flow
    motion = None if flow is None else np.asarray(flow.mean_mag, dtype=np.float64)
    st = drift_stats(
        colour, analysis.times_s, cuts=analysis.cuts, motion=motion, thresholds=p.thresholds()
    )
    return drift_score(st, p).with_series(drift=[round(float(v), 2) for v in st.level_series])


register(
    Dimension(
        name="drift",
        title="Drift",
        description=(
            "Whether the picture keeps its opening's colour and exposure: growth of "
            "white-balanced saturation, log-luma contrast, clipped highlights and shadows, "
            "and a palette shift along green-magenta (CIELAB a*), against the clip's opening, "
            "followed across cuts (a cut's jump and seconds whose picture is replaced do not "
            "count). Raw drift_level: 0 = like the opening, 1 = at the threshold. 100 = level "
            "<= 0.5, 0 = level >= 1.5. Flag 'drift': level >= 1 from its start to the end, "
            "for max(2 s, 10% of the duration); thresholds x4 while the picture moves faster "
            "than 6 %diag/s."
        ),
        weight=1.0,
        default=True,
        compute=compute_drift,
        family="drift",
        needs=("colour", "cuts", "flow"),
        raw_key="drift_level",
        raw_range=(0.0, None),
        raw_unit="growth / threshold (1 = flag threshold)",
        direction="lower",
        flags=("drift",),
        backbone="colour",
        short="drift",
    )
)
