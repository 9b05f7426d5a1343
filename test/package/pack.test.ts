import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';

// What `npm install github:...` or a tarball gives a user: the package is built the way npm
// builds it (the `prepare` script), packed with `npm pack`, installed into a directory of its
// own and imported with plain `node`, as an application would.

const root = fileURLToPath(new URL('../../', import.meta.url));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  name: string;
  exports: Record<string, string | { types: string; default: string }>;
};
/** Every entry point but `./package.json`, with its JS and declaration files. */
const entries = Object.entries(pkg.exports).flatMap(([subpath, target]) =>
  typeof target === 'string'
    ? []
    : [
        {
          subpath,
          specifier: pkg.name + subpath.slice(1),
          types: target.types,
          js: target.default,
        },
      ],
);
const strip = (p: string) => p.replace(/^\.\//, '');

interface PackResult {
  filename: string;
  files: { path: string; size: number }[];
}

function npm(args: string[], cwd: string): string {
  return execFileSync('npm', args, {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, npm_config_fund: 'false', npm_config_audit: 'false' },
  });
}

// Inside the repository, so that the installed package finds its peers (xstate, koa, ws, ...) in
// the repository's node_modules by Node's ordinary lookup through parent directories.
const work = (() => {
  mkdirSync(join(root, 'test-artifacts'), { recursive: true });
  return mkdtempSync(join(root, 'test-artifacts', 'package-'));
})();
let packed: PackResult;

beforeAll(() => {
  // The same build npm runs for a git install, so a stale dist/ cannot pass.
  execFileSync(process.execPath, ['scripts/prepare.mjs'], { cwd: root, stdio: 'pipe' });
  const out = npm(['pack', '--json', '--ignore-scripts', '--pack-destination', work], root);
  packed = (JSON.parse(out) as PackResult[])[0]!;
}, 120_000);

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

describe('npm pack', () => {
  it('ships the built package, its LICENSE and README, and nothing else', () => {
    const paths = packed.files.map((f) => f.path).sort();
    const outside = paths.filter((p) => !p.startsWith('dist/src/'));
    expect(outside).toEqual([
      'CHANGELOG.md',
      'LICENSE',
      'README.md',
      'dist/visualizer/app.css',
      'dist/visualizer/app.js',
      'package.json',
    ]);
    for (const dir of ['bench', 'examples', 'machines', 'test', 'notes', 'docs', 'scripts']) {
      expect(paths.filter((p) => p.split('/').includes(dir))).toEqual([]);
    }
    expect(paths.filter((p) => /\.test\.|\.entry\.|\.ts$/.test(p) && !p.endsWith('.d.ts'))).toEqual(
      [],
    );
  });

  it('ships every entry point in `exports` with its declarations', () => {
    const paths = new Set(packed.files.map((f) => f.path));
    const missing = entries
      .flatMap((e) => [strip(e.js), strip(e.types)])
      .filter((p) => !paths.has(p));
    expect(missing).toEqual([]);
  });

  it('ships source maps of the package only, not of the page bundle', () => {
    const maps = packed.files.filter((f) => f.path.endsWith('.map'));
    expect(maps.length).toBeGreaterThan(0);
    expect(maps.filter((f) => !f.path.startsWith('dist/src/'))).toEqual([]);
    // No file anywhere near the 4.9 MB map of the visualizer bundle.
    expect(packed.files.filter((f) => f.size > 2_000_000)).toEqual([]);
  });

  it('keeps `@internal` declarations out of the shipped types', () => {
    const withInternal = packed.files
      .filter((f) => f.path.endsWith('.d.ts'))
      .filter((f) => readFileSync(join(root, f.path), 'utf8').includes('@internal'))
      .map((f) => f.path);
    expect(withInternal).toEqual([]);
  });

  it('carries the MIT licence of the session-process contributors', () => {
    const license = readFileSync(join(root, 'LICENSE'), 'utf8');
    expect(license).toMatch(/^MIT License/);
    expect(license).toContain('session-process contributors');
  });
});

