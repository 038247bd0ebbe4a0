"""Content dimensions: ``freeze`` (the content stops changing) and ``detail``
(the picture keeps its texture instead of collapsing into blur).

Both read shared intermediates of the :class:`~vqeval.analysis.Analysis`:
``analysis.content`` (:class:`metrics.content.ContentSeries`, cut-aware) and
``analysis.detail`` (per-frame detail). ``freeze`` adds the per-pair
stillness as its series ``"still"`` (with ``"still_times_s"``) and
``detail`` the per-frame detail as ``"detail"`` (``DimensionScore.series``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vqeval.dimensions import Dimension, params_of, register
from vqeval.metrics.detail import collapse_stats
from vqeval.metrics.stillness import Thresholds, fast_pairs, still_stats
from vqeval.params import CollapseParams
from vqeval.results import DimensionScore

if TYPE_CHECKING:
    from vqeval.analysis import Analysis
    from vqeval.params import Params


def _r(x: float | None, nd: int = 4) -> float | None:
    return None if x is None else round(float(x), nd)


def fast_motion(analysis: Analysis, thresholds: Thresholds | None = None) -> Any:
    """Per content pair, whether the whole picture moves fast (:func:`metrics.
    stillness.fast_pairs`)."""
    th = thresholds or Thresholds()
    return fast_pairs(analysis.content, analysis.flow, max(analysis.frame_size), th.fast_motion)


def freeze_stats(analysis: Analysis, thresholds: Thresholds | None = None) -> Any:
    """:class:`metrics.stillness.StillStats` of ``analysis`` under ``thresholds``
    (default: those of ``analysis.config.params``), memoised per thresholds."""
    th = thresholds if thresholds is not None else params_of(analysis, None).freeze.thresholds()
    key = f"still_stats:{th!r}"
    st = analysis.memo.get(key)
    if st is None:
        fast = fast_motion(analysis, th)
        st = still_stats(analysis.content, analysis.duration_s, th, fast)
        analysis.memo[key] = st
    return st


def _pct(x: float) -> str:
    return f"{100.0 * x:.1f} %"


def freeze_reason(st: Any, th: Thresholds) -> str:
    """Words for why a frozen stretch is still, with its numbers."""
    if st.reason == "motion is noise":
        return f"motion is noise (SNR {st.snr_median:.1f} < {th.snr_floor:g})"
    if st.reason == "texture moves in place":
        return (
            f"texture moves in place (change {_pct(st.change_median)} of local contrast, "
            f"not progressing)"
        )
    return (
        f"content still (change {_pct(st.change_median)} of local contrast; "
        f"floor {_pct(th.change_floor)})"
    )


def freeze_score(st: Any, duration_s: float, th: Thresholds | None = None) -> DimensionScore:
    """The ``freeze`` :class:`DimensionScore` from :class:`StillStats` ``st``."""
    th = th or Thresholds()
    raw: dict[str, Any] = {
        "freeze_ratio": _r(st.freeze_ratio),
        "frozen_tail_start_s": _r(st.frozen_tail_start_s, 3),
        "frozen_tail_s": _r(st.frozen_tail_s, 3),
        "static_opening_s": _r(st.static_opening_s, 3),
        "duration_s": _r(duration_s, 3),
        "reason": st.reason,
        "change_median": _r(st.change_median, 5),
        "snr_median": _r(st.snr_median, 2),
        "flags": ["frozen"] if st.frozen else [],
        "flag_details": [],
    }
    if st.frozen:
        raw["flag_details"] = [
            {"flag": "frozen", "start_s": _r(st.start_s, 3), "reason": freeze_reason(st, th)}
        ]
    if len(st.still) == 0:
        raw["reason"] = "too short to compare content 1 s apart"
        return DimensionScore("freeze", None, raw, "content")
    return DimensionScore("freeze", round(100.0 * (1.0 - st.freeze_ratio), 2), raw, "content")


def compute_freeze(analysis: Analysis, params: Params | None = None) -> DimensionScore:
    """``freeze``: 100 = the content never stops changing; 0 = still throughout."""
    th = params_of(analysis, params).freeze.thresholds()
    st = freeze_stats(analysis, th)
    return freeze_score(st, analysis.duration_s, th).with_series(
        still=[None if v != v else round(float(v), 3) for v in st.still],
        still_times_s=[round(float(t), 3) for t in st.times_s],
    )


def detail_score(
    cs: Any, duration_s: float, params: CollapseParams | None = None
) -> DimensionScore:
    """The ``detail`` :class:`DimensionScore` from :class:`metrics.detail.CollapseStats`
    (``params``: the ``collapse`` section, default its defaults)."""
    p = params or CollapseParams()
    span = p.full_retention - p.dissolve_ratio
    if span > 0:
        score = 100.0 * min(1.0, max(0.0, (min(cs.retention, 1.0) - p.dissolve_ratio) / span))
    else:  # a step at the dissolve ratio
        score = 100.0 if min(cs.retention, 1.0) >= p.dissolve_ratio else 0.0
    if cs.collapsed and duration_s > 0:
        score = min(score, 100.0 * max(0.0, 1.0 - cs.length_s / duration_s))
    raw: dict[str, Any] = {
        "opening_detail": _r(cs.opening_detail, 5),
        "min_detail": _r(cs.min_detail, 5),
        "end_detail": _r(cs.end_detail, 5),
        "retention": _r(cs.retention),
        "collapse_start_s": _r(cs.start_s, 3),
        "collapse_s": _r(cs.length_s, 3),
        "sharpness_retention": _r(cs.sharpness_retention),
        "reason": cs.reason,
        "flags": ["collapse"] if cs.collapsed else [],
        "flag_details": [],
    }
    if cs.collapsed:
        if cs.reason == "dissolved":
            why = (
                f"dissolved into blur (detail {_pct(cs.min_detail)} vs {_pct(cs.opening_detail)} "
                "at the start)"
            )
        elif cs.reason == "blurred":
            why = (
                f"blurred: the finest detail fell to {_pct(cs.sharpness_retention or 0.0)} "
                "of the opening's share (accumulated within shots)"
            )
        else:
            why = f"featureless picture (detail {_pct(cs.min_detail)} of local contrast)"
        raw["flag_details"] = [{"flag": "collapse", "start_s": _r(cs.start_s, 3), "reason": why}]
    return DimensionScore("detail", round(score, 2), raw, "content")


def collapse_of(analysis: Analysis, params: CollapseParams) -> Any:
    """:class:`metrics.detail.CollapseStats` of ``analysis`` under ``params``."""
    return collapse_stats(
        analysis.detail,
        analysis.times_s,
        cuts=analysis.cuts,
        dissolve_ratio=params.dissolve_ratio,
        featureless=params.featureless,
        min_s=params.tail.min_s,
        min_fraction=params.tail.fraction,
        sharpness=analysis.require(["detail"]).sharpness,
        blur_ratio=params.blur_ratio,
    )


def compute_detail(analysis: Analysis, params: Params | None = None) -> DimensionScore:
    """``detail``: 100 = the picture keeps its texture; 0 = it collapsed into blur."""
    p = params_of(analysis, params).collapse
    d = analysis.detail
    return detail_score(collapse_of(analysis, p), analysis.duration_s, p).with_series(
        detail=[round(float(v), 5) for v in d]
    )


register(
    Dimension(
        name="freeze",
        title="Freeze",
        description=(
            "Share of the video whose content stops changing: windows of 0.5 s compared 1 s "
            "apart on illumination-free local contrast, per region, against the noise of each "
            "window; shimmer, twitching texture and flicker that go nowhere do not count, "
            "and a picture moving fast as a whole counts as changing. "
            "Raw freeze_ratio 0-1 excludes a still opening followed by change. 100 = never "
            "frozen, 0 = frozen throughout. Flag 'frozen': a still tail of at least "
            "max(1 s, 20% of the duration) or more than half the time still."
        ),
        weight=3.0,
        default=True,
        compute=compute_freeze,
        family="content",
        needs=("content", "flow"),
        raw_key="freeze_ratio",
        raw_range=(0.0, 1.0),
        raw_unit="fraction of the video still",
        direction="lower",
        flags=("frozen",),
        backbone="content",
        short="freeze",
    )
)
register(
    Dimension(
        name="detail",
        title="Detail",
        description=(
            "Whether the picture keeps its fine texture: detail (RMS fine-scale local "
            "contrast) at the end relative to the opening. 100 = at least 70% kept, 0 = 30% "
            "or less. Flag 'collapse': detail below 30% of the opening's, below 0.8% "
            "(featureless), or the finest-scale share of the detail below 80% of the "
            "opening's, followed across cuts (blurred), for max(1 s, 20% of the duration)."
        ),
        weight=1.0,
        default=True,
        compute=compute_detail,
        family="content",
        needs=("detail", "cuts"),
        raw_key="retention",
        raw_range=(0.0, None),
        raw_unit="end / opening detail ratio",
        direction="higher",
        flags=("collapse",),
        backbone="content",
        short="detail",
    )
)
