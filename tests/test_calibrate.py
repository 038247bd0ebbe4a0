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


# ------------------------------------------------------------------ vqeval calibrate

import json  # noqa: E402
import shutil  # noqa: E402
from pathlib import Path  # noqa: E402

from tests.cli import invoke, one_error_line  # noqa: E402
from tests.conftest import SAMPLES, realvideos_dir  # noqa: E402
from vqeval import calibration as vc  # noqa: E402
from vqeval.params import Params  # noqa: E402
from vqeval.results import ConfigError  # noqa: E402

#: A derived set of two sources (folders, no ``source`` field): each holds
#: healthy clips, freezes and loops of the samples.
DERIVED = {
    "a": ["healthy_object_brick", "healthy_object_coffee", "healthy_object_hubble",
          "healthy_object_ihc", "healthy_object_retina", "frozen_camera", "frozen_coffee_jitter",
          "frozen_hubble_jitter", "loop_astronaut", "loop_coffee", "loop_hubble_object"],
    "b": ["healthy_pan_coffee", "healthy_pan_coins_zoom", "healthy_pan_hubble",
          "healthy_pan_retina_fast", "healthy_pan_rocket", "frozen_rocket_after_start",
          "frozen_brick_object_after_start", "loop_ihc_object", "loop_rocket_exact",
          "pingpong_coffee"],
}  # fmt: skip


def _derived(root: Path) -> Path:
    labels = json.loads((SAMPLES / "labels.json").read_text())
    out = {}
    for src, names in DERIVED.items():
        (root / src).mkdir(parents=True)
        for n in names:
            shutil.copy(SAMPLES / f"{n}.mp4", root / src / f"{n}.mp4")
            lab = labels[f"{n}.mp4"]
            out[f"{src}/{n}.mp4"] = {"class": lab["class"], "failure": lab["failure"]}
    (root / "labels.json").write_text(json.dumps(out))
    return root


@pytest.fixture(scope="module")
def derived(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[vc.LabelledClip]]:
    if not (SAMPLES / "labels.json").is_file():
        pytest.skip("data/samples/labels.json missing")
    root = _derived(tmp_path_factory.mktemp("derived"))
    return root, vc.load_clips(root)


def test_plateau_middle_is_the_packages() -> None:
    assert cal.plateau_middle is vc.plateau_middle


@pytest.mark.slow  # the derived set's module fixture analyses 21 clips (~30 s)
def test_calibrate_on_a_derived_set(derived) -> None:  # type: ignore[no-untyped-def]
    _, clips = derived
    assert {c.source for c in clips} == {"a", "b"}  # by folder
    out = vc.calibrate(clips)
    assert out.accuracy["freeze"] == 1.0 and out.accuracy["composite"] == 1.0
    for k, v in out.chosen.items():
        grid = {**vc.LOOP_GRID, **vc.FREEZE_GRID, **vc.GOOD_GRID}[k]
        assert v in grid and out.params.get(k) == v
        lo, hi = out.plateau[k]
        assert lo <= v <= hi
    assert [f["source"] for f in out.folds] == ["a", "b"]
    rows = {r["label"]: r for r in out.table}
    assert rows["frozen"]["in_sample"] == rows["frozen"]["n"]
    assert rows["healthy_object"]["in_sample"] == 0 and rows["healthy_pan"]["in_sample"] == 0
    assert all(r["loso"] is not None for r in out.table)
    text = vc.format_table(out)
    assert "leave-one-source-out" in text and "frozen" in text


