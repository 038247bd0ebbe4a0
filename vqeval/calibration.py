"""The project's threshold-selection procedure, and ``vqeval calibrate``.

**The procedure** (the one that chose the library defaults:
``benchmarks/calibrate.py``, ``benchmarks/calibrate_loops.py``; it lives here
and the benchmarks import it):

1. Every labelled clip is analysed once (:func:`vqeval.pipeline.analyse`);
   every threshold-dependent decision is re-made from the analysis, without
   decoding again.
2. Each point of a grid of thresholds is scored by its **balanced accuracy**
   (the mean of the share of failures caught and the share of healthy clips
   passed; averaged over clip sets when there are several).
3. Ties (a plateau) are broken towards its **middle**
   (:func:`plateau_middle`): per threshold the median grid index among the
   tied points, then the tied point nearest to it.

Leave-one-source-out (LOSO): per source (the ``source`` field of the labels,
the part before ``:``; the clip's folder when absent) the thresholds are
chosen on the other sources and applied to it; the held-out verdicts of all
folds are pooled. In-sample figures say how well the thresholds fit; LOSO
figures say how well they carry to a source they have not seen.

**What ``vqeval calibrate`` chooses**, one decision after the other:

1. ``loop``: the ten thresholds of :data:`LOOP_GRID`, by the balanced
   accuracy of the ``loop`` flag on the ``loop`` / ``pingpong`` clips against
   the healthy ones (kept at their base values with fewer than
   :data:`MIN_PER_CLASS` loop clips);
2. ``freeze`` (change floor, SNR floor, lively change, progress ratio) and
   ``collapse.dissolve_ratio``, by the balanced accuracy of the verdict
   (``failed``: any flag) on every failure against the healthy clips, the
   loop flags at step 1's choice and the other flags as scored;
3. ``composite.good``, the pass threshold, by the balanced accuracy of
   "failed or below ``good``" on the same clips, rescored with steps 1-2.

Everything else keeps its base value (``--params``, else the defaults).

**Healthy-only mode** (``--healthy-only``): a folder the user vouches for,
no failures to measure recall on, so thresholds are only ever *loosened*:
one threshold after the other (in the order of the grids, those already
moved kept moved), if more than ``max_false_alarm`` of the clips are flagged
by its decision, it moves to the nearest grid value where no more are, and
one grid step further (the margin); ``composite.good`` moves down to one grid
step below the composite of the worst healthy clip allowed to pass. A set
that needs no change gets the base values back.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vqeval.params import LoopParams, Params
from vqeval.results import ConfigError, DimensionScore

__all__ = [
    "FREEZE_GRID",
    "GOOD_GRID",
    "LOOP_GRID",
    "MIN_PER_CLASS",
    "Calibration",
    "LabelledClip",
    "balanced_accuracy",
    "calibrate",
    "load_clips",
    "loop_detections",
    "loop_flags",
    "plateau_middle",
    "select",
]

#: Fewest clips of a class the procedure accepts (healthy, failures; loop
#: clips for the loop thresholds).
MIN_PER_CLASS = 5
#: Labels not judged per clip: a ``slow`` clip fails only against a
#: reference (``vqeval compare``).
NOT_PER_CLIP = ("slow",)
#: Labels whose clips calibrate the loop thresholds.
LOOP_LABELS = ("loop", "pingpong")

#: Grids (dotted parameter -> candidate values), as the benchmarks use them.
LOOP_GRID: dict[str, tuple[float, ...]] = {
    "loop.min_away": (0.0, 0.15, 0.3, 0.45, 0.6),
    "loop.strength": (0.75, 0.8, 0.85, 0.9, 0.95),
    "loop.tight_ratio": (0.3, 0.4, 0.5, 0.6, 0.7),
    "loop.min_run_s": (1.0, 2.0, 3.0),
    "loop.neighbour_step_s": (0.125, 0.25, 0.5),
    "loop.match_distance": (1.0, 2.0, 4.0, 40.0),
    "loop.jump_factor": (3.0, 5.0, 8.0),
    "loop.back_ratio": (0.2, 0.35, 0.5),
    "loop.min_jumps": (2, 3, 4),
    "loop.return_ratio": (0.15, 0.25, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.75),
}
FREEZE_GRID: dict[str, tuple[float, ...]] = {
    "freeze.change_floor": (0.01, 0.015, 0.02, 0.03, 0.04),
    "freeze.snr_floor": (3.0, 5.0, 8.0, 10.0, 15.0, 25.0),
    "freeze.lively_change": (0.04, 0.06, 0.09, 0.15),
    "freeze.progress_ratio": (1.5, 2.0, 3.0),
    "collapse.dissolve_ratio": (0.2, 0.3, 0.4, 0.5),
}
GOOD_GRID: dict[str, tuple[float, ...]] = {
    "composite.good": tuple(float(x) for x in range(40, 95, 5)),
}


def loop_detections(
    ssm: np.ndarray,
    fps: float,
    times_s: np.ndarray,
    cuts: Sequence[int],
    change_distance: float,
    base: LoopParams,
    embeddings: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each ``loop`` detector over its own keys of :data:`LOOP_GRID`.

    Args:
        ssm: (T, T) self-similarity of the trajectory rows (-1..1).
        fps: rows per second.
        times_s: (T,) row times, s.
        cuts: rows that start a new shot.
        change_distance: the backbone's distance (0-2) that counts as change.
        base: the loop values the grid does not vary (``turn_strength``,
            ``return_threshold``, ``min_period_s``, ``min_returns``,
            ``min_shot_s``).
        embeddings: (T, d) rows for the departure detector (default: ``ssm``,
            which it does not read when ``ssm`` is given).

    Returns:
        (departure, replay, jumps, scenes): bool (min_away, strength); bool
        (tight_ratio, min_run_s, neighbour_step_s, match_distance); int (jump_factor,
        back_ratio), the longest chain of jumps back; bool (return_ratio,).
        :func:`loop_flags` combines them.
    """
    from vqeval.metrics.repetition import detect_repetition
    from vqeval.metrics.replay import detect_replay, jumps_back
    from vqeval.metrics.scenes import scene_returns

    g = LOOP_GRID
    ssm = np.asarray(ssm, dtype=np.float64)
    dist = np.clip(1.0 - ssm, 0.0, 2.0)
    emb = ssm if embeddings is None else embeddings
    dep = np.zeros((len(g["loop.min_away"]), len(g["loop.strength"])), bool)
    for i, m in enumerate(g["loop.min_away"]):
        r = detect_repetition(
            emb, fps, change_distance=change_distance, ssm=ssm, times_s=times_s, min_away=m,
            turn_strength=base.turn_strength, return_threshold=base.return_threshold,
            min_period_s=base.min_period_s,
        )  # fmt: skip
        turns = r.pingpong_strength > 0.0  # set only with >= 2 turning points
        for j, thr in enumerate(g["loop.strength"]):
            dep[i, j] = r.loop_strength >= thr or (turns and r.pingpong_strength >= thr)
    rep = np.array(
        [
            [
                [
                    [
                        detect_replay(dist, fps, times_s=times_s, tight_ratio=t, min_run_s=mr,
                                      min_period_s=base.min_period_s, neighbour_step_s=ns,
                                      max_distance=md * change_distance).detected
                        for md in g["loop.match_distance"]
                    ]
                    for ns in g["loop.neighbour_step_s"]
                ]
                for mr in g["loop.min_run_s"]
            ]
            for t in g["loop.tight_ratio"]
        ]
    )  # fmt: skip
    counts = np.array(
        [
            [
                jumps_back(dist, fps, times_s=times_s, jump_factor=jf, back_ratio=br,
                           min_jumps=1, min_period_s=base.min_period_s).count
                for br in g["loop.back_ratio"]
            ]
            for jf in g["loop.jump_factor"]
        ]
    )  # fmt: skip
    scn = np.array(
        [
            scene_returns(dist, list(cuts), times_s, change_distance=change_distance,
                          return_ratio=rr, min_returns=base.min_returns,
                          min_shot_s=base.min_shot_s).detected
            for rr in g["loop.return_ratio"]
        ]
    )  # fmt: skip
    return dep, rep, counts, scn


