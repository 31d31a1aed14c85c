import { IJupyterLabPageFixture } from '@jupyterlab/galata';
import { Locator } from '@playwright/test';
import * as path from 'path';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const backend = require('../scripts/backend');

/** Run ui-tests/scripts/pai_setup.py (the client API, against the test backend). */
export function runSetup<T = Record<string, string>>(...args: string[]): T {
  return backend.runSetup(...args) as T;
}

/**
 * Where the panel screenshots go: test-results/ by default, so a test run leaves the
 * committed images alone; `make screenshots` sets PAI_SCREENSHOT_DIR=docs/images.
 */
export const IMAGES =
  process.env.PAI_SCREENSHOT_DIR ?? path.resolve(__dirname, '..', 'test-results', 'screenshots');

export async function openSidebar(page: IJupyterLabPageFixture): Promise<Locator> {
  await page.sidebar.openTab('pai-jupyter-sidebar');
  const sidebar = page.locator('#pai-jupyter-sidebar');
  await sidebar.locator('.pai-Live-on').waitFor();
  return sidebar;
}

export async function pointCount(chart: Locator): Promise<number> {
  return Number((await chart.getAttribute('data-points')) ?? '0');
}
