"""Paired comparison of methods scored on the same videos.

The model of ``vqeval compare A B [C ...]``: pairing and statistics over
scored videos, nothing read or printed here. Loading an input (a folder of
videos, scored, or a results JSON) is :mod:`vqeval.sides`; the terminal table
is :mod:`vqeval.report.comparetext`, the Markdown and HTML reports
:mod:`vqeval.report.markdown` and :mod:`vqeval.report.html`. The first input
is the baseline; every other input is compared with it.

Videos are paired by a key derived from their path relative to the input
folder (:data:`MATCH_MODES`):

* ``stem`` (default): relative path without the file extension
  (``sub/clip.mp4`` pairs with ``sub/clip.webm``);
* ``relpath``: the exact relative path, extension included;
* ``name``: the file name without extension, sub-folders ignored.

For a results JSON the "folder" is the deepest folder holding every result
path. Keys that occur twice on one side are *ambiguous* and left out of the
pairing (listed with the unmatched ones).

Statistics per dimension (and for the ``composite``) come from
:func:`vqeval.stats.paired_stats`; failure flags and scoring errors are
counted per side over the paired videos. Which flags exist, each dimension's
direction and backbone come from the dimension declarations
(:class:`vqeval.dimensions.Dimension`): a dimension whose raw value is
"neither" better nor worse when higher (``motion_level``) gets the verdict
``higher`` / ``lower`` instead of ``better`` / ``worse``.

Per pair (:func:`pair_tempo`, :mod:`metrics.tempo`): the **tempo** (how fast
the method shows the baseline's content; 1.0 = same speed, 0.5 = half speed,
``None`` with a reason when the content does not correspond or a record has
no signature, e.g. scored with ``--no-series``), its confidence, the **motion
ratio** (method / baseline mean flow speed) and the **pair flags**:
``slow_motion`` when the method is clearly slower (:data:`PAIR_FLAGS`).
"""

from __future__ import annotations

import dataclasses
import os
import posixpath
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from vqeval._version import __version__
from vqeval.params import SlowMotionParams
from vqeval.results import (
    SCHEMA_VERSION,
    ConfigError,
    VideoResult,
)
from vqeval.stats import (
    DEFAULT_ALPHA,
    DEFAULT_N_BOOT,
    DEFAULT_SEED,
    DEFAULT_TIE_TOL,
    PairedStats,
    paired_stats,
)

#: Ways of pairing videos across inputs; the first is the default.
MATCH_MODES: tuple[str, ...] = ("stem", "relpath", "name")
#: Name of the aggregate score, accepted wherever a dimension name is.
COMPOSITE = "composite"
#: Pseudo-flags counted beside the dimensions' failure flags
#: (:func:`known_flags`): "error" = not scored, "any" = either.
ERROR_FLAG = "error"
ANY_FLAG = "any"
#: Fewest paired videos a comparison should have before its verdict is read.
MIN_PAIRS = 5
#: Flags raised on a pair (method against baseline), not on one video.
SLOW_MOTION = "slow_motion"
PAIR_FLAGS: tuple[str, ...] = (SLOW_MOTION,)


def min_pairs_for_verdict(alpha: float = DEFAULT_ALPHA) -> int:
    """Fewest pairs for which a verdict is possible at all: ``MIN_PAIRS``, or
    more when the exact two-sided signed-rank test cannot reach ``p < alpha``
    with fewer (its smallest p-value is ``2 / 2**n``: 6 pairs at alpha 0.05)."""
    n = 1
    while 2.0 / 2**n >= alpha and n < 64:
        n += 1
    return max(MIN_PAIRS, n)


def small_sample_note(n_pairs: int, alpha: float = DEFAULT_ALPHA) -> str | None:
    """One sentence when ``n_pairs`` is too few for a verdict, else ``None``."""
    need = min_pairs_for_verdict(alpha)
    if n_pairs >= need:
        return None
    return (
        f"only {n_pairs} paired video(s): too few for a verdict (needs at least {need} "
        f"at alpha {alpha:g}); its CIs and p-values are descriptive only"
    )


# --------------------------------------------------------------------------- inputs


