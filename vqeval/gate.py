"""Quality gates for CI: rules over scored videos, pass or fail.

A gate file is TOML (see ``data/gates.example.toml`` and ``docs/ci.md``)::

    baseline = "baseline.json"        # optional; relative to the gate file

    [[rule]]
    dimension = "composite"           # any dimension name or "composite"
    min_mean = 60                     # mean score (0-100) must be >= 60
    min_each = 30                     # every video must score >= 30
    max_regression = 2.0              # mean may drop at most 2 points vs baseline

    [[rule]]
    flag = "loop"                     # a failure flag, "error" or "any"
    max_rate = 0.10                   # at most 10 % of videos may carry it

Each check key of a ``[[rule]]`` table becomes one :class:`Rule` (one JUnit
test case). ``name = "..."`` optionally titles the rule.

Semantics:

* ``min_mean``: mean over videos that have the score; no score at all fails.
* ``min_each``: every video must have the score and reach the minimum
  (a video that failed to score fails the rule).
* ``max_rate``: fraction (0-1) of videos carrying the flag; ``error`` means
  the video failed to score, ``any`` means any flag or an error. The flags a
  rule may name are those the dimensions declare (``Dimension.flags``).
* ``max_regression``: ``baseline mean - current mean`` in points (0-100
  scale) over videos paired by stem with the baseline results; when no video
  pairs, the means over all videos are compared (said in the message).
* a pair flag (``flag = "slow_motion"``, :data:`vqeval.compare.PAIR_FLAGS`)
  with ``max_rate``: fraction of the videos paired by stem with the baseline
  whose pair carries the flag (:func:`vqeval.compare.pair_tempo`: the video
  is clearly slower than its baseline video); needs a baseline, like
  ``max_regression``. ``max_rate = 0`` = no slow-motion video at all.
"""

from __future__ import annotations

import dataclasses
import math
import os
import reprlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from vqeval.compare import (
    ANY_FLAG,
    COMPOSITE,
    ERROR_FLAG,
    PAIR_FLAGS,
    Side,
    known_flags,
    metric_value,
    pair_sides,
)
from vqeval.results import SCHEMA_VERSION, ConfigError, VideoResult

try:  # Python >= 3.11
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

#: Check keys allowed on a dimension rule and on a flag rule.
DIMENSION_CHECKS: tuple[str, ...] = ("min_mean", "min_each", "max_regression")
FLAG_CHECKS: tuple[str, ...] = ("max_rate",)
_TOP_KEYS = ("baseline", "rule")


@dataclass(frozen=True)
class Rule:
    """One check.

    Attributes:
        index: 1-based position of the ``[[rule]]`` table in the file.
        target: dimension name / ``composite`` (kind "dimension") or flag name.
        kind: ``"dimension"`` or ``"flag"``.
        check: ``min_mean``, ``min_each``, ``max_regression`` or ``max_rate``.
        threshold: points (0-100) for dimension checks, fraction (0-1) for
            ``max_rate``.
        name: human title (given or generated).
    """

    index: int
    target: str
    kind: str
    check: str
    threshold: float
    name: str

    @property
    def needs_baseline(self) -> bool:
        """True for checks against baseline results (``max_regression`` and
        pair flags such as ``slow_motion``)."""
        return self.check == "max_regression" or (self.kind == "flag" and self.target in PAIR_FLAGS)


@dataclass(frozen=True)
class GateConfig:
    """A parsed gate file.

    Attributes:
        rules: the checks, in file order.
        baseline: baseline results path (resolved against the gate file), if any.
        path: the gate file.
    """

    rules: tuple[Rule, ...]
    baseline: str | None = None
    path: str = ""


@dataclass(frozen=True)
class RuleResult:
    """Outcome of one rule.

    Attributes:
        rule: the rule.
        passed: True when the check holds.
        value: measured value (points or fraction), ``None`` when not measurable.
        message: one line saying what was measured against what.
        offenders: paths of videos that broke a per-video or flag rule.
        details: one line per offender (same order): the flag with its start
            time and reason (``frozen from 4.8 s: content still ...``), the
            score, or the error that kept the video from being scored.
        backbone: for a dimension rule, the backbone(s) its scores came from
            ("-" for flags and the composite).
        vbench: how those scores relate to VBench (``Dimension.vbench``), "-"
            for flags and the composite.
    """

    rule: Rule
    passed: bool
    value: float | None
    message: str
    offenders: tuple[str, ...] = ()
    backbone: str = "-"
    details: tuple[str, ...] = ()
    vbench: str = "-"


