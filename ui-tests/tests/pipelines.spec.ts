// The Pipelines tab against a real pipeline on the local backend: the DAG with each step's
// state, the gate's figures and decision, the link to a step's job, and a manual run.
import { expect, test } from '@jupyterlab/galata';
import * as path from 'path';

import { IMAGES, openSidebar, runSetup } from './helpers';

test('a gated run shows its DAG and figures; Run now adds a run', async ({ page }) => {
  test.setTimeout(180_000);
  const setup = runSetup('pipeline-gated');
  expect(setup.state).toBe('gated');
  const sidebar = await openSidebar(page);
  await sidebar.getByRole('tab', { name: 'Pipelines' }).click();

  const row = sidebar.locator('.pai-Row[data-pipeline="ui-retrain"]');
  await expect(row).toContainText('train → eval → deploy');
  await expect(row).toContainText('cron 0 3 * * *');
  await row.click();

  const detail = sidebar.locator('.pai-Detail[data-pipeline="ui-retrain"]');
  const dag = detail.getByTestId('pai-pipeline-dag');
  await expect(dag.locator('[data-step="train"]')).toHaveAttribute('data-state', 'succeeded');
  await expect(dag.locator('[data-step="eval"]')).toHaveAttribute('data-state', 'failed');
  await expect(dag.locator('[data-step="deploy"]')).toHaveAttribute('data-state', 'skipped');
  const gate = detail.getByTestId('pai-pipeline-gate');
  await expect(gate).toHaveAttribute('data-passed', 'false');
  await expect(gate).toContainText('accuracy >= 0.9');
  await expect(gate).toContainText('0.5 vs 0.9');
  await expect(detail.getByTestId('pai-pipeline-runs').locator('tbody tr')).toHaveCount(1);
  await sidebar.screenshot({ path: path.join(IMAGES, 'sidebar-pipelines.png') });

  await detail.getByRole('button', { name: 'Run now' }).click();
  await expect(detail.getByTestId('pai-pipeline-runs').locator('tbody tr')).toHaveCount(2);
  await expect(detail.locator('.pai-Pipeline-runview')).toHaveAttribute('data-state', 'gated', {
    timeout: 60_000
  });

  // A step links to its job in the Jobs tab.
  await detail.locator('li[data-step="train"]').getByRole('button').click();
  await expect(sidebar.getByRole('tab', { name: 'Jobs' })).toHaveAttribute('aria-selected', 'true');
  await expect(sidebar.locator('.pai-Detail')).toContainText('ui-retrain-train');
});