@dataclass
class Side:
    """One input of a comparison: a label and its scored videos.

    Attributes:
        label: short name shown in reports (folder or file name).
        source: the path as given on the command line.
        results: one :class:`VideoResult` per video.
        root: folder that keys are computed relative to.
        settings: the scoring settings of the results
            (:func:`vqeval.settings.scoring_settings`); ``None`` = unknown
            (a results file from before they were recorded).
    """

    label: str
    source: str
    results: list[VideoResult]
    root: str
    settings: dict[str, Any] | None = None


# --------------------------------------------------------------------------- pairing


def match_key(path: str, root: str, match: str = "stem") -> str:
    """Pairing key of ``path`` relative to ``root`` (see :data:`MATCH_MODES`),
    in Unicode normal form NFC: ``café`` written precomposed (NFC, Linux) and
    decomposed (NFD, macOS file systems) is one key."""
    return unicodedata.normalize("NFC", _match_key(path, root, match))


def _match_key(path: str, root: str, match: str) -> str:
    if match not in MATCH_MODES:
        raise ConfigError(f"unknown match mode {match!r}; use one of {', '.join(MATCH_MODES)}")
    norm = os.path.normpath(path)
    rel = norm
    if root:
        r = os.path.normpath(root)
        try:
            inside = os.path.commonpath([os.path.abspath(norm), os.path.abspath(r)]) == (
                os.path.abspath(r)
            )
        except ValueError:
            inside = False
        if inside:
            rel = os.path.relpath(norm, r)
    rel = rel.replace(os.sep, "/")
    if match == "relpath":
        return rel
    stem_path, ext = posixpath.splitext(rel)
    if match == "stem":
        return stem_path if ext else rel
    return posixpath.basename(stem_path if ext else rel)


@dataclass
class Pairing:
    """Videos of two sides matched by key.

    Attributes:
        pairs: ``(key, baseline_result, method_result)`` sorted by key.
        only_baseline, only_method: keys present on one side only.
        ambiguous: keys occurring more than once on a side (not paired).
    """

    pairs: list[tuple[str, VideoResult, VideoResult]]
    only_baseline: list[str]
    only_method: list[str]
    ambiguous: list[str]


def _index(side: Side, match: str) -> tuple[dict[str, VideoResult], set[str]]:
    idx: dict[str, VideoResult] = {}
    dup: set[str] = set()
    for r in side.results:
        k = match_key(r.path, side.root, match)
        if k in idx:
            dup.add(k)
        idx[k] = r
    for k in dup:
        idx.pop(k, None)
    return idx, dup


def pair_sides(baseline: Side, method: Side, match: str = "stem") -> Pairing:
    """Match the videos of ``method`` with those of ``baseline``."""
    ia, da = _index(baseline, match)
    ib, db = _index(method, match)
    amb = sorted(da | db)
    common = sorted(set(ia) & set(ib))
    return Pairing(
        pairs=[(k, ia[k], ib[k]) for k in common],
        only_baseline=sorted(set(ia) - set(ib) - db),
        only_method=sorted(set(ib) - set(ia) - da),
        ambiguous=amb,
    )


# --------------------------------------------------------------------------- tempo


@dataclass(frozen=True)
class PairTempo:
    """Tempo and pair flags of one method video against its baseline video.

    Attributes:
        tempo: baseline seconds shown per method second (1.0 = same speed,
            0.5 = half speed); ``None`` when not measurable (``tempo_reason``).
        tempo_confidence: 0-1 (:func:`metrics.tempo.estimate_tempo`), ``None``
            when no alignment was tried.
        tempo_reason: why ``tempo`` is ``None``, else ``None``.
        motion_ratio: method / baseline mean flow speed (%diag/s each);
            ``None`` only when a side has no motion value.
        motion_baseline, motion_method: the two mean flow speeds, %diag/s.
        pair_flags: flags of the pair (``slow_motion``).
        reason: one line: what decided (tempo or motion ratio) and against what.
    """

    tempo: float | None = None
    tempo_confidence: float | None = None
    tempo_reason: str | None = None
    motion_ratio: float | None = None
    motion_baseline: float | None = None
    motion_method: float | None = None
    pair_flags: tuple[str, ...] = ()
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        def r(x: float | None, nd: int = 3) -> float | None:
            return None if x is None else round(float(x), nd)

        return {
            "tempo": r(self.tempo),
            "tempo_confidence": r(self.tempo_confidence),
            "tempo_reason": self.tempo_reason,
            "motion_ratio": r(self.motion_ratio),
            "motion_baseline": r(self.motion_baseline, 4),
            "motion_method": r(self.motion_method, 4),
            "pair_flags": list(self.pair_flags),
            "pair_reason": self.reason,
        }


