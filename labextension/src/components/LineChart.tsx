// A line chart drawn by hand in SVG: axes with round ticks, a crosshair with a
// tooltip of the values under the pointer, drag-to-zoom, and the summary figures.
// No charting library (this stop adds no npm dependency, and the charts are a few
// hundred points each): the scales, ticks and decimation are pure functions in
// ../chart/scale.ts, and this component only lays them out. Colours come from CSS
// classes over JupyterLab's --jp-* variables, so the light and dark themes apply.
// The SVG is drawn in pixels at the measured width (text must not stretch), and
// `onWidth` tells the owner that width: the point budget it asks the server for.
import React, { useEffect, useRef, useState } from 'react';

import {
  extent,
  formatClock,
  formatTick,
  linePath,
  linearScale,
  nearest,
  Point,
  tickStep,
  ticks
} from '../chart/scale';
import { num } from '../format';
import { trans } from '../i18n';

export interface ChartSeries {
  label: string;
  points: Point[];
  /** 0..5: picks the theme colour class pai-Chart-series-N. */
  colour?: number;
}

/** Exact figures over the whole series (the server's summary), shown under the chart. */
export interface ChartSummary {
  first: number;
  last: number;
  min: number;
  max: number;
  count: number;
}

export interface LineChartProps {
  title: string;
  series: ChartSeries[];
  unit?: string;
  /** Fixed y range (e.g. [0, 100] for percentages); otherwise fitted to the data. */
  yRange?: [number, number];
  /** Lowest y shown when fitting (0 for rates and counts). */
  yFloor?: number;
  /** 'step' (reported metrics) or 'time' (system samples, epoch seconds). */
  xKind?: 'step' | 'time';
  height?: number;
  testId?: string;
  summary?: ChartSummary | null;
  /** Called with the x range the user dragged over; null to reset. Enables drag-zoom. */
  onZoom?: (range: [number, number] | null) => void;
  /** The x range shown when zoomed (the chart draws exactly this domain). */
  zoom?: [number, number] | null;
  /** Shown while a zoomed range is being fetched. */
  loading?: boolean;
  /** A metric picker in the header. */
  picker?: { options: string[]; value: string; onChange: (value: string) => void };
  /** The drawing width in pixels, reported when it changes. */
  onWidth?: (width: number) => void;
}

const MARGIN = { top: 6, right: 8, bottom: 18, left: 42 };
const DRAG_MIN_PX = 6;

/** The element's content width, kept current with a ResizeObserver. */
function useWidth(ref: React.RefObject<HTMLElement>, fallback: number): number {
  const [width, setWidth] = useState(fallback);
  useEffect(() => {
    const el = ref.current;
    if (!el) {
      return;
    }
    const measure = (): void => {
      const w = Math.floor(el.getBoundingClientRect().width);
      if (w > 0) {
        setWidth(w);
      }
    };
    measure();
    const observer = new ResizeObserver(measure);
    observer.observe(el);
    return () => observer.disconnect();
  }, [ref]);
  return width;
}

function yDomain(props: LineChartProps, data: [number, number]): [number, number] {
  let [y0, y1] = props.yRange ?? data;
  if (props.yFloor !== undefined) {
    y0 = Math.min(y0, props.yFloor);
  }
  if (y0 === y1) {
    // A flat series: centre it, or sit it on the floor.
    const pad = Math.max(Math.abs(y0) * 0.1, 1);
    y1 += pad;
    y0 = props.yFloor === undefined ? y0 - pad : y0;
  }
  return [y0, y1];
}

