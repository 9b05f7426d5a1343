import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = new URL('../../', import.meta.url);
const src = (p: string) => fileURLToPath(new URL(`src/${p}`, root));
const outdir = fileURLToPath(new URL('node_modules/.cache/sp-test/', root));
const bundled: string[] = [];
let n = 0;

/**
 * Bundles a TypeScript entry that imports the package by its public names into one ESM file a
 * plain `node` child process can run (the tests' child processes are real processes, killed with
 * real signals). Dependencies stay external and resolve from the repo's node_modules.
 */
export async function bundleChild(entry: URL): Promise<string> {
  mkdirSync(outdir, { recursive: true });
  const outfile = join(outdir, `child-${process.pid}-${n++}.mjs`);
  await build({
    entryPoints: [fileURLToPath(entry)],
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    outfile,
    packages: 'external',
    alias: {
      ...Object.fromEntries(
        ['koa', 'live', 'client', 'visualizer', 'testing', 'sqlite', 'redis', 'prometheus'].map(
          (entry) => [`session-process/${entry}`, src(`${entry}/index.ts`)],
        ),
      ),
      'session-process': src('index.ts'),
    },
    logLevel: 'silent',
  });
  bundled.push(outfile);
  return outfile;
}

/** Removes the bundles this process made. */
export function removeBundles(): void {
  for (const file of bundled.splice(0)) rmSync(file, { force: true });
}
