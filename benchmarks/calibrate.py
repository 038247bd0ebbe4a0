"""Choose VQeval's decision thresholds on labelled clips, and check that the
choice generalises (leave-one-source-out).

The procedure (the one `docs/evidence.md` reports, and the one that set the
defaults in :mod:`metrics.content` and :mod:`metrics.detail`):

1. Every labelled clip is analysed once (:func:`vqeval.pipeline.analyse`);
   its content series, detail series, flow and every dimension score are
   kept, so the threshold-dependent decisions can be re-made without
   decoding again: ``freeze`` (change floor, SNR floor, lively change,
   progress ratio), ``detail`` (dissolve ratio) and ``motion_decay`` (which
   reads the frozen tail). Loop, flicker and the other dimensions do not
   depend on these thresholds.
2. Each combination of :data:`GRID` is scored by the **balanced accuracy**
   of the verdict (``failed`` for every loop/freeze clip, not ``failed``
   for every healthy one), averaged over the clip sets present (the real
   dev clips and the failures derived from their healthy clips by
   ``benchmarks/dev_failures.py`` count equally, so 142 derived clips do not
   drown 30 real ones).
3. Ties (several combinations share the best accuracy: a plateau) are
   broken towards the middle of the plateau: per threshold, the median grid
   index among the tied combinations; then the tied combination nearest to
   that point. The middle of a plateau is the choice with the most margin
   on every side; it uses no other information than the training clips.

Leave-one-source-out (LOSO): for each source (the project page a clip, or
its parent, came from), the thresholds are chosen by the same procedure on
the clips of all other sources and applied to that source's clips; the
held-out verdicts and composites of all folds are pooled and summarised
like the in-sample ones.

Usage (prints a summary; `benchmarks/evidence.py` writes the report)::

    python benchmarks/calibrate.py --real ../shared/realvideos --derived out/dev_failures
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from vqeval.metrics.detail import DISSOLVE_RATIO, collapse_stats  # noqa: E402
from vqeval.metrics.stats import auroc  # noqa: E402
from vqeval.metrics.stillness import Thresholds, still_stats  # noqa: E402

from vqeval.calibration import FREEZE_GRID, plateau_middle  # noqa: E402  (grid; step 3)
from vqeval.config import ScoreConfig  # noqa: E402
from vqeval.dimensions import resolve  # noqa: E402
from vqeval.dimensions.content import detail_score, fast_motion, freeze_score  # noqa: E402
from vqeval.dimensions.motion import motion_decay_score  # noqa: E402
from vqeval.pipeline import analyse  # noqa: E402
from vqeval.results import DimensionScore  # noqa: E402
from vqeval.scoring import Summary, summarize  # noqa: E402

#: Labels the per-clip judge is not asked about: a ``slow`` clip is a failure
#: only against the healthy clip of its prompt (``vqeval compare``).
NOT_PER_CLIP = ("slow",)
#: Flags that do not depend on the calibrated thresholds.
FIXED_FLAGS = ("loop", "flicker")


@dataclass(frozen=True)
class Params:
    """The calibrated thresholds (see :class:`metrics.stillness.Thresholds`
    and :func:`metrics.detail.collapse_stats`)."""

    change_floor: float
    snr_floor: float
    lively_change: float
    progress_ratio: float
    dissolve_ratio: float

    def thresholds(self) -> Thresholds:
        """The freeze :class:`Thresholds` of these parameters."""
        return replace(
            Thresholds(),
            change_floor=self.change_floor,
            snr_floor=self.snr_floor,
            lively_change=self.lively_change,
            progress_ratio=self.progress_ratio,
        )


def defaults() -> Params:
    """The library's current defaults."""
    th = Thresholds()
    return Params(
        th.change_floor, th.snr_floor, th.lively_change, th.progress_ratio, DISSOLVE_RATIO
    )


#: Candidate values per threshold (units: RMS Weber contrast for the change
#: thresholds, energy ratios for SNR and progress, a detail ratio for dissolve).
GRID: dict[str, tuple[float, ...]] = {k.split(".", 1)[1]: v for k, v in FREEZE_GRID.items()}
FREEZE_KEYS = ("change_floor", "snr_floor", "lively_change", "progress_ratio")