@dataclass
class GateReport:
    """All rule outcomes for one set of results."""

    results: list[RuleResult]
    source: str
    videos: int
    baseline: str | None = None

    @property
    def passed(self) -> bool:
        """True when every rule passed."""
        return all(r.passed for r in self.results)

    @property
    def failures(self) -> int:
        """Number of failed rules."""
        return sum(not r.passed for r in self.results)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``vqeval gate --json``); ``vqeval``, ``schema`` and
        ``kind`` head it as in the score and compare documents."""
        from vqeval._version import __version__

        return {
            "vqeval": __version__,
            "schema": SCHEMA_VERSION,
            "kind": "gate",
            "passed": self.passed,
            "source": self.source,
            "videos": self.videos,
            "baseline": self.baseline,
            "rules": [
                {
                    "name": r.rule.name,
                    "target": r.rule.target,
                    "check": r.rule.check,
                    "threshold": r.rule.threshold,
                    "value": r.value,
                    "passed": r.passed,
                    "message": r.message,
                    "offenders": list(r.offenders),
                    "details": list(r.details),
                    "backbone": r.backbone,
                    "vbench": r.vbench,
                }
                for r in self.results
            ],
        }


# --------------------------------------------------------------------------- parsing

_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxstring, _REPR.maxother = 3, 60, 60


def _brief(v: Any) -> str:
    """A value as it appears in a message: repr, shortened (nested or huge
    values from a hostile file stay one short line)."""
    return _REPR.repr(v)


def _number(v: Any, where: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise ConfigError(f"{where} must be a number, got {_brief(v)}")
    return float(v)


def rule_flags() -> tuple[str, ...]:
    """Flags a rule may name: every flag a registered dimension declares,
    ``error`` and ``any``, and the pair flags (``slow_motion``, judged
    against the baseline)."""
    return (*known_flags(), ERROR_FLAG, ANY_FLAG, *PAIR_FLAGS)


def score_range(target: str) -> tuple[float, float]:
    """(low, high) of the scores of dimension ``target`` (its declaration;
    0-100 for the composite and for dimensions the registry does not know)."""
    if target != COMPOSITE:
        from vqeval.compare import dimension_declarations

        dim = dimension_declarations().get(target)
        if dim is not None:
            return dim.score_range
    return (0.0, 100.0)


def _rule_title(target: str, check: str, thr: float) -> str:
    words = {
        "min_mean": f"mean {target} >= {thr:g}",
        "min_each": f"every video {target} >= {thr:g}",
        "max_regression": f"{target} drops at most {thr:g} points vs baseline",
        "max_rate": f"{target} rate <= {thr:g}",
    }
    return words[check]


def parse_gate_config(
    data: dict[str, Any],
    *,
    known_dimensions: Iterable[str] | None = None,
    path: str = "<gate>",
) -> GateConfig:
    """Validate a decoded TOML document into a :class:`GateConfig`.

    Args:
        data: the TOML document.
        known_dimensions: dimension names a rule may use (``composite`` is
            always allowed); ``None`` = the registry.
        path: gate file path, used in messages and to resolve ``baseline``.

    Raises:
        ConfigError: with one line naming the file, the rule and the problem.
    """
    if known_dimensions is None:
        from vqeval.dimensions import registry

        known_dimensions = registry()
    known = {COMPOSITE, *known_dimensions}
    unknown_top = [k for k in data if k not in _TOP_KEYS]
    if unknown_top:
        raise ConfigError(
            f"{path}: unknown key(s) {', '.join(unknown_top)}; allowed: baseline, [[rule]]"
        )
    baseline = data.get("baseline")
    if baseline is not None:
        if not isinstance(baseline, str) or not baseline:
            raise ConfigError(f"{path}: baseline must be a path string, got {_brief(baseline)}")
        base_dir = os.path.dirname(path) if path != "<gate>" else ""
        baseline = baseline if os.path.isabs(baseline) else os.path.join(base_dir, baseline)
    tables = data.get("rule", [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise ConfigError(f"{path}: 'rule' must be an array of tables ([[rule]])")
    if not tables:
        raise ConfigError(f"{path}: no [[rule]] tables: a gate needs at least one rule")
    rules: list[Rule] = []
    for i, t in enumerate(tables, 1):
        where = f"{path}: rule {i}"
        has_dim, has_flag = "dimension" in t, "flag" in t
        if has_dim == has_flag:
            raise ConfigError(f"{where}: give exactly one of dimension = ... or flag = ...")
        name = t.get("name")
        if name is not None and not isinstance(name, str):
            raise ConfigError(f"{where}: name must be a string, got {_brief(name)}")
        if has_dim:
            target, kind, allowed = t["dimension"], "dimension", DIMENSION_CHECKS
            if not isinstance(target, str):
                raise ConfigError(f"{where}: dimension must be a string, got {_brief(target)}")
            if target not in known:
                raise ConfigError(
                    f"{where}: unknown dimension {_brief(target)}; known: {', '.join(sorted(known))}"
                )
        else:
            target, kind, allowed = t["flag"], "flag", FLAG_CHECKS
            flags = rule_flags()
            if not isinstance(target, str) or target not in flags:
                raise ConfigError(
                    f"{where}: unknown flag {_brief(target)}; known: {', '.join(flags)}"
                )
        extra = [k for k in t if k not in (*allowed, "dimension", "flag", "name")]
        if extra:
            raise ConfigError(
                f"{where}: unknown key(s) {', '.join(extra)} for a {kind} rule; "
                f"allowed: {', '.join(allowed)}"
            )
        checks = [k for k in allowed if k in t]
        if not checks:
            raise ConfigError(f"{where}: no check; add one of {', '.join(allowed)}")
        for c in checks:
            thr = _number(t[c], f"{where}: {c}")
            if c == "max_rate" and not 0.0 <= thr <= 1.0:
                raise ConfigError(f"{where}: max_rate is a fraction in 0-1, got {thr:g}")
            lo, hi = score_range(target) if kind == "dimension" else (0.0, 100.0)
            if c in ("min_mean", "min_each") and not lo <= thr <= hi:
                raise ConfigError(f"{where}: {c} is a score in {lo:g}-{hi:g}, got {thr:g}")
            if c == "max_regression" and thr < 0.0:
                raise ConfigError(f"{where}: max_regression is points >= 0, got {thr:g}")
            title = _rule_title(target, c, thr)
            if name:
                title = f"{name}: {title}" if len(checks) > 1 else name
            rules.append(Rule(i, target, kind, c, thr, title))
    return GateConfig(tuple(rules), baseline, path)


#: Most dotted parts of one key (``a.b.c`` has 3) a gate file may hold.
#: Real gate files use 1-2; tomllib's time grows with the square of the parts
#: (a key of 60,000 parts took over 60 s), so longer keys are refused first.
MAX_KEY_PARTS = 64


def check_key_depth(text: str, path: str = "<gate>") -> None:
    """Refuse TOML ``text`` holding a dotted key or table header of more than
    :data:`MAX_KEY_PARTS` parts, before parsing (one linear pass: dots
    outside strings and comments are counted per line; keys cannot span
    lines).

    Raises:
        ConfigError: one line naming the file, the line and the limit.
    """
    quote = ""  # delimiter of the open string: one or three quote characters
    line, dots, i, n = 1, 0, 0, len(text)
    while i < n:
        c = text[i]
        if quote:
            if c == "\\" and quote[0] == '"':
                i += 2
                continue
            if text.startswith(quote, i):
                i += len(quote)
                quote = ""
                continue
            if c == "\n":
                line += 1
        elif c in "\"'":
            quote = c * 3 if text.startswith(c * 3, i) else c
            i += len(quote)
            continue
        elif c == "#":
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        elif c == "\n":
            line, dots = line + 1, 0
        elif c == ".":
            dots += 1
            if dots >= MAX_KEY_PARTS:
                raise ConfigError(
                    f"{path}: line {line}: a key of more than {MAX_KEY_PARTS} dotted parts "
                    "(a gate file needs 1 or 2)"
                )
        i += 1


def load_gate_config(
    path: str | os.PathLike[str], *, known_dimensions: Iterable[str] | None = None
) -> GateConfig:
    """Read and validate a gate TOML file.

    Raises:
        ConfigError: missing file, malformed TOML, or invalid rules (one line).
    """
    from vqeval.inputfile import MAX_GATE_FILE_BYTES, InputFileError, read_input_file

    p = os.fspath(path)
    try:  # a regular file up to 1 MiB: never /dev/zero read without end
        raw = read_input_file(p, max_bytes=MAX_GATE_FILE_BYTES)
    except InputFileError as e:
        raise ConfigError(f"{p}: cannot read gate file ({e})") from None
    try:
        text = raw.decode("utf-8")
        check_key_depth(text, p)  # tomllib is quadratic in a key's parts
        data = tomllib.loads(text)
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"{p}: malformed TOML ({e})") from e
    except RecursionError:  # tomllib recurses once per nesting level
        raise ConfigError(f"{p}: malformed TOML (arrays or tables nested too deeply)") from None
    return parse_gate_config(data, known_dimensions=known_dimensions, path=p)


# --------------------------------------------------------------------------- evaluation


def offender_lines(r: RuleResult, limit: int, indent: str = "  ") -> list[str]:
    """``PATH: frozen from 4.8 s: content still ...``, one line per video that
    broke rule ``r`` (at most ``limit``, then ``... and N more``)."""
    from vqeval.safetext import one_line

    out = []
    for i, path in enumerate(r.offenders[:limit]):
        why = r.details[i] if i < len(r.details) else ""
        out.append(f"{indent}{one_line(path)}" + (f": {one_line(why)}" if why else ""))
    if len(r.offenders) > limit:
        out.append(f"{indent}... and {len(r.offenders) - limit} more")
    return out


def _mean(xs: Sequence[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None


def _why(r: VideoResult, flag: str) -> str:
    """Why video ``r`` carries ``flag`` (``any``: every flag it has): each flag
    with its start time and reason, or the error that kept it from being scored."""
    if not r.ok:
        return f"error: {r.error or 'not scored'}"
    details = [fd for fd in r.flag_details if flag == ANY_FLAG or fd.flag == flag]
    if details:
        return "; ".join(fd.text for fd in details)
    return ", ".join(f for f in r.flags if flag == ANY_FLAG or f == flag) or flag


def _score_why(r: VideoResult, target: str, value: float | None) -> str:
    """``composite 28.0 (frozen from 4.8 s: ...)``: the score a ``min_each``
    rule saw and the flags that capped it, or why there is none."""
    if not r.ok:
        return f"error: {r.error or 'not scored'}"
    if value is None:
        return f"no {target} score"
    text = f"{target} {value:.1f}"
    if r.flags:
        text += f" ({_why(r, ANY_FLAG)})"
    return text


def _eval_rule(rule: Rule, side: Side, baseline: Side | None) -> RuleResult:
    results = side.results
    n = len(results)
    if rule.kind == "flag" and rule.target in PAIR_FLAGS:
        return _eval_pair_flag(rule, side, baseline)
    if rule.kind == "flag":

        def has(r: VideoResult) -> bool:
            if rule.target == ERROR_FLAG:
                return not r.ok
            if rule.target == ANY_FLAG:
                return (not r.ok) or bool(r.flags)
            return rule.target in r.flags

        flagged = [r for r in results if has(r)]
        bad = tuple(r.path for r in flagged)
        rate = len(bad) / n if n else 0.0
        ok = rate <= rule.threshold + 1e-12
        msg = f"{len(bad)}/{n} videos flagged {rule.target} ({rate:.1%}), max {rule.threshold:.1%}"
        why = tuple(_why(r, rule.target) for r in flagged)
        return RuleResult(rule, ok, rate, msg, bad, details=why)
    vals = [(r.path, metric_value(r, rule.target)) for r in results]
    scored = [v for _, v in vals if v is not None]
    if rule.check == "min_mean":
        m = _mean(scored)
        if m is None:
            return RuleResult(rule, False, None, f"no video has a {rule.target} score")
        ok = m >= rule.threshold
        msg = f"mean {rule.target} {m:.1f} over {len(scored)} videos, min {rule.threshold:g}"
        return RuleResult(rule, ok, m, msg)
    if rule.check == "min_each":
        below = [(r, v) for r, (_, v) in zip(results, vals) if v is None or v < rule.threshold]
        bad = tuple(r.path for r, _ in below)
        low = min(scored) if scored else None
        lows = "-" if low is None else f"{low:.1f}"
        msg = f"{len(bad)}/{n} videos below {rule.threshold:g} or unscored (lowest {lows})"
        why = tuple(_score_why(r, rule.target, v) for r, v in below)
        return RuleResult(rule, not bad, low, msg, bad, details=why)
    # max_regression
    if baseline is None:
        return RuleResult(
            rule, False, None, "no baseline results: set baseline = ... or pass --baseline"
        )
    pr = pair_sides(baseline, side, "stem")
    pairs = [(metric_value(a, rule.target), metric_value(b, rule.target)) for _, a, b in pr.pairs]
    pairs = [(a, b) for a, b in pairs if a is not None and b is not None]
    if pairs:
        mb = _mean([a for a, _ in pairs])
        mc = _mean([b for _, b in pairs])
        how = f"over {len(pairs)} paired videos"
    else:
        mb = _mean(
            [v for v in (metric_value(r, rule.target) for r in baseline.results) if v is not None]
        )
        mc = _mean(scored)
        how = "over all videos (no video pairs with the baseline)"
    if mb is None or mc is None:
        return RuleResult(
            rule, False, None, f"no {rule.target} scores to compare with the baseline"
        )
    drop = mb - mc
    ok = drop <= rule.threshold + 1e-9
    msg = (
        f"{rule.target} {mc:.1f} vs baseline {mb:.1f} ({-drop:+.1f} points) {how}, "
        f"max drop {rule.threshold:g}"
    )
    return RuleResult(rule, ok, drop, msg)


def _eval_pair_flag(rule: Rule, side: Side, baseline: Side | None) -> RuleResult:
    """A pair flag's rate over the videos paired by stem with the baseline."""
    from vqeval.compare import pair_tempo

    if baseline is None:
        return RuleResult(
            rule, False, None, "no baseline results: set baseline = ... or pass --baseline"
        )
    pr = pair_sides(baseline, side, "stem")
    if not pr.pairs:
        return RuleResult(
            rule, False, None, f"no video pairs with the baseline: {rule.target} not measurable"
        )
    bad = tuple(b.path for _, a, b in pr.pairs if rule.target in pair_tempo(a, b).pair_flags)
    n = len(pr.pairs)
    rate = len(bad) / n
    ok = rate <= rule.threshold + 1e-12
    msg = (
        f"{len(bad)}/{n} videos paired with the baseline flagged {rule.target} "
        f"({rate:.1%}), max {rule.threshold:.1%}"
    )
    return RuleResult(rule, ok, rate, msg, bad)


