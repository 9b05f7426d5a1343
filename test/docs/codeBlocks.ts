import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

/**
 * One fenced code block of a Markdown page, with what the page hides around it. The convention
 * (documented at the top of docs/index.md):
 *
 * - ```` ```ts ```` and ```` ```js ```` blocks are type-checked under the repository's strict
 *   options, each as its own ES module next to its page (relative imports resolve from there);
 * - ```` ```ts run ```` (or `js run`) blocks are also executed;
 * - `<!-- prelude: ... -->` right before a block adds hidden lines before it (imports,
 *   `declare const` for what a fragment uses), `<!-- after: ... -->` hidden lines after it
 *   (checks and clean-up of a run block). Both may appear, in that order.
 */
export interface CodeBlock {
  /** Repository-relative path of the page. */
  page: string;
  /** Absolute directory of the page. */
  dir: string;
  /** 1-based line of the block's first code line in the page. */
  line: number;
  lang: 'ts' | 'js';
  run: boolean;
  prelude: string;
  code: string;
  after: string;
}

/** README.md and every Markdown page under docs/, in a stable order. */
export function docPages(root: string): string[] {
  const pages = [join(root, 'README.md')];
  const walk = (dir: string) => {
    let names: string[];
    try {
      names = readdirSync(dir, { withFileTypes: true }).map((d) =>
        d.isDirectory() ? `${d.name}/` : d.name,
      );
    } catch {
      return;
    }
    for (const name of names.sort()) {
      if (name.endsWith('/')) walk(join(dir, name));
      else if (name.endsWith('.md')) pages.push(join(dir, name));
    }
  };
  walk(join(root, 'docs'));
  return pages;
}

// A fence is three or more backticks; it is closed by a line of at least as many (CommonMark).
const FENCE = /^(\s*)(`{3,})([^`\s]*)(.*)$/;
const HIDDEN = /<!--\s*(prelude|after):([\s\S]*?)-->\s*$/;

/** The fenced blocks of one page, each with its hidden prelude and after lines. */
export function extractBlocks(root: string, file: string): CodeBlock[] {
  const lines = readFileSync(file, 'utf8').split('\n');
  const blocks: CodeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i]!);
    if (!open) continue;
    const indent = open[1]!;
    const ticks = open[2]!;
    const lang = open[3]!;
    const flags = open[4]!.trim().split(/\s+/);
    const closes = (l: string) => /^`{3,}$/.test(l.trim()) && l.trim().length >= ticks.length;
    let end = i + 1;
    while (end < lines.length && !closes(lines[end]!)) end++;
    const body = lines
      .slice(i + 1, end)
      .map((l) => (l.startsWith(indent) ? l.slice(indent.length) : l))
      .join('\n');
    const kind = lang === 'ts' || lang === 'typescript' ? 'ts' : lang === 'js' ? 'js' : undefined;
    if (kind) {
      const prelude = hiddenBefore(lines, i, 'prelude');
      const after = hiddenAfter(lines, end);
      blocks.push({
        page: relative(root, file),
        dir: dirname(file),
        line: i + 2,
        lang: kind,
        run: flags.includes('run'),
        prelude,
        code: body,
        after,
      });
    }
    i = end;
  }
  return blocks;
}

/** The `<!-- prelude: ... -->` comment that ends on the line before `fence` (blank lines skipped). */
function hiddenBefore(lines: string[], fence: number, kind: 'prelude'): string {
  let j = fence - 1;
  while (j >= 0 && lines[j]!.trim() === '') j--;
  if (j < 0 || !lines[j]!.trim().endsWith('-->')) return '';
  let start = j;
  while (start >= 0 && !lines[start]!.includes('<!--')) start--;
  if (start < 0) return '';
  const m = HIDDEN.exec(lines.slice(start, j + 1).join('\n'));
  return m && m[1] === kind ? m[2]!.trim() : '';
}

/** The `<!-- after: ... -->` comment that starts on the line after the closing fence. */
function hiddenAfter(lines: string[], close: number): string {
  let j = close + 1;
  while (j < lines.length && lines[j]!.trim() === '') j++;
  if (j >= lines.length || !lines[j]!.trim().startsWith('<!--')) return '';
  let end = j;
  while (end < lines.length && !lines[end]!.includes('-->')) end++;
  const m = HIDDEN.exec(lines.slice(j, end + 1).join('\n'));
  return m && m[1] === 'after' ? m[2]!.trim() : '';
}

/** The module a block becomes: prelude, the code as shown, after; and where the code starts. */
export function moduleOf(block: CodeBlock): { source: string; codeOffset: number } {
  const head = block.prelude ? `${block.prelude}\n` : '';
  const tail = block.after ? `\n${block.after}\n` : '\n';
  // `export {}` makes even a block without imports a module of its own.
  const source = `${head}${block.code}${tail}export {};\n`;
  return { source, codeOffset: head === '' ? 0 : head.split('\n').length - 1 };
}
