"""Choose the ``loop`` flag's thresholds on labelled clips, and check that
the choice generalises (leave-one-source-out).

Four detectors raise ``loop`` (``vqeval/dimensions/repetition.py``); their
ten thresholds are chosen together:

==================  =========================================================
parameter           decides
==================  =========================================================
``min_away``        return after departure: the fraction of a period the
                    content must be away (:data:`metrics.repetition.MIN_AWAY`)
``strength``        return after departure: loop / ping-pong strength
                    (:data:`metrics.repetition.LOOP_STRENGTH_THRESHOLD`)
``tight_ratio``     replays: a match beyond the frames' noise
                    (:data:`metrics.replay.TIGHT_RATIO`)
``min_run_s``       replays: how long the matches must last
                    (:data:`metrics.replay.MIN_RUN_S`)
``neighbour_``      replays: the step (s) over which the neighbour distance
``step_s``          is taken (:data:`metrics.replay.NEIGHBOUR_STEP_S`)
``match_distance``  replays: how close a match must be, in the backbone's
                    change distances (:data:`metrics.replay.MATCH_DISTANCE`)
``jump_factor``,    jumps back: how large a step is a jump, how closely it
``back_ratio``,     lands on earlier content, how many evenly spaced ones
``min_jumps``       make a loop (:func:`metrics.replay.jumps_back`)
``return_ratio``    scene returns across cuts
                    (:data:`metrics.scenes.RETURN_RATIO`)
==================  =========================================================

The procedure is the project's (``benchmarks/calibrate.py``):

1. Every labelled clip is analysed once (frame embeddings of the default
   ``pixel`` backbone and the cuts); each detector is run once per value of
   its own parameter, so every combination of :data:`GRID` is decided
   without analysing again.
2. Each combination is scored by the **balanced accuracy** of the ``loop``
   flag (flagged for every ``loop`` clip, not flagged for every ``healthy``
   one; other labels take no part), averaged over the clip sets (each real
   set and the derived clips count equally).
3. Ties (a plateau) are broken towards its middle: per parameter the median
   grid index among the tied combinations, then the tied combination nearest
   to that point.

Leave-one-source-out: per source (the project a clip, or its parent, came
from) the thresholds are chosen on all other sources and applied to it; the
held-out flags of all folds are pooled.

Usage::

    python benchmarks/calibrate_loops.py --set real=../shared/realvideos \\
        --set svi=../shared/realvideos_svi --set derived=out/dev_failures \\
        --cache out/loop_cache --json benchmarks/results/loops.json \\
        --md benchmarks/results/loops.md
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from vqeval.metrics.repetition import (  # noqa: E402
    LOOP_STRENGTH_THRESHOLD,
    MIN_AWAY,
)
from vqeval.metrics.replay import (  # noqa: E402
    BACK_RATIO,
    JUMP_FACTOR,
    MATCH_DISTANCE,
    MIN_JUMPS,
    MIN_RUN_S,
    NEIGHBOUR_STEP_S,
    TIGHT_RATIO,
)
from vqeval.metrics.scenes import RETURN_RATIO  # noqa: E402

from vqeval.calibration import (  # noqa: E402
    LOOP_GRID,
    balanced_accuracy,
    loop_detections,
    loop_flags,
)
from vqeval.calibration import select as choose  # noqa: E402
from vqeval.config import ScoreConfig  # noqa: E402
from vqeval.params import LoopParams  # noqa: E402
from vqeval.pipeline import analyse  # noqa: E402

#: The grid every combination of which is scored (``vqeval calibrate``'s
#: loop grid, keys without their section).
GRID: dict[str, tuple[float, ...]] = {k.split(".", 1)[1]: v for k, v in LOOP_GRID.items()}
#: The library's values, reported next to the chosen ones.
DEFAULTS = {
    "min_away": MIN_AWAY,
    "strength": LOOP_STRENGTH_THRESHOLD,
    "tight_ratio": TIGHT_RATIO,
    "min_run_s": MIN_RUN_S,
    "neighbour_step_s": NEIGHBOUR_STEP_S,
    "match_distance": MATCH_DISTANCE,
    "jump_factor": JUMP_FACTOR,
    "back_ratio": BACK_RATIO,
    "min_jumps": MIN_JUMPS,
    "return_ratio": RETURN_RATIO,
}


@dataclass
class Case:
    """One labelled clip and its detectors' outputs on their grid axes."""

    name: str
    label: str
    source: str
    kind: str
    transform: str
    # vqeval.calibration.loop_detections: departure, replay, jumps back, scenes
    detections: tuple[np.ndarray, ...] = ()

    def flagged(self, p: dict[str, float]) -> bool:
        """The ``loop`` flag under thresholds ``p`` (values on :data:`GRID`)."""
        return bool(flag_tensor(self)[tuple(GRID[k].index(p[k]) for k in GRID)])


