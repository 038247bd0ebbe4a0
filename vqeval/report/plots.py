"""Self-contained plots for HTML reports: inline SVG strings and PNG data URIs.

Nothing here touches the network or the file system. Every text that ends up
in an SVG (labels, titles) is escaped with :func:`html.escape`.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Sequence
from html import escape
from typing import Any

import numpy as np

#: Viridis-like colour stops (position 0-1, RGB 0-255) for heat maps.
_STOPS = np.array(
    [
        [0.00, 68, 1, 84],
        [0.25, 59, 82, 139],
        [0.50, 33, 145, 140],
        [0.75, 94, 201, 98],
        [1.00, 253, 231, 37],
    ],
    dtype=np.float64,
)
_FONT = "font-family:system-ui,sans-serif;font-size:11px"
VERDICT_COLORS = {"better": "#1a7f37", "worse": "#cf222e"}
NEUTRAL = "#57606a"


def colormap(v: np.ndarray) -> np.ndarray:
    """Map values in 0-1 to (…, 3) uint8 RGB along a viridis-like ramp."""
    x = np.clip(np.nan_to_num(np.asarray(v, dtype=np.float64), nan=0.0), 0.0, 1.0)
    out = np.empty((*x.shape, 3), dtype=np.float64)
    for c in range(3):
        out[..., c] = np.interp(x, _STOPS[:, 0], _STOPS[:, c + 1])
    return np.round(out).astype(np.uint8)


def png_data_uri(rgb: np.ndarray) -> str:
    """``data:image/png;base64,...`` for an (H, W, 3) uint8 image."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8), "RGB").save(
        buf, "PNG", optimize=True
    )
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def heatmap_data_uri(
    matrix: Any, vmin: float = -1.0, vmax: float = 1.0, scale: int = 2
) -> str | None:
    """PNG data URI of a square matrix (e.g. a self-similarity matrix, -1..1).

    Args:
        matrix: (N, N) numbers (nested lists accepted); N <= 256.
        vmin, vmax: values mapped to the ends of the colour ramp.
        scale: integer upscaling (nearest neighbour) so small matrices stay crisp.

    Returns:
        The data URI, or ``None`` when ``matrix`` is not a usable 2-D array.
    """
    try:
        m = np.asarray(matrix, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if m.ndim != 2 or m.size == 0 or max(m.shape) > 256:
        return None
    rgb = colormap((m - vmin) / max(vmax - vmin, 1e-12))
    if scale > 1:
        rgb = rgb.repeat(scale, axis=0).repeat(scale, axis=1)
    return png_data_uri(rgb)


def _nice_max(x: float) -> float:
    if x <= 0 or not math.isfinite(x):
        return 1.0
    p = 10 ** math.floor(math.log10(x))
    for m in (1, 2, 2.5, 5, 10):
        if x <= m * p:
            return m * p
    return 10 * p


def svg_line(
    xs: Sequence[float],
    ys: Sequence[float],
    *,
    width: int = 260,
    height: int = 90,
    x_label: str = "time (s)",
    y_label: str = "",
    title: str = "",
) -> str | None:
    """Small line chart (e.g. motion over time). ``None`` when there are < 2 points."""
    try:
        x = np.asarray(xs, dtype=np.float64).ravel()
        y = np.asarray(ys, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        return None
    n = min(x.size, y.size)
    if n < 2:
        return None
    x, y = x[:n], y[:n]
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    if x.size < 2:
        return None
    ml, mr, mt, mb = 34, 6, 6, 18
    pw, ph = width - ml - mr, height - mt - mb
    x0, x1 = float(x.min()), float(x.max())
    if x1 <= x0:
        x1 = x0 + 1.0
    y1 = _nice_max(float(y.max()))
    y0 = min(0.0, float(y.min()))
    px = ml + (x - x0) / (x1 - x0) * pw
    py = mt + ph - (y - y0) / (y1 - y0) * ph
    pts = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(px, py))
    t = f"<title>{escape(title)}</title>" if title else ""
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="plot" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title or y_label)}">{t}'
        f'<rect x="{ml}" y="{mt}" width="{pw}" height="{ph}" fill="#f6f8fa" stroke="#d0d7de"/>'
        f'<polyline points="{pts}" fill="none" stroke="#0969da" stroke-width="1.3"/>'
        f'<text x="{ml - 3}" y="{mt + 9}" text-anchor="end" style="{_FONT}">{y1:g}</text>'
        f'<text x="{ml - 3}" y="{mt + ph}" text-anchor="end" style="{_FONT}">{y0:g}</text>'
        f'<text x="{ml}" y="{height - 4}" style="{_FONT}">{x0:.3g}</text>'
        f'<text x="{ml + pw}" y="{height - 4}" text-anchor="end" style="{_FONT}">'
        f"{x1:.3g} {escape(x_label)}</text>"
        + (
            f'<text x="{ml + pw / 2:.0f}" y="{height - 4}" text-anchor="middle" style="{_FONT}">'
            f"{escape(y_label)}</text>"
            if y_label
            else ""
        )
        + "</svg>"
    )