@dataclass
class Case:
    """One labelled clip, analysed once.

    Attributes:
        name: file name.
        label: ``healthy``, ``loop`` or ``frozen``.
        source: where it (or its parent) came from; the LOSO group.
        kind: ``real`` or ``derived``.
        transform: the dev-failure transform (``""`` for real clips).
        scores: every default dimension's score at the default thresholds.
    """

    name: str
    label: str
    source: str
    kind: str
    transform: str
    duration_s: float
    content: Any
    detail: np.ndarray
    sharpness: np.ndarray | None
    times_s: np.ndarray
    cuts: list[int]
    flow: Any
    fast: np.ndarray
    scores: dict[str, DimensionScore]
    _frozen: dict[tuple[float, ...], bool] = field(default_factory=dict, repr=False)
    _collapse: dict[float, bool] = field(default_factory=dict, repr=False)

    @property
    def failure(self) -> bool:
        return self.label != "healthy"

    @functools.cached_property
    def fixed_flag(self) -> bool:
        """A flag the calibrated thresholds do not touch (loop, flicker)."""
        return any(
            f in FIXED_FLAGS for ds in self.scores.values() for f in (ds.raw or {}).get("flags", [])
        )

    def frozen(self, p: Params) -> bool:
        key = tuple(getattr(p, k) for k in FREEZE_KEYS)
        if key not in self._frozen:
            st = still_stats(self.content, self.duration_s, p.thresholds(), self.fast)
            self._frozen[key] = st.frozen
        return self._frozen[key]

    def collapse(self, p: Params) -> bool:
        if p.dissolve_ratio not in self._collapse:
            cs = collapse_stats(
                self.detail,
                self.times_s,
                cuts=self.cuts,
                dissolve_ratio=p.dissolve_ratio,
                sharpness=self.sharpness,
            )
            self._collapse[p.dissolve_ratio] = cs.collapsed
        return self._collapse[p.dissolve_ratio]

    def failed(self, p: Params) -> bool:
        """Verdict ``failed`` under ``p`` (motion_decay implies frozen)."""
        return self.fixed_flag or self.frozen(p) or self.collapse(p)

    def rescore(self, p: Params) -> Summary:
        """Composite, verdict and flags under ``p``."""
        th = p.thresholds()
        st = still_stats(self.content, self.duration_s, th, self.fast)
        scores = dict(self.scores)
        scores["freeze"] = freeze_score(st, self.duration_s, th)
        cs = collapse_stats(
            self.detail,
            self.times_s,
            cuts=self.cuts,
            dissolve_ratio=p.dissolve_ratio,
            sharpness=self.sharpness,
        )
        scores["detail"] = detail_score(cs, self.duration_s)
        scores["motion_decay"] = motion_decay_score(self.flow, st, self.duration_s)
        return summarize(scores)


def collect(
    root: Path,
    kind: str,
    progress: Callable[[str], None] | None = None,
    only: Callable[[dict[str, Any]], bool] | None = None,
) -> list[Case]:
    """Analyse every clip listed in ``root/labels.json`` (``label``,
    ``source``; derived clips also ``transform``), or those whose label
    record passes ``only``."""
    config = ScoreConfig()
    dims = resolve(config.dimensions, config)
    labels = json.loads((root / "labels.json").read_text())
    out = []
    for name, lab in sorted(labels.items()):
        path = root / name
        if not path.exists() or (only is not None and not only(lab)):
            continue
        if lab.get("label") in NOT_PER_CLIP:
            continue  # judged against its reference by compare, not per clip
        a = analyse(path, config)
        scores = {d.name: d.compute(a) for d in dims}
        out.append(
            Case(
                name=name,
                label=str(lab["label"]),
                source=str(lab["source"]).split(":", 1)[0],
                kind=kind,
                transform=str(lab.get("transform", "")),
                duration_s=a.duration_s,
                content=a.content,
                detail=a.detail,
                sharpness=a.require(["detail"]).sharpness,
                times_s=a.times_s,
                cuts=a.cuts,
                flow=a.flow,
                fast=fast_motion(a),
                scores=scores,
            )
        )
        if progress:
            progress(name)
    return out


def _combos() -> list[Params]:
    keys = [f.name for f in fields(Params)]
    return [Params(**dict(zip(keys, vals))) for vals in itertools.product(*(GRID[k] for k in keys))]


def balanced_accuracy(cases: Iterable[Case], p: Params) -> float:
    """Mean over clip kinds of (failures failed + healthy not failed) / 2."""
    per_kind = []
    cases = list(cases)
    for kind in sorted({c.kind for c in cases}):
        sel = [c for c in cases if c.kind == kind]
        fail = [c.failed(p) for c in sel if c.failure]
        ok = [not c.failed(p) for c in sel if not c.failure]
        rates = [float(np.mean(x)) for x in (fail, ok) if x]
        per_kind.append(float(np.mean(rates)))
    return float(np.mean(per_kind))


