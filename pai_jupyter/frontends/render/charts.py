"""A small SVG line chart with axes: several series overlaid, for notebooks and static outputs.

Hand-drawn on purpose (a few dozen lines, no script, so it survives a saved notebook and an
untrusted one): x and y axes with "nice" ticks, a legend, one ``<title>`` per series so hovering
a line names it and its last value. Colours come from JupyterLab's theme variables with fallbacks.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence

# JupyterLab's categorical palette (--jp-*-color), then fixed fallbacks for plain HTML viewers.
PALETTE = (
    "var(--jp-brand-color1, #1976d2)",
    "var(--jp-warn-color1, #f57c00)",
    "var(--jp-success-color1, #388e3c)",
    "var(--jp-error-color1, #d32f2f)",
    "#7b1fa2",
    "#00838f",
    "#5d4037",
    "#c2185b",
)


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high] (1, 2, 2.5 or 5 times a power of ten apart)."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return []
    if high == low:
        return [low]
    raw = (high - low) / max(1, count - 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.floor(low / step) * step
    ticks, value = [], first
    while value <= high + step * 0.5 and len(ticks) < 50:
        ticks.append(round(value, 12))
        value += step
    return ticks


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def line_chart(
    series: Mapping[str, Sequence[tuple[float, float]]],
    *,
    y_label: str = "",
    x_label: str = "step",
    width: int = 520,
    height: int = 240,
) -> str:
    """An SVG chart of ``{label: [(x, y), ...]}`` with axes, ticks and a legend."""
    drawn = {label: [(float(x), float(y)) for x, y in pts] for label, pts in series.items() if pts}
    if not drawn:
        return (
            f'<div style="color:var(--jp-ui-font-color2, #666);font-size:12px">'
            f"{html.escape(y_label or 'metric')}: no values reported yet</div>"
        )
    xs = [x for pts in drawn.values() for x, _ in pts]
    ys = [y for pts in drawn.values() for _, y in pts]
    x_ticks, y_ticks = nice_ticks(min(xs), max(xs)), nice_ticks(min(ys), max(ys))
    x0, x1 = min(min(xs), x_ticks[0]), max(max(xs), x_ticks[-1])
    y0, y1 = min(min(ys), y_ticks[0]), max(max(ys), y_ticks[-1])
    left, right, top, bottom = 56, 12, 12, 36
    legend_h = 16 * len(drawn)
    plot_w, plot_h = width - left - right, height - top - bottom

    def px(x: float) -> float:
        return left + (x - x0) / ((x1 - x0) or 1) * plot_w

    def py(y: float) -> float:
        return top + plot_h - (y - y0) / ((y1 - y0) or 1) * plot_h

    axis = "var(--jp-ui-font-color2, #666)"
    grid = "var(--jp-border-color2, #e0e0e0)"
    parts = [
        f'<svg width="{width}" height="{height + legend_h}" role="img" '
        f'aria-label="{html.escape(y_label)} by {html.escape(x_label)}" '
        'style="font-family:var(--jp-ui-font-family, sans-serif);font-size:10px" class="pai-chart">'
    ]
    for t in y_ticks:
        y = py(t)
        parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="{grid}"/>')
        parts.append(f'<text x="{left - 4}" y="{y + 3:.1f}" text-anchor="end" fill="{axis}">{_fmt(t)}</text>')
    for t in x_ticks:
        x = px(t)
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top + plot_h}" y2="{top + plot_h + 4}" stroke="{axis}"/>'
        )
        parts.append(
            f'<text x="{x:.1f}" y="{top + plot_h + 15}" text-anchor="middle" fill="{axis}">{_fmt(t)}</text>'
        )
    parts.append(
        f'<line x1="{left}" x2="{left}" y1="{top}" y2="{top + plot_h}" stroke="{axis}"/>'
        f'<line x1="{left}" x2="{left + plot_w}" y1="{top + plot_h}" y2="{top + plot_h}" stroke="{axis}"/>'
        f'<text x="{left + plot_w / 2:.1f}" y="{height - 4}" text-anchor="middle" fill="{axis}">'
        f"{html.escape(x_label)}</text>"
        f'<text x="12" y="{top + plot_h / 2:.1f}" text-anchor="middle" fill="{axis}" '
        f'transform="rotate(-90 12 {top + plot_h / 2:.1f})">{html.escape(y_label)}</text>'
    )
    for i, (label, pts) in enumerate(drawn.items()):
        colour = PALETTE[i % len(PALETTE)]
        coords = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in pts)
        title = (
            f"{label}: last {_fmt(pts[-1][1])} at {x_label} {_fmt(pts[-1][0])}, min {_fmt(min(y for _, y in pts))}"
        )
        shape = (
            f'<polyline fill="none" stroke="{colour}" stroke-width="1.6" points="{coords}">'
            if len(pts) > 1
            else f'<circle r="3" fill="{colour}" cx="{px(pts[0][0]):.1f}" cy="{py(pts[0][1]):.1f}">'
        )
        end = "</polyline>" if len(pts) > 1 else "</circle>"
        parts.append(f"{shape}<title>{html.escape(title)}</title>{end}")
        ly = height + 16 * i + 4
        parts.append(
            f'<rect x="{left}" y="{ly}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{left + 14}" y="{ly + 9}" fill="var(--jp-ui-font-color1, #222)">{html.escape(title)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