export function LineChart(props: LineChartProps): JSX.Element {
  const box = useRef<HTMLDivElement>(null);
  const width = useWidth(box, 300);
  const height = props.height ?? 96;
  const [hover, setHover] = useState<number | null>(null);
  const [drag, setDrag] = useState<[number, number] | null>(null);
  const onWidth = props.onWidth;
  useEffect(() => {
    onWidth?.(width);
  }, [width, onWidth]);

  const drawn = props.series.filter(s => s.points.length > 0);
  const bounds = extent(drawn.map(s => s.points));
  const count = drawn.reduce((n, s) => n + s.points.length, 0);
  const xKind = props.xKind ?? 'step';
  const header = (
    <div className="pai-Chart-header">
      {props.picker ? (
        <select
          className="pai-Chart-picker"
          aria-label={trans().__('Metric to chart')}
          value={props.picker.value}
          onChange={e => props.picker?.onChange(e.target.value)}
        >
          {props.picker.options.map(o => (
            <option key={o} value={o}>
              {o}
            </option>
          ))}
        </select>
      ) : (
        <span className="pai-Chart-title">{props.title}</span>
      )}
      <span className="pai-Chart-values">
        {drawn.map(s => (
          <span key={s.label} className={`pai-Chart-value pai-Chart-series-${s.colour ?? 0}`}>
            {drawn.length > 1 ? `${s.label} ` : ''}
            {num(s.points[s.points.length - 1]![1])}
            {props.unit ?? ''}
          </span>
        ))}
      </span>
      {props.zoom && props.onZoom ? (
        <button
          className="pai-LinkButton pai-Chart-reset"
          onClick={() => props.onZoom?.(null)}
          title={trans().__('Show the whole range again')}
        >
          {trans().__('Reset zoom')}
        </button>
      ) : null}
    </div>
  );
  const summary = props.summary ? <SummaryLine summary={props.summary} unit={props.unit} /> : null;
  if (!bounds || (count < 2 && !props.zoom)) {
    return (
      <div
        ref={box}
        className="pai-Chart"
        data-testid={props.testId}
        data-points={count}
        data-loading={props.loading || undefined}
      >
        {header}
        <div className="pai-Chart-empty" style={{ height }}>
          {props.loading ? trans().__('loading…') : trans().__('waiting for data')}
        </div>
        {summary}
      </div>
    );
  }

  const xData: [number, number] = props.zoom ?? bounds.x;
  const [y0, y1] = yDomain(props, bounds.y);
  const sx = linearScale(xData, [MARGIN.left, width - MARGIN.right]);
  const sy = linearScale([y0, y1], [height - MARGIN.bottom, MARGIN.top]);
  const xCount = Math.max(2, Math.floor((width - MARGIN.left - MARGIN.right) / 70));
  const xTicks = ticks(xData[0], xData[1], xCount);
  const xStep = tickStep(xData[1] - xData[0], xCount);
  const yTicks = ticks(y0, y1, Math.max(2, Math.floor(height / 28)));
  const yStep = tickStep(y1 - y0, Math.max(2, Math.floor(height / 28)));
  const xLabel = (v: number): string => (xKind === 'time' ? formatClock(v) : formatTick(v, xStep));

  const pointerX = (e: React.MouseEvent<SVGSVGElement>): number => {
    const rect = e.currentTarget.getBoundingClientRect();
    return Math.min(width - MARGIN.right, Math.max(MARGIN.left, e.clientX - rect.left));
  };
  const onMouseDown = (e: React.MouseEvent<SVGSVGElement>): void => {
    if (props.onZoom && e.button === 0) {
      const x = pointerX(e);
      setDrag([x, x]);
    }
  };
  const onMouseMove = (e: React.MouseEvent<SVGSVGElement>): void => {
    const x = pointerX(e);
    setHover(x);
    if (drag) {
      setDrag([drag[0], x]);
    }
  };
  const onMouseUp = (): void => {
    if (drag && props.onZoom && Math.abs(drag[1] - drag[0]) >= DRAG_MIN_PX) {
      const a = sx.invert(Math.min(...drag));
      const b = sx.invert(Math.max(...drag));
      props.onZoom([a, b]);
    }
    setDrag(null);
  };
  const hoverX = hover === null ? null : sx.invert(hover);
  const hits =
    hoverX === null
      ? []
      : drawn.map(s => ({ s, p: s.points[nearest(s.points, hoverX)]! })).filter(h => h.p);

  return (
    <div
      ref={box}
      className="pai-Chart"
      data-testid={props.testId}
      data-points={count}
      data-loading={props.loading || undefined}
      data-x-min={xData[0]}
      data-x-max={xData[1]}
      data-y-min={bounds.y[0]}
      data-y-max={bounds.y[1]}
    >
      {header}
      <div className="pai-Chart-plot">
        <svg
          className="pai-Chart-svg"
          width={width}
          height={height}
          role="img"
          aria-label={trans().__('%1 chart', props.title)}
          onMouseDown={onMouseDown}
          onMouseMove={onMouseMove}
          onMouseUp={onMouseUp}
          onMouseLeave={() => {
            setHover(null);
            setDrag(null);
          }}
        >
          <clipPath id={`pai-clip-${props.testId ?? props.title}`}>
            <rect
              x={MARGIN.left}
              y={MARGIN.top}
              width={Math.max(0, width - MARGIN.left - MARGIN.right)}
              height={Math.max(0, height - MARGIN.top - MARGIN.bottom)}
            />
          </clipPath>
          <g className="pai-Chart-grid">
            {yTicks.map(t => (
              <line key={t} x1={MARGIN.left} x2={width - MARGIN.right} y1={sy(t)} y2={sy(t)} />
            ))}
          </g>
          <g className="pai-Chart-axis pai-Chart-axis-y">
            <line x1={MARGIN.left} x2={MARGIN.left} y1={MARGIN.top} y2={height - MARGIN.bottom} />
            {yTicks.map(t => (
              <text key={t} x={MARGIN.left - 4} y={sy(t)} dy="0.32em" textAnchor="end">
                {formatTick(t, yStep)}
              </text>
            ))}
          </g>
          <g className="pai-Chart-axis pai-Chart-axis-x">
            <line
              x1={MARGIN.left}
              x2={width - MARGIN.right}
              y1={height - MARGIN.bottom}
              y2={height - MARGIN.bottom}
            />
            {xTicks.map(t => (
              <g key={t} transform={`translate(${sx(t)},${height - MARGIN.bottom})`}>
                <line y2={3} />
                <text y={13} textAnchor="middle">
                  {xLabel(t)}
                </text>
              </g>
            ))}
          </g>
          <g clipPath={`url(#pai-clip-${props.testId ?? props.title})`}>
            {drawn.map(s =>
              s.points.length === 1 ? (
                <circle
                  key={s.label}
                  className={`pai-Chart-dot pai-Chart-series-${s.colour ?? 0}`}
                  cx={sx(s.points[0]![0])}
                  cy={sy(s.points[0]![1])}
                  r={2}
                />
              ) : (
                <path
                  key={s.label}
                  className={`pai-Chart-line pai-Chart-series-${s.colour ?? 0}`}
                  d={linePath(s.points, sx, sy)}
                />
              )
            )}
          </g>
          {drag ? (
            <rect
              className="pai-Chart-selection"
              x={Math.min(...drag)}
              y={MARGIN.top}
              width={Math.abs(drag[1] - drag[0])}
              height={height - MARGIN.top - MARGIN.bottom}
            />
          ) : null}
          {hover !== null && hits.length > 0 ? (
            <g className="pai-Chart-crosshair">
              <line x1={hover} x2={hover} y1={MARGIN.top} y2={height - MARGIN.bottom} />
              {hits.map(({ s, p }) => (
                <circle
                  key={s.label}
                  className={`pai-Chart-dot pai-Chart-series-${s.colour ?? 0}`}
                  cx={sx(p[0])}
                  cy={sy(p[1])}
                  r={3}
                />
              ))}
            </g>
          ) : null}
        </svg>
        {hover !== null && hits.length > 0 ? (
          <div
            className="pai-Chart-tooltip"
            data-testid="pai-chart-tooltip"
            style={hover > width / 2 ? { right: width - hover + 8 } : { left: hover + 8 }}
          >
            <div>
              {xKind === 'time' ? formatClock(hits[0]!.p[0]) : trans().__('step %1', hits[0]!.p[0])}
            </div>
            {hits.map(({ s, p }) => (
              <div key={s.label} className={`pai-Chart-series-${s.colour ?? 0}`}>
                {s.label}: {num(p[1], 4)}
                {props.unit ?? ''}
              </div>
            ))}
          </div>
        ) : null}
      </div>
      {summary}
    </div>
  );
}

function SummaryLine(props: { summary: ChartSummary; unit?: string }): JSX.Element {
  const { summary } = props;
  const u = props.unit ?? '';
  return (
    <div
      className="pai-Chart-range"
      data-testid="pai-chart-summary"
      data-first={summary.first}
      data-last={summary.last}
    >
      {trans().__(
        'first %1 · last %2 · min %3 · max %4 · %5 points',
        `${num(summary.first, 4)}${u}`,
        `${num(summary.last, 4)}${u}`,
        `${num(summary.min, 4)}${u}`,
        `${num(summary.max, 4)}${u}`,
        summary.count.toLocaleString()
      )}
    </div>
  );
}