def loop_flags(
    departure: np.ndarray, replay: np.ndarray, jumps: np.ndarray, scenes: np.ndarray
) -> np.ndarray:
    """The ``loop`` flag on the whole of :data:`LOOP_GRID` from
    :func:`loop_detections` (any detector fired).

    Returns:
        bool array with one axis per key of :data:`LOOP_GRID`, in its order.
    """
    jmp = jumps[:, :, None] >= np.asarray(LOOP_GRID["loop.min_jumps"])[None, None, :]
    return (
        departure[:, :, None, None, None, None, None, None, None, None]
        | replay[None, None, :, :, :, :, None, None, None, None]
        | jmp[None, None, None, None, None, None, :, :, :, None]
        | scenes[None, None, None, None, None, None, None, None, None, :]
    )


# --------------------------------------------------------------- procedure


def plateau_middle(tied: Sequence[Any] | np.ndarray) -> int:
    """Step 3 of the procedure: the middle of a plateau.

    Args:
        tied: one row per tied grid point, its grid index per threshold (a
            single threshold may be given as a flat sequence of indices).

    Returns:
        The position in ``tied`` of the point nearest (sum of absolute index
        differences) to the per-threshold median index; the first on ties.
    """
    idx = np.asarray(tied, dtype=np.float64).reshape(len(tied), -1)
    centre = np.median(idx, axis=0)
    return int(np.argmin(np.abs(idx - centre).sum(axis=1)))


