import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';

describe('docs/testing.md', () => {
  it('shows exactly the example that test/testing/readme-example.test.ts runs', async () => {
    const guide = await readFile(new URL('../../docs/testing.md', import.meta.url), 'utf8');
    const example = await readFile(new URL('./readme-example.test.ts', import.meta.url), 'utf8');
    const block = /```ts\n([\s\S]*?)```/.exec(guide)?.[1];
    expect(block).toBe(example);
  });
});
