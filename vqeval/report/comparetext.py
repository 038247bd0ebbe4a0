"""The terminal form of a comparison (``vqeval compare`` without a report
option) and the small formatters the Markdown and HTML reports share."""

from __future__ import annotations

from collections.abc import Sequence

from vqeval.compare import ERROR_FLAG, Comparison, MethodComparison, known_flags
from vqeval.dimensions import provenance_label

#: Legend of the backbone column in every report.
PROVENANCE_NOTE = (
    "backbone: the model or weight-free method behind each value; (VBench) = VBench's "
    "formula and model, (approx.) = VBench has this dimension but the value is not its "
    "number (weight-free proxy or another model), no tag = not a VBench dimension"
)


def _f(x: float | None, fmt: str = "{:.1f}") -> str:
    return "-" if x is None else fmt.format(x)


def format_p(p: float | None) -> str:
    """p-value for humans: ``<0.001`` below a thousandth."""
    if p is None:
        return "-"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def format_table(cmp: Comparison) -> str:
    """Plain-text tables for the terminal (one block per method)."""
    lines: list[str] = []
    base = cmp.baseline
    s0 = cmp.methods[0].rows[0].stats if cmp.methods and cmp.methods[0].rows else None
    conf = round((s0.confidence if s0 else 0.95) * 100)
    for m in cmp.methods:
        pr = m.pairing
        lines.append(
            f"{m.side.label} vs {base.label} (baseline): {len(pr.pairs)} paired videos, "
            f"matched by {cmp.match}"
        )
        note = cmp.note(m)
        if note:
            lines.append(f"note: {note}")
        header = [
            "dimension",
            "backbone",
            f"{base.label}",
            f"{m.side.label}",
            f"diff [{conf}% CI]",
            "p",
            "W/T/L",
            "n",
            "verdict",
        ]
        body = []
        for row in m.rows:
            st = row.stats
            ci = (
                "-"
                if st.mean_diff is None
                else f"{st.mean_diff:+.1f} [{st.ci_low:+.1f}, {st.ci_high:+.1f}]"
            )
            body.append(
                [
                    row.name,
                    provenance_label(row.backbone, row.vbench),
                    _f(st.mean_a),
                    _f(st.mean_b),
                    ci,
                    format_p(st.p_value),
                    f"{st.wins}/{st.ties}/{st.losses}",
                    str(st.n),
                    st.verdict,
                ]
            )
        widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
        fmt_row = "  ".join(f"{{:<{w}}}" for w in widths)
        lines.append(fmt_row.format(*header).rstrip())
        lines.append("  ".join("-" * w for w in widths))
        lines.extend(fmt_row.format(*r).rstrip() for r in body)
        fl = [
            f"{k} {m.flags_baseline.get(k, 0)}->{m.flags_method.get(k, 0)}"
            for k in (*known_flags(), ERROR_FLAG)
            if m.flags_baseline.get(k, 0) or m.flags_method.get(k, 0)
        ]
        lines.append(
            "flags (videos, baseline->method): " + (", ".join(fl) if fl else "none on either side")
        )
        lines.extend(tempo_lines(m))
        if pr.only_baseline:
            lines.append(
                f"only in {base.label} ({len(pr.only_baseline)}): " + _short(pr.only_baseline)
            )
        if pr.only_method:
            lines.append(
                f"only in {m.side.label} ({len(pr.only_method)}): " + _short(pr.only_method)
            )
        if pr.ambiguous:
            lines.append(f"ambiguous, not paired ({len(pr.ambiguous)}): " + _short(pr.ambiguous))
        lines.append("")
    s = cmp.settings
    lines.append(
        f"scores 0-100 (higher is better); diff = method - baseline in points; "
        f"{conf}% CI: bootstrap n={s['n_boot']} seed={s['seed']}; p: Wilcoxon signed-rank; "
        f"tie = |diff| <= {s['tie_tol']} points; verdict at p < {s['alpha']}"
    )
    lines.append(PROVENANCE_NOTE)
    return "\n".join(lines)


def _short(keys: Sequence[str], n: int = 8) -> str:
    more = f" ... (+{len(keys) - n})" if len(keys) > n else ""
    return ", ".join(keys[:n]) + more


def format_ratio(x: float | None) -> str:
    """A speed ratio for humans: ``0.50x``; ``-`` when unknown."""
    return "-" if x is None else f"{x:.2f}x"


def tempo_lines(m: MethodComparison, limit: int = 12) -> list[str]:
    """Terminal lines on tempo and pair flags of one method: a summary, then
    one line per flagged pair (at most ``limit``)."""
    if not m.tempos:
        return []
    summ = m.tempo_summary()
    n = len(m.tempos)
    slow = [(k, t) for (k, _, _), t in zip(m.pairing.pairs, m.tempos) if t.pair_flags]
    out = [
        f"tempo vs baseline: median {format_ratio(summ['tempo_median'])} over "
        f"{summ['tempo_pairs']}/{n} pairs with a tempo; motion ratio median "
        f"{format_ratio(summ['motion_ratio_median'])}; pair flags: "
        + (", ".join(f"{f} {c}/{n}" for f, c in m.pair_flags.items() if c) or "none")
    ]
    for k, t in slow[:limit]:
        out.append(f"  {', '.join(t.pair_flags)}: {k}: {t.reason}")
    if len(slow) > limit:
        out.append(f"  ... (+{len(slow) - limit} more flagged pairs)")
    return out
