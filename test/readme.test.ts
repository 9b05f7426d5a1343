import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect, it, vi } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));

// The README's quick start must run as shown: take its first TypeScript block, run it as a module
// (imports resolve to the sources, as in every test), and check what it prints.
it('runs the README quick start as shown', async () => {
  const readme = readFileSync(`${root}README.md`, 'utf8');
  const section = readme.slice(readme.indexOf('## Quick start'));
  const code = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  expect(code).toBeDefined();
  mkdirSync(`${root}test-artifacts`, { recursive: true });
  const file = `${root}test-artifacts/readme-quick-start.ts`;
  writeFileSync(file, code!);
  const log = vi.spyOn(console, 'log').mockImplementation(() => {});
  try {
    await import(/* @vite-ignore */ file);
    expect(log.mock.calls).toEqual([[42]]);
  } finally {
    log.mockRestore();
  }
});
