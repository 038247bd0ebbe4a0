"""Markdown reports: ``score --md``, ``compare --md`` and ``gate --md``.

GitHub-flavoured Markdown tables, fit for a pull request comment or a CI job
summary (``$GITHUB_STEP_SUMMARY``). Every file name, prompt and error text
goes through :func:`md_escape`: Markdown punctuation is backslash-escaped and
``<``, ``>``, ``&`` become HTML entities, so a clip named
``<img src=x onerror=alert(1)>.mp4`` shows as text.

Every table of dimensions names each dimension's backbone and whether its
value is VBench's (``Dimension.vbench``), so a weight-free value is never read
as a VBench number.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vqeval.results import VideoResult
from vqeval.safetext import one_line

if TYPE_CHECKING:
    from vqeval.compare import Comparison, MethodComparison
    from vqeval.config import ScoreConfig
    from vqeval.gate import GateReport

_MD_SPECIAL = "\\`*_[]|#~!{}"


def write_file(path: str | os.PathLike[str], text: str | bytes) -> Path:
    """Write ``text`` to ``path`` atomically; returns the path."""
    from vqeval.fileio import write_atomic

    return Path(write_atomic(path, text))


#: Text GitHub turns into links or notifications although no Markdown asks
#: for it (autolink extension: ``www.``, ``http://``, e-mail addresses;
#: ``@user`` mentions, which also ping that user).
_AUTOLINK = re.compile(r"(?i)(www)(\.)|(:)(//)|(@)")
#: An empty HTML comment: renders as nothing, but splits the text node that
#: autolinking and mention detection read (GitHub's own bots use it).
_BREAK = "<!-- -->"


def md_escape(text: Any) -> str:
    """Make ``text`` inert inside a Markdown table cell (one line; other
    control characters, bidi overrides and undecodable name bytes shown
    escaped). ``www.``, ``://`` and ``@`` get an empty HTML comment inside
    (``@<!-- -->alice``), so GitHub shows them as typed but makes no link and
    no mention of them."""
    s = one_line(str(text).replace("\r", " ").replace("\n", " "))
    s = "".join("\\" + c if c in _MD_SPECIAL else c for c in s)
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _AUTOLINK.sub(_break_autolink, s)


def _break_autolink(m: re.Match[str]) -> str:
    if m.group(5):
        return "@" + _BREAK
    if m.group(1):
        return m.group(1) + _BREAK + m.group(2)
    return m.group(3) + _BREAK + m.group(4)


def _f(x: float | None, fmt: str = "{:.1f}") -> str:
    return "-" if x is None else fmt.format(x)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], align: str = "") -> list[str]:
    al = align or ("l" + "r" * (len(header) - 1))
    sep = ["---:" if a == "r" else ":---" for a in al]
    out = ["| " + " | ".join(header) + " |", "| " + " | ".join(sep) + " |"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out


# --------------------------------------------------------------------------- score


def render_score_markdown(
    results: Sequence[VideoResult], config: ScoreConfig | None = None, title: str = "VQeval scores"
) -> str:
    """Markdown for ``vqeval score``: summary, per-dimension means (with each
    dimension's backbone and VBench relation), one row per video."""
    from vqeval.compare import (
        available_dimensions,
        dimension_provenance,
        dimension_titles,
        metric_value,
    )
    from vqeval.report.comparetext import PROVENANCE_NOTE
    from vqeval.report.summary import verdict_line

    dims = available_dimensions(results)
    titles = dimension_titles()
    ok = [r for r in results if r.ok]
    lines = [f"# {md_escape(title)}", ""]
    lines.append(
        f"{len(results)} videos, {len(ok)} scored, {len(results) - len(ok)} errors "
        "(could not be read). Scores 0-100, higher is better."
    )
    lines += ["", f"Verdicts: {md_escape(verdict_line(results))}."]
    if config is not None:
        lines.append(
            f"Analysis: {config.analysis_size} px long side, max {config.max_fps or 'all'} fps, "
            f"backbone {md_escape(config.backbone)}."
        )
    lines += ["", "## Dimensions", ""]
    rows = []
    for d in dims:
        vals = [v for v in (metric_value(r, d) for r in results) if v is not None]
        mean = sum(vals) / len(vals) if vals else None
        bb, rel = dimension_provenance(results, d)
        rows.append(
            [
                md_escape(titles.get(d, d)) + f" ({md_escape(d)})",
                _f(mean),
                _f(min(vals) if vals else None),
                _f(max(vals) if vals else None),
                str(len(vals)),
                md_escape(bb),
                md_escape(rel),
            ]
        )
    lines += _table(["dimension", "mean", "min", "max", "n", "backbone", "VBench"], rows, "lrrrrll")
    lines += ["", md_escape(PROVENANCE_NOTE) + "."]
    lines += ["", "## Videos", ""]
    vrows = []
    for r in results:
        flags = (
            "; ".join(fd.text if fd.reason else fd.flag for fd in r.flag_details)
            or ", ".join(r.flags)
            if r.ok
            else "error: " + (r.error or "")
        )
        vrows.append(
            [
                md_escape(r.path),
                md_escape(r.verdict or ("error" if not r.ok else "-")),
                *(_f(metric_value(r, d)) for d in dims),
                md_escape(flags) or "-",
            ]
        )
    hdr = ["video", "verdict", *(md_escape(d) for d in dims), "flags"]
    lines += _table(hdr, vrows, "ll" + "r" * len(dims) + "l")
    return "\n".join(lines) + "\n"


def write_score_markdown(
    results: Sequence[VideoResult],
    path: str | os.PathLike[str],
    config: ScoreConfig | None = None,
) -> Path:
    """Write :func:`render_score_markdown` to ``path``."""
    return write_file(path, render_score_markdown(results, config))


# --------------------------------------------------------------------------- compare


def render_compare_markdown(cmp: Comparison, title: str = "VQeval comparison") -> str:
    """Markdown for ``vqeval compare``: one statistics table per method."""
    from vqeval.compare import ERROR_FLAG, known_flags
    from vqeval.dimensions import provenance_label
    from vqeval.report.comparetext import PROVENANCE_NOTE, format_p

    s = cmp.settings
    conf = round(s.get("confidence", 0.95) * 100)
    lines = [f"# {md_escape(title)}", ""]
    lines.append(
        f"Baseline: **{md_escape(cmp.baseline.label)}** ({md_escape(cmp.baseline.source)}), "
        f"{len(cmp.baseline.results)} videos; videos paired by {md_escape(cmp.match)}."
    )
    lines.append("")
    lines.append(
        f"Scores 0-100 (higher is better); diff = method - baseline in points; "
        f"{conf}% CI: percentile bootstrap (n={s['n_boot']}, seed={s['seed']}); "
        f"p: two-sided Wilcoxon signed-rank; tie: |diff| <= {s['tie_tol']} points; "
        f"verdict at p < {s['alpha']} with the CI excluding 0 (not corrected for "
        "several dimensions). " + md_escape(PROVENANCE_NOTE) + "."
    )
    for m in cmp.methods:
        pr = m.pairing
        lines += [
            "",
            f"## {md_escape(m.side.label)} vs {md_escape(cmp.baseline.label)}",
            "",
            f"{len(pr.pairs)} paired videos ({md_escape(m.side.source)}).",
            "",
        ]
        if cmp.note(m):
            lines += [f"> **Note:** {md_escape(cmp.note(m))}.", ""]
        rows = []
        for row in m.rows:
            st = row.stats
            ci = "-" if st.ci_low is None else f"[{st.ci_low:+.1f}, {st.ci_high:+.1f}]"
            rows.append(
                [
                    md_escape(row.title) + f" ({md_escape(row.name)})",
                    md_escape(provenance_label(row.backbone, row.vbench)),
                    _f(st.mean_a),
                    _f(st.mean_b),
                    _f(st.mean_diff, "{:+.1f}"),
                    ci,
                    format_p(st.p_value),
                    f"{st.wins}/{st.ties}/{st.losses}",
                    str(st.n),
                    md_escape(st.verdict),
                ]
            )
        hdr = [
            "dimension",
            "backbone",
            md_escape(cmp.baseline.label),
            md_escape(m.side.label),
            "diff",
            f"{conf}% CI",
            "p",
            "W/T/L",
            "n",
            "verdict",
        ]
        lines += _table(hdr, rows, "llrrrrrrrl")
        frows = [
            [md_escape(k), str(m.flags_baseline.get(k, 0)), str(m.flags_method.get(k, 0))]
            for k in (*known_flags(), ERROR_FLAG)
        ]
        lines += ["", "Failure flags (videos among the pairs):", ""]
        lines += _table(["flag", md_escape(cmp.baseline.label), md_escape(m.side.label)], frows)
        lines += _tempo_markdown(m)
        for what, keys in (
            (f"only in {cmp.baseline.label}", pr.only_baseline),
            (f"only in {m.side.label}", pr.only_method),
            ("ambiguous (not paired)", pr.ambiguous),
        ):
            if keys:
                shown = ", ".join(f"{md_escape(k)}" for k in keys[:20])
                more = f" and {len(keys) - 20} more" if len(keys) > 20 else ""
                lines += ["", f"Unmatched, {md_escape(what)} ({len(keys)}): {shown}{more}"]
    return "\n".join(lines) + "\n"


def _tempo_markdown(m: MethodComparison) -> list[str]:
    """Tempo and pair flags of one method's pairs (:class:`vqeval.compare.PairTempo`)."""
    from vqeval.report.comparetext import format_ratio

    if not m.tempos:
        return []
    n = len(m.tempos)
    flagged = ", ".join(f"{md_escape(f)} {c}/{n}" for f, c in m.pair_flags.items() if c)
    lines = [
        "",
        "Tempo against the baseline (1.00x = same speed, 0.50x = half speed; "
        f"motion = mean flow speed ratio). Pair flags: {flagged or 'none'}.",
        "",
    ]
    rows = [
        [
            md_escape(k),
            format_ratio(t.tempo),
            "-" if t.tempo_confidence is None else f"{t.tempo_confidence:.3f}",
            format_ratio(t.motion_ratio),
            md_escape(", ".join(t.pair_flags)) or "-",
            md_escape(t.reason if t.tempo is not None or not t.tempo_reason
                      else f"{t.reason}; tempo: {t.tempo_reason}"),
        ]
        for (k, _, _), t in zip(m.pairing.pairs, m.tempos)
    ]  # fmt: skip
    lines += _table(["video", "tempo", "confidence", "motion", "pair flags", "why"], rows, "lrrrll")
    return lines


def write_compare_markdown(cmp: Comparison, path: str | os.PathLike[str]) -> Path:
    """Write :func:`render_compare_markdown` to ``path``."""
    return write_file(path, render_compare_markdown(cmp))


# --------------------------------------------------------------------------- gate


def render_gate_markdown(rep: GateReport) -> str:
    """Markdown gate summary for ``$GITHUB_STEP_SUMMARY`` (dimension rules
    name the backbone of their scores)."""
    from vqeval.dimensions import provenance_label

    n = len(rep.results)
    head = "passed" if rep.passed else "FAILED"
    icon = "\u2705" if rep.passed else "\u274c"
    lines = [
        f"## {icon} VQeval gate {head}: {n - rep.failures}/{n} rules",
        "",
        f"{rep.videos} videos from {md_escape(rep.source)}"
        + (f", baseline {md_escape(rep.baseline)}" if rep.baseline else "")
        + ".",
        "",
    ]
    rows = []
    for r in rep.results:
        val = "-"
        if r.value is not None:
            val = f"{r.value:.1%}" if r.rule.check == "max_rate" else f"{r.value:.1f}"
        rows.append(
            [
                md_escape(r.rule.name),
                val,
                "\u2705 pass" if r.passed else "\u274c fail",
                md_escape(provenance_label(r.backbone, r.vbench)),
                md_escape(r.message),
            ]
        )
    lines += _table(["rule", "value", "result", "backbone", "details"], rows, "lrlll")
    failed = [r for r in rep.results if not r.passed and r.offenders]
    for r in failed:
        shown = ", ".join(f"{md_escape(p)}" for p in r.offenders[:20])
        more = f" and {len(r.offenders) - 20} more" if len(r.offenders) > 20 else ""
        lines += ["", f"**{md_escape(r.rule.name)}** broken by: {shown}{more}"]
    return "\n".join(lines) + "\n"


def write_gate_markdown(
    rep: GateReport, path: str | os.PathLike[str], append: bool = False
) -> Path:
    """Write (or append, for ``$GITHUB_STEP_SUMMARY``) the gate summary."""
    text = render_gate_markdown(rep)
    if append and os.path.exists(path):
        with open(path, "a", encoding="utf-8") as fh:
            fh.write("\n" + text)
        return Path(path)
    return write_file(path, text)
