import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

// The dependency rules of ../shared/DESIGN.md ("Package and layout"), checked on every import,
// export-from, dynamic import() and import type in src/:
// - the core (src/core/) imports only `xstate` and `node:*`;
// - src/index.ts re-exports the core and nothing else;
// - every other folder reaches the core through src/index.ts, and another entry folder only through
//   its index.ts;
// - nothing imports src/client/ but the page (which lives outside src/);
// - the client imports no Node module, no package, and of the rest of src/ only
//   src/live/protocol.ts, which may itself import types only (it is bundled for the browser).

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** One import of one file: `file` and `target` relative to the repository, posix separators. */
interface Import {
  file: string;
  specifier: string;
  typeOnly: boolean;
  /** The file a relative specifier names (`.js` read as `.ts`); `undefined` for a package. */
  target: string | undefined;
}

/** Every import of a source file, found by TypeScript's own parser (not a regular expression). */
function importsOf(file: string, source: string): Import[] {
  const sf = ts.createSourceFile(file, source, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const found: Import[] = [];
  const add = (node: ts.Node | undefined, typeOnly: boolean): void => {
    if (!node || !ts.isStringLiteralLike(node)) return;
    const specifier = node.text;
    let target: string | undefined;
    if (specifier.startsWith('.')) {
      target = posix.normalize(posix.join(posix.dirname(file), specifier)).replace(/\.js$/, '.ts');
    }
    found.push({ file, specifier, typeOnly, target });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) {
      const clause = node.importClause;
      const typeOnly =
        clause !== undefined &&
        (clause.isTypeOnly ||
          (clause.name === undefined &&
            clause.namedBindings !== undefined &&
            ts.isNamedImports(clause.namedBindings) &&
            clause.namedBindings.elements.length > 0 &&
            clause.namedBindings.elements.every((e) => e.isTypeOnly)));
      add(node.moduleSpecifier, typeOnly);
    } else if (ts.isExportDeclaration(node)) {
      const typeOnly =
        node.isTypeOnly ||
        (node.exportClause !== undefined &&
          ts.isNamedExports(node.exportClause) &&
          node.exportClause.elements.length > 0 &&
          node.exportClause.elements.every((e) => e.isTypeOnly));
      add(node.moduleSpecifier, typeOnly);
    } else if (
      ts.isImportEqualsDeclaration(node) &&
      ts.isExternalModuleReference(node.moduleReference)
    ) {
      add(node.moduleReference.expression, node.isTypeOnly);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      add(node.argument.literal, true);
    } else if (
      ts.isCallExpression(node) &&
      (node.expression.kind === ts.SyntaxKind.ImportKeyword ||
        (ts.isIdentifier(node.expression) && node.expression.text === 'require'))
    ) {
      add(node.arguments[0], false);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return found;
}

const NODE_BUILTINS = new Set(builtinModules);

function isNodeBuiltin(specifier: string): boolean {
  return specifier.startsWith('node:') || NODE_BUILTINS.has(specifier.split('/')[0]!);
}

/** `core`, `live`, ... for src/<folder>/..., `index` for src/index.ts, `outside` elsewhere. */
function folderOf(path: string): string {
  const parts = path.split('/');
  if (parts[0] !== 'src') return 'outside';
  return parts.length === 2 ? 'index' : parts[1]!;
}

/** What a set of imports breaks of the rules, one readable line per violation. */
function violations(imports: readonly Import[]): string[] {
  const out: string[] = [];
  for (const imp of imports) {
    const from = folderOf(imp.file);
    const why = rule(imp, from);
    if (why) out.push(`${imp.file}: '${imp.specifier}': ${why}`);
  }
  return out;
}

function rule(imp: Import, from: string): string | undefined {
  const { target, specifier } = imp;
  if (from === 'outside') return undefined;
  if (target !== undefined && folderOf(target) === 'outside') {
    return 'src/ imports only src/ (the package ships nothing else)';
  }
  const to = target === undefined ? undefined : folderOf(target);

  if (from === 'core') {
    if (target === undefined) {
      return specifier === 'xstate' || specifier.startsWith('xstate/') || isNodeBuiltin(specifier)
        ? undefined
        : 'the core imports only xstate and node:*';
    }
    return to === 'core' ? undefined : 'the core imports nothing of src/ outside src/core/';
  }

  if (from === 'index') {
    if (target === undefined) return 'src/index.ts only re-exports the core';
    return to === 'core' ? undefined : 'src/index.ts only re-exports the core';
  }

  if (from === 'client') {
    if (target === undefined) {
      return isNodeBuiltin(specifier)
        ? 'the client is browser-safe: no Node module'
        : 'the client imports no package (it is bundled for the browser)';
    }
    if (to === 'client' || target === 'src/live/protocol.ts') return undefined;
    return 'the client imports nothing of src/ but src/live/protocol.ts';
  }

  if (imp.file === 'src/live/protocol.ts' && !imp.typeOnly) {
    return 'src/live/protocol.ts is bundled into the client: type-only imports only';
  }
  if (target === undefined || to === from) return undefined;
  if (to === 'index') return undefined; // the core, through its public surface
  if (to === 'core') return 'reach the core through src/index.ts, not src/core/';
  if (to === 'client') return 'nothing imports the client but the page';
  if (target !== `src/${to}/index.ts`) {
    return `reach src/${to}/ through its index.ts (its public entry point), not its internals`;
  }
  return undefined;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(posix.join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = posix.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return /\.(ts|mts|cts|tsx)$/.test(entry.name) ? [path] : [];
  });
}

describe('the dependency rules of DESIGN.md', () => {
  it('hold for every import in src/', () => {
    const files = sourceFiles('src');
    const imports = files.flatMap((f) => importsOf(f, readFileSync(posix.join(ROOT, f), 'utf8')));
    // Not vacuous: the scan sees the imports that the rules are about.
    expect(imports.length).toBeGreaterThan(50);
    expect(imports.some((i) => i.file.startsWith('src/live/') && i.target === 'src/index.ts')).toBe(
      true,
    );
    expect(violations(imports)).toEqual([]);
  });

  it.each([
    ['src/core/x.ts', "import Koa from 'koa';", 'the core imports only xstate'],
    ['src/core/x.ts', "import { claim } from '../live/index.js';", 'outside src/core/'],
    ['src/index.ts', "export { attachLiveBridge } from './live/index.js';", 're-exports the core'],
    [
      'src/live/x.ts',
      "import type { SessionErrorCode } from '../core/errors.js';",
      'reach the core through src/index.ts',
    ],
    [
      'src/testing/x.ts',
      "type S = import('../core/types.js').SessionSupervisor;",
      'reach the core through src/index.ts',
    ],
    [
      'src/koa/x.ts',
      "const errors = await import('../core/errors.js');",
      'reach the core through src/index.ts',
    ],
    ['src/visualizer/x.ts', "import { claim } from '../live/upgrade.js';", 'not its internals'],
    ['src/koa/x.ts', "export { connectLive } from '../client/index.js';", 'but the page'],
    ['src/client/x.ts', "import { readFile } from 'node:fs';", 'no Node module'],
    ['src/client/x.ts', "import { EventEmitter } from 'events';", 'no Node module'],
    ['src/client/x.ts', "import { createActor } from 'xstate';", 'no package'],
    ['src/client/x.ts', "import { claim } from '../live/index.js';", 'but src/live/protocol.ts'],
    ['src/client/x.ts', "import type { SessionSupervisor } from '../index.js';", 'but src/live'],
    ['src/live/protocol.ts', "import { isSessionError } from '../index.js';", 'type-only'],
    ['src/live/x.ts', "import data from '../../package.json';", 'src/ imports only src/'],
  ])('refuses %s importing %s', (file, source, why) => {
    const found = violations(importsOf(file, source));
    expect(found).toHaveLength(1);
    expect(found[0]).toContain(why);
  });

  it.each([
    ['src/visualizer/x.ts', "import { answerHttp, claim } from '../live/index.js';"],
    ['src/live/protocol.ts', "import type { SessionErrorCode } from '../index.js';"],
    ['src/client/x.ts', "import { encodeMessage } from '../live/protocol.js';"],
    ['src/core/x.ts', "import { setup } from 'xstate'; import { randomBytes } from 'node:crypto';"],
    ['src/koa/x.ts', "import type Koa from 'koa'; import { isSessionError } from '../index.js';"],
  ])('allows %s importing %s', (file, source) => {
    expect(violations(importsOf(file, source))).toEqual([]);
  });
});