describe('the installed tarball', () => {
  const app = join(work, 'app');

  beforeAll(() => {
    mkdirSync(app);
    writeFileSync(
      join(app, 'package.json'),
      JSON.stringify({ name: 'consumer', private: true, type: 'module' }),
    );
    // The package has no dependencies of its own (xstate and the integrations are peers, found
    // in the repository's node_modules), so the install needs no network.
    npm(
      [
        'install',
        join(work, packed.filename),
        '--offline',
        '--ignore-scripts',
        '--legacy-peer-deps',
        '--no-package-lock',
      ],
      app,
    );
  }, 60_000);

  it('imports every entry point with plain node', () => {
    const script = `
      const names = {};
      for (const id of ${JSON.stringify(entries.map((e) => e.specifier))}) {
        names[id] = Object.keys(await import(id));
      }
      process.stdout.write(JSON.stringify(names));`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: app,
      encoding: 'utf8',
    });
    const names = JSON.parse(out) as Record<string, string[]>;
    for (const e of entries) expect(names[e.specifier]?.length, e.specifier).toBeGreaterThan(0);
    expect(names['session-process']).toContain('createSessionSupervisor');
    expect(names['session-process/koa']).toContain('sessionProcess');
  });

  it('runs a session from the installed build', () => {
    const script = `
      import { setup } from 'xstate';
      import { createSessionSupervisor, reply } from 'session-process';
      const logic = setup({}).createMachine({ on: { ping: { actions: reply('pong') } } });
      const sessions = createSessionSupervisor({ logic });
      await sessions.start('s1');
      process.stdout.write(String(await sessions.call('s1', { type: 'ping' })));
      await sessions.shutdown();`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: app,
      encoding: 'utf8',
    });
    expect(out).toBe('pong');
  });

  it('type-checks an application against the shipped declarations under strict', () => {
    const file = join(app, 'consumer.ts');
    writeFileSync(
      file,
      [
        ...entries.map((e, i) => `import * as entry${i} from '${e.specifier}';`),
        `import Koa from 'koa';`,
        `import { createSessionSupervisor } from 'session-process';`,
        `import { sessionProcess } from 'session-process/koa';`,
        `const app = new Koa();`,
        `app.use(sessionProcess(createSessionSupervisor({})));`,
        `app.use(async (ctx) => { ctx.body = await ctx.sessionProcess.call<number>({ type: 'n' }); });`,
        `export const all = [${entries.map((_, i) => `entry${i}`).join(', ')}];`,
      ].join('\n'),
    );
    const program = ts.createProgram([file], {
      strict: true,
      exactOptionalPropertyTypes: true,
      noUncheckedIndexedAccess: true,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      target: ts.ScriptTarget.ES2022,
      lib: ['lib.es2023.d.ts', 'lib.dom.d.ts'],
      types: ['node'],
      noEmit: true,
      // Library files are checked too, so a shipped declaration that names a type stripped as
      // `@internal` fails here. Only our own files are judged: xstate's own declarations do not
      // pass `exactOptionalPropertyTypes`.
      skipLibCheck: false,
    });
    const ours = ts
      .getPreEmitDiagnostics(program)
      .filter(
        (d) => d.file === undefined || !/node_modules\/(?!session-process\/)/.test(d.file.fileName),
      )
      .map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    expect(ours).toEqual([]);
    const shipped = program
      .getSourceFiles()
      .filter((f) => f.fileName.includes('node_modules/session-process/'));
    expect(shipped.length).toBeGreaterThan(entries.length);
  });
});

describe('the prepare script', () => {
  it('builds nothing and exits 0 where the dev tools are not installed', () => {
    // A clone installed with `npm install --omit=dev`: no typescript to build with.
    const dir = mkdtempSync(join(tmpdir(), 'session-process-prepare-'));
    try {
      mkdirSync(join(dir, 'scripts'));
      writeFileSync(
        join(dir, 'scripts', 'prepare.mjs'),
        readFileSync(join(root, 'scripts', 'prepare.mjs')),
      );
      const run = spawnSync(process.execPath, ['scripts/prepare.mjs'], {
        cwd: dir,
        encoding: 'utf8',
      });
      expect(run.status).toBe(0);
      expect(run.stderr).toContain('typescript is not installed');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
