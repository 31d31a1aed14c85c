// The sidebar's views at scale and side by side (issues 16 and 17): a 1,000,000-point
// job's whole loss curve, zoom, a long history paged and searched on the server, and
// the Compare view overlaying two runs of one experiment.
import { expect, test } from '@jupyterlab/galata';
import * as path from 'path';

import { IMAGES, openSidebar, pointCount, runSetup } from './helpers';

const BIG = Number(process.env.PAI_UI_BIG_POINTS ?? 1_000_000);

test('a 1,000,000-point job draws its whole loss curve; zoom fetches a range', async ({
  page
}) => {
  test.setTimeout(240_000);
  const big = runSetup<{ id: string; first: number; last: number; count: number }>(
    'big-job',
    String(BIG)
  );
  const sidebar = await openSidebar(page);
  // Found by the server's search, whatever the list's first page holds.
  await sidebar.getByLabel('Filter jobs').fill('million-steps');
  const row = sidebar.locator(`.pai-Row[data-job-id="${big.id}"]`);
  await expect(row).toBeVisible();
  const started = Date.now();
  await row.click();
  const detail = sidebar.locator(`.pai-Detail[data-job-id="${big.id}"]`);
  const loss = detail.getByTestId('pai-loss-chart');
  await expect.poll(() => pointCount(loss)).toBeGreaterThan(100);
  const drawnMs = Date.now() - started;
  console.log(`whole curve of ${BIG} points drawn ${drawnMs} ms after the click`);

  // The curve spans the whole run: first step to last, and its values reach both ends.
  await expect(loss).toHaveAttribute('data-x-min', '1');
  await expect(loss).toHaveAttribute('data-x-max', String(BIG));
  const yMin = Number(await loss.getAttribute('data-y-min'));
  const yMax = Number(await loss.getAttribute('data-y-max'));
  expect(yMax).toBeGreaterThanOrEqual(big.first - 1e-9);
  expect(yMin).toBeLessThanOrEqual(big.last + 1e-9);
  expect(await pointCount(loss)).toBeLessThanOrEqual(4000); // the server downsampled it
  const summary = loss.getByTestId('pai-chart-summary');
  expect(Number(await summary.getAttribute('data-first'))).toBeCloseTo(big.first, 9);
  expect(Number(await summary.getAttribute('data-last'))).toBeCloseTo(big.last, 9);
  await expect(summary).toContainText(`${BIG.toLocaleString('en-US')} points`);
  // A finished job: no Stop button.
  await expect(detail.locator('.pai-Detail-header .pai-Badge')).toHaveText('Succeeded');
  await expect(detail.getByRole('button', { name: 'Stop' })).toHaveCount(0);

  // Hover shows the step and value under the pointer.
  const svg = loss.locator('svg');
  const box = (await svg.boundingBox())!;
  await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.5);
  await expect(loss.getByTestId('pai-chart-tooltip')).toContainText('step');
  await sidebar.screenshot({ path: path.join(IMAGES, 'sidebar-million-points.png') });

  // Drag across a tenth of the chart, four times: each range is fetched from the server,
  // and the last one (a few hundred steps) arrives with every raw point.
  const y = box.y + box.height * 0.5;
  let lo = 1;
  let hi = BIG;
  for (let i = 0; i < 4; i++) {
    await page.mouse.move(box.x + box.width * 0.45, y);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.55, y, { steps: 5 });
    await page.mouse.up();
    await expect(loss.getByRole('button', { name: 'Reset zoom' })).toBeVisible();
    await expect.poll(() => loss.getAttribute('data-loading')).toBeNull();
    const before = hi - lo;
    lo = Number(await loss.getAttribute('data-x-min'));
    hi = Number(await loss.getAttribute('data-x-max'));
    expect(hi - lo).toBeLessThan(before / 4);
    expect(lo).toBeGreaterThan(1);
    expect(hi).toBeLessThan(BIG);
    await expect.poll(() => pointCount(loss)).toBeGreaterThan(1);
  }
  expect(hi - lo).toBeLessThan(4 * box.width);
  await expect.poll(() => pointCount(loss)).toBe(hi - lo + 1);
  await loss.getByRole('button', { name: 'Reset zoom' }).click();
  await expect(loss).toHaveAttribute('data-x-max', String(BIG));
});