def mean_motion(r: VideoResult) -> float | None:
    """Mean optical-flow speed of a scored video, %diag/s: the raw value of
    ``motion_level`` or ``motion_decay`` (kept with ``--no-series``), else the
    mean of the ``motion`` series; ``None`` when the record has none."""
    for dim in ("motion_level", "motion_decay"):
        d = r.dimensions.get(dim)
        v = None if d is None else d.raw.get("motion_mean_pct_diag_s")
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return float(v)
    m = r.series.get("motion")
    if isinstance(m, list):
        vals = [float(x) for x in m[1:] if isinstance(x, (int, float)) and x == x]
        if vals:
            return sum(vals) / len(vals)
    return None


def pair_tempo(
    baseline: VideoResult, method: VideoResult, params: SlowMotionParams | None = None
) -> PairTempo:
    """Tempo, motion ratio and pair flags of ``method`` against ``baseline``
    (:mod:`metrics.tempo`; thresholds: ``params``, the ``slow_motion``
    section of the parameter tree, defaults when ``None``)."""
    from vqeval.metrics import tempo as mt

    p = params or SlowMotionParams()

    if not (baseline.ok and method.ok):
        return PairTempo(tempo_reason="not scored", reason="not scored")
    mb, mm = mean_motion(baseline), mean_motion(method)
    ratio = mt.motion_ratio(mm, mb)
    sa = mt.signature_from_series(baseline.series)
    sb = mt.signature_from_series(method.series)
    tempo = conf = None
    why: str | None
    if sa is None or sb is None:
        side = "baseline" if sa is None else "method"
        why = (
            f"no frame signature in the {side} record (scored with --no-series or an older VQeval)"
        )
    else:
        est = mt.estimate_tempo(sa[0], sa[1], sb[0], sb[1], min_confidence=p.min_confidence)
        tempo, conf, why = est.tempo, est.confidence, est.reason
    dec = mt.slow_motion(
        tempo, ratio, mb, slow_tempo=p.slow_tempo, slow_ratio=p.slow_ratio,
        min_baseline_motion=p.min_baseline_motion,
    )  # fmt: skip
    return PairTempo(
        tempo=tempo,
        tempo_confidence=conf,
        tempo_reason=why,
        motion_ratio=ratio,
        motion_baseline=mb,
        motion_method=mm,
        pair_flags=(SLOW_MOTION,) if dec.flagged else (),
        reason=dec.reason,
    )


def count_pair_flags(tempos: Iterable[PairTempo]) -> dict[str, int]:
    """Pairs per pair flag (:data:`PAIR_FLAGS`)."""
    counts = dict.fromkeys(PAIR_FLAGS, 0)
    for t in tempos:
        for f in set(t.pair_flags):
            counts[f] = counts.get(f, 0) + 1
    return counts


def _median(xs: Sequence[float]) -> float | None:
    v = sorted(xs)
    if not v:
        return None
    h = len(v) // 2
    return v[h] if len(v) % 2 else 0.5 * (v[h - 1] + v[h])


def _no_pairs_message(base: Side, side: Side, pr: Pairing, match: str) -> str:
    """One line saying why ``side`` pairs no video with ``base``: names that
    differ, or names that repeat on a side (those are never paired)."""
    head = f"no videos in common between {base.source} and {side.source} (matched by {match})"
    if pr.ambiguous:
        shown = ", ".join(pr.ambiguous[:3]) + (" ..." if len(pr.ambiguous) > 3 else "")
        unique = len(pr.only_baseline) + len(pr.only_method)
        cause = (
            f": {len(pr.ambiguous)} name(s) occur more than once on one side and are not "
            f"paired ({shown})" + ("" if unique else "; no other name is left to pair")
        )
        fix = (
            "; keep one video per name on each side, or pair by path with --match relpath"
            if match != "relpath"
            else "; keep one video per path on each side"
        )
        return head + cause + fix
    ex_a = ", ".join(pr.only_baseline[:3]) or "none"
    ex_b = ", ".join(pr.only_method[:3]) or "none"
    return (
        head
        + f": the names differ, e.g. {ex_a} vs {ex_b}"
        + ("; try --match name" if match != "name" else "")
    )


