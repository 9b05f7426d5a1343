import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { extractBlocks, moduleOf } from './codeBlocks.js';

const dir = mkdtempSync(join(tmpdir(), 'session-process-docs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function blocksOf(markdown: string) {
  const file = join(dir, 'page.md');
  writeFileSync(file, markdown);
  return extractBlocks(dir, file);
}

describe('extractBlocks', () => {
  it('takes ts and js blocks with their hidden prelude and after lines', () => {
    const [block, ...rest] = blocksOf(
      [
        '# Page',
        '<!-- prelude:',
        "import { a } from './a.js';",
        '-->',
        '```ts run',
        'console.log(a); // 1',
        '```',
        '<!-- after: await close(); -->',
        '```sh',
        'npm start',
        '```',
        '```js',
        'export const b = 2;',
        '```',
      ].join('\n'),
    );
    expect(block).toMatchObject({
      page: 'page.md',
      line: 6,
      lang: 'ts',
      run: true,
      prelude: "import { a } from './a.js';",
      code: 'console.log(a); // 1',
      after: 'await close();',
    });
    expect(moduleOf(block!)).toEqual({
      source: "import { a } from './a.js';\nconsole.log(a); // 1\nawait close();\nexport {};\n",
      codeOffset: 1,
    });
    expect(rest).toMatchObject([{ lang: 'js', run: false, prelude: '', after: '', line: 13 }]);
  });

  it('skips a block shown inside a longer fence', () => {
    const blocks = blocksOf(
      ['````md', '```ts', 'not: checked', '```', '````', '```ts', 'const c = 3;', '```'].join('\n'),
    );
    expect(blocks.map((b) => b.code)).toEqual(['const c = 3;']);
  });

  it('keeps a comment that is not right before the block out of it', () => {
    const [block] = blocksOf(
      ['<!-- prelude: x -->', 'Some text.', '```ts', 'const d = 4;', '```'].join('\n'),
    );
    expect(block?.prelude).toBe('');
  });
});