test('the job list pages from the server and its search covers the whole history', async ({
  page
}) => {
  test.setTimeout(120_000);
  runSetup('history', '130');
  const sidebar = await openSidebar(page);
  const count = sidebar.getByTestId('pai-jobs-count');
  await expect(count).toHaveAttribute('data-shown', '50');
  const total = Number(await count.getAttribute('data-total'));
  expect(total).toBeGreaterThanOrEqual(130);
  await expect(count).toContainText(`showing 50 of ${total}`);
  // Scrolling to the end loads the next page.
  await sidebar.locator('.pai-More').scrollIntoViewIfNeeded();
  await expect(count).toHaveAttribute('data-shown', '100');
  // The oldest job is not among the rows shown, but the server's search finds it.
  await sidebar.getByLabel('Filter jobs').fill('old-job-0000');
  await expect(count).toHaveAttribute('data-total', '1');
  await expect(sidebar.locator('.pai-Row')).toHaveCount(1);
  await expect(sidebar.locator('.pai-Row')).toContainText('old-job-0000');
  await sidebar.getByLabel('Filter jobs').fill('old-job');
  await sidebar.getByLabel('State').selectOption('Failed');
  await expect(count).toHaveAttribute('data-total', String(Math.ceil(130 / 7)));
});

test('the Compare view overlays two runs and marks the best', async ({ page }) => {
  test.setTimeout(150_000);
  const runs = runSetup<{ ids: string[]; states: string[] }>('experiment-runs', 'ui-compare');
  expect(runs.states).toEqual(['Succeeded', 'Succeeded']);
  const sidebar = await openSidebar(page);
  await sidebar.getByRole('tab', { name: 'Compare' }).click();
  const compare = sidebar.getByTestId('pai-compare');
  await compare.getByLabel('Experiment').selectOption('ui-compare');
  const chart = compare.getByTestId('pai-compare-chart');
  await expect(chart.locator('path.pai-Chart-line')).toHaveCount(2);
  await expect(compare.getByTestId('pai-compare-legend')).toContainText('lr-0.1');
  await expect(compare.getByTestId('pai-compare-legend')).toContainText('lr-0.5');
  const table = compare.getByTestId('pai-compare-table');
  await expect(table.locator('tbody tr')).toHaveCount(2);
  // lr=0.5 falls faster: the lowest final loss, so the best run.
  await expect(table.locator('tr[data-best]')).toHaveAttribute('data-job-id', runs.ids[1]!);
  await expect(table.locator('tr[data-best]')).toContainText('★');
  // The hyperparameter column sorts.
  await table.getByRole('columnheader', { name: 'lr' }).click();
  await expect(table.locator('tbody tr').first()).toHaveAttribute('data-job-id', runs.ids[0]!);
  await table.getByRole('columnheader', { name: /lr/ }).click();
  await expect(table.locator('tbody tr').first()).toHaveAttribute('data-job-id', runs.ids[1]!);
  await sidebar.screenshot({ path: path.join(IMAGES, 'sidebar-compare.png') });
  // Another metric: the picker redraws both runs' accuracy; the best flips to the highest.
  await chart.getByLabel('Metric to chart').selectOption('accuracy');
  await expect(chart.locator('path.pai-Chart-line')).toHaveCount(2);
  await expect(table.locator('tr[data-best]')).toHaveAttribute('data-job-id', runs.ids[1]!);
  // Unticking a run removes its curve.
  await table.locator(`tr[data-job-id="${runs.ids[0]}"] input[type=checkbox]`).uncheck();
  await expect(chart.locator('path.pai-Chart-line')).toHaveCount(1);
});
