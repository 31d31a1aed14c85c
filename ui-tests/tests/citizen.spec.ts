// The sidebar as a JupyterLab citizen: its settings change what it does, it
// raises notifications whose action opens the item, and it comes back after a
// reload. Real jobs on the local backend, real push socket.
import { expect, galata, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import { Page, WebSocket } from '@playwright/test';
import * as path from 'path';

import { IMAGES, openSidebar, runSetup } from './helpers';

const PLUGIN = 'pai-jupyter:sidebar';

/** Change one of the sidebar's settings through the settings registry, as the Settings Editor does. */
async function setSetting(page: Page, key: string, value: unknown): Promise<void> {
  await page.evaluate(
    async ({ plugin, key, value }) => {
      const registry = (await window.galata.getPlugin(
        '@jupyterlab/apputils-extension:settings'
      )) as { set: (plugin: string, key: string, value: unknown) => Promise<void> };
      await registry.set(plugin, key, value);
    },
    { plugin: PLUGIN, key, value }
  );
}

interface Frame {
  at: number;
  data: Record<string, unknown>;
}

/** Record the push socket's frames in both directions (attach before the page opens it). */
function recordPush(page: Page): { sent: Frame[]; received: Frame[] } {
  const frames = { sent: [] as Frame[], received: [] as Frame[] };
  page.on('websocket', (ws: WebSocket) => {
    if (!ws.url().includes('/pai/api/push')) {
      return;
    }
    const keep = (list: Frame[]) => (event: { payload: string | Buffer }) => {
      try {
        list.push({ at: Date.now(), data: JSON.parse(String(event.payload)) });
      } catch {
        // not a JSON frame: not one of ours
      }
    };
    ws.on('framesent', keep(frames.sent));
    ws.on('framereceived', keep(frames.received));
  });
  return frames;
}

function toasts(page: IJupyterLabPageFixture, text: string) {
  return page.locator('.Toastify__toast').filter({ hasText: text });
}

test.describe('settings', () => {
  test.use({ mockSettings: { ...galata.DEFAULT_SETTINGS, [PLUGIN]: { defaultTab: 'endpoints' } } });

  test('the opening tab and the push cadence follow the settings', async ({ page }) => {
    const job = runSetup<{ id: string; name: string }>('submit-job');
    const frames = recordPush(page);
    await page.reload();
    const sidebar = await openSidebar(page);
    // defaultTab: the sidebar opens on Endpoints.
    await expect(sidebar.locator('.pai-Tab[aria-selected="true"]')).toHaveText(
      /Endpoints|端点|服务/
    );

    await sidebar.locator('.pai-Tab').first().click();
    await sidebar.locator(`.pai-Row[data-job-id="${job.id}"]`).click();
    const metrics = () =>
      frames.received.filter(f => f.data.type === 'metrics' && f.data.topic === `job:${job.id}`);
    await expect.poll(() => metrics().length, { timeout: 30_000 }).toBeGreaterThan(2);

    // charts: the job's detail draws the charts named (loss, throughput, CPU + memory by default).
    const detail = sidebar.locator(`.pai-Detail[data-job-id="${job.id}"]`);
    await expect(detail.locator('.pai-Chart')).toHaveCount(4);
    await setSetting(page, 'charts', ['loss']);
    await expect(detail.locator('.pai-Chart')).toHaveCount(1);

    // refreshSeconds: the subscription carries it and the server pushes at that pace.
    await setSetting(page, 'refreshSeconds', 4);
    await expect
      .poll(() => frames.sent.some(f => f.data.type === 'subscribe' && f.data.interval === 4))
      .toBe(true);
    const slowFrom = Date.now();
    await expect
      .poll(() => metrics().filter(f => f.at > slowFrom).length, { timeout: 30_000 })
      .toBeGreaterThan(3);
    const slow = metrics().filter(f => f.at > slowFrom);
    const slowGaps = slow.slice(1).map((f, i) => f.at - slow[i].at);
    expect(Math.min(...slowGaps.slice(1))).toBeGreaterThan(3000);

    await setSetting(page, 'refreshSeconds', 0.25);
    const fastFrom = Date.now();
    await expect
      .poll(() => metrics().filter(f => f.at > fastFrom).length, { timeout: 30_000 })
      .toBeGreaterThan(4);
    const fast = metrics().filter(f => f.at > fastFrom);
    const fastGaps = fast.slice(1).map((f, i) => f.at - fast[i].at);
    // The job reports every 0.5 s: at 0.25 s each report is pushed on its own.
    expect(Math.min(...fastGaps)).toBeLessThan(1500);
  });
});

test('a job that ends raises a notification whose action opens it; notifications can be switched off', async ({
  page
}) => {
  const sidebar = await openSidebar(page);
  await setSetting(page, 'notifications', false);
  const quiet = runSetup<{ id: string; name: string }>('submit-quick-job', 'quiet-run', '3');
  const quietRow = sidebar.locator(`.pai-Row[data-job-id="${quiet.id}"]`);
  await expect(quietRow.locator('.pai-Badge')).toHaveText('Running', { timeout: 30_000 });
  await expect(quietRow.locator('.pai-Badge')).toHaveText('Succeeded', { timeout: 60_000 });
  await page.waitForTimeout(1000);
  await expect(toasts(page, 'quiet-run')).toHaveCount(0);

  await setSetting(page, 'notifications', true);
  const loud = runSetup<{ id: string; name: string }>('submit-quick-job', 'loud-run', '3');
  const loudRow = sidebar.locator(`.pai-Row[data-job-id="${loud.id}"]`);
  await expect(loudRow.locator('.pai-Badge')).toHaveText('Running', { timeout: 30_000 });
  // Look elsewhere meanwhile: the Endpoints tab, then the file browser instead of the sidebar.
  await sidebar.locator('.pai-Tab').nth(1).click();
  await page.sidebar.openTab('filebrowser');
  await expect(sidebar).toBeHidden();

  const toast = toasts(page, 'loud-run');
  await expect(toast).toContainText('Job loud-run succeeded.', { timeout: 60_000 });
  await toast.screenshot({ path: path.join(IMAGES, 'notification-job.png') });
  await toast.getByRole('button', { name: 'Open in PAI sidebar' }).click();
  await expect(sidebar).toBeVisible();
  await expect(sidebar.locator(`.pai-Detail[data-job-id="${loud.id}"]`)).toBeVisible();
  await expect(
    sidebar.locator(`.pai-Detail[data-job-id="${loud.id}"] .pai-Detail-header .pai-Badge`)
  ).toHaveText('Succeeded');
});

test('the sidebar, its tab and its selected job come back after a reload', async ({ page }) => {
  const job = runSetup<{ id: string; name: string }>('submit-quick-job', 'restored-run', '2');
  let sidebar = await openSidebar(page);
  await sidebar.locator(`.pai-Row[data-job-id="${job.id}"]`).click();
  await expect(sidebar.locator(`.pai-Detail[data-job-id="${job.id}"]`)).toBeVisible();
  // JupyterLab writes the state DB to the workspace a moment after a change (debounced).
  await page.waitForTimeout(2000);

  await page.reload();
  sidebar = page.locator('#pai-jupyter-sidebar');
  await expect(sidebar).toBeVisible();
  await expect(sidebar.locator(`.pai-Detail[data-job-id="${job.id}"]`)).toBeVisible();
  await expect(sidebar.locator('.pai-Live-on')).toBeVisible();

  // The tab too: Endpoints, reloaded, is still Endpoints.
  await sidebar.locator('.pai-Tab').nth(1).click();
  await page.waitForTimeout(2000);
  await page.reload();
  await expect(page.locator('#pai-jupyter-sidebar .pai-Tab').nth(1)).toHaveAttribute(
    'aria-selected',
    'true'
  );
});

test.describe('in Simplified Chinese', () => {
  test.use({
    mockSettings: {
      ...galata.DEFAULT_SETTINGS,
      '@jupyterlab/translation-extension:plugin': { locale: 'zh_CN' }
    },
    // galata's default waits for a tab named 'Launcher', which is '启动页' here.
    waitForApplication: async ({ baseURL }, use) => {
      await use(async page => {
        await page.locator('#jupyterlab-splash').waitFor({ state: 'detached' });
        await page.getByRole('tab', { name: '启动页' }).waitFor();
      });
    }
  });

  test('with the zh-CN locale the sidebar and its notifications are in Chinese', async ({
    page
  }) => {
    // JupyterLab itself switched (its zh-CN language pack), and so does the sidebar (our catalogue).
    await expect(page.locator('.lm-MenuBar-itemLabel').first()).toHaveText('文件');
    const sidebar = await openSidebar(page);
    await expect(sidebar.locator('.pai-Tab')).toHaveText(['任务', '服务', '流水线', '对比']);
    await expect(sidebar.locator('.pai-Live-on')).toHaveText('实时');
    await expect(page.locator('.jp-SideBar [data-id="pai-jupyter-sidebar"]')).toHaveAttribute(
      'title',
      'PAI：任务和服务'
    );

    const job = runSetup<{ id: string; name: string }>('submit-quick-job', 'zh-run', '2');
    const row = sidebar.locator(`.pai-Row[data-job-id="${job.id}"]`);
    await expect(row).toBeVisible({ timeout: 30_000 });
    const toast = toasts(page, 'zh-run');
    await expect(toast).toContainText('任务 zh-run 已成功。', { timeout: 60_000 });
    await toast.getByRole('button', { name: '在 PAI 侧边栏中打开' }).click();
    const detail = sidebar.locator(`.pai-Detail[data-job-id="${job.id}"]`);
    await expect(detail).toBeVisible();
    await expect(detail.getByRole('button', { name: '← 所有任务' })).toBeVisible();
  });
});

test.describe('in Notebook 7', () => {
  test.use({ autoGoto: false });

  test('the tree and notebook pages load the extension and the sidebar works', async ({
    browser,
    baseURL
  }) => {
    test.setTimeout(180_000);
    const job = runSetup<{ id: string; name: string }>('submit-quick-job', 'nb7-run', '2');
    const context = await browser.newContext();
    const nb = await context.newPage();
    try {
      for (const path of ['tree', 'notebooks/pai-nb7.ipynb']) {
        if (path.startsWith('notebooks/')) {
          const created = await nb.request.put(`${baseURL}/api/contents/pai-nb7.ipynb`, {
            data: {
              type: 'notebook',
              content: {
                cells: [],
                // A kernelspec, so the page starts the kernel without asking which one.
                metadata: {
                  kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' }
                },
                nbformat: 4,
                nbformat_minor: 5
              }
            }
          });
          expect(created.ok()).toBe(true);
        }
        await nb.goto(`${baseURL}/${path}`);
        await expect(nb.locator('#main-panel')).toBeVisible({ timeout: 60_000 });
        // No ILabShell here: the panel is in Notebook's left area, opened from the palette.
        await expect(nb.locator('#pai-jupyter-sidebar')).toBeAttached({ timeout: 60_000 });
        const sidebar = nb.locator('#pai-jupyter-sidebar');
        // Notebook 7 restores its own side-panel layout once the page has settled, which may
        // close a panel opened a moment before: open it from the palette until it stays open.
        await expect(async () => {
          await nb.keyboard.press('Escape');
          await nb.keyboard.press('Control+Shift+C');
          const palette = nb.locator('.lm-CommandPalette');
          await expect(palette).toBeVisible();
          await palette.locator('input').fill('PAI: Show Jobs');
          await expect(palette.locator('.lm-CommandPalette-item.lm-mod-active')).toHaveAttribute(
            'data-command',
            'pai-jupyter:open'
          );
          await palette.locator('input').press('Enter');
          await expect(sidebar).toBeVisible({ timeout: 5_000 });
        }).toPass({ timeout: 60_000 });
        await expect(sidebar.locator('.pai-Live-on')).toBeVisible();
        const row = sidebar.locator(`.pai-Row[data-job-id="${job.id}"]`);
        await row.click({ timeout: 30_000 });
        await expect(sidebar.locator(`.pai-Detail[data-job-id="${job.id}"]`)).toBeVisible();
        await sidebar.getByRole('button', { name: '← All jobs' }).click({ timeout: 30_000 });
      }
    } finally {
      await context.close();
    }
  });
});

test('the push socket reconnects, says so meanwhile, and logs a malformed message instead of failing', async ({
  page
}) => {
  const routes: { send: (m: string) => void; close: () => Promise<void> }[] = [];
  await page.routeWebSocket(/\/pai\/api\/push/, ws => {
    ws.connectToServer(); // a real connection, forwarded both ways
    routes.push({ send: m => ws.send(m), close: () => ws.close() });
  });
  const warnings: string[] = [];
  page.on('console', m => {
    if (m.type() === 'warning') {
      warnings.push(m.text());
    }
  });
  await page.reload();
  const job = runSetup<{ id: string; name: string }>('submit-quick-job', 'reconnect-run', '20');
  const sidebar = await openSidebar(page);
  const row = sidebar.locator(`.pai-Row[data-job-id="${job.id}"]`);
  await expect(row).toBeVisible({ timeout: 30_000 });

  // Malformed frames from "the server": logged, the sidebar stays live and keeps updating.
  routes[routes.length - 1].send('{not json');
  routes[routes.length - 1].send('{"no": "type"}');
  await expect.poll(() => warnings.filter(w => w.includes('pai-jupyter: ignored')).length).toBe(2);
  await expect(sidebar.locator('.pai-Live-on')).toBeVisible();

  // Drop the connection: the notice says it is reconnecting (watched in the page, it lasts about a second).
  await page.evaluate(() => {
    const w = window as unknown as { paiSawReconnecting?: boolean };
    w.paiSawReconnecting = false;
    new MutationObserver(() => {
      const notice = document.querySelector('#pai-jupyter-sidebar .pai-Notice');
      if (notice?.textContent?.includes('Reconnecting to the PAI server extension')) {
        w.paiSawReconnecting = true;
      }
    }).observe(document.body, { subtree: true, childList: true, characterData: true });
  });
  const before = routes.length;
  await routes[before - 1].close();
  await expect
    .poll(() =>
      page.evaluate(() => (window as { paiSawReconnecting?: boolean }).paiSawReconnecting)
    )
    .toBe(true);
  // ... and reconnects by itself, resubscribes, and the notice goes away.
  await expect.poll(() => routes.length).toBeGreaterThan(before);
  await expect(sidebar.locator('.pai-Live-on')).toBeVisible();
  await expect(sidebar.locator('.pai-Notice')).toHaveCount(0);
  await expect(row.locator('.pai-Badge')).toHaveText('Succeeded', { timeout: 60_000 });
});

test('a rollout that breaches its latency gate reverts for real; the notification opens the endpoint', async ({
  page
}) => {
  test.setTimeout(180_000);
  const sidebar = await openSidebar(page);
  const name = `gate-${Date.now().toString(36)}`;
  // v1, then a v2 that answers ~10x slower, with steady load and the default p95 gate.
  runSetup('start-bad-rollout', name);
  await sidebar.locator('.pai-Tab').nth(1).click();
  await expect(sidebar.locator(`.pai-Row[data-service="${name}"]`)).toBeVisible({
    timeout: 30_000
  });
  await page.sidebar.openTab('filebrowser');

  const toast = toasts(page, name);
  await expect(toast).toContainText(`Rollout of ${name} reverted to version 1.`, {
    timeout: 120_000
  });
  await expect(toast).toContainText('p95');
  await toast.screenshot({ path: path.join(IMAGES, 'notification-revert.png') });
  await toast.getByRole('button', { name: 'Open in PAI sidebar' }).click();
  const detail = sidebar.locator(`.pai-Detail[data-service="${name}"]`);
  await expect(detail).toBeVisible();
  await expect(detail.getByTestId('pai-traffic-split')).toHaveAttribute('data-split', 'v1 100%');
  await expect(detail.getByTestId('pai-rollout')).toHaveAttribute('data-state', 'failed');
  await sidebar.screenshot({ path: path.join(IMAGES, 'sidebar-revert.png') });
});

test('a spot reclaim and resubmission raises a notification that opens the job', async ({
  page
}) => {
  const sidebar = await openSidebar(page);
  const job = runSetup<{ id: string; name: string }>('submit-spot-job', 'spot-run');
  await expect(sidebar.locator(`.pai-Row[data-job-id="${job.id}"]`)).toBeVisible({
    timeout: 30_000
  });
  await page.sidebar.openTab('filebrowser');
  const toast = toasts(page, 'Spot instance of job spot-run was reclaimed');
  await expect(toast).toContainText('resubmitted as attempt 2', { timeout: 60_000 });
  await toast.getByRole('button', { name: 'Open in PAI sidebar' }).click();
  const detail = sidebar.locator(`.pai-Detail[data-job-id="${job.id}"]`);
  await expect(detail).toBeVisible();
  // Attempt 2 resumes from the checkpoint and finishes: that ends with its own notification.
  await expect(toasts(page, 'Job spot-run succeeded.')).toBeVisible({ timeout: 60_000 });
});