def select(
    accuracy: np.ndarray, grid: Mapping[str, Sequence[float]]
) -> tuple[dict[str, float], float, int, dict[str, tuple[float, float]]]:
    """Steps 2-3 over an accuracy tensor (one axis per key of ``grid``).

    Returns:
        (chosen values, best accuracy, plateau size, per key the (lowest,
        highest) value on the plateau).
    """
    acc = np.asarray(accuracy, dtype=np.float64)
    best = float(acc.max())
    tied = np.argwhere(acc >= best - 1e-12)
    pick = tied[plateau_middle(tied)]
    keys = list(grid)
    chosen = {k: grid[k][int(i)] for k, i in zip(keys, pick)}
    span = {
        k: (grid[k][int(tied[:, j].min())], grid[k][int(tied[:, j].max())])
        for j, k in enumerate(keys)
    }
    return chosen, best, len(tied), span


def balanced_accuracy(
    predicted: np.ndarray, failure: Sequence[bool], kinds: Sequence[str] | None = None
) -> np.ndarray:
    """Balanced accuracy of ``predicted`` failures, per grid point.

    Args:
        predicted: (N, ...) bool, clip ``i`` predicted failed at each grid point.
        failure: (N,) the truth.
        kinds: (N,) clip set of each clip; sets count equally (``None``: one set).

    Returns:
        The grid's shape: mean over sets of (failures caught + healthy
        passed) / 2 (a class absent from a set does not count).
    """
    pred = np.asarray(predicted, dtype=bool)
    truth = np.asarray(failure, dtype=bool)
    ks = np.asarray(kinds if kinds is not None else ["all"] * len(truth))
    per_kind = []
    for k in sorted(set(ks.tolist())):
        sel = ks == k
        rates = []
        if (sel & truth).any():
            rates.append(pred[sel & truth].mean(axis=0))
        if (sel & ~truth).any():
            rates.append(1.0 - pred[sel & ~truth].mean(axis=0))
        if rates:
            per_kind.append(np.mean(np.stack(rates), axis=0))
    return np.mean(np.stack(per_kind), axis=0)


# --------------------------------------------------------------- clips


