// A small SVG line chart, drawn by hand rather than with a charting library:
// the sidebar needs a few sparkline-sized charts that redraw a few times a
// second, which plain SVG does in microseconds with no bundle weight (uPlot or
// Chart.js would add 40-200 kB and draw on a canvas that cannot read the
// theme). Colours come from CSS classes that use JupyterLab's --jp-* variables,
// so the charts follow the light and dark themes with no code. The SVG
// stretches to the sidebar's width (viewBox + non-scaling strokes).
import React from 'react';

import { num } from '../format';
import { trans } from '../i18n';

export interface ChartSeries {
  label: string;
  points: [number, number][];
  /** 0..5: picks the theme colour class pai-Chart-series-N. */
  colour?: number;
}

export interface LineChartProps {
  title: string;
  series: ChartSeries[];
  unit?: string;
  /** Fixed y range (e.g. [0, 100] for percentages); otherwise fitted to the data. */
  yRange?: [number, number];
  /** Lowest y shown when fitting (0 for rates and counts). */
  yFloor?: number;
  height?: number;
  testId?: string;
}

const WIDTH = 300;
const PAD = 2;

function path(
  points: [number, number][],
  sx: (x: number) => number,
  sy: (y: number) => number
): string {
  return points
    .map(([x, y], i) => `${i ? 'L' : 'M'}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`)
    .join('');
}

export function LineChart(props: LineChartProps): JSX.Element {
  const height = props.height ?? 56;
  const drawn = props.series.filter(s => s.points.length > 0);
  const all = drawn.flatMap(s => s.points);
  const last = drawn.map(s => ({ s, value: s.points[s.points.length - 1]![1] }));
  const header = (
    <div className="pai-Chart-header">
      <span className="pai-Chart-title">{props.title}</span>
      <span className="pai-Chart-values">
        {last.map(({ s, value }) => (
          <span key={s.label} className={`pai-Chart-value pai-Chart-series-${s.colour ?? 0}`}>
            {drawn.length > 1 ? `${s.label} ` : ''}
            {num(value)}
            {props.unit ?? ''}
          </span>
        ))}
      </span>
    </div>
  );
  if (all.length < 2) {
    return (
      <div className="pai-Chart" data-testid={props.testId} data-points={all.length}>
        {header}
        <div className="pai-Chart-empty" style={{ height }}>
          {trans().__('waiting for data')}
        </div>
      </div>
    );
  }
  const xs = all.map(p => p[0]);
  const ys = all.map(p => p[1]);
  const x0 = Math.min(...xs);
  const x1 = Math.max(...xs);
  let [y0, y1] = props.yRange ?? [Math.min(...ys), Math.max(...ys)];
  if (props.yFloor !== undefined) {
    y0 = Math.min(y0, props.yFloor);
  }
  if (y0 === y1) {
    // A flat series: centre it, or sit it on the floor.
    const pad = Math.max(Math.abs(y0) * 0.1, 1);
    y1 += pad;
    y0 = props.yFloor === undefined ? y0 - pad : y0;
  }
  const sx = (x: number): number => PAD + ((x - x0) / (x1 - x0 || 1)) * (WIDTH - 2 * PAD);
  const sy = (y: number): number => height - PAD - ((y - y0) / (y1 - y0)) * (height - 2 * PAD);
  return (
    <div className="pai-Chart" data-testid={props.testId} data-points={all.length}>
      {header}
      <svg
        className="pai-Chart-svg"
        viewBox={`0 0 ${WIDTH} ${height}`}
        preserveAspectRatio="none"
        height={height}
        role="img"
        aria-label={trans().__('%1 chart', props.title)}
      >
        <line className="pai-Chart-axis" x1={0} x2={WIDTH} y1={height - 1} y2={height - 1} />
        {drawn.map(s =>
          s.points.length === 1 ? null : (
            <path
              key={s.label}
              className={`pai-Chart-line pai-Chart-series-${s.colour ?? 0}`}
              d={path(s.points, sx, sy)}
              vectorEffect="non-scaling-stroke"
            />
          )
        )}
      </svg>
      <div className="pai-Chart-range">
        <span>
          {num(y0)} – {num(y1)}
          {props.unit ?? ''}
        </span>
      </div>
    </div>
  );
}