def evaluate_gate(config: GateConfig, side: Side, baseline: Side | None = None) -> GateReport:
    """Apply every rule of ``config`` to the videos of ``side``."""
    from vqeval.compare import dimension_provenance

    out = []
    for r in config.rules:
        res = _eval_rule(r, side, baseline)
        if r.kind == "dimension":
            bb, rel = dimension_provenance(side.results, r.target)
            res = dataclasses.replace(res, backbone=bb, vbench=rel)
        out.append(res)
    return GateReport(
        out,
        side.source,
        len(side.results),
        baseline=None if baseline is None else baseline.source,
    )


#: Offending videos listed under a failed rule in the terminal at most.
MAX_SHOWN_OFFENDERS = 10


def format_report(rep: GateReport) -> str:
    """Terminal lines: one per rule (dimension rules name their backbone);
    under a failed rule the videos that broke it (at most
    :data:`MAX_SHOWN_OFFENDERS`), each with its flag, start time and reason
    or its score; then the verdict."""
    from vqeval.dimensions import provenance_label

    lines = []
    for r in rep.results:
        src = provenance_label(r.backbone, r.vbench)
        lines.append(
            f"{'PASS' if r.passed else 'FAIL'}  {r.rule.name}: {r.message}"
            + (f" [backbone {src}]" if src != "-" else "")
        )
        if not r.passed:
            lines += offender_lines(r, MAX_SHOWN_OFFENDERS, indent="      ")
    n = len(rep.results)
    lines.append(
        f"gate {'passed' if rep.passed else 'FAILED'}: {n - rep.failures}/{n} rules passed "
        f"({rep.videos} videos from {rep.source})"
    )
    return "\n".join(lines)
