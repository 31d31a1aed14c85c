// Remove build outputs (lib/ and the built labextension) before a production build.
import { rmSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
for (const path of ['../lib', '../tsconfig.tsbuildinfo', '../../pai_jupyter/labextension']) {
  rmSync(resolve(here, path), { recursive: true, force: true });
}
