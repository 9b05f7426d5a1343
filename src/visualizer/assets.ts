import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

/** The page's bundled script and stylesheet. */
export interface Assets {
  js: Buffer;
  css: Buffer;
  /** Where they came from: the shipped bundle, or an in-process build of the sources. */
  origin: 'dist' | 'bundled';
  /** Content hashes, for `ETag`. */
  etags: { js: string; css: string };
}

const etagOf = (b: Buffer) =>
  `"${createHash('sha256').update(b).digest('base64url').slice(0, 27)}"`;
const withEtags = (a: Omit<Assets, 'etags'>): Assets => ({
  ...a,
  etags: { js: etagOf(a.js), css: etagOf(a.css) },
});

const here = import.meta.url;
/** Running from the TypeScript sources (tests, `tsx`) rather than from the compiled package. */
const fromSources = here.endsWith('.ts');

let loading: Promise<Assets> | undefined;

/**
 * @internal
 * Loads the page's assets once per process. From the compiled package (dist/src/visualizer) they
 * are the files `scripts/build-assets.mjs` wrote to dist/visualizer/. From the sources (tests
 * without a build), the page is bundled in memory with esbuild from visualizer/app.entry.ts, so
 * it always matches the sources: a dist/ left over from an older build is never served by
 * mistake. A compiled package whose dist/visualizer/ is missing also falls back to bundling, when
 * the sources and esbuild are there.
 */
export function loadAssets(): Promise<Assets> {
  loading ??= (fromSources ? bundleFromSources() : readBuilt().catch(bundleFromSources)).catch(
    (err) => {
      loading = undefined; // let a later request try again
      throw err;
    },
  );
  return loading;
}

async function readBuilt(): Promise<Assets> {
  // dist/src/visualizer/assets.js → dist/visualizer/app.js
  const dir = new URL('../../visualizer/', here);
  const [js, css] = await Promise.all([
    readFile(new URL('app.js', dir)),
    readFile(new URL('app.css', dir)),
  ]);
  return withEtags({ js, css, origin: 'dist' });
}

async function bundleFromSources(): Promise<Assets> {
  // src/visualizer/assets.ts → visualizer/app.entry.ts; dist/src/visualizer → ../../../visualizer
  const entry = fileURLToPath(
    new URL(
      fromSources ? '../../visualizer/app.entry.ts' : '../../../visualizer/app.entry.ts',
      here,
    ),
  );
  const { build } = await import('esbuild');
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    write: false,
    outdir: '/visualizer',
    entryNames: 'app',
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    logLevel: 'silent',
  });
  const pick = (ext: string) => {
    const file = result.outputFiles.find((f) => f.path.endsWith(ext));
    if (!file) throw new Error(`visualizer: bundling ${entry} produced no ${ext}`);
    return Buffer.from(file.contents);
  };
  return withEtags({ js: pick('.js'), css: pick('.css'), origin: 'bundled' });
}