def svg_strip(
    series: Sequence[tuple[str, Sequence[float]]],
    *,
    width: int = 640,
    row_h: int = 22,
    label_w: int = 170,
) -> str:
    """Strip chart of score distributions on the 0-100 scale, one row per dimension.

    Each video is a dot; the black tick is the mean. ``series`` holds
    ``(label, scores)`` pairs; ``None`` scores must be dropped by the caller.
    """
    mr, mt = 12, 6
    pw = width - label_w - mr
    height = mt + row_h * len(series) + 22
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="plot strip" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="score distributions per dimension">'
    ]
    for g in range(0, 101, 25):
        gx = label_w + g / 100 * pw
        parts.append(
            f'<line x1="{gx:.1f}" y1="{mt}" x2="{gx:.1f}" y2="{height - 20}" stroke="#d0d7de"/>'
            f'<text x="{gx:.1f}" y="{height - 6}" text-anchor="middle" style="{_FONT}">{g}</text>'
        )
    for i, (label, vals) in enumerate(series):
        cy = mt + row_h * i + row_h / 2
        parts.append(
            f'<text x="{label_w - 6}" y="{cy + 4:.1f}" text-anchor="end" style="{_FONT}">'
            f"{escape(label)}</text>"
        )
        v = [float(a) for a in vals if a is not None and math.isfinite(float(a))]
        for j, a in enumerate(v):
            jitter = ((j * 7919) % 11 - 5) * 0.9
            cx = label_w + min(max(a, 0.0), 100.0) / 100 * pw
            parts.append(
                f'<circle cx="{cx:.1f}" cy="{cy + jitter:.1f}" r="2.6" fill="#0969da" '
                f'fill-opacity="0.55"/>'
            )
        if v:
            mx = label_w + min(max(sum(v) / len(v), 0.0), 100.0) / 100 * pw
            parts.append(
                f'<line x1="{mx:.1f}" y1="{cy - 8:.1f}" x2="{mx:.1f}" y2="{cy + 8:.1f}" '
                f'stroke="#24292f" stroke-width="2"><title>mean {sum(v) / len(v):.1f}</title></line>'
            )
    parts.append("</svg>")
    return "".join(parts)


def svg_ci_forest(
    rows: Sequence[tuple[str, float | None, float | None, float | None, str]],
    *,
    width: int = 640,
    row_h: int = 22,
    label_w: int = 170,
) -> str:
    """Forest plot of paired differences: ``(label, mean_diff, ci_low, ci_high, verdict)``.

    Differences are in points (method - baseline); the axis is symmetric
    around 0, wide enough for every interval. Green = better, red = worse,
    grey = no significant difference.
    """
    mt = 6
    height = mt + row_h * len(rows) + 22
    ext = [abs(v) for r in rows for v in r[1:4] if v is not None and math.isfinite(v)]
    lim = _nice_max(max(ext) if ext else 1.0)
    # right margin: half the widest tick label ("+100") past its grid line, so
    # the label centred on the last line is never cut by the edge (~7 px a character)
    mr = 8 + 4 * len(f"{lim:+g}")
    pw = width - label_w - mr

    def sx(v: float) -> float:
        return label_w + (v + lim) / (2 * lim) * pw

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="plot forest" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="paired differences with confidence intervals">'
    ]
    for g in (-lim, -lim / 2, 0.0, lim / 2, lim):
        parts.append(
            f'<line x1="{sx(g):.1f}" y1="{mt}" x2="{sx(g):.1f}" y2="{height - 20}" '
            f'stroke="{"#8c959f" if g == 0 else "#d0d7de"}"/>'
            f'<text x="{sx(g):.1f}" y="{height - 6}" text-anchor="middle" style="{_FONT}">'
            f"{g:+g}</text>"
        )
    for i, (label, d, lo, hi, verdict) in enumerate(rows):
        cy = mt + row_h * i + row_h / 2
        col = VERDICT_COLORS.get(verdict, NEUTRAL)
        parts.append(
            f'<text x="{label_w - 6}" y="{cy + 4:.1f}" text-anchor="end" style="{_FONT}">'
            f"{escape(label)}</text>"
        )
        if d is None or lo is None or hi is None:
            continue
        parts.append(
            f'<line x1="{sx(lo):.1f}" y1="{cy:.1f}" x2="{sx(hi):.1f}" y2="{cy:.1f}" '
            f'stroke="{col}" stroke-width="2"/>'
            f'<circle cx="{sx(d):.1f}" cy="{cy:.1f}" r="4" fill="{col}">'
            f"<title>{escape(f'{d:+.1f} [{lo:+.1f}, {hi:+.1f}] {verdict}')}</title></circle>"
        )
    parts.append("</svg>")
    return "".join(parts)
