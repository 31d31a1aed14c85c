// Scales, ticks and series helpers for the sidebar's hand-drawn SVG charts.
// Pure functions (no DOM, no React), so they are unit-tested on their own
// (ui-tests/tests/chart.spec.ts) and the components only lay out what these return.

/** A point of a series: [x, y] (x is the step for reported metrics, epoch seconds otherwise). */
export type Point = [number, number];

/** A linear map from a data interval onto a pixel interval, and back. */
export interface Scale {
  (value: number): number;
  invert(pixel: number): number;
  readonly domain: [number, number];
  readonly range: [number, number];
}

export function linearScale(domain: [number, number], range: [number, number]): Scale {
  const [d0, d1] = domain;
  const [r0, r1] = range;
  const span = d1 - d0 || 1;
  const scale = ((value: number) => r0 + ((value - d0) / span) * (r1 - r0)) as Scale;
  scale.invert = (pixel: number) => d0 + ((pixel - r0) / (r1 - r0 || 1)) * span;
  Object.defineProperty(scale, 'domain', { value: [d0, d1] });
  Object.defineProperty(scale, 'range', { value: [r0, r1] });
  return scale;
}

/** The tick spacing near span/count, rounded to 1, 2 or 5 times a power of ten. */
export function tickStep(span: number, count: number): number {
  if (!(span > 0) || !(count > 0)) {
    return 0;
  }
  const raw = span / count;
  const power = Math.pow(10, Math.floor(Math.log10(raw)));
  const unit = raw / power;
  const nice = unit >= 5 ? 5 : unit >= 2 ? 2 : 1;
  return nice * power;
}

/** Round tick values inside [min, max], about `count` of them (none for an empty interval). */
export function ticks(min: number, max: number, count: number): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max) || max < min) {
    return [];
  }
  if (max === min) {
    return [min];
  }
  const step = tickStep(max - min, count);
  // A hair of slack so that 0.3 / 0.1 = 2.9999999999999996 still counts 0.3 in.
  const first = Math.ceil(min / step - 1e-9);
  const last = Math.floor(max / step + 1e-9);
  const out: number[] = [];
  for (let i = first; i <= last; i++) {
    // Multiplying the integer index avoids accumulating 0.1 + 0.2 style errors.
    out.push(Number((i * step).toPrecision(12)));
  }
  return out;
}

/** A tick label: as few digits as the tick spacing needs, with k/M for large values. */
export function formatTick(value: number, step: number): string {
  const abs = Math.abs(value);
  if (abs >= 1e6 && step >= 1e5) {
    return `${Number((value / 1e6).toPrecision(3))}M`;
  }
  if (abs >= 1e4 && step >= 1e3) {
    return `${Number((value / 1e3).toPrecision(3))}k`;
  }
  if (step >= 1 || step === 0) {
    return String(Math.round(value));
  }
  const decimals = Math.min(8, Math.max(0, -Math.floor(Math.log10(step))));
  return value.toFixed(decimals);
}

/** An HH:MM:SS label for a time axis in epoch seconds. */
export function formatClock(seconds: number): string {
  const d = new Date(seconds * 1000);
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** [min, max] of the x and y values of several series (null when there is no point). */
export function extent(series: Point[][]): { x: [number, number]; y: [number, number] } | null {
  let x0 = Infinity;
  let x1 = -Infinity;
  let y0 = Infinity;
  let y1 = -Infinity;
  for (const points of series) {
    for (const [x, y] of points) {
      if (x < x0) {
        x0 = x;
      }
      if (x > x1) {
        x1 = x;
      }
      if (y < y0) {
        y0 = y;
      }
      if (y > y1) {
        y1 = y;
      }
    }
  }
  return x0 === Infinity ? null : { x: [x0, x1], y: [y0, y1] };
}

/** Index of the point whose x is nearest to `x` in a series sorted by x (-1 if empty). */
export function nearest(points: Point[], x: number): number {
  if (points.length === 0) {
    return -1;
  }
  let lo = 0;
  let hi = points.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (points[mid]![0] <= x) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  return Math.abs(points[hi]![0] - x) < Math.abs(points[lo]![0] - x) ? hi : lo;
}

/**
 * At most `budget` points that keep the curve's shape: the first and last point, and per
 * bucket of x the lowest and highest point in x order (min/max decimation, so spikes stay).
 */
export function decimate(points: Point[], budget: number): Point[] {
  if (points.length <= budget || budget < 4) {
    return points;
  }
  const buckets = Math.max(1, Math.floor((budget - 2) / 2));
  const first = points[0]!;
  const last = points[points.length - 1]!;
  const span = last[0] - first[0] || 1;
  const out: Point[] = [first];
  let i = 1;
  for (let b = 0; b < buckets; b++) {
    const end = first[0] + (span * (b + 1)) / buckets;
    let lo: Point | null = null;
    let hi: Point | null = null;
    let loAt = 0;
    let hiAt = 0;
    for (; i < points.length - 1 && points[i]![0] <= end; i++) {
      const p = points[i]!;
      if (lo === null || p[1] < lo[1]) {
        lo = p;
        loAt = i;
      }
      if (hi === null || p[1] > hi[1]) {
        hi = p;
        hiAt = i;
      }
    }
    if (lo && hi) {
      if (lo === hi) {
        out.push(lo);
      } else if (loAt < hiAt) {
        out.push(lo, hi);
      } else {
        out.push(hi, lo);
      }
    }
  }
  out.push(last);
  return out;
}

/** An SVG path through the points ("M x,y L x,y ..."), in pixels. */
export function linePath(points: Point[], sx: Scale, sy: Scale): string {
  let d = '';
  for (let i = 0; i < points.length; i++) {
    const [x, y] = points[i]!;
    d += `${i ? 'L' : 'M'}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`;
  }
  return d;
}

/**
 * Add points to a series sorted by x (in place; returns it). A point at an x already present
 * replaces it; points that arrive out of order are placed with one sort at the end.
 */
export function merge(series: Point[], points: Point[]): Point[] {
  let unsorted = false;
  for (const p of points) {
    const last = series[series.length - 1];
    if (!last || p[0] > last[0]) {
      series.push(p);
      continue;
    }
    const at = nearest(series, p[0]);
    if (!unsorted && series[at]![0] === p[0]) {
      series[at] = p;
    } else {
      series.push(p);
      unsorted = true;
    }
  }
  if (!unsorted) {
    return series;
  }
  series.sort((a, b) => a[0] - b[0]);
  // Drop repeated x (keep the later arrival) after the sort.
  const out: Point[] = [];
  for (const p of series) {
    if (out.length && out[out.length - 1]![0] === p[0]) {
      out[out.length - 1] = p;
    } else {
      out.push(p);
    }
  }
  return out;
}
