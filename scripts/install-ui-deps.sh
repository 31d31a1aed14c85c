#!/usr/bin/env bash
# Everything the labextension build and the UI tests need beyond the Python venv:
#  - Debian's chromium (Playwright cannot download browsers here; the UI tests
#    point Playwright at /usr/bin/chromium);
#  - the Node packages of the workspace (the top-level package.json: labextension/ and
#    ui-tests/, one yarn.lock), through JupyterLab's jlpm.
# Idempotent: a second run only checks.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV_BIN="${VENV_BIN:-$ROOT/.venv/bin}"
JLPM="$VENV_BIN/jlpm"
[ -x "$JLPM" ] || JLPM="$(command -v jlpm || true)"
if [ -z "$JLPM" ]; then
  echo "install-ui-deps: jlpm not found (install jupyterlab into $VENV_BIN first: make install)" >&2
  exit 2
fi

if [ ! -x /usr/bin/chromium ] && [ "${SKIP_CHROMIUM:-0}" != "1" ]; then
  SUDO=""
  if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
  echo "install-ui-deps: installing Debian's chromium"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi

export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
export YARN_ENABLE_PROGRESS_BARS=false
echo "install-ui-deps: jlpm install in the workspace root"
# --immutable: install exactly the committed yarn.lock (CI); fall back to a plain install,
# which updates the lock file, only when the lock is out of date.
(cd "$ROOT" && { "$JLPM" install --immutable || {
  echo "install-ui-deps: yarn.lock is out of date; running a plain install" >&2
  "$JLPM" install
}; })
