// npm runs `prepare` after `npm install` in this repository, before `npm pack` / `npm publish`,
// and when the package is installed from git (npm 11 clones it, runs `npm install --force` there,
// which brings the dev dependencies, then `prepare`, then packs the `files`). It builds what the
// package ships: dist/src (tsc, tsconfig.build.json) and the visualizer page (dist/visualizer).
// Where the dev tools are missing (`npm install --omit=dev` in a clone) it builds nothing and
// says so, rather than failing the install: a tarball install never runs it (dist/ is inside).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);

function resolves(id) {
  try {
    return require.resolve(id);
  } catch {
    return undefined;
  }
}

const tsc = resolves('typescript/bin/tsc');
if (tsc === undefined) {
  const built = existsSync(`${root}dist/src/index.js`);
  console.warn(
    `session-process prepare: typescript is not installed (dev dependencies omitted); ${
      built
        ? 'keeping the existing dist/'
        : 'dist/ is not built: run `npm install` with dev dependencies, then `npm run build:package`'
    }.`,
  );
  process.exit(0);
}

const compiled = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], {
  cwd: root,
  stdio: 'inherit',
});
if (compiled.status !== 0) process.exit(compiled.status ?? 1);

if (resolves('esbuild') === undefined) {
  console.warn(
    'session-process prepare: esbuild is not installed; the visualizer page is not built.',
  );
  process.exit(0);
}
const { buildAssets } = await import('./build-assets.mjs');
await buildAssets({ dirs: ['visualizer'] });
