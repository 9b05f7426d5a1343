// Bundles every browser entry point (`*.entry.ts` under visualizer/ and examples/) with esbuild
// into dist/, at the same relative path with a `.js` ending. Browser code is bundled, never
// fetched from a CDN: the package ships what its pages load.
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));

function findEntries(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const full = join(dir, name);
    if (name === 'node_modules' || name === 'dist') continue;
    if (statSync(full).isDirectory()) out.push(...findEntries(full));
    else if (name.endsWith('.entry.ts')) out.push(full);
  }
  return out;
}

/**
 * Bundles the browser entries under `dirs`; returns the output paths. The package needs only
 * `visualizer` (its page); `examples` holds the demo's pages.
 */
export async function buildAssets({
  outdir = join(root, 'dist'),
  minify = true,
  dirs = ['visualizer', 'examples'],
} = {}) {
  const entries = dirs.flatMap((d) => {
    try {
      return findEntries(join(root, d));
    } catch {
      return [];
    }
  });
  const outputs = [];
  for (const entry of entries) {
    const rel = relative(root, entry).replace(/\.entry\.ts$/, '.js');
    const outfile = join(outdir, rel);
    await build({
      entryPoints: [entry],
      outfile,
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      minify,
      sourcemap: true,
      logLevel: 'warning',
    });
    outputs.push(outfile);
  }
  return outputs;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  // `node scripts/build-assets.mjs visualizer` bundles only the package's own page.
  const dirs = process.argv.slice(2);
  const outputs = await buildAssets(dirs.length > 0 ? { dirs } : {});
  for (const o of outputs) console.log(`bundled ${relative(root, o)}`);
}
