// The Jobs panel against a real job on the local backend.
import { expect, test } from '@jupyterlab/galata';
import * as path from 'path';

import { IMAGES, openSidebar, pointCount, runSetup } from './helpers';

test('a running job shows live loss, logs, provenance; Stop stops it', async ({ page }) => {
  const job = runSetup<{ id: string; name: string }>('submit-job');
  const sidebar = await openSidebar(page);

  const row = sidebar.locator(`.pai-Row[data-job-id="${job.id}"]`);
  await expect(row).toContainText('digits-mlp');
  await expect(row.locator('.pai-Badge')).toHaveText('Running');
  await expect(row).toContainText('local · 1 worker');

  await row.click();
  const detail = sidebar.locator(`.pai-Detail[data-job-id="${job.id}"]`);
  const loss = detail.getByTestId('pai-loss-chart');
  await expect.poll(() => pointCount(loss)).toBeGreaterThan(3);
  // The script reports every 0.5 s; each report is pushed, nobody presses refresh.
  for (let i = 0; i < 3; i++) {
    const before = await pointCount(loss);
    await expect.poll(() => pointCount(loss), { timeout: 5000, intervals: [100] }).toBeGreaterThan(before);
  }
  await expect(loss.locator('path.pai-Chart-line')).toHaveCount(1);
  await expect(detail.getByTestId('pai-logs')).toContainText('loss');
  await expect(detail.getByTestId('pai-provenance')).toContainText('(main)');
  await expect(detail.getByTestId('pai-provenance')).toContainText('yes: uncommitted diff captured');
  await expect(detail.getByTestId('pai-provenance')).toContainText('torch 2.13.0');
  await expect(detail).toContainText('CPU (no GPU)');
  // Where the job's TensorBoard logs go, and the command that serves them.
  await expect(detail.getByTestId('pai-tensorboard')).toContainText('tensorboard --logdir');
  // The environment rank 0 recorded at start, compared with the kernel's.
  await expect(detail.getByTestId('pai-env-diff')).toBeVisible();
  await expect.poll(() => pointCount(detail.locator('.pai-Chart').nth(2))).toBeGreaterThan(1);
  await expect(detail.getByTestId('pai-advice')).toHaveCount(0);
  // The README's pictures: the real run as it is (no GPU here, so no advice and CPU charts).
  await expect(detail.getByTestId('pai-logs')).toContainText('test accuracy', { timeout: 60_000 });
  await sidebar.screenshot({ path: path.join(IMAGES, 'sidebar-jobs.png') });
  await page.theme.setDarkTheme();
  await sidebar.screenshot({ path: path.join(IMAGES, 'sidebar-jobs-dark.png') });
  await page.theme.setLightTheme();
  // The advice banner, from the GPU trace NVML would give an input-bound job (recorded by the
  // test: this machine has no GPU); not in the pictures.
  runSetup('advise', job.id);
  await expect(detail.getByTestId('pai-advice')).toContainText('input-bound');
  await expect(detail.getByTestId('pai-advice')).toContainText('do not add GPUs');

  await detail.getByRole('button', { name: 'Stop' }).click();
  await page.getByRole('button', { name: 'Stop job' }).click();
  await expect(detail.locator('.pai-Detail-header .pai-Badge')).toHaveText('Stopped', { timeout: 30_000 });
  // A stopped job offers no Stop (the server's `actions` no longer include it).
  await expect(detail.getByRole('button', { name: 'Stop' })).toHaveCount(0);

  await detail.getByRole('button', { name: '← All jobs' }).click();
  await sidebar.getByLabel('Filter jobs').fill('no-such-job');
  await expect(sidebar).toContainText('No job matches');
  await sidebar.getByLabel('Filter jobs').fill('');
  await sidebar.getByLabel('State').selectOption('Stopped');
  await expect(sidebar.locator(`.pai-Row[data-job-id="${job.id}"]`)).toBeVisible();
  await sidebar.getByLabel('State').selectOption('Running');
  await expect(sidebar.locator(`.pai-Row[data-job-id="${job.id}"]`)).toHaveCount(0);
});