# --------------------------------------------------------------------------- comparison


def metric_value(r: VideoResult, name: str) -> float | None:
    """Score (0-100) of dimension ``name`` or the composite; ``None`` if absent/failed."""
    if not r.ok:
        return None
    if name == COMPOSITE:
        return r.composite
    return r.score(name)


def known_flags() -> tuple[str, ...]:
    """Failure flags counted in reports, in display order: those the registered
    dimensions declare (:attr:`vqeval.dimensions.Dimension.flags`)."""
    try:
        from vqeval.dimensions import known_flags as declared

        return declared()
    except Exception:  # a broken family module must not break reports
        return ()


def count_flags(results: Iterable[VideoResult]) -> dict[str, int]:
    """Videos per failure flag, plus ``error`` (not scored) and ``any`` (either)."""
    counts = dict.fromkeys((*known_flags(), ERROR_FLAG, ANY_FLAG), 0)
    for r in results:
        for f in set(r.flags):
            counts[f] = counts.get(f, 0) + 1
        if not r.ok:
            counts[ERROR_FLAG] += 1
        if r.flags or not r.ok:
            counts[ANY_FLAG] += 1
    return counts


def dimension_titles() -> dict[str, str]:
    """Dimension name -> human title from the registry (plus the composite)."""
    titles = {COMPOSITE: "Composite"}
    try:
        from vqeval.dimensions import registry

        titles.update({n: d.title for n, d in registry().items()})
    except Exception:  # a broken family module must not break reports
        pass
    return titles


def dimension_declarations() -> dict[str, Any]:
    """Dimension name -> its :class:`~vqeval.dimensions.Dimension` (empty when
    the registry cannot be loaded)."""
    try:
        from vqeval.dimensions import registry

        return dict(registry())
    except Exception:  # a broken family module must not break reports
        return {}


def backbones_used(results: Iterable[VideoResult], name: str) -> list[str]:
    """The backbones dimension ``name`` ran on over ``results`` (each once, in
    order of first use); empty for the composite or when none is recorded."""
    out: list[str] = []
    for r in results:
        d = r.dimensions.get(name)
        if d is not None and d.backbone and d.backbone not in out:
            out.append(d.backbone)
    return out


def dimension_provenance(results: Sequence[VideoResult], name: str) -> tuple[str, str]:
    """(backbone(s), VBench relation) of dimension ``name`` over ``results``,
    for report columns: e.g. ``("pixel", "approximation")``, ``("dino",
    "same formula")``; ``("-", "-")`` for the composite and for dimensions
    the registry does not know (their relation is not declared)."""
    from vqeval.dimensions import VBENCH_RELATIONS

    if name == COMPOSITE:
        return "-", "-"
    dim = dimension_declarations().get(name)
    used = backbones_used(results, name)
    if dim is None:
        return ", ".join(used) or "-", "-"
    if not used and dim.backbone_for():
        used = [dim.backbone_for()]
    rels = [dim.vbench_for(b) for b in used] or [dim.vbench_for(None)]
    # the weakest relation wins: one heuristic value makes a mean not VBench's
    rel = max(rels, key=VBENCH_RELATIONS.index)
    return ", ".join(used) or "-", rel


def available_dimensions(results: Iterable[VideoResult]) -> list[str]:
    """``composite`` + dimensions present in ``results``, in registry order."""
    seen: list[str] = []
    for r in results:
        for k in r.dimensions:
            if k not in seen:
                seen.append(k)
    order = list(dimension_titles())
    known = [n for n in order if n in seen and n != COMPOSITE]
    return [COMPOSITE, *known, *sorted(n for n in seen if n not in order)]


