import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

// CI runs the suite in two steps (.ci/run through `npm test`): the fast tier, whose files open no
// socket, start no child process and launch no browser, then the system tier, everything else.
// A file's tier follows from what it imports (its own imports and those of the local files it
// imports, followed to the end), so a new test lands in the right tier without a list to keep,
// and a fast test cannot quietly start a server.

/** Modules whose import puts a test in the system tier: sockets, child processes, browsers, Redis. */
export const SYSTEM_MODULES: readonly RegExp[] = [
  /^node:(net|http|https|http2|child_process|cluster|dgram|tls)$/,
  /^(ws|playwright-core|ioredis|koa|koa-session|autocannon)$/,
  /^@koa\//,
  /^session-process\/redis$/,
];

/** The system modules a file reaches through its imports, following relative imports. */
export function systemImportsOf(file: string, seen = new Map<string, Set<string>>()): Set<string> {
  const known = seen.get(file);
  if (known) return known;
  const found = new Set<string>();
  seen.set(file, found);
  let source: string;
  try {
    source = readFileSync(file, 'utf8');
  } catch {
    return found;
  }
  // TypeScript's own pre-processor: imports, re-exports and dynamic import()s, never a string
  // that merely looks like one.
  for (const { fileName: specifier } of ts.preProcessFile(source, true, true).importedFiles) {
    if (specifier.startsWith('.')) {
      const target = localFile(resolve(dirname(file), specifier));
      if (target) for (const m of systemImportsOf(target, seen)) found.add(m);
    } else if (SYSTEM_MODULES.some((re) => re.test(specifier))) {
      found.add(specifier);
    }
  }
  return found;
}

function localFile(path: string): string | undefined {
  const candidates = [path.replace(/\.m?js$/, '.ts'), path, `${path}.ts`, join(path, 'index.ts')];
  return candidates.find((c) => existsSync(c) && statSync(c).isFile());
}

function testFiles(root: string, dir: string, out: string[]): string[] {
  for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) testFiles(root, path, out);
    else if (entry.name.endsWith('.test.ts') && !entry.name.endsWith('.long.test.ts'))
      out.push(path);
  }
  return out;
}

/** The default suite's test files (relative to `root`), split by tier. */
export function testTiers(root: string): { fast: string[]; system: string[] } {
  const files = ['test', 'machines'].flatMap((dir) => testFiles(root, dir, []));
  const seen = new Map<string, Set<string>>();
  const fast: string[] = [];
  const system: string[] = [];
  for (const file of files.sort()) {
    const uses = systemImportsOf(resolve(root, file), seen);
    (uses.size === 0 ? fast : system).push(relative(root, resolve(root, file)));
  }
  return { fast, system };
}
