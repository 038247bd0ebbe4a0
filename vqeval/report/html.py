"""Self-contained HTML reports for ``vqeval score --html`` and ``vqeval compare --html``.

One file, no network: inline CSS, inline SVG charts, images as ``data:`` URIs
(thumbnails the pipeline stores in ``series["thumbnails"]``, self-similarity
heat maps rendered to PNG here). The page carries a Content-Security-Policy
that forbids scripts and any non-``data:`` resource, and every file name,
prompt and error text is escaped with :func:`html.escape`; thumbnails that are
not plain base64 image data URIs are dropped.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from datetime import datetime, timezone
from html import escape as _html_escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from vqeval._version import __version__
from vqeval.report.markdown import write_file
from vqeval.report.plots import heatmap_data_uri, svg_ci_forest, svg_line, svg_strip
from vqeval.results import VideoResult
from vqeval.safetext import visible

if TYPE_CHECKING:
    from vqeval.compare import Comparison, MethodComparison
    from vqeval.config import ScoreConfig


def escape(text: str, quote: bool = True) -> str:
    """:func:`html.escape` of ``text`` with bidi controls and invisible
    characters shown escaped (``\\u202e``): a right-to-left override in a
    name must not reorder what the reader sees."""
    return _html_escape(visible(text), quote)


#: Thumbnails shown per video at most.
MAX_THUMBS = 6
_DATA_URI = re.compile(r"data:image/(?:jpeg|png|webp|gif);base64,[A-Za-z0-9+/]+={0,2}")
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"

_CSS = """
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1f2328;margin:0;background:#fff}
header{padding:18px 24px;background:#f6f8fa;border-bottom:1px solid #d0d7de}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:22px 0 8px}
main{padding:0 24px 32px}.meta{color:#57606a;margin:0}
table{border-collapse:collapse;margin:6px 0 12px}table.videos{width:100%}
th,td{border-bottom:1px solid #d0d7de;padding:5px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa;font-weight:600}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.name{min-width:210px;max-width:300px;word-break:break-all;font-family:ui-monospace,monospace;font-size:12px}
.badge{display:inline-block;padding:0 6px;border-radius:9px;font-size:12px;background:#eaeef2;margin:2px 2px 0 0}
.good,.better{background:#dafbe1;color:#116329}.fair{background:#fff8c5;color:#7d4e00}
.poor,.failed,.worse,.error,.flag{background:#ffebe9;color:#a40e26}
.thumbs{white-space:nowrap}.thumbs img{height:44px;margin-right:2px;border-radius:3px}
img.ssm{width:96px;height:96px;vertical-align:top;margin-right:6px;image-rendering:pixelated;border:1px solid #d0d7de}
.err{color:#a40e26;font-size:12px;word-break:break-all}
.why{color:#444;font-size:12px;margin-top:2px}
.scores{display:grid;grid-template-columns:auto 3.2em auto 3.2em;gap:0 6px;font-size:12px}
.scores .v{text-align:right;font-variant-numeric:tabular-nums}.scores .lo{color:#a40e26;font-weight:600}
.scores .dn{color:#57606a}
.note{color:#57606a;font-size:12px;max-width:900px}
.side{font-size:11px;color:#57606a}
"""

_VERDICT_CLASSES = {"good", "fair", "poor", "failed", "better", "worse"}


def safe_image_uri(uri: Any) -> str | None:
    """``uri`` when it is a base64 image data URI, else ``None`` (never a URL)."""
    if isinstance(uri, str) and _DATA_URI.fullmatch(uri):
        return uri
    return None


def _badge(text: str, cls: str = "") -> str:
    c = cls if cls in _VERDICT_CLASSES | {"flag", "error"} else ""
    return f'<span class="badge {c}">{escape(text)}</span>'


def _score_cell(v: float | None) -> str:
    """A score (0-100) as a grid cell; below 50 is highlighted."""
    cls = "v lo" if v is not None and v < 50 else "v"
    return f'<span class="{cls}">{_f(v)}</span>'


def _f(x: float | None, fmt: str = "{:.1f}") -> str:
    return "-" if x is None else fmt.format(x)


def _page(title: str, subtitle: str, body: str) -> str:
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>"
        f'<header><h1>{escape(title)}</h1><p class="meta">{subtitle} '
        f"&middot; vqeval {escape(__version__)} &middot; {now}</p></header>"
        f"<main>{body}</main></body></html>\n"
    )


def _thumbs(r: VideoResult, limit: int = MAX_THUMBS) -> str:
    uris = [u for u in (safe_image_uri(t) for t in (r.series.get("thumbnails") or [])) if u]
    if not uris:
        return ""
    step = max(1, len(uris) // limit + (len(uris) % limit > 0))
    pick = uris[::step][:limit]
    alt = escape(os.path.basename(r.path), quote=True)
    return "".join(f'<img class="thumb" src="{u}" alt="frame of {alt}">' for u in pick)


def _ssm(r: VideoResult) -> str:
    m = r.series.get("ssm")
    uri = None
    if m is not None:
        try:
            lo = float(np.nanmin(np.asarray(m, dtype=np.float64)))
        except (TypeError, ValueError):
            lo = 0.0
        # cosine similarities are usually >= 0: use 0..1 then, -1..1 otherwise
        uri = heatmap_data_uri(m, vmin=-1.0 if lo < 0 else 0.0)
    if uri is None:
        return ""
    return (
        f'<img class="ssm" src="{uri}" alt="self-similarity of '
        f'{escape(os.path.basename(r.path), quote=True)}" '
        'title="self-similarity between analysis frames (time runs down and right; '
        'bright = similar; colour scale 0..1, or -1..1 when negative)">'
    )


def _motion(r: VideoResult) -> str:
    mo = r.series.get("motion")
    if mo is None:
        return ""
    ts = r.series.get("times_s")
    if ts is None or len(ts) != len(mo):
        ts = list(range(len(mo)))
        xl = "frame"
    else:
        xl = "s"
    return (
        svg_line(
            ts,
            mo,
            width=220,
            x_label=xl,
            title="motion over time (% of the frame diagonal per second)",
        )
        or ""
    )


def _status(r: VideoResult) -> str:
    parts = []
    if r.ok:
        parts.append(_badge(r.verdict or "-", r.verdict or ""))
        parts.extend(_badge(f, "flag") for f in r.flags)
        if r.loop_period_s:
            parts.append(_badge(f"loop {r.loop_period_s:.2f} s"))
        # each flag's explanation: from when and why
        parts.extend(
            f'<div class="why">{escape(fd.text)}</div>' for fd in r.flag_details if fd.reason
        )
    else:
        parts.append(_badge("error", "error"))
        parts.append(f'<div class="err">{escape(r.error or "unknown error")}</div>')
    return "".join(parts)


def _dimension_summary(results: Sequence[VideoResult], dims: Sequence[str]) -> str:
    from vqeval.compare import (
        COMPOSITE,
        dimension_declarations,
        dimension_provenance,
        dimension_titles,
        metric_value,
    )
    from vqeval.report.comparetext import PROVENANCE_NOTE

    titles = dimension_titles()
    descs: dict[str, str] = {COMPOSITE: "weighted mean of the dimension scores after failure caps"}
    weights: dict[str, float] = {}
    for n, d in dimension_declarations().items():
        descs[n] = d.description
        weights[n] = d.weight
    series = []
    rows = []
    for d in dims:
        vals = [v for v in (metric_value(r, d) for r in results) if v is not None]
        series.append((titles.get(d, d), vals))
        mean = sum(vals) / len(vals) if vals else None
        bb, rel = dimension_provenance(results, d)
        rows.append(
            f'<tr><td>{escape(titles.get(d, d))}<div class="side">{escape(d)}</div></td>'
            f'<td class="num">{_f(mean)}</td><td class="num">{_f(min(vals) if vals else None)}</td>'
            f'<td class="num">{_f(max(vals) if vals else None)}</td><td class="num">{len(vals)}</td>'
            f'<td class="num">{_f(weights.get(d), "{:g}")}</td>'
            f"<td>{escape(bb)}</td><td>{escape(rel)}</td>"
            f'<td class="note">{escape(descs.get(d, ""))}</td></tr>'
        )
    return (
        "<h2>Dimensions</h2>"
        '<p class="note">Scores 0-100, higher is better. Dots: one per video; bar: mean. '
        + escape(PROVENANCE_NOTE)
        + ".</p>"
        + svg_strip(series, width=760, label_w=180)
        + '<table class="dims"><thead><tr><th>dimension</th><th class="num">mean</th>'
        '<th class="num">min</th><th class="num">max</th><th class="num">n</th>'
        '<th class="num">weight</th><th>backbone</th><th>VBench</th><th>what it measures</th>'
        "</tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
    )


def render_score_html(
    results: Sequence[VideoResult],
    config: ScoreConfig | None = None,
    title: str = "VQeval report",
) -> str:
    """One self-contained HTML page for scored videos (one ``tr.video`` per result)."""
    from vqeval.compare import COMPOSITE, available_dimensions, count_flags, metric_value
    from vqeval.report.summary import verdict_line

    dims = available_dimensions(results)
    nok = sum(r.ok for r in results)
    flags = count_flags(results)
    flag_txt = ", ".join(f"{k}: {v}" for k, v in flags.items() if v and k != "any") or "none"
    sub = escape(
        f"{len(results)} videos, {nok} scored, {len(results) - nok} errors (could not be "
        f"read); verdicts: {verdict_line(results)}; flags: {flag_txt}"
    )
    if config is not None:
        sub += escape(
            f" · analysis {config.analysis_size} px, ≤{config.max_fps or 'all'} fps, "
            f"backbone {config.backbone}, flow {config.flow}"
        )
    body = [_dimension_summary(results, dims)]
    body.append(
        "<h2>Videos</h2>"
        '<p class="note">Thumbnails: evenly spaced frames. Heat map: self-similarity between '
        "analysis frames (bright = similar; stripes parallel to the diagonal = loops, a bright "
        "block = a freeze). Curve: motion over time, % of the frame diagonal per second.</p>"
        '<table class="videos"><thead><tr><th>video</th><th class="num">comp.</th>'
        "<th>frames</th><th>self-similarity</th><th>motion</th><th>dimensions</th></tr></thead><tbody>"
    )
    for i, r in enumerate(results, 1):
        scores = "".join(
            f'<span class="dn">{escape(d)}</span>{_score_cell(metric_value(r, d))}'
            for d in dims
            if d != COMPOSITE
        )
        info = ""
        if r.info is not None:
            info = escape(
                f"{r.info.width}x{r.info.height}, {r.info.fps:.3g} fps, {r.info.duration_s:.1f} s"
            )
        body.append(
            f'<tr class="video" id="video-{i}"><td class="name">{escape(r.path)}'
            f'<div class="side">{info}</div>{_status(r)}</td>'
            f'<td class="num">{_f(r.composite if r.ok else None)}</td>'
            f'<td class="thumbs">{_thumbs(r)}</td><td>{_ssm(r)}</td><td>{_motion(r)}</td>'
            f'<td><div class="scores">{scores}</div></td></tr>'
        )
    body.append("</tbody></table>")
    return _page(title, sub, "".join(body))


def write_score_html(
    results: Sequence[VideoResult],
    path: str | os.PathLike[str],
    config: ScoreConfig | None = None,
) -> Path:
    """Write :func:`render_score_html` to ``path`` atomically."""
    return write_file(path, render_score_html(results, config))


def render_compare_html(cmp: Comparison, title: str = "VQeval comparison") -> str:
    """One self-contained HTML page for a comparison (one ``tr.pair`` per paired video)."""
    from vqeval.compare import COMPOSITE, ERROR_FLAG, known_flags, metric_value
    from vqeval.dimensions import provenance_label
    from vqeval.report.comparetext import PROVENANCE_NOTE, format_p

    s = cmp.settings
    conf = round(s.get("confidence", 0.95) * 100)
    base = cmp.baseline
    sub = escape(
        f"baseline {base.label} ({base.source}, {len(base.results)} videos); "
        f"{len(cmp.methods)} method(s); videos paired by {cmp.match}"
    )
    body = [
        '<p class="note">'
        + escape(
            f"Scores 0-100 (higher is better). diff = method - baseline in points. "
            f"{conf}% CI: percentile bootstrap of the mean difference (n={s['n_boot']}, "
            f"seed={s['seed']}). p: two-sided Wilcoxon signed-rank test. Tie: |diff| <= "
            f"{s['tie_tol']} points. Verdict 'better'/'worse' when p < {s['alpha']} and the CI "
            "excludes 0; p-values are not corrected for testing several dimensions. "
            + PROVENANCE_NOTE
            + "."
        )
        + "</p>"
    ]
    for mi, m in enumerate(cmp.methods, 1):
        pr = m.pairing
        body.append(
            f'<section class="method" id="method-{mi}"><h2>{escape(m.side.label)} vs '
            f'{escape(base.label)} <span class="side">({len(pr.pairs)} paired videos; '
            f"{escape(m.side.source)})</span></h2>"
        )
        if cmp.note(m):
            body.append(f'<p class="note"><b>Note:</b> {escape(cmp.note(m) or "")}.</p>')
        body.append(
            svg_ci_forest(
                [
                    (
                        row.title,
                        row.stats.mean_diff,
                        row.stats.ci_low,
                        row.stats.ci_high,
                        row.stats.verdict,
                    )
                    for row in m.rows
                ]
            )
        )
        rows = []
        for row in m.rows:
            st = row.stats
            ci = "-" if st.ci_low is None else f"[{st.ci_low:+.1f}, {st.ci_high:+.1f}]"
            rows.append(
                f'<tr><td>{escape(row.title)}<div class="side">{escape(row.name)}</div></td>'
                f"<td>{escape(provenance_label(row.backbone, row.vbench))}</td>"
                f'<td class="num">{_f(st.mean_a)}</td><td class="num">{_f(st.mean_b)}</td>'
                f'<td class="num">{_f(st.mean_diff, "{:+.1f}")}</td><td class="num">{ci}</td>'
                f'<td class="num">{format_p(st.p_value)}</td>'
                f'<td class="num">{st.wins}/{st.ties}/{st.losses}</td><td class="num">{st.n}</td>'
                f"<td>{_badge(st.verdict, st.verdict)}</td></tr>"
            )
        body.append(
            '<table class="stats"><thead><tr><th>dimension</th><th>backbone</th>'
            f'<th class="num">{escape(base.label)}</th><th class="num">{escape(m.side.label)}</th>'
            f'<th class="num">diff</th><th class="num">{conf}% CI</th><th class="num">p</th>'
            '<th class="num">W/T/L</th><th class="num">n</th><th>verdict</th></tr></thead><tbody>'
            + "".join(rows)
            + "</tbody></table>"
        )
        frows = "".join(
            f'<tr><td>{escape(k)}</td><td class="num">{m.flags_baseline.get(k, 0)}</td>'
            f'<td class="num">{m.flags_method.get(k, 0)}</td></tr>'
            for k in (*known_flags(), ERROR_FLAG)
        )
        body.append(
            '<table class="flags"><thead><tr><th>failure flag (videos)</th>'
            f'<th class="num">{escape(base.label)}</th><th class="num">{escape(m.side.label)}</th>'
            f"</tr></thead><tbody>{frows}</tbody></table>"
        )
        body.append(_tempo_html(m))
        for what, keys in (
            (f"only in {base.label}", pr.only_baseline),
            (f"only in {m.side.label}", pr.only_method),
            ("ambiguous, not paired", pr.ambiguous),
        ):
            if keys:
                items = "".join(f'<li class="name">{escape(k)}</li>' for k in keys)
                body.append(
                    f'<details class="unmatched"><summary>{escape(what)} ({len(keys)})</summary>'
                    f"<ul>{items}</ul></details>"
                )
        body.append(
            '<table class="pairs"><thead><tr><th>video</th>'
            f'<th class="num">composite<div class="side">{escape(base.label)} / '
            f"{escape(m.side.label)} / diff</div></th><th>{escape(base.label)}</th>"
            f"<th>{escape(m.side.label)}</th></tr></thead><tbody>"
        )
        for k, ra, rb in pr.pairs:
            ca, cb = metric_value(ra, COMPOSITE), metric_value(rb, COMPOSITE)
            diff = None if ca is None or cb is None else cb - ca
            cells = []
            for r in (ra, rb):
                cells.append(
                    f'<td><div class="thumbs">{_thumbs(r, 4)}</div>{_ssm(r)}{_motion(r)}'
                    f"<div>{_status(r)}</div></td>"
                )
            body.append(
                f'<tr class="pair"><td class="name">{escape(k)}</td>'
                f'<td class="num">{_f(ca)} / {_f(cb)} / {_f(diff, "{:+.1f}")}</td>'
                + "".join(cells)
                + "</tr>"
            )
        body.append("</tbody></table></section>")
    return _page(title, sub, "".join(body))


def _tempo_html(m: MethodComparison) -> str:
    """Table of tempo, motion ratio and pair flags per pair of one method."""
    from vqeval.report.comparetext import format_ratio

    if not m.tempos:
        return ""
    n = len(m.tempos)
    flagged = ", ".join(f"{f} {c}/{n}" for f, c in m.pair_flags.items() if c) or "none"
    rows = []
    for (k, _, _), t in zip(m.pairing.pairs, m.tempos):
        why = (
            t.reason
            if t.tempo is not None or not t.tempo_reason
            else (f"{t.reason}; tempo: {t.tempo_reason}")
        )
        conf = "-" if t.tempo_confidence is None else f"{t.tempo_confidence:.3f}"
        flags = "".join(_badge(f, "flag") for f in t.pair_flags) or "-"
        rows.append(
            f'<tr><td class="name">{escape(k)}</td><td class="num">{format_ratio(t.tempo)}</td>'
            f'<td class="num">{conf}</td><td class="num">{format_ratio(t.motion_ratio)}</td>'
            f"<td>{flags}</td><td>{escape(why)}</td></tr>"
        )
    return (
        '<p class="note">'
        + escape(
            "Tempo against the baseline: 1.00x = same speed, 0.50x = half speed (from "
            "aligning the frames); motion = method / baseline mean flow speed. "
            f"Pair flags: {flagged}."
        )
        + '</p><table class="tempo"><thead><tr><th>video</th><th class="num">tempo</th>'
        '<th class="num">confidence</th><th class="num">motion</th><th>pair flags</th>'
        "<th>why</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
    )


def write_compare_html(cmp: Comparison, path: str | os.PathLike[str]) -> Path:
    """Write :func:`render_compare_html` to ``path`` atomically."""
    return write_file(path, render_compare_html(cmp))
