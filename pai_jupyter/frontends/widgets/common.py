"""Drawing helpers shared by the job and service widgets."""

from __future__ import annotations

import html


def svg_line_chart(points: list[tuple[float, float]], width: int = 260, height: int = 60, label: str = "") -> str:
    """A tiny dependency-free SVG line chart (theme colours through --jp-* variables)."""
    if len(points) < 2:
        return f'<div style="color:var(--jp-ui-font-color2);font-size:11px">{html.escape(label)}: waiting for data</div>'
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    sx = (width - 4) / ((x1 - x0) or 1)
    sy = (height - 14) / ((y1 - y0) or 1)
    coords = " ".join(f"{2 + (x - x0) * sx:.1f},{height - 2 - (y - y0) * sy:.1f}" for x, y in points)
    return (
        f'<svg width="{width}" height="{height}" role="img" aria-label="{html.escape(label)} chart">'
        f'<text x="2" y="10" font-size="10" fill="var(--jp-ui-font-color2, #666)">'
        f"{html.escape(label)} {ys[-1]:.4g} (min {y0:.4g})</text>"
        f'<polyline fill="none" stroke="var(--jp-brand-color1, #1976d2)" stroke-width="1.5" points="{coords}"/>'
        "</svg>"
    )
