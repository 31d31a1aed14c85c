// Build the prebuilt labextension with jupyter-builder, offline.
//
// Without JupyterLab's core metadata at hand, the builder downloads
// @jupyterlab/core-meta from npm or GitHub, which fails where only the package
// registries are reachable. The installed JupyterLab carries the same metadata
// in its staging folder (staging/package.json), so pass that file (the
// non-deprecated form of `--core-path <staging>`). It is computed
// from the Python that runs jupyter-builder (the project venv in development,
// pip's isolated build environment under `pip install .`), never hard-coded.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const extensionDir = resolve(here, '..');
const repoVenvBin = resolve(extensionDir, '..', '.venv', 'bin');

function which(name) {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, name);
    if (dir && existsSync(candidate)) {
      return candidate;
    }
  }
  return null;
}

function builderCommand() {
  const found = which('jupyter-builder') ?? join(repoVenvBin, 'jupyter-builder');
  if (!existsSync(found)) {
    throw new Error(
      'jupyter-builder was not found on PATH nor in .venv/bin; install jupyterlab>=4.6 (it brings jupyter_builder)'
    );
  }
  return found;
}

function pythonOf(script) {
  // The interpreter a console script runs with is on its shebang line.
  const first = readFileSync(script, 'utf8').split('\n', 1)[0];
  const match = /^#!\s*(\S+)/.exec(first);
  const interpreter = match?.[1];
  if (interpreter && !interpreter.endsWith('/env') && existsSync(interpreter)) {
    return interpreter;
  }
  return process.env.PYTHON ?? 'python3';
}

function stagingPath(python) {
  const code =
    'import os, jupyterlab; print(os.path.join(os.path.dirname(jupyterlab.__file__), "staging"))';
  const path = execFileSync(python, ['-c', code], { encoding: 'utf8' }).trim();
  if (!existsSync(join(path, 'package.json'))) {
    throw new Error(`JupyterLab's core metadata is missing: ${path}/package.json`);
  }
  return path;
}

const builder = builderCommand();
const corePath = stagingPath(pythonOf(builder));
const extra = process.argv.includes('--development')
  ? ['--development=True', '--source-map=True']
  : [];
const args = [
  'build',
  '--core-package-file',
  join(corePath, 'package.json'),
  ...extra,
  extensionDir
];
console.log(`jupyter-builder ${args.join(' ')}`);
const result = spawnSync(builder, args, { stdio: 'inherit' });
if (result.status === 0) {
  // JupyterLab's extension manager reads install.json beside the built extension to say
  // how it was installed (pip) and how to uninstall it, as the extension template ships it.
  const meta = JSON.parse(readFileSync(join(extensionDir, 'package.json'), 'utf8'));
  const outputDir = resolve(extensionDir, meta.jupyterlab.outputDir);
  copyFileSync(resolve(extensionDir, '..', 'install.json'), join(outputDir, 'install.json'));
}
process.exit(result.status ?? 1);
