"""Composite, flag caps and verdicts (vqeval.scoring)."""

from __future__ import annotations

import pytest

from vqeval.dimensions import registry
from vqeval.results import DimensionScore
from vqeval.scoring import FLAG_CAPS, Summary, summarize, verdict_for


def _d(
    name: str, score: float | None, flags: tuple[str, ...] = (), **raw: object
) -> DimensionScore:
    return DimensionScore(name, score, {"flags": list(flags), **raw})


def test_weighted_mean_with_explicit_weights() -> None:
    s = summarize({"a": _d("a", 90), "b": _d("b", 60)}, weights={"a": 2.0, "b": 1.0})
    assert s == Summary(80.0, "good", (), None)


def test_registry_weights_are_used() -> None:
    reg = registry()
    assert reg["repetition"].weight > 0 and reg["progression"].weight > 0
    scores = {"repetition": _d("repetition", 100), "progression": _d("progression", 40)}
    w_r, w_p = reg["repetition"].weight, reg["progression"].weight
    expect = (100 * w_r + 40 * w_p) / (w_r + w_p)
    assert summarize(scores).composite == pytest.approx(expect, abs=0.01)


def test_none_scores_zero_weights_and_unknown_dimensions_do_not_count() -> None:
    w = {"a": 1.0, "b": 1.0, "z": 0.0}
    s = summarize({"a": _d("a", 80), "b": _d("b", None), "z": _d("z", 0), "u": _d("u", 0)}, w)
    assert s.composite == 80.0
    empty = summarize({}, w)
    assert empty.composite is None and empty.verdict is None and empty.flags == ()


@pytest.mark.parametrize("flag", sorted(FLAG_CAPS))
def test_each_flag_caps_and_fails(flag: str) -> None:
    s = summarize({"a": _d("a", 100, (flag,))}, {"a": 1.0})
    assert s.composite == FLAG_CAPS[flag] and s.verdict == "failed" and s.flags == (flag,)


def test_caps_order_and_lowest_cap_wins() -> None:
    s = summarize({"a": _d("a", 95, ("flicker", "loop")), "b": _d("b", 95, ("frozen",))},
                  {"a": 1.0, "b": 1.0})  # fmt: skip
    assert s.flags == ("frozen", "loop", "flicker")
    assert s.composite == FLAG_CAPS["frozen"]
    # a cap never raises a low composite
    low = summarize({"a": _d("a", 10, ("flicker",))}, {"a": 1.0})
    assert low.composite == 10.0
    # unknown flags are kept, sorted after the known ones, and still cap
    odd = summarize({"a": _d("a", 99, ("zzz", "loop"))}, {"a": 1.0})
    assert odd.flags == ("loop", "zzz") and odd.composite <= 50


def test_frozen_video_never_reads_good() -> None:
    # a frozen clip is perfectly consistent and smooth everywhere else
    scores = {n: _d(n, 100.0) for n in ("subject_consistency", "motion_smoothness", "a")}
    scores["freeze"] = _d("freeze", 0.0, ("frozen",))
    s = summarize(scores, {n: 1.0 for n in scores})
    assert s.verdict == "failed" and s.composite <= 30


def test_verdict_thresholds() -> None:
    assert verdict_for(70.0) == "good"
    assert verdict_for(69.99) == "fair"
    assert verdict_for(50.0) == "fair"
    assert verdict_for(49.9) == "poor"
    assert verdict_for(None) is None
    assert verdict_for(None, ("loop",)) == "failed"


def test_loop_period_taken_from_flagging_repetition() -> None:
    scores = {
        "repetition": _d("repetition", 5, ("loop",), loop_period_s=2.5),
        "other": _d("other", 90, (), loop_period_s=9.0),
    }
    assert summarize(scores, {"repetition": 1, "other": 1}).loop_period_s == 2.5
    no_loop = {"repetition": _d("repetition", 95, (), loop_period_s=None)}
    assert summarize(no_loop, {"repetition": 1}).loop_period_s is None