@pytest.mark.slow  # the derived set's module fixture analyses 21 clips (~30 s)
def test_calibrate_cli_writes_a_file_score_reads(derived, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root, _ = derived
    out = tmp_path / "p.toml"
    code, stdout, err = invoke(["calibrate", str(root), "--out", str(out)])
    assert code == 0, err
    assert "leave-one-source-out" in stdout and "freeze.change_floor" in stdout
    assert "warning: 2 source(s)" in err
    assert Params.from_toml(out).composite.good in vc.GOOD_GRID["composite.good"]
    assert out.read_text().startswith("# vqeval calibrate")
    res = tmp_path / "r.json"
    clip = root / "a" / "frozen_camera.mp4"
    code, _, err = invoke(["score", str(clip), "--params", str(out), "--no-cache", "-j", "1",
                           "--json", str(res)])  # fmt: skip
    assert code == 0, err
    assert json.loads(res.read_text())["results"][0]["verdict"] == "failed"


@pytest.mark.slow  # the derived set's module fixture analyses 21 clips (~30 s)
def test_calibrate_refuses_too_small_a_set(derived, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, clips = derived
    few = [c for c in clips if not c.failure][:4] + [c for c in clips if c.failure][:6]
    with pytest.raises(ConfigError, match=r"too few clips.*4 healthy.*at least 5"):
        vc.calibrate(few)
    root = tmp_path / "few"
    root.mkdir()
    for n in ("healthy_pan_coffee", "frozen_camera"):
        shutil.copy(SAMPLES / f"{n}.mp4", root / f"{n}.mp4")
    few_labels = {"healthy_pan_coffee.mp4": {"label": "healthy"},
                  "frozen_camera.mp4": {"label": "frozen"}}  # fmt: skip
    (root / "labels.json").write_text(json.dumps(few_labels))
    code, _, err = invoke(["calibrate", str(root), "--out", str(tmp_path / "x.toml")])
    assert code == 2 and "too few clips" in one_error_line(err)
    assert not (tmp_path / "x.toml").exists()
    code, _, err = invoke(["calibrate", str(tmp_path / "nolabels"), "--out", "x.toml"])
    assert code == 2


@pytest.mark.slow  # the derived set's module fixture analyses 21 clips (~30 s)
def test_healthy_only_keeps_defaults_on_a_clean_set(derived) -> None:  # type: ignore[no-untyped-def]
    _, clips = derived
    healthy = [c for c in clips if not c.failure]
    out = vc.calibrate(healthy, healthy_only=True)
    assert out.chosen == {} and out.params == Params()  # no false alarm: nothing moves
    assert all(r["in_sample"] == 0 for r in out.table)


@pytest.mark.slow  # the derived set's module fixture analyses 21 clips (~30 s)
def test_healthy_only_moves_past_the_worst_healthy_clip(derived) -> None:  # type: ignore[no-untyped-def]
    _, clips = derived
    healthy = [c for c in clips if not c.failure]
    # a base stricter than the defaults fails a healthy clip: the freeze
    # thresholds loosen until none is failed, the others stay
    strict = Params().replace(
        {"freeze.change_floor": 0.04, "freeze.snr_floor": 25.0,
         "freeze.lively_change": 0.15, "freeze.progress_ratio": 3.0}
    )  # fmt: skip
    before = sum(c.summary(strict).verdict == "failed" for c in healthy)
    out = vc.calibrate(healthy, strict, healthy_only=True)
    after = sum(c.summary(out.params).verdict == "failed" for c in healthy)
    assert before >= 1 and after == 0, (before, after, out.chosen, out.notes)
    assert set(out.chosen) <= set(vc.FREEZE_GRID) | {"composite.good"}
    assert all(out.params.get(k) <= strict.get(k) for k in out.chosen if k.startswith("freeze"))


@pytest.mark.slow
@pytest.mark.realvideos
def test_calibrated_file_reproduces_the_defaults_on_the_dev_set(tmp_path: Path) -> None:
    """On ``../shared/realvideos`` every library default lies on the plateau
    the procedure finds, and the calibrated file fails the same clips."""
    d = realvideos_dir()
    if d is None:
        pytest.skip("../shared/realvideos not present (only on the project's machines)")
    clips = vc.load_clips(d)
    out = vc.calibrate(clips)
    default = Params()
    for k, (lo, hi) in out.plateau.items():
        assert lo <= default.get(k) <= hi, (k, default.get(k), (lo, hi))
    f = tmp_path / "dev.toml"
    vc.write_params(out, f, "dev set")
    p = Params.from_toml(f)
    assert p == out.params
    for c in clips:
        assert (c.summary(p).verdict == "failed") == (c.summary(default).verdict == "failed"), (
            c.name
        )