@dataclass
class LabelledClip:
    """One clip, analysed once, with its label and what the decisions need."""

    name: str
    label: str
    source: str
    failure: bool
    analysis: Any
    dims: list[Any]
    _memo: dict[Any, Any] = field(default_factory=dict, repr=False)

    # ---- scoring under a tree

    def scores(self, params: Params) -> dict[str, DimensionScore]:
        key = ("scores", params)
        if key not in self._memo:
            self._memo[key] = {d.name: d.compute(self.analysis, params) for d in self.dims}
        return self._memo[key]  # type: ignore[no-any-return]

    def summary(self, params: Params) -> Any:
        from vqeval.scoring import summarize

        return summarize(self.scores(params), params=params)

    def other_flags(self, params: Params) -> bool:
        """A flag the calibrated thresholds do not decide (drift, flicker)."""
        keep = ("drift", "flicker")
        return any(
            f in keep
            for ds in self.scores(params).values()
            for f in (ds.raw or {}).get("flags", [])
        )

    # ---- decisions on a grid

    def loop_tensor(self, base: Params) -> np.ndarray:
        """The ``loop`` flag for every point of :data:`LOOP_GRID` (one axis per key)."""
        if "loop" in self._memo:
            return self._memo["loop"]  # type: ignore[no-any-return]
        a = self.analysis
        tr = a.trajectory
        out = loop_flags(
            *loop_detections(
                a.ssm, tr.fps, tr.times_s, sorted({c // tr.group for c in a.cuts}),
                a.backbone.change_distance, base.loop, tr.embeddings,
            )
        )  # fmt: skip
        self._memo["loop"] = out
        return out

    def freeze_tensor(self, base: Params) -> np.ndarray:
        """(frozen or collapse) for every point of :data:`FREEZE_GRID`."""
        if "freeze" in self._memo:
            return self._memo["freeze"]  # type: ignore[no-any-return]
        from vqeval.dimensions.content import collapse_of, fast_motion
        from vqeval.metrics.stillness import still_stats

        a, g = self.analysis, FREEZE_GRID
        fast = fast_motion(a, base.freeze.thresholds())
        keys = list(g)[:4]
        frozen = np.zeros(tuple(len(g[k]) for k in keys), bool)
        for idx in np.ndindex(frozen.shape):
            p = base.replace({k: g[k][i] for k, i in zip(keys, idx)})
            frozen[idx] = still_stats(a.content, a.duration_s, p.freeze.thresholds(), fast).frozen
        coll = np.array(
            [
                collapse_of(a, base.replace({"collapse.dissolve_ratio": d}).collapse).collapsed
                for d in g["collapse.dissolve_ratio"]
            ]
        )
        out = frozen[..., None] | coll[None, None, None, None, :]
        self._memo["freeze"] = out
        return out

    def loop_flag(self, base: Params, values: Mapping[str, float]) -> bool:
        t = self.loop_tensor(base)
        return bool(t[tuple(LOOP_GRID[k].index(values[k]) for k in LOOP_GRID)])


def _label_of(rec: Mapping[str, Any]) -> tuple[str, bool]:
    label = str(rec.get("label") or rec.get("class") or "")
    failure = rec.get("failure")
    return label, bool(failure) if isinstance(failure, bool) else label != "healthy"


def load_clips(
    root: str | os.PathLike[str],
    labels: str | os.PathLike[str] | None = None,
    *,
    healthy_only: bool = False,
    base: Params | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[LabelledClip]:
    """Analyse the clips of ``root`` once.

    Args:
        root: the folder.
        labels: a JSON file ``{file name or path relative to root: {"label"
            (or "class"): "healthy" | "loop" | "frozen" | ..., "source": ...,
            "failure": bool (optional)}}``; default ``root/labels.json``.
            Not needed with ``healthy_only`` (every video found is healthy).
        healthy_only: every clip is healthy.
        base: the tree the other decisions are scored with.
        progress: called with each clip's name.

    Raises:
        ConfigError: no labels, unreadable labels, or no clip.
    """
    from vqeval.config import ScoreConfig
    from vqeval.dimensions import resolve
    from vqeval.pipeline import analyse

    rootp = Path(root)
    if not rootp.is_dir():
        raise ConfigError(f"calibrate: {root} is not a folder")
    lab_path = Path(labels) if labels is not None else rootp / "labels.json"
    entries: list[tuple[Path, str, bool, str]] = []
    if lab_path.is_file():
        try:
            data = json.loads(lab_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise ConfigError(f"calibrate: cannot read labels {lab_path}: {e}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"calibrate: labels {lab_path}: expected a JSON object")
        for name, rec in sorted(data.items()):
            if not isinstance(rec, dict):
                raise ConfigError(f"calibrate: labels {lab_path}: {name}: expected an object")
            label, failure = _label_of(rec)
            path = rootp / name
            if label in NOT_PER_CLIP or not path.exists():
                continue
            if healthy_only and failure:
                continue
            src = rec.get("source")
            source = (
                str(src).split(":", 1)[0] if src else (path.parent.relative_to(rootp).as_posix())
            )
            entries.append((path, label, failure, source))
    elif labels is not None or not healthy_only:
        raise ConfigError(
            f"calibrate: no labels ({lab_path} not found); give --labels FILE, or "
            "--healthy-only for a folder of healthy clips"
        )
    if healthy_only and not entries:
        from vqeval.discover import find_videos

        for v in find_videos([str(rootp)])[0]:
            p = Path(v)
            entries.append((p, "healthy", False, p.parent.relative_to(rootp).as_posix()))
    if not entries:
        raise ConfigError(f"calibrate: no labelled clip found under {root}")
    config = ScoreConfig(params=base or Params())
    dims = resolve(config.dimensions, config)
    out = []
    for path, label, failure, source in entries:
        a = analyse(path, config)
        out.append(
            LabelledClip(
                name=path.relative_to(rootp).as_posix(),
                label=label,
                source=source or ".",
                failure=failure,
                analysis=a,
                dims=dims,
            )
        )
        if progress:
            progress(out[-1].name)
    return out


# --------------------------------------------------------------- calibration


@dataclass
class Calibration:
    """What :func:`calibrate` chose and how well it does.

    Attributes:
        params: the chosen tree (base values for what was not calibrated).
        chosen: dotted key -> chosen value, for every calibrated threshold.
        plateau: dotted key -> (lowest, highest) value on the plateau
            (labelled mode).
        accuracy: step -> best in-sample balanced accuracy.
        notes: lines about decisions kept or skipped.
        table: rows of the in-sample / LOSO table (``format_table``).
        folds: per held-out source, the values chosen without it.
    """

    params: Params
    chosen: dict[str, float]
    plateau: dict[str, tuple[float, float]] = field(default_factory=dict)
    accuracy: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    table: list[dict[str, Any]] = field(default_factory=list)
    folds: list[dict[str, Any]] = field(default_factory=list)


def _check_sizes(clips: Sequence[LabelledClip]) -> None:
    healthy = sum(not c.failure for c in clips)
    failures = sum(c.failure for c in clips)
    if healthy < MIN_PER_CLASS or failures < MIN_PER_CLASS:
        raise ConfigError(
            f"calibrate: too few clips to choose thresholds: {healthy} healthy and "
            f"{failures} failure(s); at least {MIN_PER_CLASS} of each are needed "
            "(better dozens, from several sources)"
        )


def _choose(
    clips: Sequence[LabelledClip], base: Params
) -> tuple[Params, dict[str, float], dict[str, tuple[float, float]], dict[str, float], list[str]]:
    """Steps 1-3 of the module doc on ``clips``."""
    notes: list[str] = []
    chosen: dict[str, float] = {}
    span: dict[str, tuple[float, float]] = {}
    acc: dict[str, float] = {}
    # 1. loop
    loops = [c for c in clips if c.label in LOOP_LABELS or not c.failure]
    n_loop = sum(c.label in LOOP_LABELS for c in clips)
    params = base
    if n_loop >= MIN_PER_CLASS and any(not c.failure for c in loops):
        t = np.stack([c.loop_tensor(base) for c in loops])
        a = balanced_accuracy(t, [c.failure for c in loops])
        ch, best, _, sp = select(a, LOOP_GRID)
        chosen.update(ch)
        span.update(sp)
        acc["loop"] = best
        params = params.replace(ch)
    else:
        notes.append(f"loop thresholds kept: {n_loop} loop clip(s), fewer than {MIN_PER_CLASS}")
    loop_values = {k: params.get(k) for k in LOOP_GRID}
    # 2. freeze + dissolve (other flags fixed: loop at step 1's values)
    fixed = np.array(
        [
            (c.loop_flag(base, loop_values) if _on_grid(loop_values) else False)
            or c.other_flags(base)
            for c in clips
        ]
    )
    t = np.stack([c.freeze_tensor(base) for c in clips])
    t = t | fixed.reshape((-1,) + (1,) * (t.ndim - 1))
    a = balanced_accuracy(t, [c.failure for c in clips])
    ch, best, _, sp = select(a, FREEZE_GRID)
    chosen.update(ch)
    span.update(sp)
    acc["freeze"] = best
    params = params.replace(ch)
    # 3. composite.good
    sums = [c.summary(params) for c in clips]
    goods = np.asarray(GOOD_GRID["composite.good"])
    pred = np.array(
        [bool(s.flags) | ((s.composite if s.composite is not None else 0.0) < goods) for s in sums]
    )
    a = balanced_accuracy(pred, [c.failure for c in clips])
    ch, best, _, sp = select(a, GOOD_GRID)
    if ch["composite.good"] < params.composite.fair:
        ch["composite.good"] = params.composite.fair
        notes.append("composite.good raised to composite.fair (it may not be below it)")
    chosen.update(ch)
    span.update(sp)
    acc["composite"] = best
    return params.replace(ch), chosen, span, acc, notes


def _on_grid(values: Mapping[str, float]) -> bool:
    return all(v in LOOP_GRID[k] for k, v in values.items())


def _healthy_only(
    clips: Sequence[LabelledClip], base: Params, max_false_alarm: float
) -> tuple[Params, dict[str, float], list[str]]:
    """The healthy-only rule of the module doc."""
    notes: list[str] = []
    chosen: dict[str, float] = {}
    n = len(clips)
    allowed = int(np.floor(max_false_alarm * n + 1e-9))
    for grid, tensor in ((LOOP_GRID, "loop"), (FREEZE_GRID, "freeze")):
        if not all(_value_on(grid[k], base.get(k)) is not None for k in grid):
            notes.append(f"{tensor} thresholds kept: a base value is off the grid")
            continue
        ts = np.stack(
            [c.loop_tensor(base) if tensor == "loop" else c.freeze_tensor(base) for c in clips]
        )
        at = [grid[k].index(_value_on(grid[k], base.get(k))) for k in grid]  # type: ignore[arg-type]
        for j, k in enumerate(grid):
            idx = list(at)
            counts = []
            for i in range(len(grid[k])):
                idx[j] = i
                counts.append(int(ts[(slice(None), *idx)].sum()))
            b = at[j]
            if counts[b] <= allowed:
                continue
            ok = [i for i, c in enumerate(counts) if c <= allowed]
            if not ok:
                notes.append(f"{k}: no grid value keeps the false alarms at {max_false_alarm:g}")
                continue
            i = min(ok, key=lambda i: (abs(i - b), i))
            step = 1 if i > b else -1
            if 0 <= i + step < len(counts) and counts[i + step] <= allowed:
                i += step  # one grid step of margin past the worst healthy clip
            chosen[k] = grid[k][i]
            at[j] = i  # the next thresholds are judged with this one moved
    params = base.replace(chosen)
    comps = sorted(
        (s.composite if s.composite is not None else 0.0)
        for s in (c.summary(params) for c in clips)
        if not s.flags
    )
    if comps:
        # the composite of the worst healthy clip that must pass
        worst = comps[min(len(comps) - 1, allowed)] if allowed else comps[0]
        goods = [g for g in GOOD_GRID["composite.good"] if g <= worst]
        below = [g for g in goods if g < worst]
        if params.composite.good > worst and below:
            pick = below[-2] if len(below) >= 2 else below[-1]  # one step of margin
            chosen["composite.good"] = max(pick, params.composite.fair)
    return base.replace(chosen), chosen, notes


def _value_on(grid: Sequence[float], v: float) -> float | None:
    for g in grid:
        if abs(g - v) < 1e-12:
            return g
    return None


def _table(
    clips: Sequence[LabelledClip],
    inside: Mapping[str, Any],
    held: Mapping[str, Any] | None,
    base: Params,
) -> list[dict[str, Any]]:
    rows = []
    for label in sorted({c.label for c in clips}, key=lambda x: (x != "healthy", x)):
        sel = [c for c in clips if c.label == label]
        rows.append(
            {
                "label": label,
                "failure": sel[0].failure,
                "n": len(sel),
                "base": sum(c.summary(base).verdict == "failed" for c in sel),
                "in_sample": sum(inside[c.name].verdict == "failed" for c in sel),
                "loso": None
                if held is None
                else sum(held[c.name].verdict == "failed" for c in sel),
            }
        )
    return rows


def calibrate(
    clips: Sequence[LabelledClip],
    base: Params | None = None,
    *,
    healthy_only: bool = False,
    max_false_alarm: float = 0.0,
    log: Callable[[str], None] | None = None,
) -> Calibration:
    """Choose thresholds on ``clips`` (see the module doc).

    Raises:
        ConfigError: too few clips (fewer than :data:`MIN_PER_CLASS` healthy or
            failures; in healthy-only mode fewer than that many clips).
    """
    base = base or Params()
    if healthy_only:
        if len(clips) < MIN_PER_CLASS:
            raise ConfigError(
                f"calibrate: too few clips: {len(clips)} healthy; at least {MIN_PER_CLASS} "
                "are needed (better dozens, from several sources)"
            )
        params, chosen, notes = _healthy_only(clips, base, max_false_alarm)
        inside = {c.name: c.summary(params) for c in clips}
        return Calibration(params, chosen, notes=notes, table=_table(clips, inside, None, base))
    _check_sizes(clips)
    params, chosen, span, acc, notes = _choose(clips, base)
    inside = {c.name: c.summary(params) for c in clips}
    sources = sorted({c.source for c in clips})
    held: dict[str, Any] | None = None
    folds: list[dict[str, Any]] = []
    if len(sources) > 1:
        held = {}
        for src in sources:
            train = [c for c in clips if c.source != src]
            test = [c for c in clips if c.source == src]
            if sum(c.failure for c in train) == 0 or all(c.failure for c in train):
                p = params
                why = "one class only without it: the in-sample choice"
            else:
                p = _choose(train, base)[0]
                why = ""
            for c in test:
                held[c.name] = c.summary(p)
            folds.append(
                {"source": src, "n_test": len(test), "note": why,
                 "values": {k: p.get(k) for k in chosen}}
            )  # fmt: skip
            if log:
                log(f"fold {src}: {len(test)} clip(s) held out")
    else:
        notes.append("leave-one-source-out: one source only, not computed")
    return Calibration(params, chosen, span, acc, notes, _table(clips, inside, held, base), folds)


def format_table(cal: Calibration) -> str:
    """The in-sample and leave-one-source-out table, as text."""
    lines = [
        f"{'label':<14} {'n':>4}  {'defaults':>9}  {'in-sample':>9}  {'leave-one-source-out':>20}",
    ]
    for r in cal.table:
        what = "caught" if r["failure"] else "failed: false alarms"
        loso = "-" if r["loso"] is None else f"{r['loso']}/{r['n']}"
        lines.append(
            f"{r['label']:<14} {r['n']:>4}  {r['base']:>3}/{r['n']:<5}  "
            f"{r['in_sample']:>3}/{r['n']:<5}  {loso:>20}   ({what})"
        )
    return "\n".join(lines)


def write_params(cal: Calibration, out: str | os.PathLike[str], header: str) -> None:
    """Write the chosen tree as TOML (read by ``vqeval score --params``)."""
    from vqeval.fileio import write_atomic

    text = cal.params.to_toml(header=header)
    write_atomic(Path(out), text)