def select(cases: list[Case]) -> tuple[Params, float, int]:
    """The procedure of the module doc: returns (params, accuracy, plateau size)."""
    combos = _combos()
    acc = np.array([balanced_accuracy(cases, p) for p in combos])
    best = acc.max()
    tied = [p for p, a in zip(combos, acc) if a >= best - 1e-12]
    keys = [f.name for f in fields(Params)]
    idx = [[GRID[k].index(getattr(p, k)) for k in keys] for p in tied]
    return tied[plateau_middle(idx)], float(best), len(tied)


def summarise(cases: list[Case], summaries: list[Summary]) -> dict[str, Any]:
    """The issue's figures for a set of clips and their verdicts."""
    pos = [-s.composite for c, s in zip(cases, summaries) if c.failure and s.composite is not None]
    neg = [
        -s.composite for c, s in zip(cases, summaries) if not c.failure and s.composite is not None
    ]
    out: dict[str, Any] = {"n": len(cases)}
    out["auroc"] = round(auroc(pos, neg), 4) if pos and neg else None
    for label in ("healthy", "frozen", "loop"):
        sel = [s for c, s in zip(cases, summaries) if c.label == label]
        failed = sum(1 for s in sel if s.verdict == "failed")
        key = "healthy_failed" if label == "healthy" else f"{label}_caught"
        out[key] = [failed, len(sel)]
    return out


def loso(cases: list[Case], log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Leave-one-source-out: per fold the chosen params; pooled held-out summaries."""
    folds = []
    held: dict[str, Summary] = {}
    for src in sorted({c.source for c in cases}):
        train = [c for c in cases if c.source != src]
        test = [c for c in cases if c.source == src]
        p, acc, ties = select(train)
        for c in test:
            held[c.name] = c.rescore(p)
        folds.append({"source": src, "params": vars(p), "train_accuracy": round(acc, 4),
                      "plateau": ties, "n_test": len(test)})  # fmt: skip
        if log:
            log(f"fold {src}: {vars(p)} (train acc {acc:.3f}, {ties} tied)")
    return {"folds": folds, "held_out": held}


def report(cases: list[Case]) -> dict[str, Any]:
    """In-sample choice and LOSO figures, per clip kind."""
    p, acc, ties = select(cases)
    ins = {c.name: c.rescore(p) for c in cases}
    lo = loso(cases, log=print)
    out: dict[str, Any] = {
        "grid": {k: list(v) for k, v in GRID.items()},
        "chosen": vars(p),
        "chosen_accuracy": round(acc, 4),
        "plateau": ties,
        "folds": lo["folds"],
        "by_kind": {},
    }
    for kind in sorted({c.kind for c in cases}):
        sel = [c for c in cases if c.kind == kind]
        out["by_kind"][kind] = {
            "in_sample": summarise(sel, [ins[c.name] for c in sel]),
            "loso": summarise(sel, [lo["held_out"][c.name] for c in sel]),
        }
        if kind == "derived":
            per = {}
            for tr in sorted({c.transform for c in sel}):
                part = [c for c in sel if c.transform == tr]
                per[tr] = {
                    "label": part[0].label,
                    "in_sample_failed": sum(ins[c.name].verdict == "failed" for c in part),
                    "loso_failed": sum(lo["held_out"][c.name].verdict == "failed" for c in part),
                    "n": len(part),
                }
            out["by_kind"][kind]["per_transform"] = per
    out["clips"] = {
        c.name: {
            "label": c.label,
            "source": c.source,
            "kind": c.kind,
            "in_sample": [ins[c.name].composite, list(ins[c.name].flags)],
            "loso": [lo["held_out"][c.name].composite, list(lo["held_out"][c.name].flags)],
        }
        for c in cases
    }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--real", type=Path, default=REPO.parent / "shared" / "realvideos")
    ap.add_argument("--derived", type=Path, default=None, help="benchmarks/dev_failures.py output")
    ap.add_argument("--json", type=Path, default=None, help="write the report here")
    args = ap.parse_args()
    cases = collect(args.real, "real")
    if args.derived:
        cases += collect(args.derived, "derived")
    print(f"{len(cases)} clips; defaults {vars(defaults())}")
    rep = report(cases)
    print(json.dumps({k: v for k, v in rep.items() if k != "clips"}, indent=1))
    if args.json:
        args.json.write_text(json.dumps(rep, indent=1) + "\n")


if __name__ == "__main__":
    main()
