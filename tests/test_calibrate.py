"""The threshold-selection procedure of ``benchmarks/calibrate.py``: balanced
accuracy per clip kind, ties broken towards the middle of the plateau, and
leave-one-source-out folds that never see the held-out source."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.conftest import load_script

cal = load_script("benchmarks/calibrate.py", "vqeval_calibrate")


@dataclass
class Stub:
    """A clip whose verdict is "failed" when change_floor <= its level."""

    name: str
    label: str
    level: float
    source: str = "a"
    kind: str = "real"

    @property
    def failure(self) -> bool:
        return self.label != "healthy"

    def failed(self, p) -> bool:  # type: ignore[no-untyped-def]
        return p.change_floor <= self.level


@pytest.fixture
def grid(monkeypatch):  # type: ignore[no-untyped-def]
    g = {k: (v[0],) for k, v in cal.GRID.items()}
    g["change_floor"] = (0.01, 0.02, 0.03, 0.04, 0.05, 0.06)
    monkeypatch.setattr(cal, "GRID", g)
    return g


def test_select_takes_the_middle_of_the_best_plateau(grid) -> None:
    # healthy clips pass from 0.02 up, failures are caught up to 0.05:
    # 0.02-0.05 all reach accuracy 1; the middle of that plateau is 0.03/0.04
    cases = [Stub("h", "healthy", 0.015), Stub("f", "frozen", 0.05)]
    p, acc, ties = cal.select(cases)
    assert acc == 1.0 and ties == 4
    assert p.change_floor in (0.03, 0.04)


def test_balanced_accuracy_weights_kinds_equally(grid) -> None:
    p = cal.Params(0.03, *(grid[k][0] for k in ("snr_floor", "lively_change",
                                                  "progress_ratio", "dissolve_ratio")))  # fmt: skip
    real = [Stub("h", "healthy", 0.0), Stub("f", "frozen", 0.0)]  # healthy ok, failure missed
    derived = [Stub(f"d{i}", "frozen", 1.0, kind="derived") for i in range(50)]  # all caught
    assert cal.balanced_accuracy(real, p) == pytest.approx(0.5)
    assert cal.balanced_accuracy(real + derived, p) == pytest.approx(0.75)


def test_loso_chooses_without_the_held_out_source(grid) -> None:
    # source b alone would want 0.06; trained on a only, its fold gets a's choice
    cases = [
        Stub("ha", "healthy", 0.005, "a"),
        Stub("fa", "frozen", 0.02, "a"),
        Stub("hb", "healthy", 0.055, "b"),
        Stub("fb", "frozen", 0.06, "b"),
    ]

    class Rescore:
        def __init__(self, c: Stub) -> None:
            self.c = c

        def __call__(self, p):  # type: ignore[no-untyped-def]
            return p

    for c in cases:
        c.rescore = Rescore(c)  # type: ignore[attr-defined]
    out = cal.loso(cases)
    folds = {f["source"]: f["params"]["change_floor"] for f in out["folds"]}
    assert folds["b"] in (0.01, 0.02)  # chosen on a: only 0.01-0.02 separate a's clips
    assert folds["a"] == 0.06  # chosen on b
    assert out["held_out"]["hb"].change_floor == folds["b"]
