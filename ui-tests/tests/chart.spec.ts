// The sidebar charts' pure functions (labextension/src/chart/scale.ts): scales, ticks,
// tick labels, nearest point, min/max decimation and merging. No browser page needed.
import { expect, test } from '@playwright/test';

import {
  decimate,
  extent,
  formatTick,
  linearScale,
  merge,
  nearest,
  Point,
  ticks,
  tickStep
} from '../../labextension/src/chart/scale';

test('a linear scale maps and inverts', () => {
  const s = linearScale([0, 10], [40, 240]);
  expect(s(0)).toBe(40);
  expect(s(5)).toBe(140);
  expect(s.invert(240)).toBe(10);
  const flipped = linearScale([0, 1], [100, 0]); // y grows upwards
  expect(flipped(0.25)).toBe(75);
  expect(linearScale([3, 3], [0, 10])(3)).toBe(0); // an empty domain does not divide by zero
});

test('ticks are round numbers inside the range', () => {
  expect(tickStep(1, 5)).toBe(0.2);
  expect(tickStep(1_000_000, 4)).toBe(200_000);
  expect(tickStep(7, 3)).toBe(2);
  expect(ticks(0, 1, 5)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
  expect(ticks(0.0099, 1.0013, 4)).toEqual([0.2, 0.4, 0.6, 0.8, 1]);
  expect(ticks(1, 1_000_000, 4)).toEqual([200_000, 400_000, 600_000, 800_000, 1_000_000]);
  expect(ticks(0.1, 0.3, 2)).toEqual([0.1, 0.2, 0.3]); // no 0.30000000000000004
  expect(ticks(5, 5, 4)).toEqual([5]);
  expect(ticks(NaN, 1, 4)).toEqual([]);
});

test('tick labels use the digits the spacing needs', () => {
  expect(formatTick(0.4, 0.2)).toBe('0.4');
  expect(formatTick(0.05, 0.01)).toBe('0.05');
  expect(formatTick(600_000, 200_000)).toBe('600k');
  expect(formatTick(2_000_000, 500_000)).toBe('2M');
  expect(formatTick(40_000, 20_000)).toBe('40k');
  expect(formatTick(250, 50)).toBe('250');
});

test('extent and nearest', () => {
  const points: Point[] = [
    [1, 5],
    [2, 3],
    [4, 9]
  ];
  expect(extent([points, [[0, 4]]])).toEqual({ x: [0, 4], y: [3, 9] });
  expect(extent([[]])).toBeNull();
  expect(nearest(points, 2.9)).toBe(1);
  expect(nearest(points, 3.1)).toBe(2);
  expect(nearest(points, -10)).toBe(0);
  expect(nearest([], 1)).toBe(-1);
});

test('decimation keeps the first and last point and every bucket extreme', () => {
  const n = 100_000;
  const points: Point[] = [];
  for (let i = 1; i <= n; i++) {
    points.push([i, Math.exp(-i / 10_000) + (i === 54_321 ? 5 : 0)]); // one spike
  }
  const out = decimate(points, 600);
  expect(out.length).toBeLessThanOrEqual(600);
  expect(out[0]).toEqual(points[0]);
  expect(out[out.length - 1]).toEqual(points[n - 1]);
  expect(Math.max(...out.map(p => p[1]))).toBe(points[54_320]![1]); // the spike survives
  expect(Math.min(...out.map(p => p[1]))).toBe(points[n - 1]![1]);
  for (let i = 1; i < out.length; i++) {
    expect(out[i]![0]).toBeGreaterThan(out[i - 1]![0]); // still in x order
  }
  expect(decimate(points.slice(0, 10), 600)).toHaveLength(10);
});

test('merge appends, replaces a repeated x and sorts late points in', () => {
  const series: Point[] = [
    [1, 1],
    [3, 3]
  ];
  const out = merge(series, [
    [4, 4],
    [3, 30],
    [2, 2],
    [4, 40]
  ]);
  expect(out).toEqual([
    [1, 1],
    [2, 2],
    [3, 30],
    [4, 40]
  ]);
});
