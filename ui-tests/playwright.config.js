// galata's base config, pointed at Debian's Chromium (Playwright cannot
// download browsers here) and at a JupyterLab started with the pai_jupyter
// server extension on an isolated local backend.
const os = require('os');
const path = require('path');
const baseConfig = require('@jupyterlab/galata/lib/playwright-config');

const repo = path.resolve(__dirname, '..');
const venvBin = process.env.PAI_VENV_BIN ?? path.join(repo, '.venv', 'bin');
// Shared by the JupyterLab server and by the setup script the tests run.
process.env.PAI_JUPYTER_HOME ??= path.join(os.tmpdir(), `pai-jupyter-ui-tests-${process.getuid?.() ?? 0}`);
process.env.PAI_JUPYTER_BACKEND = 'local';
process.env.PAI_PYTHON ??= path.join(venvBin, 'python');
// Short serving loop intervals (as the serving tests use) so a rollout step takes seconds.
process.env.PAI_SERVING_AUTOSCALE_INTERVAL_S ??= '0.5';
process.env.PAI_SERVING_ROLLOUT_INTERVAL_S ??= '0.2';
process.env.PAI_SERVING_SNAPSHOT_INTERVAL_S ??= '1';
process.env.PAI_SERVING_QPS_WINDOW_S ??= '3';
const port = Number(process.env.PAI_UI_PORT ?? 8899);

module.exports = {
  ...baseConfig,
  workers: 1,
  retries: 0,
  timeout: 90_000,
  expect: { timeout: 20_000 },
  globalSetup: require.resolve('./scripts/global-setup.js'),
  globalTeardown: require.resolve('./scripts/global-teardown.js'),
  reporter: [['list']],
  use: {
    ...baseConfig.use,
    baseURL: `http://localhost:${port}`,
    video: 'off',
    trace: 'off',
    screenshot: 'only-on-failure',
    viewport: { width: 1280, height: 1100 },
    launchOptions: {
      executablePath: process.env.PAI_CHROMIUM ?? '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--no-first-run',
        '--disable-sync'
      ]
    }
  },
  webServer: {
    command: `${path.join(venvBin, 'jupyter')} lab --config jupyter_server_test_config.py --port ${port} --no-browser`,
    url: `http://localhost:${port}/lab`,
    timeout: 120_000,
    reuseExistingServer: !process.env.CI,
    env: { ...process.env, PATH: `${venvBin}${path.delimiter}${process.env.PATH}` }
  }
};
