// The Endpoints panel against a real service on the local backend: a blue-green
// rollout moves the traffic split, Pause holds it, Abort returns it, and each action shows
// only in the state where the server offers it.
import { expect, test } from '@jupyterlab/galata';
import * as path from 'path';

import { IMAGES, openSidebar, runSetup } from './helpers';

test('a rollout moves the traffic split; pause, then abort returns it; actions follow the state', async ({ page }) => {
  test.setTimeout(150_000);
  runSetup('deploy-v1');
  const sidebar = await openSidebar(page);
  await sidebar.getByRole('tab', { name: 'Endpoints' }).click();

  const row = sidebar.locator('.pai-Row[data-service="digits-svc"]');
  await expect(row.getByTestId('pai-traffic-split')).toHaveAttribute('data-split', 'v1 100%');
  await row.click();
  const detail = sidebar.locator('.pai-Detail[data-service="digits-svc"]');
  const split = detail.getByTestId('pai-traffic-split');
  await expect(split).toHaveAttribute('data-split', 'v1 100%');

  runSetup('start-rollout');
  // Pushed as the rollout controller moves: 10 % on v2, then 50 % once the first gate passes.
  await expect(split).toHaveAttribute('data-split', 'v1 90% · v2 10%');
  await expect(split).toHaveAttribute('data-split', 'v1 50% · v2 50%', { timeout: 30_000 });
  await detail.getByRole('button', { name: 'Pause' }).click();
  const rollout = detail.getByTestId('pai-rollout');
  await expect(rollout).toHaveAttribute('data-state', 'paused');
  await expect(rollout.locator('[data-result="passed"]')).toHaveCount(1);
  await expect(rollout.locator('[data-result="passed"]')).toContainText('new:');
  await expect(detail.locator('tr[data-version="2"]')).toContainText('50%');
  await expect(detail.getByRole('button', { name: 'Resume' })).toBeVisible();
  await expect
    .poll(async () => Number(await detail.locator('.pai-Chart').first().getAttribute('data-points')))
    .toBeGreaterThan(3);
  await sidebar.screenshot({ path: path.join(IMAGES, 'sidebar-endpoints.png') });

  // During a rollout Roll back stays offered (the emergency exit ends the rollout); Abort too.
  await expect(detail.getByRole('button', { name: 'Roll back' })).toBeVisible();
  await detail.getByRole('button', { name: 'Abort' }).click();
  await page.locator('.jp-Dialog').getByRole('button', { name: 'Abort' }).click();
  await expect(split).toHaveAttribute('data-split', 'v1 100%');
  await expect(rollout).toHaveAttribute('data-state', 'aborted');
  await expect(detail.locator('tr[data-version="2"]')).toContainText('0%');
  await expect(detail.getByRole('button', { name: 'Pause' })).toHaveCount(0);
  await expect(detail.getByRole('button', { name: 'Abort' })).toHaveCount(0);
  // With the rollout over, version 2 is kept to go back to: Roll back is offered again.
  await expect(detail.getByRole('button', { name: 'Roll back' })).toBeVisible();
  await expect(detail.getByLabel('Version to roll back to')).toHaveValue('2');
});