def select_dimensions(available: Sequence[str], wanted: Sequence[str] | None) -> list[str]:
    """Filter ``available`` by the user's ``--dimensions`` (order of ``available``).

    Raises:
        ConfigError: a wanted name is neither a registered dimension, a
            dimension present in the results nor ``composite``.
    """
    if not wanted:
        return list(available)
    known = set(available) | set(dimension_titles())
    unknown = [w for w in wanted if w not in known]
    if unknown:
        raise ConfigError(
            f"unknown dimension(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    missing = [w for w in wanted if w not in available]
    if missing:
        raise ConfigError(
            f"dimension(s) {', '.join(missing)} not scored in these inputs "
            "(re-score with them or pick others)"
        )
    return [a for a in available if a in wanted]


@dataclass
class DimensionRow:
    """Statistics of one dimension for one method against the baseline."""

    name: str
    title: str
    stats: PairedStats
    backbone: str = "-"
    vbench: str = "-"


@dataclass
class MethodComparison:
    """One method compared with the baseline over their paired videos.

    Attributes:
        side: the method's input.
        pairing: which videos were paired / left out.
        rows: one :class:`DimensionRow` per compared dimension (composite first).
        flags_baseline, flags_method: flag counts over the paired videos.
        tempos: one :class:`PairTempo` per pair, in the order of ``pairing.pairs``.
        pair_flags: pairs per pair flag (``slow_motion``).
    """

    side: Side
    pairing: Pairing
    rows: list[DimensionRow]
    flags_baseline: dict[str, int]
    flags_method: dict[str, int]
    tempos: list[PairTempo] = dataclasses.field(default_factory=list)
    pair_flags: dict[str, int] = dataclasses.field(default_factory=dict)

    def tempo_summary(self) -> dict[str, Any]:
        """Median tempo and motion ratio over the pairs that have them."""
        ts = [t.tempo for t in self.tempos if t.tempo is not None]
        rs = [t.motion_ratio for t in self.tempos if t.motion_ratio is not None]
        med_t, med_r = _median(ts), _median(rs)
        return {
            "tempo_median": None if med_t is None else round(med_t, 3),
            "tempo_pairs": len(ts),
            "motion_ratio_median": None if med_r is None else round(med_r, 3),
        }


@dataclass
class Comparison:
    """Result of :func:`compare_sides`.

    Attributes:
        baseline: the first input.
        methods: one entry per other input, each against the baseline.
        dimensions: compared dimension names (``composite`` first).
        match: pairing mode; settings: statistics settings used.
    """

    baseline: Side
    methods: list[MethodComparison]
    dimensions: list[str]
    match: str
    settings: dict[str, Any]

    @property
    def _alpha(self) -> float:
        return float(self.settings.get("alpha", DEFAULT_ALPHA))

    def note(self, method: MethodComparison) -> str | None:
        """The small-sample warning for ``method`` (see :func:`small_sample_note`)."""
        return small_sample_note(len(method.pairing.pairs), self._alpha)

    @property
    def any_errors(self) -> bool:
        """True when any video on any side failed to score."""
        sides = [self.baseline, *(m.side for m in self.methods)]
        return any(not r.ok for s in sides for r in s.results)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``vqeval compare --json``)."""

        def side_d(s: Side) -> dict[str, Any]:
            return {
                "label": s.label,
                "source": s.source,
                "videos": len(s.results),
                "scoring_settings": s.settings,
            }

        return {
            "vqeval": __version__,
            "schema": SCHEMA_VERSION,
            "kind": "compare",
            "match": self.match,
            "settings": dict(self.settings),
            "baseline": side_d(self.baseline),
            "dimensions": list(self.dimensions),
            "methods": [
                {
                    **side_d(m.side),
                    "pairs": len(m.pairing.pairs),
                    "small_sample": self.note(m) is not None,
                    "note": self.note(m),
                    "unmatched_baseline": m.pairing.only_baseline,
                    "unmatched_method": m.pairing.only_method,
                    "ambiguous": m.pairing.ambiguous,
                    "dimensions": {
                        row.name: {
                            **row.stats.to_dict(),
                            "backbone": row.backbone,
                            "vbench": row.vbench,
                        }
                        for row in m.rows
                    },
                    "flags_baseline": m.flags_baseline,
                    "flags_method": m.flags_method,
                    "pair_flags": dict(m.pair_flags),
                    **m.tempo_summary(),
                    "videos": [
                        {
                            "key": k,
                            "baseline": ra.path,
                            "method": rb.path,
                            "scores_baseline": {d: metric_value(ra, d) for d in self.dimensions},
                            "scores_method": {d: metric_value(rb, d) for d in self.dimensions},
                            "flags_baseline": list(ra.flags),
                            "flags_method": list(rb.flags),
                            "error_baseline": ra.error,
                            "error_method": rb.error,
                            **(pt.to_dict() if pt is not None else {}),
                        }
                        for (k, ra, rb), pt in zip(
                            m.pairing.pairs, _padded(m.tempos, len(m.pairing.pairs))
                        )
                    ],
                }
                for m in self.methods
            ],
        }


def _padded(tempos: list[PairTempo], n: int) -> list[PairTempo | None]:
    return [*tempos[:n], *([None] * max(0, n - len(tempos)))]


def _neutral_verdict(st: PairedStats) -> PairedStats:
    """``better`` / ``worse`` read ``higher`` / ``lower`` for a dimension whose
    direction is "neither" (more is not better by itself)."""
    from vqeval.stats import VERDICT_BETTER, VERDICT_WORSE

    words = {VERDICT_BETTER: "higher", VERDICT_WORSE: "lower"}
    return dataclasses.replace(st, verdict=words.get(st.verdict, st.verdict))


def _unique_labels(sides: list[Side]) -> None:
    labels = [s.label for s in sides]
    for s in sides:
        if labels.count(s.label) > 1:
            s.label = s.source


def compare_sides(
    sides: Sequence[Side],
    *,
    match: str = "stem",
    dimensions: Sequence[str] | None = None,
    tie_tol: float = DEFAULT_TIE_TOL,
    alpha: float = DEFAULT_ALPHA,
    n_boot: int = DEFAULT_N_BOOT,
    seed: int = DEFAULT_SEED,
    params: SlowMotionParams | None = None,
) -> Comparison:
    """Compare every side after the first with the first (the baseline);
    ``params``: the ``slow_motion`` thresholds of the pair flags (defaults
    when ``None``).

    Raises:
        ConfigError: fewer than two sides, an unknown match mode or dimension,
            or a method that shares no video with the baseline.
    """
    if len(sides) < 2:
        raise ConfigError("compare needs at least two inputs (baseline and a method)")
    if match not in MATCH_MODES:
        raise ConfigError(f"unknown match mode {match!r}; use one of {', '.join(MATCH_MODES)}")
    sides = list(sides)
    _unique_labels(sides)
    base = sides[0]
    pairings = [pair_sides(base, s, match) for s in sides[1:]]
    for s, pr in zip(sides[1:], pairings):
        if not pr.pairs:
            raise ConfigError(_no_pairs_message(base, s, pr, match))
    every = [r for s in sides for r in s.results]
    avail = available_dimensions(every)
    dims = select_dimensions(avail, dimensions)
    titles = dimension_titles()
    decl = dimension_declarations()
    methods = []
    for s, pr in zip(sides[1:], pairings):
        rows = []
        paired = [r for _, ra, rb in pr.pairs for r in (ra, rb)]
        for d in dims:
            a = [metric_value(ra, d) for _, ra, _ in pr.pairs]
            b = [metric_value(rb, d) for _, _, rb in pr.pairs]
            st = paired_stats(a, b, tie_tol=tie_tol, alpha=alpha, n_boot=n_boot, seed=seed)
            if d in decl and decl[d].direction == "neither":
                st = _neutral_verdict(st)
            bb, rel = dimension_provenance(paired, d)
            rows.append(DimensionRow(d, titles.get(d, d), st, bb, rel))
        tempos = [pair_tempo(ra, rb, params) for _, ra, rb in pr.pairs]
        methods.append(
            MethodComparison(
                side=s,
                pairing=pr,
                rows=rows,
                flags_baseline=count_flags(ra for _, ra, _ in pr.pairs),
                flags_method=count_flags(rb for _, _, rb in pr.pairs),
                tempos=tempos,
                pair_flags=count_pair_flags(tempos),
            )
        )
    settings = {
        "tie_tol": tie_tol,
        "alpha": alpha,
        "n_boot": n_boot,
        "seed": seed,
        "confidence": 0.95,
        "test": "wilcoxon signed-rank, two-sided",
        "ci": "percentile bootstrap of the mean difference",
    }
    return Comparison(base, methods, dims, match, settings)
