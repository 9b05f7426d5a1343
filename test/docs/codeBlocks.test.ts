import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { format } from 'node:util';
import ts from 'typescript';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { type CodeBlock, docPages, extractBlocks, moduleOf } from './codeBlocks.js';

// Every ```ts and ```js block of README.md and docs/**/*.md is type-checked under the
// repository's strict options, each as its own module next to its page, with `session-process`
// and its subpaths resolving to src/ (tsconfig.json `paths`); ```ts run blocks are executed too.
// The convention is documented at the top of docs/index.md.

const root = fileURLToPath(new URL('../../', import.meta.url));
const blocks = docPages(root).flatMap((page) => extractBlocks(root, page));
const nameOf = (b: CodeBlock) => `${b.page}:${b.line}`;
/** Where each block lives for the compiler: beside its page, so relative imports work. */
const virtualPath = (b: CodeBlock, i: number) =>
  join(b.dir, `__block${i}_line${b.line}.${b.lang === 'ts' ? 'ts' : 'mjs'}`);

function typeCheck(): Map<CodeBlock, string[]> {
  const config = ts.getParsedCommandLineOfConfigFile(
    join(root, 'tsconfig.json'),
    {},
    { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => console.error(d.messageText) },
  );
  if (!config) throw new Error('tsconfig.json could not be read');
  const options: ts.CompilerOptions = {
    ...config.options,
    noEmit: true,
    allowJs: true,
    checkJs: true,
  };
  const files = new Map<string, { block: CodeBlock; source: string; codeOffset: number }>();
  for (const [i, block] of blocks.entries()) {
    files.set(virtualPath(block, i), { block, ...moduleOf(block) });
  }
  const host = ts.createCompilerHost(options, true);
  const { getSourceFile, fileExists, readFile } = host;
  host.fileExists = (f) => files.has(f) || fileExists.call(host, f);
  host.readFile = (f) => files.get(f)?.source ?? readFile.call(host, f);
  host.getSourceFile = (f, lang, ...rest) => {
    const v = files.get(f);
    return v
      ? ts.createSourceFile(f, v.source, lang, true)
      : getSourceFile.call(host, f, lang, ...rest);
  };
  const program = ts.createProgram([...files.keys()], options, host);
  const result = new Map<CodeBlock, string[]>(blocks.map((b) => [b, []]));
  for (const d of ts.getPreEmitDiagnostics(program)) {
    const v = d.file && files.get(d.file.fileName);
    const message = ts.flattenDiagnosticMessageText(d.messageText, '\n');
    if (!v) {
      // An error outside the blocks (a broken source file, say) belongs to no page: report it
      // against the first block so that it is not lost.
      result.get(blocks[0]!)!.push(`${d.file?.fileName ?? '(global)'}: ${message}`);
      continue;
    }
    const { line } = d.file!.getLineAndCharacterOfPosition(d.start ?? 0);
    const inCode = line - v.codeOffset;
    const codeLines = v.block.code.split('\n').length;
    const where =
      inCode < 0
        ? 'prelude'
        : inCode >= codeLines
          ? 'after'
          : `${v.block.page}:${v.block.line + inCode}`;
    result.get(v.block)!.push(`${where}: ${message}`);
  }
  return result;
}

let diagnostics: Map<CodeBlock, string[]> | undefined;
const diagnosticsOf = (b: CodeBlock) => {
  diagnostics ??= typeCheck();
  return diagnostics.get(b) ?? [];
};

describe('code blocks in README.md and docs/', () => {
  it('finds the pages and their blocks', () => {
    expect(blocks.length).toBeGreaterThan(0);
    expect(blocks.some((b) => b.page === 'README.md' && b.run)).toBe(true);
  });

  describe.each(blocks.map((b) => [nameOf(b), b] as const))('%s', (_name, block) => {
    it('type-checks under strict', { timeout: 120_000 }, () => {
      expect(diagnosticsOf(block)).toEqual([]);
    });
    if (block.run) {
      it('runs, and prints what its comments say', { timeout: 30_000 }, async () => {
        await runBlock(block);
      });
    }
  });
});

const runDir = join(root, 'test-artifacts', `doc-blocks-${process.pid}`);
afterAll(() => rmSync(runDir, { recursive: true, force: true }));

/**
 * Runs a block as a module (imports resolve to the sources, as in every test) with `PORT=0` and a
 * `COOKIE_SECRET` set. A `console.log(...)` line ending in `// text` must print `text`.
 */
async function runBlock(block: CodeBlock): Promise<void> {
  mkdirSync(runDir, { recursive: true });
  const file = join(runDir, `${block.page.replace(/\W/g, '_')}_${block.line}.${block.lang}`);
  // The file is not beside its page: make its relative imports absolute.
  const source = moduleOf(block).source.replace(
    /(from\s+|import\()(['"])(\.{1,2}\/[^'"]+)\2/g,
    (_m, lead: string, q: string, spec: string) =>
      `${lead}${q}${isAbsolute(spec) ? spec : resolve(block.dir, spec)}${q}`,
  );
  writeFileSync(file, source);
  const expected = block.code
    .split('\n')
    .filter((l) => l.includes('console.log(') && /\/\/ (.*)$/.test(l))
    .map((l) => /\/\/ (.*)$/.exec(l)![1]!.trim());
  const printed: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
    printed.push(format(...args));
  });
  const env = { PORT: process.env.PORT, COOKIE_SECRET: process.env.COOKIE_SECRET };
  process.env.PORT = '0';
  process.env.COOKIE_SECRET = 'a test secret of at least thirty-two characters';
  try {
    await import(/* @vite-ignore */ pathToFileURL(file).href);
  } finally {
    log.mockRestore();
    for (const [k, v] of Object.entries(env)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
  if (expected.length > 0) expect(printed).toEqual(expected);
}
