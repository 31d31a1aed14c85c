// Runs ui-tests/scripts/pai_setup.py with the venv's Python against the test backend.
const { execFileSync } = require('child_process');
const path = require('path');

function runSetup(...args) {
  const out = execFileSync(process.env.PAI_PYTHON, [path.join(__dirname, 'pai_setup.py'), ...args], {
    env: process.env,
    encoding: 'utf8',
    timeout: 120_000
  });
  return JSON.parse(out.trim().split('\n').pop());
}

function stopBackend() {
  try {
    runSetup('stop');
  } catch (error) {
    console.warn(`pai ui-tests: stopping the local backend failed: ${error}`);
  }
}

module.exports = { runSetup, stopBackend };