def _load(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def features(clip: Path, cache: Path | None) -> dict[str, Any]:
    """Trajectory (embeddings, rows' times, fps), cuts in rows and the
    backbone's change distance, from :func:`vqeval.pipeline.analyse`
    (cached in ``cache`` as ``.npz``)."""
    key = cache / f"{clip.parent.name}__{clip.stem}.npz" if cache else None
    got = _load(key) if key else None
    if got is not None:
        return got
    a = analyse(clip, ScoreConfig(), needs={"embeddings", "cuts"})
    tr = a.trajectory
    out = {
        "ssm": np.asarray(a.ssm, dtype=np.float32),
        "times": np.asarray(tr.times_s, dtype=np.float64),
        "fps": np.float64(tr.fps),
        "cuts": np.array(sorted({c // tr.group for c in a.cuts}), dtype=np.int64),
        "change": np.float64(a.backbone.change_distance),
    }
    if key:
        key.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(key, **out)
    return out


def collect(
    root: Path, kind: str, cache: Path | None, progress: Callable[[str], None] | None = None
) -> list[Case]:
    """Run every detector at every grid value on the clips of ``root/labels.json``."""
    labels = json.loads((root / "labels.json").read_text())
    out = []
    for name, lab in sorted(labels.items()):
        if lab.get("label") not in ("loop", "healthy") or not (root / name).exists():
            continue
        f = features(root / name, cache)
        case = Case(
            name=name,
            label=str(lab["label"]),
            source=str(lab.get("source", kind)).split(":", 1)[0],
            kind=kind,
            transform=str(lab.get("transform", "")),
            detections=loop_detections(
                f["ssm"], float(f["fps"]), f["times"], list(f["cuts"]), float(f["change"]),
                LoopParams(),
            ),
        )  # fmt: skip
        out.append(case)
        if progress:
            progress(f"{kind}/{name}")
    return out


def flag_tensor(c: Case) -> np.ndarray:
    """The ``loop`` flag of ``c`` for every combination of :data:`GRID`, as a
    boolean array with one axis per parameter (in :data:`GRID`'s order)."""
    return loop_flags(*c.detections)


def select(cases: Sequence[Case]) -> tuple[dict[str, float], float, int]:
    """The procedure of the module doc (``vqeval.calibration``'s balanced
    accuracy over the clip sets and plateau middle): (thresholds, accuracy,
    plateau size)."""
    acc = balanced_accuracy(
        np.stack([flag_tensor(c) for c in cases]),
        [c.label == "loop" for c in cases],
        [c.kind for c in cases],
    )
    chosen, best, ties, _ = choose(acc, GRID)
    return chosen, best, ties


def figures(cases: Sequence[Case], flags: dict[str, bool]) -> dict[str, Any]:
    """Per clip set and per derived transform: flagged / total."""
    out: dict[str, Any] = {}
    for kind in sorted({c.kind for c in cases}):
        sel = [c for c in cases if c.kind == kind]
        groups: dict[str, list[Case]] = {}
        for c in sel:
            groups.setdefault(c.transform or c.label, []).append(c)
        out[kind] = {
            g: {
                "label": cs[0].label,
                "flagged": sum(flags[c.name] for c in cs),
                "n": len(cs),
                "names": sorted(c.name for c in cs if flags[c.name] != (c.label == "loop")),
            }
            for g, cs in sorted(groups.items())
        }
    return out


def report(cases: list[Case], log: Callable[[str], None] = print) -> dict[str, Any]:
    """In-sample choice and leave-one-source-out figures."""
    chosen, acc, ties = select(cases)
    log(f"in-sample: {chosen} (balanced accuracy {acc:.4f}, {ties} tied)")
    folds, held = [], {}
    for src in sorted({c.source for c in cases}):
        train = [c for c in cases if c.source != src]
        test = [c for c in cases if c.source == src]
        p, a, t = select(train)
        for c in test:
            held[c.name] = c.flagged(p)
        folds.append({"source": src, "params": p, "train_accuracy": round(a, 4),
                      "plateau": t, "n_test": len(test)})  # fmt: skip
        log(f"fold {src}: {p} (train accuracy {a:.4f}, {t} tied, {len(test)} held out)")
    return {
        "procedure": "balanced accuracy of the loop flag, mean over clip sets; plateau middle",
        "grid": {k: list(v) for k, v in GRID.items()},
        "defaults": DEFAULTS,
        "chosen": chosen,
        "chosen_accuracy": round(acc, 4),
        "plateau": ties,
        "folds": folds,
        "in_sample": figures(cases, {c.name: c.flagged(chosen) for c in cases}),
        "defaults_in_sample": figures(cases, {c.name: c.flagged(DEFAULTS) for c in cases}),
        "loso": figures(cases, held),
    }


def markdown(rep: dict[str, Any]) -> str:
    """The report as Markdown (``benchmarks/results/loops.md``)."""
    lines = [
        "# Loop flag: thresholds chosen by the written procedure",
        "",
        "Generated by `python benchmarks/calibrate_loops.py` (do not edit by hand).",
        f"Procedure: {rep['procedure']} (module doc of `benchmarks/calibrate_loops.py`).",
        "",
        f"- chosen: `{rep['chosen']}` (balanced accuracy {rep['chosen_accuracy']:.4f}, "
        f"{rep['plateau']} combinations tied)",
        f"- library defaults: `{rep['defaults']}`",
        "",
        "## Leave-one-source-out folds",
        "",
        "| held-out source | clips | chosen on the others | train accuracy |",
        "| --- | --- | --- | --- |",
    ]
    for f in rep["folds"]:
        lines.append(
            f"| {f['source']} | {f['n_test']} | `{f['params']}` | {f['train_accuracy']:.4f} |"
        )
    lines += [
        "",
        "## Flagged / total, per clip set and derived family",
        "",
        "`loop` rows are recall (higher is better); `healthy` rows are false flags.",
        "",
        "| set | family | label | library defaults | in-sample | leave-one-source-out |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for kind, groups in rep["in_sample"].items():
        for g, v in groups.items():
            d = rep["defaults_in_sample"][kind][g]
            lo = rep["loso"][kind][g]
            lines.append(
                f"| {kind} | {g} | {v['label']} | {d['flagged']}/{d['n']} | "
                f"{v['flagged']}/{v['n']} | {lo['flagged']}/{lo['n']} |"
            )
    lines += ["", "## Misses and false flags (library defaults)", ""]
    for kind, groups in rep["defaults_in_sample"].items():
        for g, v in groups.items():
            if v["names"]:
                lines.append(f"- {kind} / {g}: {', '.join(v['names'])}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--set", action="append", default=[], help="KIND=FOLDER with labels.json")
    ap.add_argument("--cache", type=Path, default=None, help="folder for analysed features")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--md", type=Path, default=None)
    a = ap.parse_args(argv)
    cases: list[Case] = []
    for spec in a.set:
        kind, _, folder = spec.partition("=")
        root = Path(folder)
        if not (root / "labels.json").is_file():
            print(f"skipping {kind}: no labels.json in {root}", file=sys.stderr)
            continue
        cases += collect(root, kind, a.cache, progress=lambda s: print(s, flush=True))
    if not cases:
        print("no labelled clips", file=sys.stderr)
        return 2
    rep = report(cases)
    if a.json:
        a.json.write_text(json.dumps(rep, indent=1) + "\n")
    if a.md:
        a.md.write_text(markdown(rep))
    else:
        print(markdown(rep))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
